"""The lifecycle's state table, generated from `RULES` and checked through the API.

For every vm_state a server can reach through the API and every action in
``compute/allowed_states.RULES``: an allowed action runs and leaves the server in the
state Nova gives it (status, vm_state, and the fake hypervisor's guest agreeing); a
refused one raises `InstanceInvalidState` naming the action, the states and what
would allow it, and changes nothing. Then the task_state dimension, locks, and the
README's table. One cloud on the in-memory broker serves the module; every test
boots its own servers.
"""

from __future__ import annotations

import contextlib
import datetime
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio

from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.api.policy import rule_for
from nova_lite.api.servers import Servers
from nova_lite.compute import power_state, task_states, vm_states
from nova_lite.compute.allowed_states import RULES, check_instance_state
from nova_lite.compute.status import status_from_state
from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden, InstanceInvalidState, InstanceLocked
from nova_lite.testing import (
    REACHABLE,
    WAIT,
    CloudFactory,
    CloudHarness,
    add_user,
    assert_audit_clean,
)

in_module_loop = pytest.mark.asyncio(loop_scope="module")  # the tests share the module's cloud

README = Path(__file__).resolve().parents[1] / "README.md"

# The vm_states a server reaches through the API, in the order the README lists them.
STATES = (
    vm_states.ACTIVE,
    vm_states.PAUSED,
    vm_states.SUSPENDED,
    vm_states.STOPPED,
    vm_states.RESCUED,
    vm_states.RESIZED,
    vm_states.SOFT_DELETED,
    vm_states.SHELVED,
    vm_states.SHELVED_OFFLOADED,
    vm_states.ERROR,
    vm_states.BUILDING,
)

SAME = "unchanged"
# Nova's outcome of each action: the status the server ends in once its task is done.
OUTCOME: dict[str, str] = {
    "set_admin_password": SAME,
    "pause": "PAUSED",
    "unpause": "ACTIVE",
    "suspend": "SUSPENDED",
    "resume": "ACTIVE",
    "stop": "SHUTOFF",
    "start": "ACTIVE",
    "reboot": "ACTIVE",
    "reboot_hard": "ACTIVE",
    "rescue": "RESCUE",
    "unrescue": "ACTIVE",
    "rebuild": "ACTIVE",
    "snapshot": SAME,
    "backup": SAME,
    "resize": "VERIFY_RESIZE",
    "live_migrate": SAME,
    "confirm_resize": "ACTIVE",
    "revert_resize": "ACTIVE",
    "soft_delete": "SOFT_DELETED",
    "restore": "ACTIVE",
    "force_delete": "DELETED",
    "delete": "DELETED",
    "shelve": "SHELVED",
    "shelve_offload": "SHELVED_OFFLOADED",
    "unshelve": "ACTIVE",
    "attach_volume": SAME,
    "detach_volume": SAME,
    "lock": SAME,
    "unlock": SAME,
}
# Where the outcome depends on the state the action started from.
OUTCOME_FROM: dict[tuple[str, str], str] = {
    (vm_states.STOPPED, "rebuild"): "SHUTOFF",  # a rebuilt stopped server stays off
    (vm_states.SHELVED_OFFLOADED, "soft_delete"): "DELETED",  # no host keeps it: deleted
    (vm_states.BUILDING, "lock"): "ACTIVE",  # the build goes on once released
    (vm_states.BUILDING, "unlock"): "ACTIVE",
}
# What the fake hypervisor must report for a server showing each status (None: no guest).
GUEST_STATE: dict[str, int | None] = {
    "ACTIVE": power_state.RUNNING,
    "PAUSED": power_state.PAUSED,
    "SUSPENDED": power_state.SUSPENDED,
    "SHUTOFF": power_state.SHUTDOWN,
    "RESCUE": power_state.RUNNING,
    "VERIFY_RESIZE": power_state.RUNNING,
    "SOFT_DELETED": power_state.SHUTDOWN,
    "SHELVED": power_state.SHUTDOWN,
    "SHELVED_OFFLOADED": None,
    "DELETED": None,
    "ERROR": power_state.RUNNING,  # the injected pause failure left the guest running
}
# A server resized while stopped stays off until confirmed (Nova's finish_resize).
GUEST_STATE_FROM: dict[tuple[str, str], int] = {
    (vm_states.STOPPED, "resize"): power_state.SHUTDOWN,
}


def _representative(vm_state: str, task_state: str | None = None) -> objects.Instance:
    """An instance in `vm_state` as the API would find it there (for collection)."""
    building = vm_state == vm_states.BUILDING
    return objects.Instance(
        uuid=str(uuid.uuid4()),
        display_name="rep",
        project_id="p",
        user_id="u",
        flavor=objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1),
        image_ref="i",
        vm_state=vm_state,
        task_state=task_states.SPAWNING if building else task_state,
        launched_at=None if building else datetime.datetime.now(datetime.UTC),
    )


def _allowed(vm_state: str, action: str) -> bool:
    return RULES[action].allows(_representative(vm_state))


ALLOWED_CASES = [
    pytest.param(state, action, id=f"{state}-{action}")
    for state in STATES
    for action in RULES
    if _allowed(state, action)
]


# -- the module's cloud --------------------------------------------------------


async def _boot(lab: CloudHarness, *, volume: bool = False) -> tuple[str, str | None]:
    """A new ACTIVE server, with a volume attached if asked: (server id, volume id)."""
    server_id = await lab.boot(name="m")
    volume_id = None
    if volume:
        volume_id = await lab.new_volume()
        await lab.attach(server_id, volume_id)
    return server_id, volume_id


async def _reach(lab: CloudHarness, state: str, *, volume: bool = False) -> tuple[str, str | None]:
    """A new server in vm_state `state` (not BUILDING: hold the spawn for that)."""
    server_id, volume_id = await _boot(lab, volume=volume)
    for step, status in REACHABLE[state]:
        await step(lab, server_id)
        await lab.wait(server_id, status)
    assert (await lab.instance(server_id)).vm_state == state
    return server_id, volume_id


def _has_volume(instance: objects.Instance, volume_id: str) -> bool:
    return any(b.volume_id == volume_id for b in instance.block_devices)


Call = Callable[[Servers, str, str], Awaitable[Any]]
# Each action through the library API; the third argument is a volume id.
CALLS: dict[str, Call] = {
    "set_admin_password": lambda s, sid, v: s.set_admin_password(sid, "n3w-secret"),
    "pause": lambda s, sid, v: s.pause(sid),
    "unpause": lambda s, sid, v: s.unpause(sid),
    "suspend": lambda s, sid, v: s.suspend(sid),
    "resume": lambda s, sid, v: s.resume(sid),
    "stop": lambda s, sid, v: s.stop(sid),
    "start": lambda s, sid, v: s.start(sid),
    "reboot": lambda s, sid, v: s.reboot(sid),
    "reboot_hard": lambda s, sid, v: s.reboot(sid, hard=True),
    "rescue": lambda s, sid, v: s.rescue(sid),
    "unrescue": lambda s, sid, v: s.unrescue(sid),
    "rebuild": lambda s, sid, v: s.rebuild(sid, "cirros"),
    "snapshot": lambda s, sid, v: s.snapshot(sid, "snap"),
    "backup": lambda s, sid, v: s.backup(sid, "bak", "daily", 2),
    "resize": lambda s, sid, v: s.resize(sid, "m1.medium"),
    "live_migrate": lambda s, sid, v: s.live_migrate(sid),
    "confirm_resize": lambda s, sid, v: s.confirm_resize(sid),
    "revert_resize": lambda s, sid, v: s.revert_resize(sid),
    "soft_delete": lambda s, sid, v: s.soft_delete(sid),
    "restore": lambda s, sid, v: s.restore(sid),
    "force_delete": lambda s, sid, v: s.force_delete(sid),
    "delete": lambda s, sid, v: s.delete(sid),
    "shelve": lambda s, sid, v: s.shelve(sid),
    "shelve_offload": lambda s, sid, v: s.shelve_offload(sid),
    "unshelve": lambda s, sid, v: s.unshelve(sid),
    "attach_volume": lambda s, sid, v: s.attach_volume(sid, v),
    "detach_volume": lambda s, sid, v: s.detach_volume(sid, v),
    "lock": lambda s, sid, v: s.lock(sid),
    "unlock": lambda s, sid, v: s.unlock(sid),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CloudHarness]:
    """Two fake compute hosts on the in-memory broker; shelve stops at SHELVED."""
    async with CloudFactory.memory(tmp_path_factory.mktemp("matrix")) as clouds:
        yield await CloudHarness.start(clouds, compute={"shelved_offload_time": -1})


# -- the matrix ------------------------------------------------------------------


def test_the_matrix_covers_every_rule_and_state() -> None:
    """Every action of RULES has a call and an outcome, and every reachable state a path."""
    assert set(CALLS) == set(RULES) == set(OUTCOME)
    assert set(REACHABLE) == set(STATES) - {vm_states.BUILDING}
    assert {s for s, _ in (p.values for p in ALLOWED_CASES)} == set(STATES)


@pytest.mark.parametrize(("state", "action"), ALLOWED_CASES)
@in_module_loop
async def test_an_allowed_action_reaches_novas_outcome(
    lab: CloudHarness, state: str, action: str
) -> None:
    """An action RULES allows in a state runs, and the server and its guest end as Nova's."""
    if state == vm_states.BUILDING:
        await _allowed_while_building(lab, action)
        return
    server_id, volume_id = await _reach(lab, state, volume=action == "detach_volume")
    before = await lab.instance(server_id)
    assert RULES[action].allows(before)
    if action == "unlock":
        await lab.servers.lock(server_id)
    if action == "attach_volume":
        volume_id = await lab.new_volume()

    await CALLS[action](lab.servers, server_id, volume_id or "")

    expected = OUTCOME_FROM.get((state, action), OUTCOME[action])
    if expected == SAME:
        expected = status_from_state(state)
    await _settled(lab, server_id, action, volume_id)
    await lab.wait(server_id, expected)
    after = await lab.instance(server_id)
    _check_guest(lab, after, expected, GUEST_STATE_FROM.get((state, action)))
    _check_side_effects(after, action, volume_id)
    await assert_audit_clean(lab.cloud)
    if expected != "DELETED":
        await lab.servers.delete(server_id)
        await lab.wait(server_id, "DELETED")


async def _allowed_while_building(lab: CloudHarness, action: str) -> None:
    with lab.faults().hold("spawn") as gate:
        [server] = await lab.servers.create("b", flavor="m1.tiny", image="cirros")
        await gate.wait_reached()
        instance = await lab.instance(server.id)
        assert (instance.vm_state, instance.task_state) == ("building", task_states.SPAWNING)
        await CALLS[action](lab.servers, server.id, "")
        gate.release()
        expected = OUTCOME_FROM.get((vm_states.BUILDING, action), OUTCOME[action])
        await lab.wait(server.id, expected)
    after = await lab.instance(server.id)
    _check_guest(lab, after, expected, None)
    _check_side_effects(after, action, None)
    await assert_audit_clean(lab.cloud)
    if expected != "DELETED":
        await lab.servers.delete(server.id)
        await lab.wait(server.id, "DELETED")


async def _settled(lab: CloudHarness, server_id: str, action: str, volume_id: str | None) -> None:
    """Wait for the actions that run without a task_state (volumes) to finish."""
    if action == "attach_volume":
        await lab.settle(server_id, lambda i: _has_volume(i, volume_id or ""))
    elif action == "detach_volume":
        await lab.settle(server_id, lambda i: not _has_volume(i, volume_id or ""))


def _check_guest(
    lab: CloudHarness, instance: objects.Instance, status: str, expected: int | None
) -> None:
    """The fake hypervisor agrees with the server's status and recorded power state."""
    guests = lab.guests(instance.uuid)
    wanted = expected if expected is not None else GUEST_STATE[status]
    if wanted is None:
        assert guests == {}, guests
        return
    assert list(guests) == [instance.host]
    guest = guests[instance.host or ""]
    assert (guest.state_name, instance.power_state) == (
        power_state.STATE_MAP[wanted],
        wanted,
    )


def _check_side_effects(instance: objects.Instance, action: str, volume_id: str | None) -> None:
    if action == "lock":
        assert instance.locked
    if action == "unlock":
        assert not instance.locked
    if action in ("attach_volume", "detach_volume"):
        assert _has_volume(instance, volume_id or "") == (action == "attach_volume")
    if action == "resize":
        assert instance.flavor.name == "m1.medium"
    if action in ("confirm_resize", "revert_resize"):
        assert instance.flavor.name == ("m1.small" if action == "confirm_resize" else "m1.tiny")


@pytest.mark.parametrize("state", STATES)
@in_module_loop
async def test_every_refused_action_names_the_states_and_changes_nothing(
    lab: CloudHarness, state: str
) -> None:
    """Each action RULES refuses in a state raises InstanceInvalidState and leaves all as it was."""
    async with contextlib.AsyncExitStack() as stack:
        if state == vm_states.BUILDING:
            gate = stack.enter_context(lab.faults().hold("spawn"))
            [server] = await lab.servers.create("r", flavor="m1.tiny", image="cirros")
            server_id = server.id
            await gate.wait_reached()
        else:
            server_id, _ = await _reach(lab, state)
        before = await lab.instance(server_id)
        actions_before = await lab.servers.actions(server_id)
        volume_id = await lab.new_volume()
        refused = [a for a in RULES if not RULES[a].allows(before)]
        assert refused == [a for a in RULES if not _allowed(state, a)]

        for action in refused:
            with pytest.raises(InstanceInvalidState) as caught:
                await CALLS[action](lab.servers, server_id, volume_id)
            _check_refusal(str(caught.value), action, before)

        after = await lab.instance(server_id)
        assert (after.vm_state, after.task_state, after.host) == (
            before.vm_state,
            before.task_state,
            before.host,
        )
        assert await lab.servers.actions(server_id) == actions_before
        volume = await lab.cloud.api.volume.get(lab.ctx, volume_id)
        assert volume.status == "available"
    await lab.servers.delete(server_id)
    await lab.wait(server_id, "DELETED")
    await assert_audit_clean(lab.cloud)


def _check_refusal(message: str, action: str, instance: objects.Instance) -> None:
    """The refusal names the action, the current states and the states allowing it."""
    rule = RULES[action]
    assert f"'{action}'" in message
    assert f"vm_state {instance.vm_state}" in message
    assert f"task_state {instance.task_state}" in message
    wanted = sorted(rule.vm_states) if rule.vm_states is not None else ["any vm_state"]
    assert f"vm_state in [{', '.join(wanted)}]" in message, message
    if rule.must_have_launched and instance.launched_at is None:
        assert "never been launched" in message


@in_module_loop
async def test_a_refused_resize_reports_the_state_before_the_flavor(lab: CloudHarness) -> None:
    """Resizing a resized server to its own flavor is refused for its state, as in Nova."""
    server_id, _ = await _reach(lab, vm_states.RESIZED)

    with pytest.raises(InstanceInvalidState, match="vm_state resized"):
        await lab.servers.resize(server_id, "m1.small")

    await lab.servers.delete(server_id)
    await lab.wait(server_id, "DELETED")


# -- the task_state dimension ---------------------------------------------------

TASKS = (task_states.REBOOTING, task_states.PAUSING, task_states.IMAGE_SNAPSHOT)


def _allowed_with_task(task: str, action: str) -> bool:
    return RULES[action].allows(_representative(vm_states.ACTIVE, task))


TASK_CASES = [
    pytest.param(task, action, id=f"{task}-{action}")
    for task in TASKS
    for action in RULES
    if _allowed_with_task(task, action)
]


def test_only_a_few_actions_may_start_while_a_task_runs() -> None:
    """With a task in progress only the deletes, (un)lock and some hard reboots pass."""
    anytime = {"delete", "force_delete", "soft_delete", "lock", "unlock"}
    for task in TASKS:
        allowed = {a for a in RULES if _allowed_with_task(task, a)}
        hard = {"reboot_hard"} if task != task_states.IMAGE_SNAPSHOT else set()
        assert allowed == anytime | hard, task


@pytest.mark.parametrize(("task", "action"), TASK_CASES)
@in_module_loop
async def test_an_action_allowed_during_a_task_runs(
    lab: CloudHarness, task: str, action: str
) -> None:
    """An action whose rule accepts the task in progress passes the check and completes."""
    server_id, _ = await _boot(lab)
    await lab.cloud.api.conductor.instance_update(lab.ctx, server_id, {"task_state": task})

    await CALLS[action](lab.servers, server_id, "")

    expected = {"delete": "DELETED", "force_delete": "DELETED", "soft_delete": "SOFT_DELETED"}.get(
        action, "ACTIVE"
    )
    if action in ("lock", "unlock"):
        await lab.cloud.api.conductor.instance_update(lab.ctx, server_id, {"task_state": None})
    await lab.wait(server_id, expected)
    if expected != "DELETED":
        await lab.servers.delete(server_id)
        await lab.wait(server_id, "DELETED")
    await assert_audit_clean(lab.cloud)


@pytest.mark.parametrize("task", TASKS)
@in_module_loop
async def test_other_actions_are_refused_while_a_task_runs(lab: CloudHarness, task: str) -> None:
    """Every action whose rule does not accept the task in progress is refused, naming it."""
    server_id, _ = await _boot(lab)
    instance = await lab.cloud.api.conductor.instance_update(
        lab.ctx, server_id, {"task_state": task}
    )
    volume_id = await lab.new_volume()

    for action in (a for a in RULES if not _allowed_with_task(task, a)):
        with pytest.raises(InstanceInvalidState) as caught:
            await CALLS[action](lab.servers, server_id, volume_id)
        _check_refusal(str(caught.value), action, instance)

    assert (await lab.instance(server_id)).task_state == task
    await lab.servers.delete(server_id)
    await lab.wait(server_id, "DELETED")
    await assert_audit_clean(lab.cloud)


def test_the_rules_are_novas_check_instance_state() -> None:
    """RULES allow exactly the vm_states of Nova's check_instance_state decorators."""
    active, paused, suspended, stopped = "active", "paused", "suspended", "stopped"
    image = {active, stopped, paused, suspended}
    volume = {active, paused, stopped, "resized", "soft-delete", "shelved", "shelved_offloaded"}
    nova: dict[str, set[str] | None] = {
        "set_admin_password": {active},
        "pause": {active},
        "unpause": {paused},
        "suspend": {active},
        "resume": {suspended},
        "stop": {active, "error"},
        "start": {stopped},
        "reboot": {active},
        "reboot_hard": {active, stopped, paused, suspended, "error"},
        "rescue": {active, stopped, "error"},
        "unrescue": {"rescued"},
        "rebuild": {active, stopped, "error"},
        "snapshot": image,
        "backup": image,
        "resize": {active, stopped},
        "live_migrate": {active, paused},
        "confirm_resize": {"resized"},
        "revert_resize": {"resized"},
        "soft_delete": None,
        "restore": {"soft-delete"},
        "force_delete": None,
        "delete": None,
        "shelve": image,
        "shelve_offload": {"shelved"},
        "unshelve": {"shelved", "shelved_offloaded"},
        "attach_volume": volume,
        "detach_volume": volume,
        "lock": None,
        "unlock": None,
    }
    assert {
        a: (set(r.vm_states) if r.vm_states is not None else None) for a, r in RULES.items()
    } == nova
    unlocked = {a for a, r in RULES.items() if not r.checks_lock}
    assert unlocked == {"snapshot", "backup", "lock", "unlock"}
    never_launched = {a for a, r in RULES.items() if not r.must_have_launched}
    assert never_launched == {"delete", "force_delete", "lock", "unlock"}


def test_check_instance_state_refuses_a_never_launched_instance() -> None:
    """An instance never launched is refused even in an allowed vm_state, saying so."""
    instance = attrs.evolve(_representative(vm_states.ERROR), launched_at=None)

    with pytest.raises(InstanceInvalidState, match="never been launched") as caught:
        check_instance_state(RequestContext.admin(), instance, "stop")

    assert "vm_state error" in str(caught.value) and "[active, error]" in str(caught.value)
    check_instance_state(RequestContext.admin(), instance, "delete")


# -- locks ------------------------------------------------------------------------


async def _member(lab: CloudHarness) -> Session:
    return await add_user(lab.cloud, lab.admin, f"m-{uuid.uuid4().hex[:8]}", project="lockers")


@in_module_loop
async def test_a_locked_server_refuses_its_owner_but_not_an_admin(lab: CloudHarness) -> None:
    """Every lock-checked action is InstanceLocked for the owner; the admin still acts."""
    owner = await _member(lab)
    [server] = await owner.servers.create("locked", flavor="m1.tiny", image="cirros")
    await owner.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    await lab.servers.lock(server.id)
    volume_id = await lab.new_volume()

    ctx = await owner.context()

    def owner_may(action: str) -> bool:  # shelve_offload is for admins (Nova's default)
        return lab.cloud.api.policy.check(ctx, rule_for(action), {"project_id": ctx.project_id})

    for action in (a for a in RULES if RULES[a].checks_lock and owner_may(a)):
        with pytest.raises(InstanceLocked, match=f"only an administrator may {action}"):
            await CALLS[action](owner.servers, server.id, volume_id)
    await owner.servers.snapshot(server.id, "owner-snap")  # not lock-checked, as in Nova
    await lab.wait(server.id, "ACTIVE")

    await lab.servers.pause(server.id)
    await lab.wait(server.id, "PAUSED")
    assert (await lab.instance(server.id)).locked
    await lab.servers.delete(server.id)
    await lab.wait(server.id, "DELETED")
    await assert_audit_clean(lab.cloud)


@in_module_loop
async def test_an_admins_lock_cannot_be_removed_by_the_owner(lab: CloudHarness) -> None:
    """The owner may lift its own lock but not one an admin set, even after locking it again."""
    owner = await _member(lab)
    [server] = await owner.servers.create("locked", flavor="m1.tiny", image="cirros")
    await owner.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)

    await owner.servers.lock(server.id)
    await owner.servers.unlock(server.id)
    assert not (await owner.servers.get(server.id)).locked
    await lab.servers.lock(server.id)
    await owner.servers.lock(server.id)  # a no-op: it does not make the lock the owner's
    with pytest.raises(Forbidden, match="locked by an administrator"):
        await owner.servers.unlock(server.id)

    assert (await owner.servers.get(server.id)).locked
    await lab.servers.unlock(server.id)
    assert not (await owner.servers.get(server.id)).locked
    await owner.servers.delete(server.id)
    await owner.servers.wait_for(server.id, "DELETED", timeout=WAIT)


# -- the README ---------------------------------------------------------------------


def _readme_table() -> dict[str, set[str] | None]:
    """The README's actions x vm_states table, read back: action -> allowed vm_states."""
    text = README.read_text()
    section = text.split("## The instance lifecycle", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    header = next(line for line in section.splitlines() if line.startswith("| action"))
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    table: dict[str, set[str] | None] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        action = cells[0].strip("`")
        marks = dict(zip(columns, cells[1:], strict=True))
        allowed = {state for state, mark in marks.items() if mark == "✓"}
        table[action] = None if allowed == set(columns) else allowed
    return table


def test_the_readme_table_is_the_rules() -> None:
    """The README's lifecycle table lists exactly the vm_states RULES allow for each action."""
    table = _readme_table()
    columns = set(vm_states.ALL) - {vm_states.DELETED}
    expected = {
        action: (None if rule.vm_states is None else set(rule.vm_states) & columns)
        for action, rule in RULES.items()
    }
    assert table == expected
