"""The server actions the dashboard offers, and which of them a server's state allows.

Which actions a state allows is not decided here: each dashboard action names its
rule in `nova_lite.compute.allowed_states.RULES`, the one table the API checks every
request against, and a button is shown exactly when that rule allows the server's
vm_state, task_state and launch (and, for rules that honour locks, when the server
is unlocked or the user an administrator). What is here is only how each action is
asked for over HTTP and what its button says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from nova_lite.compute.allowed_states import RULES

__all__ = ["ACTIONS", "DashboardAction", "allowed_actions"]


@attrs.frozen(kw_only=True)
class DashboardAction:
    """One button: the rule it obeys, its label, and the request it sends."""

    name: str
    label: str
    body: Mapping[str, Any] | None  # the ``/action`` body; None: ``DELETE /servers/{id}``
    rule: str = ""  # the `RULES` entry (default: `name`)
    confirm: bool = False  # destructive: the page asks before sending
    when_locked: bool | None = None  # only when the server's lock is in this state

    @property
    def rule_name(self) -> str:
        """The name of the allowed-states rule the action obeys."""
        return self.rule or self.name


ACTIONS: dict[str, DashboardAction] = {
    action.name: action
    for action in (
        DashboardAction(name="start", label="Start", body={"os-start": None}),
        DashboardAction(name="stop", label="Stop", body={"os-stop": None}),
        DashboardAction(name="reboot", label="Reboot", body={"reboot": {"type": "SOFT"}}),
        DashboardAction(name="reboot_hard", label="Hard reboot", body={"reboot": {"type": "HARD"}}),
        DashboardAction(name="pause", label="Pause", body={"pause": None}),
        DashboardAction(name="unpause", label="Unpause", body={"unpause": None}),
        DashboardAction(name="suspend", label="Suspend", body={"suspend": None}),
        DashboardAction(name="resume", label="Resume", body={"resume": None}),
        DashboardAction(name="unrescue", label="Unrescue", body={"unrescue": None}),
        DashboardAction(name="shelve", label="Shelve", body={"shelve": None}),
        DashboardAction(name="shelve_offload", label="Offload", body={"shelveOffload": None}),
        DashboardAction(name="unshelve", label="Unshelve", body={"unshelve": None}),
        DashboardAction(
            name="confirm_resize", label="Confirm resize", body={"confirmResize": None}
        ),
        DashboardAction(name="revert_resize", label="Revert resize", body={"revertResize": None}),
        DashboardAction(name="restore", label="Restore", body={"restore": None}),
        DashboardAction(name="lock", label="Lock", body={"lock": None}, when_locked=False),
        DashboardAction(name="unlock", label="Unlock", body={"unlock": None}, when_locked=True),
        DashboardAction(name="delete", label="Delete", body=None, confirm=True),
    )
}


def allowed_actions(server: Mapping[str, Any], *, is_admin: bool) -> list[DashboardAction]:
    """The actions the state table allows `server` (the API's view of it) right now."""
    locked = bool(server.get("locked"))
    allowed = []
    for action in ACTIONS.values():
        rule = RULES[action.rule_name]
        if action.when_locked is not None and action.when_locked != locked:
            continue
        if rule.checks_lock and locked and not is_admin:
            continue
        if rule.allows_states(
            vm_state=str(server.get("vm_state")),
            task_state=server.get("task_state"),
            launched=server.get("launched_at") is not None,
        ):
            allowed.append(action)
    return allowed
