"""The race matrix: every hop of every action, preempted by every action that may win.

Each compute action is a chain of hops (a resize has four: the conductor's placement,
then prep, migrate and finish on the compute hosts); each hop runs while the server
has the hop's task_state. Some actions may start whatever task runs (delete, soft
delete, force delete) or during some (a hard reboot during the power actions):
`compute/allowed_states.RULES` says which, and the matrix is generated from it, so a
new action or a new rule is covered as soon as its hops are listed in `HOPS`.

For each (hop, preemptor) the dangerous interleaving is made on purpose, two ways:

- ``before``: the message that starts the hop is held between its sender and its
  host; the preemptor runs; the hop is then delivered and finds its server taken.
- ``save``: the hop's step runs and its final save is held; the preemptor is sent;
  the save is then refused, and what the step did must be given back.

Every case ends with the server in a sensible state (DELETED; or, after a soft
delete and a restore or a hard reboot, ACTIVE with one running guest, out of rescue,
on the host its record names), no half-made image left, and the audit of the books
clean; then the server is deleted and the audit is clean again. One cloud on the
in-memory broker serves the module; each case boots its own server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import attrs
import pytest
import pytest_asyncio

from nova_lite import objects
from nova_lite.compute import power_state, task_states, vm_states
from nova_lite.compute.allowed_states import RULES
from nova_lite.context import RequestContext
from nova_lite.testing import (
    WAIT,
    CloudFactory,
    CloudHarness,
    Gate,
    assert_audit_clean,
    assert_nothing_leaked,
    hold,
)

in_module_loop = pytest.mark.asyncio(loop_scope="module")  # the cases share the module's cloud

ADMIN = RequestContext.admin()
ABANDONED = "resize_abandon.end"
BEFORE, SAVE = "before", "save"
PREEMPTORS = ("delete", "soft_delete", "force_delete", "reboot_hard")
# Actions that are not chains of compute hops: deletes tear down, locks and volume
# attachments run without a task_state of their own.
NOT_HOPS = {"delete", "force_delete", "lock", "unlock", "attach_volume", "detach_volume"}
# Not yet in this matrix: live_migrate's hops (the conductor's placement, the source's
# hand-over); tests/test_live_migration.py races a delete against the hand-over.
NOT_HOPS |= {"live_migrate"}


@attrs.frozen
class Hop:
    """One hop of an action: where it runs, its task, and the message that starts it.

    `sender` names the object whose `method` sends that message: ``api.compute`` and
    ``api.conductor`` (the API's clients), ``conductor.compute`` and
    ``conductor.scheduler`` (the conductor's), ``<role>.resize`` (a host's compute
    client for the next resize hop) or ``<role>.conductor`` (a host's conductor
    client). Roles: ``here`` is the server's host when the action starts, ``there``
    the other host, ``any`` whichever the scheduler picks. `signal` is the event a
    hop that lost ends with (per mode where they differ; None: nothing to await).
    """

    action: str
    name: str
    start: str  # the vm_state the server is in when the action is asked for
    task: str
    sender: str
    method: str
    runs_on: str  # here, there, any, conductor
    signal: str | None
    during: str | None = None  # the vm_state while the hop runs, if not `start`
    before_signal: str | None = None  # the signal in the `before` mode, if another
    save_after: bool = False  # the `save` hold is after `method` (the conductor's claim)
    hostless: bool = False  # the server has no host while the hop waits: no soft delete

    @property
    def vm_state(self) -> str:
        return self.during or self.start

    def signal_for(self, mode: str) -> str | None:
        """The event type the lost hop ends with (``instance.<action>.preempted`` by default)."""
        signal = self.before_signal if mode == BEFORE and self.before_signal else self.signal
        if signal is None or (mode == BEFORE and self.name == "shelve:offload"):
            return None  # the chained offload's claim simply fails: nothing to announce
        return signal if "." in signal else f"{signal}.preempted"


A, ts = vm_states, task_states
HOPS: tuple[Hop, ...] = (
    Hop("pause", "pause", A.ACTIVE, ts.PAUSING, "api.compute", "pause_instance", "here", "pause"),
    Hop(
        "unpause",
        "unpause",
        A.PAUSED,
        ts.UNPAUSING,
        "api.compute",
        "unpause_instance",
        "here",
        "unpause",
    ),
    Hop(
        "suspend",
        "suspend",
        A.ACTIVE,
        ts.SUSPENDING,
        "api.compute",
        "suspend_instance",
        "here",
        "suspend",
    ),
    Hop(
        "resume",
        "resume",
        A.SUSPENDED,
        ts.RESUMING,
        "api.compute",
        "resume_instance",
        "here",
        "resume",
    ),
    Hop(
        "stop",
        "stop",
        A.ACTIVE,
        ts.POWERING_OFF,
        "api.compute",
        "stop_instance",
        "here",
        "power_off",
    ),
    Hop(
        "start",
        "start",
        A.STOPPED,
        ts.POWERING_ON,
        "api.compute",
        "start_instance",
        "here",
        "power_on",
    ),
    Hop(
        "reboot",
        "reboot",
        A.ACTIVE,
        ts.REBOOTING,
        "api.compute",
        "reboot_instance",
        "here",
        "reboot",
    ),
    Hop(
        "reboot_hard",
        "reboot_hard",
        A.ACTIVE,
        ts.REBOOTING_HARD,
        "api.compute",
        "reboot_instance",
        "here",
        "reboot",
    ),
    Hop(
        "rescue",
        "rescue",
        A.ACTIVE,
        ts.RESCUING,
        "api.compute",
        "rescue_instance",
        "here",
        "rescue",
    ),
    Hop(
        "unrescue",
        "unrescue",
        A.RESCUED,
        ts.UNRESCUING,
        "api.compute",
        "unrescue_instance",
        "here",
        "unrescue",
    ),
    Hop(
        "set_admin_password",
        "set_admin_password",
        A.ACTIVE,
        ts.UPDATING_PASSWORD,
        "api.compute",
        "set_admin_password",
        "here",
        "set_admin_password",
    ),
    Hop(
        "rebuild",
        "rebuild",
        A.ACTIVE,
        ts.REBUILDING,
        "api.compute",
        "rebuild_instance",
        "here",
        "rebuild",
    ),
    Hop(
        "snapshot",
        "snapshot",
        A.ACTIVE,
        ts.IMAGE_SNAPSHOT,
        "api.compute",
        "snapshot_instance",
        "here",
        "snapshot",
    ),
    Hop(
        "backup",
        "backup",
        A.ACTIVE,
        ts.IMAGE_BACKUP,
        "api.compute",
        "snapshot_instance",
        "here",
        "backup",
    ),
    Hop(
        "shelve",
        "shelve",
        A.ACTIVE,
        ts.SHELVING,
        "api.compute",
        "shelve_instance",
        "here",
        "shelve",
    ),
    Hop(
        "shelve",
        "shelve:offload",
        A.ACTIVE,
        ts.SHELVING_OFFLOADING,
        "here.conductor",
        "instance_update",
        "here",
        "shelve_offload",
        during=A.SHELVED,
        before_signal=None,
    ),
    Hop(
        "shelve_offload",
        "shelve_offload",
        A.SHELVED,
        ts.SHELVING_OFFLOADING,
        "api.compute",
        "shelve_offload_instance",
        "here",
        "shelve_offload",
    ),
    Hop(
        "unshelve",
        "unshelve:on-host",
        A.SHELVED,
        ts.UNSHELVING,
        "api.compute",
        "unshelve_instance",
        "here",
        "unshelve",
    ),
    Hop(
        "unshelve",
        "unshelve:conductor",
        A.SHELVED_OFFLOADED,
        ts.UNSHELVING,
        "api.conductor",
        "unshelve_instance",
        "conductor",
        "unshelve",
        save_after=True,
        hostless=True,
    ),
    Hop(
        "unshelve",
        "unshelve:compute",
        A.SHELVED_OFFLOADED,
        ts.UNSHELVING,
        "conductor.compute",
        "unshelve_instance",
        "any",
        "unshelve",
    ),
    Hop(
        "resize",
        "resize:conductor",
        A.ACTIVE,
        ts.RESIZE_PREP,
        "api.conductor",
        "migrate_server",
        "conductor",
        ABANDONED,
        before_signal="resize",
        save_after=True,
    ),
    Hop(
        "resize",
        "resize:prep",
        A.ACTIVE,
        ts.RESIZE_PREP,
        "conductor.compute",
        "prep_resize",
        "there",
        ABANDONED,
    ),
    Hop(
        "resize",
        "resize:migrate",
        A.ACTIVE,
        ts.RESIZE_MIGRATING,
        "there.resize",
        "resize_instance",
        "here",
        ABANDONED,
    ),
    Hop(
        "resize",
        "resize:finish",
        A.ACTIVE,
        ts.RESIZE_MIGRATED,
        "here.resize",
        "finish_resize",
        "there",
        ABANDONED,
    ),
    Hop(
        "confirm_resize",
        "confirm_resize",
        A.RESIZED,
        ts.RESIZE_CONFIRMING,
        "api.compute",
        "confirm_resize",
        "there",
        ABANDONED,
    ),
    Hop(
        "revert_resize",
        "revert_resize:revert",
        A.RESIZED,
        ts.RESIZE_REVERTING,
        "api.compute",
        "revert_resize",
        "here",
        ABANDONED,
    ),
    Hop(
        "revert_resize",
        "revert_resize:finish",
        A.RESIZED,
        ts.RESIZE_REVERTING,
        "here.resize",
        "finish_revert_resize",
        "there",
        ABANDONED,
    ),
    Hop(
        "restore",
        "restore",
        A.SOFT_DELETED,
        ts.RESTORING,
        "api.compute",
        "restore_instance",
        "here",
        "restore",
    ),
    Hop(
        "soft_delete",
        "soft_delete",
        A.ACTIVE,
        ts.SOFT_DELETING,
        "api.compute",
        "soft_delete_instance",
        "here",
        "soft_delete",
    ),
)


def _representative(vm_state: str, task: str) -> objects.Instance:
    flavor = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)
    return objects.Instance(
        uuid="00000000-0000-0000-0000-000000000000",
        display_name="r",
        project_id="p",
        user_id="u",
        flavor=flavor,
        image_ref="i",
        vm_state=vm_state,
        task_state=task,
        host="h",
        launched_at=objects.utcnow(),
    )


def _may_preempt(hop: Hop, preemptor: str) -> bool:
    """Whether RULES let `preemptor` start while `hop` runs (and it would change anything)."""
    if preemptor == "soft_delete" and hop.task in (ts.SOFT_DELETING, ts.DELETING):
        return False  # the API leaves a server being (soft-)deleted to that request
    return RULES[preemptor].allows(_representative(hop.vm_state, hop.task))


CASES = [
    pytest.param(hop, mode, preemptor, id=f"{hop.name}-{mode}-{preemptor}")
    for hop in HOPS
    for mode in (BEFORE, SAVE)
    for preemptor in PREEMPTORS
    if _may_preempt(hop, preemptor)
]


def test_every_action_with_a_task_has_its_hops_in_the_matrix() -> None:
    """Each RULES action that runs as compute hops is listed, so the matrix covers it."""
    assert {hop.action for hop in HOPS} == set(RULES) - NOT_HOPS
    assert set(PREEMPTORS) <= set(RULES)


def test_the_preemptors_are_the_ones_rules_allow_during_a_task() -> None:
    """Deletes may win any hop; a hard reboot only the power actions' and reboots' hops."""
    rebooted = {h.name for h in HOPS if _may_preempt(h, "reboot_hard")}
    assert rebooted == {"pause", "unpause", "suspend", "resume", "reboot", "reboot_hard"}
    for preemptor in ("delete", "force_delete"):
        assert all(_may_preempt(h, preemptor) for h in HOPS)


# -- the module's cloud ------------------------------------------------------------


def start_action(lab: CloudHarness, action: str, server_id: str) -> Callable[[], Awaitable[Any]]:
    """The API request that starts `action`."""
    servers = lab.admin.servers
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "pause": lambda: servers.pause(server_id),
        "unpause": lambda: servers.unpause(server_id),
        "suspend": lambda: servers.suspend(server_id),
        "resume": lambda: servers.resume(server_id),
        "stop": lambda: servers.stop(server_id),
        "start": lambda: servers.start(server_id),
        "reboot": lambda: servers.reboot(server_id),
        "reboot_hard": lambda: servers.reboot(server_id, hard=True),
        "rescue": lambda: servers.rescue(server_id),
        "unrescue": lambda: servers.unrescue(server_id),
        "set_admin_password": lambda: servers.set_admin_password(server_id, "n3w"),
        "rebuild": lambda: servers.rebuild(server_id, "cirros"),
        "snapshot": lambda: servers.snapshot(server_id, "snap"),
        "backup": lambda: servers.backup(server_id, "bak", "daily", 2),
        "shelve": lambda: servers.shelve(server_id),
        "shelve_offload": lambda: servers.shelve_offload(server_id),
        "unshelve": lambda: servers.unshelve(server_id),
        "resize": lambda: servers.resize(server_id, "m1.small"),
        "confirm_resize": lambda: servers.confirm_resize(server_id),
        "revert_resize": lambda: servers.revert_resize(server_id),
        "restore": lambda: servers.restore(server_id),
        "soft_delete": lambda: servers.soft_delete(server_id),
        "delete": lambda: servers.delete(server_id),
        "force_delete": lambda: servers.force_delete(server_id),
    }
    return calls[action]


def _senders(lab: CloudHarness, sender: str, here: str) -> list[object]:
    """The objects named by a hop's `sender` (see `Hop`)."""
    owner, client = sender.split(".")
    if owner == "api":
        return [getattr(lab.cloud.api, client)]
    if owner == "conductor":
        return [getattr(lab.conductor.migrations, client)]
    compute = lab.compute(_hosts(lab, owner, here)[0])
    return [compute.resize_actions.compute_rpcapi if client == "resize" else compute.conductor]


def _hosts(lab: CloudHarness, role: str, here: str) -> list[str]:
    if role == "here":
        return [here]
    if role == "there":
        return [h for h in lab.hosts if h != here]
    return lab.hosts


def hold_hop(
    lab: CloudHarness, hop: Hop, mode: str, server_id: str, here: str
) -> contextlib.AbstractContextManager[Gate]:
    """The gate of `hop` on `server_id` in `mode` (see the module docstring).

    Only the first matching call is held: a retried or chained one passes.
    """
    if mode == BEFORE:
        if hop.method == "instance_update":  # the chained offload claims its task
            match = _claims(server_id, hop.task)
        else:
            match = _about(server_id)
        return hold(_senders(lab, hop.sender, here), hop.method, match=match, first_only=True)
    if hop.runs_on == "conductor":
        scheduler = [lab.conductor.migrations.scheduler]
        placing = _placing(server_id)
        return hold(scheduler, "select_destinations", match=placing, after=True, first_only=True)
    computes = [lab.compute(h).conductor for h in _hosts(lab, hop.runs_on, here)]
    saving = _final_save(server_id, hop.task)
    return hold(computes, "instance_update", match=saving, first_only=True)


@contextlib.contextmanager
def offloading_at_once(lab: CloudHarness, hop: Hop) -> Iterator[None]:
    """Shelving offloads at once while a case about the chained offload runs."""
    parts = [c.image_actions for c in lab.computes]
    chained = hop.name == "shelve:offload"
    for part in parts:
        part.shelved_offload_time = 0 if chained else -1
    try:
        yield
    finally:
        for part in parts:
            part.shelved_offload_time = -1


def _about(server_id: str) -> Callable[..., bool]:
    return lambda *args, **kwargs: server_id in args or server_id in kwargs.values()


def _claims(server_id: str, task: str) -> Callable[..., bool]:
    def match(ctx: Any, uuid: str, values: dict[str, Any], **kwargs: Any) -> bool:
        return uuid == server_id and values.get("task_state") == task

    return match


def _final_save(server_id: str, task: str) -> Callable[..., bool]:
    def match(ctx: Any, uuid: str, values: dict[str, Any], **kwargs: Any) -> bool:
        return uuid == server_id and kwargs.get("expected_task_state") == [task]

    return match


def _placing(server_id: str) -> Callable[..., bool]:
    return lambda ctx, spec, *args, **kwargs: spec.instance_uuid == server_id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CloudHarness]:
    """Two fake hosts on the in-memory broker; shelving stops at SHELVED unless a case asks."""
    async with CloudFactory.memory(tmp_path_factory.mktemp("races")) as clouds:
        yield await CloudHarness.start(clouds, compute={"shelved_offload_time": -1})


# -- the matrix ----------------------------------------------------------------------


@pytest.mark.parametrize(("hop", "mode", "preemptor"), CASES)
@in_module_loop
async def test_a_preempted_hop_gives_back_what_it_took(
    lab: CloudHarness, hop: Hop, mode: str, preemptor: str
) -> None:
    """The hop loses to the preemptor; the server ends sensibly and the books agree."""
    sid = await lab.reach(hop.start)
    here = (await lab.instance(sid)).host or lab.hosts[0]
    with offloading_at_once(lab, hop), hold_hop(lab, hop, mode, sid, here) as gate:
        asked = asyncio.ensure_future(start_action(lab, hop.action, sid)())
        await asyncio.wait_for(gate.reached.wait(), WAIT)
        await start_action(lab, preemptor, sid)()
        gate.released.set()
        await asyncio.wait_for(asked, WAIT)
        signal = hop.signal_for(mode)
        if signal is not None:  # the lost hop has given back what it took
            await lab.tap.wait_event(sid, f"instance.{signal}")
        outcome = await _preemptor_done(lab, sid, preemptor, hop)

    await _check_sensible(lab, sid, outcome)
    await assert_audit_clean(lab.cloud)
    if outcome != "DELETED":
        await lab.admin.servers.delete(sid)
        await lab.wait(sid, "DELETED")
    await assert_nothing_leaked(lab.cloud, lab.admin, [sid])
    await _check_no_image_left(lab, sid)
    await assert_audit_clean(lab.cloud)


async def _preemptor_done(lab: CloudHarness, sid: str, preemptor: str, hop: Hop) -> str:
    """The status the preemptor leaves (after a restore, for a soft delete)."""
    if preemptor in ("delete", "force_delete"):
        outcome = "DELETED"
    elif preemptor == "reboot_hard":
        outcome = "ACTIVE"
    elif hop.hostless:  # a soft delete of a server no host keeps is a delete (as Nova's)
        outcome = "DELETED"
    else:
        await lab.wait(sid, "SOFT_DELETED")
        await lab.admin.servers.restore(sid)
        outcome = "ACTIVE"
    await lab.wait(sid, outcome)
    return outcome


async def _check_sensible(lab: CloudHarness, sid: str, outcome: str) -> None:
    """DELETED leaves no guest; ACTIVE has one running guest, out of rescue, at its host."""
    guests = lab.guests(sid)
    if outcome == "DELETED":
        assert guests == {}
        return
    instance = await lab.instance(sid)
    assert (instance.vm_state, instance.task_state) == (A.ACTIVE, None)
    assert set(guests) == {instance.host}, guests
    guest = guests[instance.host or ""]
    assert (guest.state, guest.rescued) == (power_state.RUNNING, False)
    assert guest.flavor == instance.flavor


async def _check_no_image_left(lab: CloudHarness, sid: str) -> None:
    """No snapshot left half-made, and no shelve image outliving its server."""
    images = await lab.cloud.api.image.list(ADMIN)
    mine = [i for i in images if i.properties.get("instance_uuid") == sid]
    assert [i.name for i in mine if i.status != "active" or i.name.endswith("-shelved")] == []


# -- the findings, replayed ---------------------------------------------------------


@in_module_loop
async def test_resizes_raced_by_soft_delete_and_restore_leak_nothing(lab: CloudHarness) -> None:
    """Twenty resizes each raced by a soft delete and a restore leave the books clean."""
    sid = await lab.reach(A.ACTIVE)
    here = (await lab.instance(sid)).host or ""
    hop = next(h for h in HOPS if h.name == "resize:prep")
    for round_ in range(1, 21):
        with hold_hop(lab, hop, SAVE, sid, here) as gate:
            await lab.admin.servers.resize(sid, "m1.small")
            await asyncio.wait_for(gate.reached.wait(), WAIT)
            await lab.admin.servers.soft_delete(sid)
        await _abandoned(lab, sid, round_)
        await lab.wait(sid, "SOFT_DELETED")
        await lab.admin.servers.restore(sid)
        await lab.wait(sid, "ACTIVE")
    await assert_audit_clean(lab.cloud)
    await lab.admin.servers.delete(sid)
    await lab.wait(sid, "DELETED")
    await assert_audit_clean(lab.cloud)


async def _abandoned(lab: CloudHarness, sid: str, times: int) -> None:
    """Wait until the server's resizes were abandoned `times` times."""
    await lab.tap.wait_count(sid, f"instance.{ABANDONED}", times)


@in_module_loop
async def test_a_rescue_raced_by_a_soft_delete_can_be_rescued_again(lab: CloudHarness) -> None:
    """Rescue, soft delete, restore: the guest is out of rescue, and a new rescue works."""
    sid = await lab.reach(A.ACTIVE)
    here = (await lab.instance(sid)).host or ""
    hop = next(h for h in HOPS if h.name == "rescue")
    with hold_hop(lab, hop, SAVE, sid, here) as gate:
        await lab.admin.servers.rescue(sid)
        await asyncio.wait_for(gate.reached.wait(), WAIT)
        await lab.admin.servers.soft_delete(sid)
    await lab.wait(sid, "SOFT_DELETED")
    await lab.admin.servers.restore(sid)
    await lab.wait(sid, "ACTIVE")
    assert lab.guests(sid)[here].rescued is False

    await lab.admin.servers.rescue(sid)
    await lab.wait(sid, "RESCUE")
    await lab.admin.servers.delete(sid)
    await lab.wait(sid, "DELETED")
    await assert_audit_clean(lab.cloud)


@in_module_loop
async def test_a_soft_deleted_rescued_server_is_restored_out_of_rescue(lab: CloudHarness) -> None:
    """A rescued server soft-deleted and restored is ACTIVE on its own disk."""
    sid = await lab.reach(A.RESCUED)
    await lab.admin.servers.soft_delete(sid)
    await lab.wait(sid, "SOFT_DELETED")
    await lab.admin.servers.restore(sid)
    await lab.wait(sid, "ACTIVE")
    [guest] = lab.guests(sid).values()
    assert (guest.state, guest.rescued) == (power_state.RUNNING, False)
    await lab.admin.servers.delete(sid)
    await lab.wait(sid, "DELETED")
    await assert_audit_clean(lab.cloud)
