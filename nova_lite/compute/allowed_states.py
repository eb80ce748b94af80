"""Which action is allowed in which vm_state and task_state: the one table.

This is the data behind Nova's ``check_instance_state`` decorators in
``nova/compute/api.py``. Each `ActionRule` lists the vm_states that allow the action
(``None``: any), the task_states it may start from (``None``: any; by default only
"no task in progress"), whether the instance must have been launched once, and
whether a lock stops non-admins. The seed document's table is a simplified view of
these rules; where they differ, this table follows Nova (the README's "The instance
lifecycle" section lists each difference, and a test checks its table against this one).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from nova_lite import objects
from nova_lite.compute import task_states as ts
from nova_lite.compute import vm_states as vm
from nova_lite.context import RequestContext
from nova_lite.exceptions import InstanceInvalidState, InstanceLocked

__all__ = ["RULES", "ActionRule", "check_instance_state", "check_rule"]

_NO_TASK: frozenset[str | None] = frozenset({None})


def _states(*states: str) -> frozenset[str]:
    return frozenset(states)


@attrs.frozen(kw_only=True)
class ActionRule:
    """The states one API action may start from."""

    action: str
    vm_states: frozenset[str] | None
    task_states: frozenset[str | None] | None = _NO_TASK
    must_have_launched: bool = True
    checks_lock: bool = True

    def allows(self, instance: objects.Instance) -> bool:
        """Whether the instance's states allow this action."""
        return self.allows_states(
            vm_state=instance.vm_state,
            task_state=instance.task_state,
            launched=instance.launched_at is not None,
        )

    def allows_states(self, *, vm_state: str, task_state: str | None, launched: bool) -> bool:
        """Whether these states allow this action: `allows`, for a caller holding only the
        states a server's API view shows (the dashboard offers the actions this allows)."""
        return (
            (self.vm_states is None or vm_state in self.vm_states)
            and (self.task_states is None or task_state in self.task_states)
            and (not self.must_have_launched or launched)
        )


_ALLOW_SOFT_REBOOT = _states(vm.ACTIVE)
_ALLOW_HARD_REBOOT = _ALLOW_SOFT_REBOOT | _states(vm.STOPPED, vm.PAUSED, vm.SUSPENDED, vm.ERROR)
_ALLOW_REBOOT_TASKS: frozenset[str | None] = frozenset(
    {
        None,
        ts.REBOOTING,
        ts.REBOOT_PENDING,
        ts.REBOOT_STARTED,
        ts.REBOOTING_HARD,
        ts.RESUMING,
        ts.UNPAUSING,
        ts.PAUSING,
        ts.SUSPENDING,
    }
)
_IMAGE_STATES = _states(vm.ACTIVE, vm.STOPPED, vm.PAUSED, vm.SUSPENDED)
_VOLUME_STATES = _states(
    vm.ACTIVE,
    vm.PAUSED,
    vm.STOPPED,
    vm.RESIZED,
    vm.SOFT_DELETED,
    vm.SHELVED,
    vm.SHELVED_OFFLOADED,
)

RULES: dict[str, ActionRule] = {
    rule.action: rule
    for rule in (
        ActionRule(action="set_admin_password", vm_states=_states(vm.ACTIVE)),
        ActionRule(action="pause", vm_states=_states(vm.ACTIVE)),
        ActionRule(action="unpause", vm_states=_states(vm.PAUSED)),
        ActionRule(action="suspend", vm_states=_states(vm.ACTIVE)),
        ActionRule(action="resume", vm_states=_states(vm.SUSPENDED)),
        ActionRule(action="stop", vm_states=_states(vm.ACTIVE, vm.ERROR)),
        ActionRule(action="start", vm_states=_states(vm.STOPPED)),
        ActionRule(action="reboot", vm_states=_ALLOW_SOFT_REBOOT),
        ActionRule(
            action="reboot_hard", vm_states=_ALLOW_HARD_REBOOT, task_states=_ALLOW_REBOOT_TASKS
        ),
        ActionRule(action="rescue", vm_states=_states(vm.ACTIVE, vm.STOPPED, vm.ERROR)),
        ActionRule(action="unrescue", vm_states=_states(vm.RESCUED)),
        ActionRule(action="rebuild", vm_states=_states(vm.ACTIVE, vm.STOPPED, vm.ERROR)),
        ActionRule(action="snapshot", vm_states=_IMAGE_STATES, checks_lock=False),
        ActionRule(action="backup", vm_states=_IMAGE_STATES, checks_lock=False),
        ActionRule(action="resize", vm_states=_states(vm.ACTIVE, vm.STOPPED)),
        ActionRule(action="live_migrate", vm_states=_states(vm.ACTIVE, vm.PAUSED)),
        ActionRule(action="confirm_resize", vm_states=_states(vm.RESIZED)),
        ActionRule(action="revert_resize", vm_states=_states(vm.RESIZED)),
        ActionRule(action="soft_delete", vm_states=None, task_states=None),
        ActionRule(action="restore", vm_states=_states(vm.SOFT_DELETED)),
        ActionRule(
            action="force_delete", vm_states=None, task_states=None, must_have_launched=False
        ),
        ActionRule(action="delete", vm_states=None, task_states=None, must_have_launched=False),
        ActionRule(action="shelve", vm_states=_IMAGE_STATES),
        ActionRule(action="shelve_offload", vm_states=_states(vm.SHELVED)),
        ActionRule(action="unshelve", vm_states=_states(vm.SHELVED, vm.SHELVED_OFFLOADED)),
        ActionRule(action="attach_volume", vm_states=_VOLUME_STATES),
        ActionRule(action="detach_volume", vm_states=_VOLUME_STATES),
        ActionRule(
            action="lock",
            vm_states=None,
            task_states=None,
            must_have_launched=False,
            checks_lock=False,
        ),
        ActionRule(
            action="unlock",
            vm_states=None,
            task_states=None,
            must_have_launched=False,
            checks_lock=False,
        ),
    )
}


def _describe(states: Iterable[str | None] | None, kind: str) -> str:
    if states is None:
        return f"any {kind}"
    return ", ".join(sorted(str(s) for s in states))


def _refusal(rule: ActionRule, instance: objects.Instance) -> str:
    """Why `rule` refuses the instance: its states, and the states the action needs."""
    never = " and has never been launched" if instance.launched_at is None else ""
    launched = " on an instance launched once" if rule.must_have_launched else ""
    return (
        f"it is in vm_state {instance.vm_state} with task_state {instance.task_state}{never}; "
        f"{rule.action} needs vm_state in [{_describe(rule.vm_states, 'vm_state')}] and "
        f"task_state in [{_describe(rule.task_states, 'task_state')}]{launched}"
    )


def check_instance_state(ctx: RequestContext, instance: objects.Instance, action: str) -> None:
    """Raise unless `action` may start now: `InstanceLocked` or `InstanceInvalidState`.

    The refusal names the action, the current vm_state and task_state, and the
    states that would allow it.
    """
    check_rule(ctx, instance, RULES[action])


def check_rule(ctx: RequestContext, instance: objects.Instance, rule: ActionRule) -> None:
    """`check_instance_state` for a rule outside the table (the server record edits')."""
    action = rule.action
    if rule.checks_lock and instance.locked and not ctx.is_admin:
        raise InstanceLocked(
            f"Instance {instance.uuid} is locked; only an administrator may {action} it.",
            instance_uuid=instance.uuid,
            action=action,
        )
    if rule.allows(instance):
        return
    raise InstanceInvalidState(
        f"Cannot '{action}' instance {instance.uuid} while {_refusal(rule, instance)}.",
        instance_uuid=instance.uuid,
        action=action,
        vm_state=instance.vm_state,
        task_state=instance.task_state,
        allowed_vm_states=sorted(rule.vm_states) if rule.vm_states is not None else None,
    )
