"""The instance lifecycle end to end: every action, its failures, races and side effects.

Actions go through the library API only; the tests observe the services (the fake
hypervisors, the scheduler's claims, the image and volume services, notifications)
to check each action did what Nova's does. A walk through every action runs on
both brokers; the rest runs on the in-memory broker, on one cloud per test.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.compute import power_state, task_states
from nova_lite.context import RequestContext
from nova_lite.exceptions import InstanceInvalidState
from nova_lite.testing import (
    CloudFactory,
    CloudHarness,
    DriverStep,
    assert_audit_clean,
    assert_nothing_leaked,
    restart_compute,
    scheduler_of,
)

ADMIN = RequestContext.admin()


@pytest.fixture
async def world(clouds: CloudFactory) -> CloudHarness:
    """Two hosts on the parametrized broker; shelve offloads at once (the default)."""
    return await CloudHarness.start(clouds)


@pytest.fixture
async def memory_world(memory_clouds: CloudFactory) -> CloudHarness:
    """`world` on the in-memory broker only, for the tests that need no second run."""
    return await CloudHarness.start(memory_clouds)


# -- every action, on both brokers ---------------------------------------------------


async def test_every_action_walks_through_and_is_recorded(world: CloudHarness) -> None:
    """One server goes through every action; each reaches Nova's status and is recorded."""
    servers = world.admin.servers
    sid = await world.boot()
    ctx = await world.admin.context()
    steps: list[tuple[str, Callable[[], Awaitable[Any]], str]] = [
        ("pause", lambda: servers.pause(sid), "PAUSED"),
        ("unpause", lambda: servers.unpause(sid), "ACTIVE"),
        ("suspend", lambda: servers.suspend(sid), "SUSPENDED"),
        ("resume", lambda: servers.resume(sid), "ACTIVE"),
        ("stop", lambda: servers.stop(sid), "SHUTOFF"),
        ("start", lambda: servers.start(sid), "ACTIVE"),
        ("reboot", lambda: servers.reboot(sid), "ACTIVE"),
        ("reboot_hard", lambda: servers.reboot(sid, hard=True), "ACTIVE"),
        ("rescue", lambda: servers.rescue(sid), "RESCUE"),
        ("unrescue", lambda: servers.unrescue(sid), "ACTIVE"),
        ("set_admin_password", lambda: servers.set_admin_password(sid, "pw-1"), "ACTIVE"),
        ("rebuild", lambda: servers.rebuild(sid, "cirros"), "ACTIVE"),
        ("snapshot", lambda: servers.snapshot(sid, "snap"), "ACTIVE"),
        ("backup", lambda: servers.backup(sid, "bak", "daily", 1), "ACTIVE"),
        ("resize", lambda: servers.resize(sid, "m1.small"), "VERIFY_RESIZE"),
        ("revert_resize", lambda: servers.revert_resize(sid), "ACTIVE"),
        ("resize", lambda: servers.resize(sid, "m1.small"), "VERIFY_RESIZE"),
        ("confirm_resize", lambda: servers.confirm_resize(sid), "ACTIVE"),
        ("soft_delete", lambda: servers.soft_delete(sid), "SOFT_DELETED"),
        ("restore", lambda: servers.restore(sid), "ACTIVE"),
        ("shelve", lambda: servers.shelve(sid), "SHELVED_OFFLOADED"),
        ("unshelve", lambda: servers.unshelve(sid), "ACTIVE"),
        ("lock", lambda: servers.lock(sid), "ACTIVE"),
        ("unlock", lambda: servers.unlock(sid), "ACTIVE"),
    ]
    for _, step, status in steps:
        await step()
        instance = await world.wait(sid, status)
        guests = {h: g.state for h, g in world.guests(sid).items()}
        expected = {instance.host: instance.power_state} if instance.host else {}
        assert guests == expected, status
    volume = await world.cloud.api.volume.create(ctx, 1, name="data")
    await servers.attach_volume(sid, volume.id)
    await world.settle(sid, lambda i: bool(i.block_devices))
    await servers.detach_volume(sid, volume.id)
    await world.settle(sid, lambda i: not i.block_devices)

    actions = await servers.actions(sid)
    names = ["create", *(name for name, _, _ in steps), "attach_volume", "detach_volume"]
    assert [a.action for a in actions] == names
    recorded = [a for a in actions if a.action != "create"]
    assert len({a.request_id for a in recorded}) == len(recorded)
    for action in recorded:
        assert (action.user_id, action.project_id) == (ctx.user_id, ctx.project_id)
        assert action.request_id.startswith("req-") and action.message is None
        if action.action not in ("lock", "unlock"):
            assert action.events and all(e.result == "Success" for e in action.events)
            assert all(e.finish_time is not None for e in action.events)
    resize = next(a for a in recorded if a.action == "resize")
    assert [e.event for e in resize.events] == [
        "conductor_migrate_server",
        "compute_resize_prep_instance",
        "compute_resize_migrate_instance",
        "compute_resize_finish_instance",
    ]
    await world.delete(sid)


# -- failures --------------------------------------------------------------------------

Prepare = Callable[[Session, str], Awaitable[Any]]


def _to(call: Callable[[Session, str], Awaitable[Any]], status: str) -> tuple[Prepare, str]:
    return call, status


FAILURES: list[Any] = [
    # (action, the driver operation made to fail, steps to the start state, the call,
    #  the compute event / notification name)
    ("pause", "pause", [], lambda s, i: s.servers.pause(i), "pause"),
    (
        "unpause",
        "unpause",
        [_to(lambda s, i: s.servers.pause(i), "PAUSED")],
        lambda s, i: s.servers.unpause(i),
        "unpause",
    ),
    ("suspend", "suspend", [], lambda s, i: s.servers.suspend(i), "suspend"),
    (
        "resume",
        "resume",
        [_to(lambda s, i: s.servers.suspend(i), "SUSPENDED")],
        lambda s, i: s.servers.resume(i),
        "resume",
    ),
    ("stop", "power_off", [], lambda s, i: s.servers.stop(i), "power_off"),
    (
        "start",
        "power_on",
        [_to(lambda s, i: s.servers.stop(i), "SHUTOFF")],
        lambda s, i: s.servers.start(i),
        "power_on",
    ),
    ("reboot", "reboot", [], lambda s, i: s.servers.reboot(i), "reboot"),
    ("reboot_hard", "reboot", [], lambda s, i: s.servers.reboot(i, hard=True), "reboot"),
    ("rescue", "rescue", [], lambda s, i: s.servers.rescue(i), "rescue"),
    (
        "unrescue",
        "unrescue",
        [_to(lambda s, i: s.servers.rescue(i), "RESCUE")],
        lambda s, i: s.servers.unrescue(i),
        "unrescue",
    ),
    ("rebuild", "spawn", [], lambda s, i: s.servers.rebuild(i, "cirros"), "rebuild"),
    ("snapshot", "snapshot", [], lambda s, i: s.servers.snapshot(i, "snap"), "snapshot"),
    ("backup", "snapshot", [], lambda s, i: s.servers.backup(i, "b", "daily", 1), "backup"),
    ("resize", "resize", [], lambda s, i: s.servers.resize(i, "m1.small"), "resize_migrate"),
    (
        "confirm_resize",
        "confirm_resize",
        [_to(lambda s, i: s.servers.resize(i, "m1.small"), "VERIFY_RESIZE")],
        lambda s, i: s.servers.confirm_resize(i),
        "confirm_resize",
    ),
    (
        "revert_resize",
        "finish_revert_resize",
        [_to(lambda s, i: s.servers.resize(i, "m1.small"), "VERIFY_RESIZE")],
        lambda s, i: s.servers.revert_resize(i),
        "revert_resize_finish",
    ),
    ("soft_delete", "power_off", [], lambda s, i: s.servers.soft_delete(i), "soft_delete"),
    (
        "restore",
        "power_on",
        [_to(lambda s, i: s.servers.soft_delete(i), "SOFT_DELETED")],
        lambda s, i: s.servers.restore(i),
        "restore",
    ),
    ("shelve", "snapshot", [], lambda s, i: s.servers.shelve(i), "shelve"),
    (
        "unshelve",
        "spawn",
        [_to(lambda s, i: s.servers.shelve(i), "SHELVED_OFFLOADED")],
        lambda s, i: s.servers.unshelve(i),
        "unshelve",
    ),
]


@pytest.fixture
async def one_host(memory_clouds: CloudFactory) -> CloudHarness:
    """One host on the in-memory broker that resizes in place (so `resize` can fail)."""
    return await CloudHarness.start(
        memory_clouds, computes=1, compute={"allow_resize_to_same_host": True}
    )


@pytest.mark.parametrize(
    ("action", "operation", "steps", "call", "event"),
    FAILURES,
    ids=[case[0] for case in FAILURES],
)
async def test_a_failed_action_puts_the_server_in_error_with_a_fault(
    one_host: CloudHarness,
    action: str,
    operation: DriverStep,
    steps: list[tuple[Prepare, str]],
    call: Prepare,
    event: str,
) -> None:
    """A hypervisor failure gives ERROR, a fault, an Error event and .error notification."""
    world, owner = one_host, one_host.member
    sid = await world.boot(owner)
    for step, status in steps:
        await step(owner, sid)
        await world.wait(sid, status)
    world.faults("compute1").fail_next(operation)

    await call(owner, sid)

    failed = await world.wait(sid, "ERROR")
    assert failed.task_state is None and failed.fault is not None
    assert (failed.fault.code, failed.fault.details) == (500, "HypervisorError")
    assert f"Injected failure of {operation}" in failed.fault.message
    assert (await owner.servers.get(sid)).fault == failed.fault
    await _check_failure_recorded(world, sid, action, f"compute_{event}_instance")
    note = await world.tap.wait_event(sid, f"instance.{event}.error")
    assert note.priority == "ERROR" and note.payload["fault"]["message"] == failed.fault.message
    await world.delete(sid)


async def _check_failure_recorded(world: CloudHarness, sid: str, action: str, event: str) -> None:
    """The action's event failed with a traceback shown to admins, hidden from the owner."""
    mine = next(a for a in reversed(await world.member.servers.actions(sid)) if a.action == action)
    admins = next(a for a in reversed(await world.admin.servers.actions(sid)) if a.action == action)
    assert mine.message == admins.message == "Error"
    [failed] = [e for e in admins.events if e.result == "Error"]
    assert failed.event == event
    assert failed.traceback is not None and "HypervisorError" in failed.traceback
    assert all(e.traceback is None for e in mine.events)


async def test_a_failed_password_change_leaves_the_server_active(
    memory_world: CloudHarness,
) -> None:
    """As in Nova, set_admin_password failing clears the task: ACTIVE, no fault, Error event."""
    world = memory_world
    sid = await world.boot(world.member)
    host = (await world.instance(sid)).host
    world.faults(host).fail_next("set_admin_password")

    await world.member.servers.set_admin_password(sid, "n3w")

    note = await world.tap.wait_event(sid, "instance.set_admin_password.error")
    instance = await world.wait(sid, "ACTIVE")
    assert (instance.task_state, instance.fault, note.payload["status"]) == (None, None, "ACTIVE")
    await _check_failure_recorded(
        world, sid, "set_admin_password", "compute_set_admin_password_instance"
    )
    assert world.guests(sid)[host or ""].password_changes == 0
    await world.member.servers.set_admin_password(sid, "n3w")
    await world.tap.wait_for(
        lambda n: n.event_type == "instance.set_admin_password.end" and n.payload["uuid"] == sid
    )
    assert world.guests(sid)[host or ""].password_changes == 1
    await world.delete(sid)


async def test_a_failed_volume_attach_or_detach_leaves_both_as_they_were(
    memory_world: CloudHarness,
) -> None:
    """An attach failing leaves the volume available, a detach failing leaves it in-use."""
    world = memory_world
    sid = await world.boot()
    host = (await world.instance(sid)).host
    volume = await world.cloud.api.volume.create(ADMIN, 1, name="data")
    faults = world.faults(host)

    faults.fail_next("attach_volume")
    await world.admin.servers.attach_volume(sid, volume.id)
    await world.tap.wait_event(sid, "instance.attach_volume.error")
    assert (await world.cloud.api.volume.get(ADMIN, volume.id)).status == "available"
    assert (await world.wait(sid, "ACTIVE")).block_devices == ()

    await world.admin.servers.attach_volume(sid, volume.id)
    await world.settle(sid, lambda i: bool(i.block_devices))
    faults.fail_next("detach_volume")
    await world.admin.servers.detach_volume(sid, volume.id)
    await world.tap.wait_event(sid, "instance.detach_volume.error")
    still = await world.cloud.api.volume.get(ADMIN, volume.id)
    assert (still.status, still.attached_to) == ("in-use", sid)
    instance = await world.wait(sid, "ACTIVE")
    assert [b.volume_id for b in instance.block_devices] == [volume.id]
    assert volume.id in world.guests(sid)[host or ""].volumes
    await world.delete(sid)


# -- races ------------------------------------------------------------------------------

RACES = [
    ("pause", "stop", {"pause": "PAUSED", "stop": "SHUTOFF"}),
    ("suspend", "rescue", {"suspend": "SUSPENDED", "rescue": "RESCUE"}),
    ("shelve", "resize", {"shelve": "SHELVED_OFFLOADED", "resize": "VERIFY_RESIZE"}),
]


@pytest.mark.parametrize(("first", "second", "outcomes"), RACES, ids=[r[0] for r in RACES])
async def test_two_racing_actions_have_exactly_one_winner(
    memory_world: CloudHarness, first: str, second: str, outcomes: dict[str, str]
) -> None:
    """Of two different actions sent at once, one wins; the other is InstanceInvalidState."""
    world = memory_world
    sid = await world.boot()
    calls = {
        "pause": lambda: world.admin.servers.pause(sid),
        "stop": lambda: world.admin.servers.stop(sid),
        "suspend": lambda: world.admin.servers.suspend(sid),
        "rescue": lambda: world.admin.servers.rescue(sid),
        "shelve": lambda: world.admin.servers.shelve(sid),
        "resize": lambda: world.admin.servers.resize(sid, "m1.small"),
    }

    results = await asyncio.gather(calls[first](), calls[second](), return_exceptions=True)

    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], InstanceInvalidState), results
    winner = first if results[0] is None else second
    await world.wait(sid, outcomes[winner])
    assert [a.action for a in await world.admin.servers.actions(sid)][-1] == winner
    await world.delete(sid)


async def test_a_hard_reboot_may_preempt_a_pause_without_an_error(
    memory_world: CloudHarness,
) -> None:
    """A hard reboot sent while a pause runs wins: the pause's save is preempted, no ERROR."""
    world = memory_world
    sid = await world.boot()
    with world.faults((await world.instance(sid)).host).hold("pause") as gate:
        await world.admin.servers.pause(sid)
        await gate.wait_reached()
        await world.admin.servers.reboot(sid, hard=True)
        gate.release()
        await world.tap.wait_event(sid, "instance.reboot.end")

    instance = await world.wait(sid, "ACTIVE")
    assert (instance.fault, world.guests(sid)[instance.host or ""].state_name) == (None, "running")
    pause = next(a for a in await world.admin.servers.actions(sid) if a.action == "pause")
    assert [e.result for e in pause.events] == ["Error"]
    await world.delete(sid)


# -- images ---------------------------------------------------------------------------


async def test_a_snapshot_is_an_active_image_with_the_disk(memory_world: CloudHarness) -> None:
    """A snapshot returns an image id at once; it becomes active holding the guest's disk."""
    world = memory_world
    sid = await world.boot()

    image_id = await world.admin.servers.snapshot(sid, "snap")
    await world.wait(sid, "ACTIVE")

    image = await world.cloud.api.image.get(ADMIN, image_id)
    assert (image.status, image.name, image.properties["instance_uuid"]) == ("active", "snap", sid)
    data, eof = await world.cloud.api.image.download_chunk(ADMIN, image_id, 0, 1 << 20)
    assert eof and data == b"fake-disk:" + sid.encode()
    await world.delete(sid)


async def test_a_failed_snapshot_leaves_no_image_behind(memory_world: CloudHarness) -> None:
    """The image a failed snapshot was to fill is deleted, as Nova deletes it."""
    world = memory_world
    sid = await world.boot()
    world.faults((await world.instance(sid)).host).fail_next("snapshot")

    image_id = await world.admin.servers.snapshot(sid, "snap")
    await world.wait(sid, "ERROR")

    assert image_id not in {i.id for i in await world.cloud.api.image.list(ADMIN)}
    await world.delete(sid)


async def test_backups_are_rotated_keeping_the_newest(memory_world: CloudHarness) -> None:
    """Backups beyond `rotation` of one type are deleted oldest first; other types stay."""
    world = memory_world
    sid = await world.boot()

    for name, kind in [("d1", "daily"), ("w1", "weekly"), ("d2", "daily"), ("d3", "daily")]:
        await world.admin.servers.backup(sid, name, kind, 2)
        await world.wait(sid, "ACTIVE")

    images = await world.cloud.api.image.list(ADMIN)
    backups = {i.name for i in images if i.properties.get("image_type") == "backup"}
    assert backups == {"d2", "d3", "w1"}
    await world.delete(sid)


# -- resize -----------------------------------------------------------------------------


async def test_a_confirmed_resize_frees_the_old_host(memory_world: CloudHarness) -> None:
    """Resize claims the new host and keeps the old; confirm frees the old and records it."""
    world = memory_world
    sid = await world.boot()
    source = (await world.instance(sid)).host or ""

    await world.admin.servers.resize(sid, "m1.small")
    resized = await world.wait(sid, "VERIFY_RESIZE")
    dest = resized.host or ""
    migration = await world.cloud.api.conductor.migration_for_instance(ADMIN, sid)
    assert dest != source and resized.flavor.name == "m1.small"
    assert await world.usage() == {source: (1, 512), dest: (1, 2048)}
    assert list(world.guests(sid)) == [dest]

    await world.admin.servers.confirm_resize(sid)
    confirmed = await world.wait(sid, "ACTIVE")

    assert (confirmed.host, confirmed.flavor.name) == (dest, "m1.small")
    assert confirmed.power_state == power_state.RUNNING
    assert await world.usage() == {source: (0, 0), dest: (1, 2048)}
    record = await world.cloud.api.conductor.migration_get(ADMIN, migration.uuid)
    assert (record.status, record.source_host, record.dest_host) == ("confirmed", source, dest)
    assert (record.old_flavor.name, record.new_flavor.name, record.old_vm_state) == (
        "m1.tiny",
        "m1.small",
        "active",
    )
    await world.delete(sid)


async def test_a_reverted_resize_goes_back_to_the_old_host_and_flavor(
    memory_world: CloudHarness,
) -> None:
    """Revert frees the new host's claim and runs the guest on the old host, old flavor."""
    world = memory_world
    sid = await world.boot()
    source = (await world.instance(sid)).host or ""
    await world.admin.servers.stop(sid)
    await world.wait(sid, "SHUTOFF")
    await world.admin.servers.resize(sid, "m1.small")
    dest = (await world.wait(sid, "VERIFY_RESIZE")).host or ""
    migration = await world.cloud.api.conductor.migration_for_instance(ADMIN, sid)

    await world.admin.servers.revert_resize(sid)
    reverted = await world.wait(sid, "SHUTOFF")

    assert (reverted.host, reverted.flavor.name) == (source, "m1.tiny")
    assert await world.usage() == {source: (1, 512), dest: (0, 0)}
    assert {h: g.state_name for h, g in world.guests(sid).items()} == {source: "shutdown"}
    record = await world.cloud.api.conductor.migration_get(ADMIN, migration.uuid)
    assert record.status == "reverted"
    await world.delete(sid)


@pytest.mark.parametrize("deletion", ["soft_delete", "force_delete"])
async def test_deleting_a_resized_server_confirms_the_resize_first(
    memory_world: CloudHarness, deletion: str
) -> None:
    """A soft or forced delete of a server awaiting resize confirmation frees the old host."""
    world = memory_world
    sid = await world.boot()
    source = (await world.instance(sid)).host or ""
    await world.admin.servers.resize(sid, "m1.small")
    dest = (await world.wait(sid, "VERIFY_RESIZE")).host or ""
    migration = await world.cloud.api.conductor.migration_for_instance(ADMIN, sid)

    await getattr(world.admin.servers, deletion)(sid)
    await world.wait(sid, "SOFT_DELETED" if deletion == "soft_delete" else "DELETED")

    assert (await world.usage())[source] == (0, 0)
    record = await world.cloud.api.conductor.migration_get(ADMIN, migration.uuid)
    assert record.status == "confirmed"
    if deletion == "soft_delete":
        assert (await world.usage())[dest] == (1, 2048)
        await world.delete(sid)
    assert scheduler_of(world.cloud).hosts.allocations == {}


async def test_a_resize_no_host_fits_leaves_the_server_active_with_a_fault(
    memory_world: CloudHarness,
) -> None:
    """With no host for the new flavor the server stays ACTIVE, task cleared, with a fault."""
    world = memory_world
    huge = objects.Flavor(flavorid="99", name="huge", vcpus=4096, memory_mb=512, root_gb=1)
    await world.cloud.api.conductor.flavor_create(ADMIN, huge)
    sid = await world.boot()
    host = (await world.instance(sid)).host or ""
    before = await world.usage()

    await world.admin.servers.resize(sid, "huge")
    instance = await world.settle(sid, lambda i: i.task_state is None)

    assert (instance.vm_state, instance.flavor.name, instance.host) == ("active", "m1.tiny", host)
    assert instance.fault is not None and "No valid host" in instance.fault.message
    assert await world.usage() == before
    resize = next(a for a in await world.admin.servers.actions(sid) if a.action == "resize")
    assert resize.message == "Error"
    assert [(e.event, e.result) for e in resize.events] == [("conductor_migrate_server", "Error")]
    await world.delete(sid)


async def test_a_failed_resize_then_delete_leaks_no_claim(one_host: CloudHarness) -> None:
    """After a resize fails in ERROR, deleting the server frees every claim it held."""
    world = one_host
    sid = await world.boot()
    world.faults("compute1").fail_next("resize")

    await world.admin.servers.resize(sid, "m1.small")
    await world.wait(sid, "ERROR")

    await world.delete(sid)
    assert scheduler_of(world.cloud).hosts.allocations == {}


# -- shelve, soft delete ------------------------------------------------------------------


async def test_shelve_frees_the_host_and_unshelve_schedules_again(
    memory_world: CloudHarness,
) -> None:
    """Shelving offloads the guest (host None, claim released); unshelve boots it anew."""
    world = memory_world
    sid = await world.boot()

    await world.admin.servers.shelve(sid)
    shelved = await world.wait(sid, "SHELVED_OFFLOADED")

    assert (shelved.host, shelved.power_state, world.guests(sid)) == (None, 0, {})
    assert set((await world.usage()).values()) == {(0, 0)}
    assert sid not in scheduler_of(world.cloud).hosts.allocations
    image_id = shelved.system_metadata["shelved_image_id"]
    assert (await world.cloud.api.image.get(ADMIN, image_id)).status == "active"

    await world.admin.servers.unshelve(sid)
    back = await world.wait(sid, "ACTIVE")

    assert list(world.guests(sid)) == [back.host] and back.power_state == power_state.RUNNING
    assert scheduler_of(world.cloud).hosts.allocations[sid].host == back.host
    assert image_id not in {i.id for i in await world.cloud.api.image.list(ADMIN)}
    assert "shelved_image_id" not in back.system_metadata
    await world.delete(sid)


async def test_a_soft_deleted_server_can_be_restored(memory_world: CloudHarness) -> None:
    """Soft delete powers the guest off and keeps it; restore powers it on again."""
    world = memory_world
    sid = await world.boot()

    await world.admin.servers.soft_delete(sid)
    gone = await world.wait(sid, "SOFT_DELETED")
    assert world.guests(sid)[gone.host or ""].state_name == "shutdown"

    await world.admin.servers.restore(sid)
    back = await world.wait(sid, "ACTIVE")
    assert world.guests(sid)[back.host or ""].state_name == "running"
    await world.delete(sid)


async def test_a_soft_deleted_server_is_reclaimed_once_old_enough(
    memory_clouds: CloudFactory,
) -> None:
    """The reclaim task deletes soft-deleted servers older than reclaim_instance_interval."""
    world = await CloudHarness.start(memory_clouds, compute={"reclaim_instance_interval": 3600})
    kept, old = await world.boot(), await world.boot()
    for sid in (kept, old):
        await world.admin.servers.soft_delete(sid)
        await world.wait(sid, "SOFT_DELETED")
    host = (await world.instance(old)).host
    maintenance = world.compute(host).maintenance

    await maintenance.reclaim_queued_deletes(ADMIN)
    assert (await world.instance(old)).vm_state == "soft-delete"
    later = objects.utcnow() + datetime.timedelta(hours=2)
    maintenance.now = lambda: later
    await world.admin.servers.restore(kept)
    await world.wait(kept, "ACTIVE")
    await maintenance.reclaim_queued_deletes(ADMIN)

    await world.wait(old, "DELETED")
    assert world.guests(old) == {}
    assert (await world.instance(kept)).vm_state == "active"
    await world.delete(kept)


# -- volumes --------------------------------------------------------------------------------


async def test_a_volume_attaches_to_and_detaches_from_a_running_server(world: CloudHarness) -> None:
    """Attach makes the volume in-use and a disk of the guest; detach undoes both."""
    sid = await world.boot()
    host = (await world.instance(sid)).host or ""
    volume = await world.cloud.api.volume.create(ADMIN, 1, name="data")

    device = await world.admin.servers.attach_volume(sid, volume.id)
    attached = await world.settle(sid, lambda i: bool(i.block_devices))

    assert device == "/dev/vdb"
    [mapping] = attached.block_devices
    assert (mapping.volume_id, mapping.device_name) == (volume.id, device)
    in_use = await world.cloud.api.volume.get(ADMIN, volume.id)
    assert (in_use.status, in_use.attached_to) == ("in-use", sid)
    assert world.guests(sid)[host].volumes == {volume.id: device}

    await world.admin.servers.detach_volume(sid, volume.id)
    await world.settle(sid, lambda i: not i.block_devices)

    assert (await world.cloud.api.volume.get(ADMIN, volume.id)).status == "available"
    assert world.guests(sid)[host].volumes == {}
    await world.delete(sid)


# -- delete from anywhere ---------------------------------------------------------------------


async def test_a_delete_during_the_build_wins_and_leaks_nothing(memory_world: CloudHarness) -> None:
    """A server deleted while its spawn is held goes to DELETED, nothing left behind."""
    world = memory_world
    with world.faults().hold("spawn") as gate:
        [server] = await world.admin.servers.create("b", flavor="m1.tiny", image="cirros")
        await gate.wait_reached()
        assert (await world.instance(server.id)).task_state == task_states.SPAWNING
        await world.admin.servers.delete(server.id)
        gate.release()
        await world.wait(server.id, "DELETED")
    await assert_nothing_leaked(world.cloud, world.admin, [server.id])
    assert set((await world.usage()).values()) == {(0, 0)}
    await assert_audit_clean(world.cloud)


async def test_a_server_in_error_can_be_deleted(memory_world: CloudHarness) -> None:
    """A server put in ERROR by a failed action is deleted like any other."""
    world = memory_world
    sid = await world.boot()
    world.faults((await world.instance(sid)).host).fail_next("rescue")
    await world.admin.servers.rescue(sid)
    await world.wait(sid, "ERROR")

    await world.delete(sid)


async def test_a_server_whose_host_is_down_is_deleted_locally(memory_world: CloudHarness) -> None:
    """With its compute service down, a delete cleans up centrally and reaches DELETED."""
    world = memory_world
    sid = await world.boot()
    volume = await world.cloud.api.volume.create(ADMIN, 1, name="data")
    await world.admin.servers.attach_volume(sid, volume.id)
    await world.settle(sid, lambda i: bool(i.block_devices))
    host = (await world.instance(sid)).host
    service = next(s for s in world.cloud.services if s.manager is world.compute(host))
    await service.stop()
    hosts = scheduler_of(world.cloud).hosts
    now = hosts.clock() + world.cloud.config.compute.service_down_time + 1
    hosts.clock = lambda: now

    await world.admin.servers.delete(sid)
    await world.wait(sid, "DELETED")

    assert await world.cloud.api.network.list_ports(ADMIN, device_id=sid) == []
    assert sid not in hosts.allocations
    assert (await world.cloud.api.volume.get(ADMIN, volume.id)).status == "available"
    hosts.clock = time.time
    await restart_compute(world.cloud, host or "")  # reaps the guest the host kept
    await assert_audit_clean(world.cloud)


async def test_a_soft_delete_with_the_host_down_deletes_at_once(memory_world: CloudHarness) -> None:
    """As in Nova, a soft delete that no compute host can carry out is a local delete."""
    world = memory_world
    sid = await world.boot()
    host = (await world.instance(sid)).host
    hosts = scheduler_of(world.cloud).hosts
    now = hosts.clock() + world.cloud.config.compute.service_down_time + 1
    hosts.clock = lambda: now

    await world.admin.servers.soft_delete(sid)

    await world.wait(sid, "DELETED")
    assert sid not in hosts.allocations
    assert await world.cloud.api.network.list_ports(ADMIN, device_id=sid) == []
    hosts.clock = time.time
    await restart_compute(world.cloud, host or "")  # reaps the guest the host kept
    await assert_audit_clean(world.cloud)


async def test_an_unshelve_no_host_can_take_stays_offloaded_with_a_fault(
    memory_world: CloudHarness,
) -> None:
    """With every host down an unshelve leaves the server SHELVED_OFFLOADED, with a fault."""
    world = memory_world
    sid = await world.boot()
    await world.admin.servers.shelve(sid)
    await world.wait(sid, "SHELVED_OFFLOADED")
    hosts = scheduler_of(world.cloud).hosts
    now = hosts.clock() + world.cloud.config.compute.service_down_time + 1
    hosts.clock = lambda: now

    await world.admin.servers.unshelve(sid)

    instance = await world.settle(sid, lambda i: i.task_state is None)
    assert (instance.vm_state, instance.host) == ("shelved_offloaded", None)
    assert instance.fault is not None and "No valid host" in instance.fault.message
    unshelve = (await world.admin.servers.actions(sid))[-1]
    assert (unshelve.action, unshelve.message) == ("unshelve", "Error")
    assert [(e.event, e.result) for e in unshelve.events] == [
        ("conductor_unshelve_instance", "Error")
    ]
    hosts.clock = time.time
    await assert_audit_clean(world.cloud)


async def test_the_actions_of_a_server_name_who_asked_and_each_step(world: CloudHarness) -> None:
    """Each request is an action with its request id, user and project, and one event per hop."""
    sid = await world.boot(world.member)
    ctx = await world.member.context()

    await world.member.servers.stop(sid)
    await world.wait(sid, "SHUTOFF")
    await world.member.servers.start(sid)
    await world.wait(sid, "ACTIVE")
    await world.member.servers.delete(sid)
    await world.wait(sid, "DELETED")

    actions = await world.member.servers.actions(sid)
    assert [a.action for a in actions][-3:] == ["stop", "start", "delete"]
    for action in actions[-3:]:
        assert (action.user_id, action.project_id) == (ctx.user_id, ctx.project_id)
        assert action.start_time is not None
    stop, start = actions[-3:-1]
    assert stop.request_id != start.request_id
    assert [(e.event, e.result) for e in stop.events] == [("compute_power_off_instance", "Success")]
    assert [(e.event, e.result) for e in start.events] == [("compute_power_on_instance", "Success")]
    await assert_audit_clean(world.cloud)
    notes = [n for n in world.tap.about(sid) if n.event_type.startswith("instance.power_off")]
    assert {n.payload["request_id"] for n in notes} == {stop.request_id}
