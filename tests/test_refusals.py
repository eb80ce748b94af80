"""Deletes Nova allows, and refused or failed API steps that change nothing.

Nova's delete semantics: with soft delete enabled, DELETE of a server that never
launched is a hard delete; ``forceDelete`` works whatever task runs; a server
awaiting resize confirmation can be deleted any number of times. And every action's
refusal, wherever it comes from (the state table, a bad argument another service
refuses, a step after the claim that cannot be delivered), leaves the server as it
was: no task_state written, no instance action recorded, no image or volume change,
and the audit clean. One cloud on the in-memory broker serves the module.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from nova_lite import objects
from nova_lite.compute import migration_states, task_states, vm_states
from nova_lite.exceptions import (
    FlavorNotFound,
    ImageNotFound,
    InstanceInvalidState,
    InstanceLocked,
    Invalid,
    MessageUndeliverable,
    NotFound,
    NovaLiteError,
)
from nova_lite.testing import (
    WAIT,
    CloudFactory,
    CloudHarness,
    DriverStep,
    add_user,
    assert_audit_clean,
)
from tests.http_fixtures import FrontEnd
from tests.test_preemption import ADMIN, start_action

in_module_loop = pytest.mark.asyncio(loop_scope="module")

A = vm_states


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CloudHarness]:
    """Two fake hosts on the in-memory broker, soft delete enabled, shelving stops at SHELVED."""
    async with CloudFactory.memory(tmp_path_factory.mktemp("refusals")) as clouds:
        yield await CloudHarness.start(
            clouds, compute={"shelved_offload_time": -1, "reclaim_instance_interval": 3600}
        )


@pytest_asyncio.fixture(loop_scope="module")
async def front(lab: CloudHarness) -> AsyncIterator[FrontEnd]:
    """The module's cloud behind the HTTP front end."""
    served = await FrontEnd.start(lab.cloud)
    try:
        yield served
    finally:
        await served.aclose()


async def _gone(lab: CloudHarness, sid: str) -> None:
    await lab.wait(sid, "DELETED")
    await assert_audit_clean(lab.cloud)


# -- deletes Nova allows -------------------------------------------------------------


@in_module_loop
async def test_delete_with_soft_delete_on_hard_deletes_a_building_server(
    lab: CloudHarness, front: FrontEnd
) -> None:
    """DELETE of a server still building answers 204 and deletes it, as Nova falls back."""
    with lab.faults().hold("spawn") as gate:
        [server] = await lab.admin.servers.create("b", flavor="m1.tiny", image="cirros")
        await gate.wait_reached()
        token = await front.token()
        reply = await front.call("DELETE", f"/compute/v2.1/servers/{server.id}", token=token)
        assert reply.status == 204, reply.body
    await _gone(lab, server.id)


@in_module_loop
async def test_delete_with_soft_delete_on_hard_deletes_a_server_that_never_launched(
    lab: CloudHarness, front: FrontEnd
) -> None:
    """DELETE of a server whose build failed (never launched) deletes it, not 409."""
    huge = objects.Flavor(
        flavorid=str(uuid.uuid4()),
        name=f"huge-{uuid.uuid4()}",
        vcpus=1024,
        memory_mb=2**22,
        root_gb=1,
    )
    await lab.cloud.api.conductor.flavor_create(await lab.admin.context(), huge)
    [server] = await lab.admin.servers.create("lost", flavor=huge.flavorid, image="cirros")
    await lab.wait(server.id, "ERROR")
    token = await front.token()

    reply = await front.call("DELETE", f"/compute/v2.1/servers/{server.id}", token=token)

    assert reply.status == 204, reply.body
    await _gone(lab, server.id)


@in_module_loop
async def test_delete_with_soft_delete_on_soft_deletes_a_launched_server(
    lab: CloudHarness, front: FrontEnd
) -> None:
    """DELETE of a server that launched keeps it SOFT_DELETED until reclaimed."""
    sid = await lab.reach(A.ACTIVE)
    token = await front.token()

    reply = await front.call("DELETE", f"/compute/v2.1/servers/{sid}", token=token)

    assert reply.status == 204
    await lab.wait(sid, "SOFT_DELETED")
    await assert_audit_clean(lab.cloud)
    await lab.admin.servers.force_delete(sid)
    await _gone(lab, sid)


@pytest.mark.parametrize(
    "task",
    [task_states.REBOOTING, task_states.IMAGE_SNAPSHOT, task_states.SHELVING, task_states.DELETING],
)
@in_module_loop
async def test_force_delete_works_whatever_task_runs(lab: CloudHarness, task: str) -> None:
    """forceDelete is accepted in any task_state (Nova's check has task_state=None)."""
    sid = await lab.reach(A.ACTIVE)
    await lab.cloud.api.conductor.instance_update(ADMIN, sid, {"task_state": task})

    await lab.admin.servers.force_delete(sid)

    await _gone(lab, sid)


@pytest.mark.parametrize("first", ["delete", "soft_delete", "force_delete"])
@in_module_loop
async def test_a_server_awaiting_resize_confirmation_can_be_deleted_again(
    lab: CloudHarness, first: str
) -> None:
    """A VERIFY_RESIZE server deleted (or soft-deleted) then deleted again goes cleanly."""
    sid = await lab.reach(A.RESIZED)
    actions_before = len(await lab.admin.servers.actions(sid))
    faults = lab.faults((await lab.instance(sid)).host)
    step: DriverStep = "power_off" if first == "soft_delete" else "destroy"

    with faults.hold(step) as gate:  # the first is under way on the host
        await start_action(lab, first, sid)()
        await asyncio.wait_for(gate.reached.wait(), WAIT)
        await lab.admin.servers.delete(sid)  # accepted: no "no resize awaiting confirmation"

    await _gone(lab, sid)
    recorded = [a.action for a in await lab.admin.servers.actions(sid)][actions_before:]
    assert recorded[0] == first and recorded.count("delete") <= 1 + (first == "delete")
    [migration] = await lab.cloud.api.conductor.migration_list(ADMIN, instance_uuid=sid)
    assert migration.status == migration_states.CONFIRMED


@in_module_loop
async def test_a_second_delete_of_a_deleting_server_is_accepted(lab: CloudHarness) -> None:
    """A delete while the host is already deleting the server is accepted; it goes once."""
    sid = await lab.reach(A.ACTIVE)
    host = (await lab.instance(sid)).host or ""
    with lab.faults(host).hold("destroy") as gate:
        await lab.admin.servers.delete(sid)
        await asyncio.wait_for(gate.reached.wait(), WAIT)
        await lab.admin.servers.delete(sid)
    await _gone(lab, sid)
    deletes = [a for a in await lab.admin.servers.actions(sid) if a.action == "delete"]
    assert len(deletes) == 2
    assert len(lab.tap.about(sid, "instance.delete.end")) == 1  # the second found it gone


# -- refusals change nothing ---------------------------------------------------------


async def _snapshot_of_books(lab: CloudHarness, sid: str) -> tuple[Any, ...]:
    """What a refusal must leave as it was: states, actions, images, volumes."""
    instance = await lab.instance(sid)
    actions = await lab.admin.servers.actions(sid)
    images = sorted(i.id for i in await lab.cloud.api.image.list(ADMIN))
    volumes = sorted((v.id, v.status) for v in await lab.cloud.api.volume.list(ADMIN))
    return (
        (instance.vm_state, instance.task_state, instance.host, instance.flavor.name),
        [(a.action, a.request_id) for a in actions],
        images,
        volumes,
    )


async def _refused_changes_nothing(
    lab: CloudHarness, sid: str, request: Callable[[], Awaitable[Any]], error: type[Exception]
) -> None:
    before = await _snapshot_of_books(lab, sid)
    with pytest.raises(error):
        await request()
    assert await _snapshot_of_books(lab, sid) == before
    await assert_audit_clean(lab.cloud)


async def _done_with(lab: CloudHarness, sid: str) -> None:
    await lab.admin.servers.force_delete(sid)
    await _gone(lab, sid)


LONG_NAME = "n" * 256  # the image service refuses names over 255 characters


@pytest.mark.parametrize(
    ("state", "action", "call", "error"),
    [
        (A.ACTIVE, "snapshot", lambda s, i: s.snapshot(i, LONG_NAME), Invalid),
        (A.ACTIVE, "backup", lambda s, i: s.backup(i, LONG_NAME, "daily", 1), Invalid),
        (A.ACTIVE, "backup", lambda s, i: s.backup(i, "b", "", 1), Invalid),
        (A.ACTIVE, "backup", lambda s, i: s.backup(i, "b", "daily", -1), Invalid),
        (A.ACTIVE, "resize", lambda s, i: s.resize(i, "m9.nope"), FlavorNotFound),
        (A.ACTIVE, "resize", lambda s, i: s.resize(i, "m1.tiny"), Invalid),
        (A.ACTIVE, "rebuild", lambda s, i: s.rebuild(i, "no-such-image"), ImageNotFound),
        (A.ACTIVE, "set_admin_password", lambda s, i: s.set_admin_password(i, ""), Invalid),
        (A.ACTIVE, "attach_volume", lambda s, i: s.attach_volume(i, "no-such-vol"), NotFound),
        (A.ACTIVE, "detach_volume", lambda s, i: s.detach_volume(i, "no-such-vol"), NotFound),
        (A.ACTIVE, "unpause", lambda s, i: s.unpause(i), InstanceInvalidState),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
@in_module_loop
async def test_an_argument_another_service_refuses_changes_nothing(
    lab: CloudHarness, state: str, action: str, call: Any, error: type[Exception]
) -> None:
    """The image, conductor, volume services or the state table refuse: nothing is written."""
    sid = await lab.reach(state)

    await _refused_changes_nothing(lab, sid, lambda: call(lab.admin.servers, sid), error)

    await _done_with(lab, sid)


@in_module_loop
async def test_a_resize_with_no_migration_to_settle_changes_nothing(lab: CloudHarness) -> None:
    """Confirm or revert of a server whose migration ended is NotFound, nothing written."""
    sid = await lab.reach(A.RESIZED)
    [migration] = await lab.cloud.api.conductor.migration_list(ADMIN, instance_uuid=sid)
    await lab.cloud.api.conductor.migration_update(
        ADMIN, migration.uuid, status=migration_states.CONFIRMED
    )
    servers = lab.admin.servers
    requests: list[Callable[[], Awaitable[Any]]] = [
        lambda: servers.confirm_resize(sid),
        lambda: servers.revert_resize(sid),
    ]

    for request in requests:
        before = await _snapshot_of_books(lab, sid)
        with pytest.raises(NotFound):
            await request()
        assert await _snapshot_of_books(lab, sid) == before
    await lab.cloud.api.scheduler.release(ADMIN, migration.uuid)
    await _done_with(lab, sid)


@in_module_loop
async def test_a_locked_servers_force_delete_by_its_owner_changes_nothing(
    lab: CloudHarness,
) -> None:
    """forceDelete of an admin-locked server by its owner is InstanceLocked; nothing recorded."""
    owner = await add_user(lab.cloud, lab.admin, f"o{id(lab)}", project="demo")
    [server] = await owner.servers.create("o", flavor="m1.tiny", image="cirros")
    await lab.wait(server.id, "ACTIVE")
    await lab.admin.servers.lock(server.id)

    await _refused_changes_nothing(
        lab, server.id, lambda: owner.servers.force_delete(server.id), InstanceLocked
    )

    await _done_with(lab, server.id)


@in_module_loop
async def test_a_shelve_of_a_server_with_a_longest_name_is_accepted(lab: CloudHarness) -> None:
    """The shelve snapshot's name is cut to the image service's limit, so shelve works."""
    [server] = await lab.admin.servers.create("s" * 255, flavor="m1.tiny", image="cirros")
    await lab.wait(server.id, "ACTIVE")

    await lab.admin.servers.shelve(server.id)

    await lab.wait(server.id, "SHELVED")
    await _done_with(lab, server.id)


# -- a step after the claim that fails gives the claim back ---------------------------

Undeliverable = tuple[str, str, str, Callable[[Any, str], Awaitable[Any]]]
# (start state, client of the NovaAPI, method failing, the request)
UNDELIVERABLE: list[Undeliverable] = [
    (A.ACTIVE, "compute", "pause_instance", lambda s, i: s.pause(i)),
    (A.PAUSED, "compute", "unpause_instance", lambda s, i: s.unpause(i)),
    (A.ACTIVE, "compute", "suspend_instance", lambda s, i: s.suspend(i)),
    (A.SUSPENDED, "compute", "resume_instance", lambda s, i: s.resume(i)),
    (A.ACTIVE, "compute", "stop_instance", lambda s, i: s.stop(i)),
    (A.STOPPED, "compute", "start_instance", lambda s, i: s.start(i)),
    (A.ACTIVE, "compute", "reboot_instance", lambda s, i: s.reboot(i)),
    (A.ACTIVE, "compute", "reboot_instance", lambda s, i: s.reboot(i, hard=True)),
    (A.ACTIVE, "compute", "rescue_instance", lambda s, i: s.rescue(i)),
    (A.RESCUED, "compute", "unrescue_instance", lambda s, i: s.unrescue(i)),
    (A.ACTIVE, "compute", "set_admin_password", lambda s, i: s.set_admin_password(i, "pw")),
    (A.ACTIVE, "compute", "rebuild_instance", lambda s, i: s.rebuild(i, "cirros")),
    (A.ACTIVE, "compute", "snapshot_instance", lambda s, i: s.snapshot(i, "snap")),
    (A.ACTIVE, "compute", "snapshot_instance", lambda s, i: s.backup(i, "bak", "daily", 1)),
    (A.ACTIVE, "compute", "shelve_instance", lambda s, i: s.shelve(i)),
    (A.SHELVED, "compute", "shelve_offload_instance", lambda s, i: s.shelve_offload(i)),
    (A.SHELVED, "compute", "unshelve_instance", lambda s, i: s.unshelve(i)),
    (A.SHELVED_OFFLOADED, "conductor", "unshelve_instance", lambda s, i: s.unshelve(i)),
    (A.ACTIVE, "conductor", "migrate_server", lambda s, i: s.resize(i, "m1.small")),
    (A.RESIZED, "compute", "confirm_resize", lambda s, i: s.confirm_resize(i)),
    (A.RESIZED, "compute", "revert_resize", lambda s, i: s.revert_resize(i)),
    (A.SOFT_DELETED, "compute", "restore_instance", lambda s, i: s.restore(i)),
    (A.ACTIVE, "compute", "soft_delete_instance", lambda s, i: s.soft_delete(i)),
    (A.ACTIVE, "image", "create", lambda s, i: s.snapshot(i, "snap")),
    (A.ACTIVE, "image", "create", lambda s, i: s.shelve(i)),
]


@pytest.mark.parametrize(
    ("state", "client", "method", "call"),
    UNDELIVERABLE,
    ids=[f"{c}.{m}-{s}" for s, c, m, _ in UNDELIVERABLE],
)
@in_module_loop
async def test_a_step_that_cannot_be_delivered_changes_nothing(
    lab: CloudHarness,
    monkeypatch: pytest.MonkeyPatch,
    state: str,
    client: str,
    method: str,
    call: Any,
) -> None:
    """The message after the claim cannot be delivered: the claim and the action go back."""
    sid = await lab.reach(state)
    migration = await _awaiting(lab, sid)

    async def undeliverable(*args: Any, **kwargs: Any) -> None:
        raise MessageUndeliverable(f"Injected: no queue is bound for {client}.{method}.")

    monkeypatch.setattr(getattr(lab.cloud.api, client), method, undeliverable)
    await _refused_changes_nothing(
        lab, sid, lambda: call(lab.admin.servers, sid), MessageUndeliverable
    )
    monkeypatch.undo()

    if migration is not None:  # still awaiting confirmation, as it was
        found = await lab.cloud.api.conductor.migration_get(ADMIN, migration.uuid)
        assert found.status == migration_states.FINISHED
    await _done_with(lab, sid)


async def _awaiting(lab: CloudHarness, sid: str) -> objects.Migration | None:
    try:
        return await lab.cloud.api.conductor.migration_for_instance(ADMIN, sid)
    except NovaLiteError:
        return None


@pytest.mark.parametrize("action", ["attach_volume", "detach_volume"])
@in_module_loop
async def test_a_volume_step_that_cannot_be_delivered_changes_nothing(
    lab: CloudHarness, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    """A volume attach or detach whose cast fails leaves the volume and server as they were."""
    sid = await lab.reach(A.ACTIVE)
    volume = await lab.cloud.api.volume.create(ADMIN, 1, name="v")
    if action == "detach_volume":
        await lab.admin.servers.attach_volume(sid, volume.id)
        await lab.tap.wait_event(sid, "instance.attach_volume.end")

    async def undeliverable(*args: Any, **kwargs: Any) -> None:
        raise MessageUndeliverable("Injected: no queue is bound for compute.")

    monkeypatch.setattr(lab.cloud.api.compute, action, undeliverable)
    await _refused_changes_nothing(
        lab, sid, lambda: getattr(lab.admin.servers, action)(sid, volume.id), MessageUndeliverable
    )
    monkeypatch.undo()
    await _done_with(lab, sid)


@in_module_loop
async def test_a_delete_that_cannot_reach_the_host_is_done_without_it(
    lab: CloudHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminate that cannot be delivered becomes a local delete; the host reaps its guest."""
    sid = await lab.reach(A.ACTIVE)
    host = (await lab.instance(sid)).host or ""

    async def undeliverable(*args: Any, **kwargs: Any) -> None:
        raise MessageUndeliverable("Injected: no queue is bound for the host.")

    monkeypatch.setattr(lab.cloud.api.compute, "terminate_instance", undeliverable)
    await lab.admin.servers.delete(sid)
    monkeypatch.undo()

    await lab.wait(sid, "DELETED")
    await lab.cloud.compute(host).maintenance.reap_deleted_guests(ADMIN)  # its next sync
    await _gone(lab, sid)


@pytest.mark.parametrize(
    "body",
    [
        {"createImage": {"name": LONG_NAME}},
        {"createBackup": {"name": LONG_NAME, "backup_type": "daily", "rotation": 1}},
    ],
    ids=["createImage", "createBackup"],
)
@in_module_loop
async def test_an_image_name_the_image_service_refuses_is_400_and_changes_nothing(
    lab: CloudHarness, front: FrontEnd, body: dict[str, Any]
) -> None:
    """createImage or createBackup with a name too long: 400, and the server stays usable."""
    sid = await lab.reach(A.ACTIVE)
    token = await front.token()
    before = await _snapshot_of_books(lab, sid)

    reply = await front.call("POST", f"/compute/v2.1/servers/{sid}/action", token=token, json=body)

    assert reply.status == 400, reply.body
    assert await _snapshot_of_books(lab, sid) == before
    await lab.admin.servers.pause(sid)  # not refused for a task left behind
    await lab.wait(sid, "PAUSED")
    await _done_with(lab, sid)
