"""Live migration (``os-migrateLive``): the guest moves as it runs, the books follow.

Each test drives a two-host cloud through the library API (the HTTP action is in
tests/test_http_server_admin.py style below) and ends with the audit: nothing is
left on the host the server left, and a migration that did not happen leaves the
server running where it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.compute import migration_states, power_state
from nova_lite.exceptions import HypervisorError, InstanceInvalidState, Invalid
from nova_lite.testing import CloudFactory, CloudHarness
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)


@pytest.fixture
async def lab(clouds: CloudFactory) -> AsyncIterator[CloudHarness]:
    yield await CloudHarness.start(clouds, computes=2)


async def _migrations(lab: CloudHarness, server_id: str) -> list[tuple[str, str, str | None]]:
    found = await lab.cloud.api.conductor.migration_list(lab.ctx, instance_uuid=server_id)
    return [(m.migration_type, m.status, m.dest_host) for m in found]


async def _moved(lab: CloudHarness, server_id: str, source: str) -> str:
    moved = await lab.settle(server_id, lambda i: i.task_state is None)
    assert moved.host is not None and moved.host != source
    return moved.host


async def test_a_running_server_moves_with_its_guest_and_nothing_stays(lab: CloudHarness) -> None:
    """The scheduler picks the other host; the same guest (booted when it was) runs there,
    none is left on the source, the claim moved, the migration is completed."""
    server = await lab.boot()
    source = (await lab.instance(server)).host
    assert source is not None
    booted = lab.driver(source).guests[server].booted_at

    await lab.servers.live_migrate(server)
    dest = await _moved(lab, server, source)

    assert list(lab.guests(server)) == [dest]
    guest = lab.driver(dest).guests[server]
    assert (guest.state, guest.booted_at) == (power_state.RUNNING, booted)
    assert server not in lab.compute(source).tracker.instances
    assert (await lab.instance(server)).vm_state == "active"
    assert await _migrations(lab, server) == [("live-migration", "completed", dest)]
    assert lab.scheduler.hosts.allocations[server].host == dest
    await lab.assert_audit_clean()


async def test_a_paused_server_stays_paused_on_the_named_host(lab: CloudHarness) -> None:
    """To a named host: the guest arrives paused, the server is PAUSED there."""
    server = await lab.reach("paused")
    source = (await lab.instance(server)).host
    target = next(h for h in lab.hosts if h != source)

    await lab.servers.live_migrate(server, host=target)
    assert await _moved(lab, server, source or "") == target

    assert lab.driver(target).guests[server].state == power_state.PAUSED
    assert (await lab.instance(server)).vm_state == "paused"
    await lab.assert_audit_clean()


async def test_refusals_change_nothing(lab: CloudHarness) -> None:
    """An unknown or the same host is a 400, a suspended server a 409; nothing moves."""
    server = await lab.boot()
    source = (await lab.instance(server)).host
    suspended = await lab.reach("suspended")

    with pytest.raises(Invalid, match="could not be found"):
        await lab.servers.live_migrate(server, host="nowhere")
    with pytest.raises(Invalid, match="same one"):
        await lab.servers.live_migrate(server, host=source)
    with pytest.raises(InstanceInvalidState):
        await lab.servers.live_migrate(suspended)

    assert (await lab.instance(server)).task_state is None
    assert await _migrations(lab, server) == []
    await lab.assert_audit_clean()


async def test_a_driver_that_cannot_live_migrate_leaves_the_guest_running_where_it_was(
    lab: CloudHarness,
) -> None:
    """The driver's refusal ends the migration in error; the server runs on the source."""
    server = await lab.boot()
    source = (await lab.instance(server)).host

    async def cannot(instance: objects.Instance, dest: str) -> dict[str, Any]:
        raise NotImplementedError  # what a driver without live migration does

    lab.driver(source).live_migration = cannot  # type: ignore[method-assign]
    await lab.servers.live_migrate(server)
    after = await lab.settle(server, lambda i: i.task_state is None)

    assert after.host == source and after.vm_state == "active"
    assert list(lab.guests(server)) == [source]
    (migration,) = await _migrations(lab, server)
    assert migration[:2] == ("live-migration", migration_states.ERROR)
    actions = await lab.servers.actions(server)
    assert [a.action for a in actions] == ["create", "live-migration"]
    await lab.assert_audit_clean()


async def test_a_destination_that_fails_to_take_the_guest_in_gives_its_share_back(
    lab: CloudHarness,
) -> None:
    """The destination's hypervisor fails: its tracker entry goes, the claim comes back."""
    server = await lab.boot()
    source = (await lab.instance(server)).host
    dest = next(h for h in lab.hosts if h != source)
    lab.faults(dest).fail_next("post_live_migration_at_destination")

    await lab.servers.live_migrate(server)
    after = await lab.settle(server, lambda i: i.task_state is None)

    assert after.host == source and list(lab.guests(server)) == [source]
    assert server not in lab.compute(dest).tracker.instances
    assert lab.scheduler.hosts.allocations[server].host == source
    await lab.assert_audit_clean()


async def test_with_no_other_host_the_server_keeps_running_with_a_fault(
    clouds: CloudFactory,
) -> None:
    """One host: no valid host; the task clears, a fault says why, the claim is kept."""
    lab = await CloudHarness.start(clouds, computes=1)
    server = await lab.boot()

    await lab.servers.live_migrate(server)
    after = await lab.settle(server, lambda i: i.task_state is None)

    assert after.host == lab.hosts[0] and after.fault is not None
    assert "host" in after.fault.message.lower()
    assert (await _migrations(lab, server))[0][1] == migration_states.ERROR
    await lab.assert_audit_clean()


async def test_a_delete_during_the_hand_over_wins_and_nothing_is_left_anywhere(
    lab: CloudHarness,
) -> None:
    """Held while the destination takes the guest in, the server is deleted: the
    migration loses its save, the destination gives the guest back, the delete ends
    it on the source; no guest, claim or tracker entry remains on either host."""
    server = await lab.boot()
    source = (await lab.instance(server)).host
    dest = next(h for h in lab.hosts if h != source)

    with lab.faults(dest).hold("post_live_migration_at_destination", after=True) as gate:
        await lab.servers.live_migrate(server)
        await gate.wait_reached()
        await lab.servers.delete(server)
        gate.release()
        await lab.settle(server, lambda i: i.deleted)

    assert lab.guests(server) == {}
    assert await _migrations(lab, server) == [("live-migration", "error", dest)]
    await lab.assert_nothing_leaked(server)
    await lab.assert_audit_clean()


async def test_the_http_action_checks_its_body_per_microversion(clouds: CloudFactory) -> None:
    """os-migrateLive: 2.1 needs disk_over_commit, 2.25 takes block_migration auto and
    refuses disk_over_commit; a bad boolean is a 400; the server lands elsewhere (202)."""
    cloud = await clouds.start(computes=2)
    front = await FrontEnd.start(cloud)
    try:
        admin = await front.token()
        server = await front.boot(admin)
        action = f"/compute/v2.1/servers/{server}/action"
        v225 = {"OpenStack-API-Version": "compute 2.25"}

        missing = await front.call(
            "POST", action, token=admin,
            json={"os-migrateLive": {"host": None, "block_migration": False}},
        )  # fmt: skip
        bad = await front.call(
            "POST", action, token=admin, headers=v225,
            json={"os-migrateLive": {"host": None, "block_migration": "sometimes"}},
        )  # fmt: skip
        old_key = await front.call(
            "POST", action, token=admin, headers=v225,
            json={"os-migrateLive": {"host": None, "block_migration": "auto",
                                     "disk_over_commit": False}},
        )  # fmt: skip
        done = await front.call(
            "POST", action, token=admin, headers=v225,
            json={"os-migrateLive": {"host": None, "block_migration": "auto"}},
        )  # fmt: skip
        await front.wait(admin, server, "ACTIVE")
        listed = await front.call(
            "GET", "/compute/v2.1/os-migrations?migration_type=live-migration", token=admin,
            headers={"OpenStack-API-Version": "compute 2.23"},
        )  # fmt: skip
    finally:
        await front.aclose()

    assert missing.status == 400 and "disk_over_commit" in missing.body["badRequest"]["message"]
    assert bad.status == 400 and "block_migration" in bad.body["badRequest"]["message"]
    assert old_key.status == 400 and "disk_over_commit" in old_key.body["badRequest"]["message"]
    assert done.status == 202
    (migration,) = listed.body["migrations"]
    assert (migration["migration_type"], migration["instance_uuid"]) == ("live-migration", server)


async def test_a_live_migration_in_progress_is_listed_on_its_server(lab: CloudHarness) -> None:
    """/servers/{id}/migrations (2.23) shows it while it runs, in Nova's shape, then not."""
    server = await lab.boot()
    source = (await lab.instance(server)).host
    dest = next(h for h in lab.hosts if h != source)
    front = await FrontEnd.start(lab.cloud)
    try:
        admin = await front.token()
        path, v223 = (
            f"/compute/v2.1/servers/{server}/migrations",
            {"OpenStack-API-Version": "compute 2.23"},
        )
        with lab.faults(dest).hold("post_live_migration_at_destination") as gate:
            await lab.servers.live_migrate(server)
            await gate.wait_reached()
            during = await front.call("GET", path, token=admin, headers=v223)
            gate.release()
            await lab.settle(server, lambda i: i.task_state is None)
        after = await front.call("GET", path, token=admin, headers=v223)
        old = await front.call("GET", path, token=admin)
    finally:
        await front.aclose()

    (running,) = during.body["migrations"]
    assert (running["status"], running["server_uuid"], running["dest_compute"]) == (
        "running", server, dest
    )  # fmt: skip
    assert running["memory_total_bytes"] is None and "uuid" not in running
    assert after.body["migrations"] == [] and old.status == 404


async def test_an_attached_volume_moves_with_the_guest(lab: CloudHarness) -> None:
    """The guest arrives with its volume at the same device; the server still lists it."""
    server = await lab.boot()
    source = (await lab.instance(server)).host
    volume = await lab.new_volume()
    await lab.attach(server, volume)
    device = lab.driver(source).guests[server].volumes[volume]

    await lab.servers.live_migrate(server)
    dest = await _moved(lab, server, source or "")

    assert lab.driver(dest).guests[server].volumes == {volume: device}
    assert [b.volume_id for b in (await lab.instance(server)).block_devices] == [volume]
    await lab.assert_audit_clean()


async def test_a_guest_state_the_destination_cannot_read_is_refused_and_leaves_nothing(
    lab: CloudHarness,
) -> None:
    """A hand-over whose state is not a guest's (a hostile or broken caller, over the
    bus): a HypervisorError, and the destination's claim, guest and tracker stay clean."""
    from nova_lite.compute.rpcapi import ComputeAPI

    server = await lab.boot()
    source = (await lab.instance(server)).host
    dest = next(h for h in lab.hosts if h != source)
    compute = ComputeAPI(lab.cloud.transport, lab.cloud.config)
    with pytest.raises(HypervisorError, match="not a fake guest's"):
        await compute.receive_live_migration(lab.ctx, dest, server, {"uuid": server})
    assert server not in lab.compute(dest).tracker.instances
    assert list(lab.guests(server)) == [source]
    assert lab.scheduler.hosts.allocations[server].host == source
    await lab.assert_audit_clean()
