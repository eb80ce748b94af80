"""Who may do what: owners and admins act, readers only read, others see nothing.

As in Nova's default policy: an admin may act on any project's servers; a member
acts on its own project's; a reader may only read its own project's. Another
project's server is reported as not found (never "forbidden"), so its existence
does not leak.
"""

from __future__ import annotations

from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden

__all__ = ["authorize", "authorize_admin", "can_see"]

WRITE_ROLES = frozenset({"admin", "member"})


def can_see(ctx: RequestContext, project_id: str) -> bool:
    """Whether the caller may know a resource of `project_id` exists."""
    return ctx.is_admin or ctx.project_id == project_id


def authorize(ctx: RequestContext, action: str, project_id: str | None = None) -> None:
    """Raise Forbidden unless the caller may perform write `action` in the project."""
    if ctx.is_admin:
        return
    if project_id is not None and ctx.project_id != project_id:
        raise Forbidden(f"Policy doesn't allow {action} to be performed.")
    if not WRITE_ROLES.intersection(ctx.roles):
        raise Forbidden(
            f"Policy doesn't allow {action} to be performed: the role(s) "
            f"{', '.join(ctx.roles) or 'none'} may only read."
        )


def authorize_admin(ctx: RequestContext, action: str) -> None:
    """Raise Forbidden unless the caller is an administrator (admin-only `action`)."""
    if not ctx.is_admin:
        raise Forbidden(f"Policy doesn't allow {action} to be performed.")
