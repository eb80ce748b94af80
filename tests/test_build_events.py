"""A create's instance-action events: where a build is, and how it ended (issue 18).

The conductor records ``conductor_schedule_and_build_instances`` (placing, until the
build is cast to its host) and the compute host ``compute__do_build_and_run_instance``
(from the save that takes the build on until ACTIVE, ERROR or a reschedule), as
Nova's ``openstack server event list`` shows them. The compute's start and end ride
on saves the build makes anyway: the tests also check that a boot sends no message
for them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from benchmarks.hops import counting
from nova_lite import objects
from nova_lite.compute.build import BUILD_EVENT
from nova_lite.conductor.actions import event_step
from nova_lite.conductor.build import SCHEDULE_EVENT
from nova_lite.exceptions import Invalid
from nova_lite.testing import WAIT, CloudFactory, CloudHarness
from nova_lite.testing.notifications import NotificationTap
from nova_lite.tracing.timeline import build_timeline, rows


async def _create_action(harness: CloudHarness, server_id: str) -> objects.InstanceAction:
    [action] = await harness.admin.servers.actions(server_id)
    assert action.action == "create"
    return action


def _events(action: objects.InstanceAction) -> dict[str, objects.InstanceActionEvent]:
    names = [e.event for e in action.events]
    assert len(names) == len(set(names)), names
    return {e.event: e for e in action.events}


def _timeline(server_id: str, actions: list[objects.InstanceAction]) -> list[dict[str, Any]]:
    converter = objects.serializer().converter
    return rows(build_timeline(server_id, [converter.unstructure(a) for a in actions]))


async def test_an_active_build_records_both_events_finished_in_order(
    memory_clouds: CloudFactory,
) -> None:
    """ACTIVE: the conductor's event, then the compute host's, both Success; trace shows them."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    [server] = await harness.admin.servers.create("web", flavor="m1.tiny", image="cirros")
    server = await harness.admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    assert server.status == "ACTIVE"

    action = await _create_action(harness, server.id)
    events = _events(action)
    assert set(events) == {SCHEDULE_EVENT, BUILD_EVENT}
    placing, building = events[SCHEDULE_EVENT], events[BUILD_EVENT]
    assert (placing.result, building.result) == ("Success", "Success")
    assert building.host == "compute1" and placing.host
    assert placing.finish_time is not None and building.finish_time is not None
    assert placing.start_time <= placing.finish_time <= building.finish_time
    assert building.start_time <= building.finish_time
    assert (placing.traceback, building.traceback) == (None, None)
    assert action.finish_time is not None and action.message in (None, "")

    table = _timeline(server.id, [action])
    lanes = {r["what"]: r["service"] for r in table}
    assert lanes[f"event {SCHEDULE_EVENT}"].startswith("conductor@")
    assert lanes[f"event {BUILD_EVENT}"] == "compute@compute1"
    whats = [r["what"] for r in table]
    assert whats.index(f"event {SCHEDULE_EVENT}") < whats.index(f"event {BUILD_EVENT}")
    await harness.assert_audit_clean()


async def test_a_build_held_mid_spawn_shows_the_compute_event_started_not_finished(
    memory_clouds: CloudFactory,
) -> None:
    """Held in spawn: placing finished, the compute event open (no result); then it ends."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    with harness.faults().hold("spawn") as spawning:
        [server] = await harness.admin.servers.create("web", flavor="m1.tiny", image="cirros")
        await spawning.wait_reached()
        action = await _create_action(harness, server.id)
        events = _events(action)
        assert events[SCHEDULE_EVENT].result == "Success"
        building = events[BUILD_EVENT]
        assert (building.host, building.finish_time, building.result) == ("compute1", None, None)
        assert action.finish_time is None  # the build is under way
        [row] = [r for r in _timeline(server.id, [action]) if r["what"] == f"event {BUILD_EVENT}"]
        assert row["took_ms"] is None and row["result"] == "running"
    server = await harness.admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    assert server.status == "ACTIVE"
    building = _events(await _create_action(harness, server.id))[BUILD_EVENT]
    assert building.result == "Success" and building.finish_time is not None
    await harness.assert_audit_clean()


async def test_a_rename_mid_spawn_reaches_the_hosts_copy_of_the_record(
    clouds: CloudFactory,
) -> None:
    """Renamed while its host spawns it: the build's ACTIVE save is answered with the
    whole record (someone wrote it since the host had it), so create.end names the
    server as it is now, and the stored record keeps the rename and the build's states."""
    harness = await CloudHarness.start(clouds, computes=1)
    tap = await NotificationTap.attach(harness.cloud)
    with harness.faults().hold("spawn") as spawning:
        [server] = await harness.admin.servers.create("web", flavor="m1.tiny", image="cirros")
        await spawning.wait_reached()
        await harness.admin.servers.update(server.id, {"display_name": "renamed"})
    end = await tap.wait_event(server.id, "instance.create.end")
    assert (end.payload["display_name"], end.payload["vm_state"]) == ("renamed", "active")
    ctx = await harness.admin.context()
    record = await harness.cloud.api.conductor.instance_get(ctx, server.id)
    assert (record.display_name, record.vm_state, record.task_state) == ("renamed", "active", None)
    assert record.launched_at is not None and record.addresses
    await harness.assert_audit_clean()


async def test_a_build_failed_on_its_host_ends_the_compute_event_in_error_with_traceback(
    memory_clouds: CloudFactory,
) -> None:
    """A corrupt image: ERROR with a fault; the compute event Error with the traceback."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    cloud = harness.cloud
    ctx = await harness.admin.context()
    data = b"a bootable disk" * 1000
    image = await cloud.api.image.create_from_bytes(ctx, "tampered", data, visibility="public")
    (cloud.config.service_dir("images") / image.id).write_bytes(b"A" + data[1:])

    [server] = await harness.admin.servers.create("web", flavor="m1.tiny", image=image.id)
    server = await harness.admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    assert server.status == "ERROR" and server.fault is not None

    action = await _create_action(harness, server.id)
    events = _events(action)
    assert events[SCHEDULE_EVENT].result == "Success"
    building = events[BUILD_EVENT]
    assert building.result == "Error" and building.finish_time is not None
    assert building.traceback is not None and "MD5" in building.traceback
    assert action.message == "Error" and action.finish_time is not None
    await harness.assert_audit_clean()


async def test_a_rescheduled_build_ends_each_compute_event_and_the_last_placing_fails(
    memory_clouds: CloudFactory,
) -> None:
    """A spawn failure on the only host: its event ends in Error; no alternate: ERROR."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    harness.faults().fail_next("spawn")
    [server] = await harness.admin.servers.create("web", flavor="m1.tiny", image="cirros")
    server = await harness.admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    assert server.status == "ERROR"

    action = await _create_action(harness, server.id)
    building = _events(action)[BUILD_EVENT]
    assert building.result == "Error" and building.traceback is not None
    assert "HypervisorError" in building.traceback
    assert action.message == "Error"
    await harness.assert_audit_clean()


async def test_no_valid_host_ends_the_placing_event_in_error(memory_clouds: CloudFactory) -> None:
    """No host fits: the conductor's event ends in Error with the NoValidHost traceback."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    ctx = await harness.admin.context()
    huge = objects.Flavor(flavorid="99", name="huge", vcpus=1024, memory_mb=2**22, root_gb=1)
    await harness.cloud.api.conductor.flavor_create(ctx, huge)
    [server] = await harness.admin.servers.create("web", flavor="huge", image="cirros")
    server = await harness.admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    assert server.status == "ERROR"

    action = await _create_action(harness, server.id)
    events = _events(action)
    assert set(events) == {SCHEDULE_EVENT}
    placing = events[SCHEDULE_EVENT]
    assert placing.result == "Error" and placing.traceback is not None
    assert "NoValidHost" in placing.traceback
    assert action.message == "Error" and action.finish_time is not None
    await harness.assert_audit_clean()


async def test_a_members_events_carry_no_traceback(memory_clouds: CloudFactory) -> None:
    """Tracebacks are for admins: the project's member sees the events without them."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    harness.faults().fail_next("spawn")
    [server] = await harness.member.servers.create("web", flavor="m1.tiny", image="cirros")
    server = await harness.member.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    [action] = await harness.member.servers.actions(server.id)
    building = _events(action)[BUILD_EVENT]
    assert building.result == "Error" and building.traceback is None


async def test_the_events_ride_on_saves_the_build_makes_anyway(
    memory_clouds: CloudFactory,
) -> None:
    """A boot sends no message for its events: no action_event_* call, three saves."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    with counting(harness.cloud.transport) as counts:
        [server] = await harness.admin.servers.create("web", flavor="m1.tiny", image="cirros")
        server = await harness.admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    assert server.status == "ACTIVE"
    calls = Counter({m: n for (kind, _, m), n in counts.messages.items() if kind == "call"})
    # networking, spawning, ACTIVE: as without events (the two after the first are
    # instance_save, answered without the record the host holds)
    assert (calls["instance_update"], calls["instance_save"]) == (1, 2)
    assert not [m for m in calls if m.startswith("action_event")]
    events = _events(await _create_action(harness, server.id))
    assert {e.result for e in events.values()} == {"Success"}


@pytest.mark.parametrize(
    "step",
    [
        {"event": BUILD_EVENT},
        {"event": BUILD_EVENT, "host": 3},
        {"event": BUILD_EVENT, "result": "Fine"},
        {"event": BUILD_EVENT, "host": "h", "result": "Success"},
        {"result": "Success"},
        "compute",
    ],
)
def test_a_malformed_event_step_is_refused_naming_what_is_wrong(step: Any) -> None:
    """A save carrying a malformed event is refused (Invalid) before anything is written."""
    with pytest.raises(Invalid, match="action event"):
        event_step(step)
