"""Compute's policy in the api service: each server operation's upstream rule name.

The rules themselves (Nova's defaults, a deployment's overrides) are in
`nova_lite.policy`; this module names the rule guarding each nova_lite operation
(``pause`` is ``os_compute_api:os-pause-server:pause``, as in Nova) and says who may
see a server at all. Another project's server is reported as not found, never
"forbidden", so its existence does not leak.
"""

from __future__ import annotations

from nova_lite.context import RequestContext

__all__ = ["ACTION_RULES", "can_see", "rule_for"]

_S = "os_compute_api:servers:"
ACTION_RULES: dict[str, str] = {
    "create": _S + "create",
    "update": _S + "update",
    "delete": _S + "delete",
    "soft_delete": _S + "delete",
    "force_delete": "os_compute_api:os-deferred-delete:force",
    "restore": "os_compute_api:os-deferred-delete:restore",
    "reboot": _S + "reboot",
    "reboot_hard": _S + "reboot",
    "resize": _S + "resize",
    "live_migrate": "os_compute_api:os-migrate-server:migrate_live",
    "confirm_resize": _S + "confirm_resize",
    "revert_resize": _S + "revert_resize",
    "rebuild": _S + "rebuild",
    "snapshot": _S + "create_image",
    "backup": "os_compute_api:os-create-backup",
    "start": _S + "start",
    "stop": _S + "stop",
    "pause": "os_compute_api:os-pause-server:pause",
    "unpause": "os_compute_api:os-pause-server:unpause",
    "suspend": "os_compute_api:os-suspend-server:suspend",
    "resume": "os_compute_api:os-suspend-server:resume",
    "rescue": "os_compute_api:os-rescue",
    "unrescue": "os_compute_api:os-unrescue",
    "set_admin_password": "os_compute_api:os-admin-password",
    "shelve": "os_compute_api:os-shelve:shelve",
    "shelve_offload": "os_compute_api:os-shelve:shelve_offload",
    "unshelve": "os_compute_api:os-shelve:unshelve",
    "lock": "os_compute_api:os-lock-server:lock",
    "unlock": "os_compute_api:os-lock-server:unlock",
    "attach_volume": "os_compute_api:os-volumes-attachments:create",
    "detach_volume": "os_compute_api:os-volumes-attachments:delete",
    "console_output": "os_compute_api:os-console-output",
}


def rule_for(operation: str) -> str:
    """The rule guarding `operation` (a nova_lite action name, or a rule name itself)."""
    return ACTION_RULES.get(operation, operation)


def can_see(ctx: RequestContext, project_id: str) -> bool:
    """Whether the caller may know a resource of `project_id` exists."""
    return ctx.is_admin or ctx.project_id == project_id
