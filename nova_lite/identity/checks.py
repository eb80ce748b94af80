"""Input checks and the admin policy for the identity service's endpoints.

Values arrive from the bus as JSON, so each endpoint checks types and ranges where
they enter. Secrets (passwords, tokens) are never echoed in an error message. User
and project names follow Keystone's rules, in `nova_lite.validators`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden, Invalid

__all__ = [
    "ROLES",
    "check_role",
    "check_secret",
    "check_text",
    "expand_roles",
    "is_admin",
    "require_admin",
]

ROLES: tuple[str, ...] = ("admin", "member", "reader")
"""The only roles, strongest first; each implies the ones after it (as in Keystone)."""

MAX_DESCRIPTION = 255
MAX_SECRET = 1024


def check_text(field: str, value: Any, *, max_length: int = MAX_DESCRIPTION) -> str:
    """`value` if it is a string of at most `max_length` characters."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, not {type(value).__name__}.", field=field)
    if len(value) > max_length:
        raise Invalid(
            f"{field} must be at most {max_length} characters long, not {len(value)}.",
            field=field,
        )
    return value


def check_secret(field: str, value: Any) -> str:
    """`value` if it is a non-empty string of sane length; errors never show it."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, not {type(value).__name__}.", field=field)
    if not 1 <= len(value) <= MAX_SECRET:
        raise Invalid(f"{field} must be 1 to {MAX_SECRET} characters long.", field=field)
    return value


def check_role(value: Any) -> str:
    """`value` if it names one of `ROLES`."""
    if value not in ROLES:
        allowed = ", ".join(ROLES)
        raise Invalid(f"Unknown role {value!r}; the roles are: {allowed}.", role=str(value))
    return str(value)


def expand_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """`roles` with every role they imply, strongest first: admin ⊃ member ⊃ reader."""
    held = set(roles)
    strongest = min((ROLES.index(role) for role in held if role in ROLES), default=len(ROLES))
    return ROLES[strongest:]


def is_admin(ctx: RequestContext) -> bool:
    """Whether the caller has administrator rights."""
    return ctx.is_admin or "admin" in ctx.roles


def require_admin(ctx: RequestContext, action: str) -> None:
    """Raise `Forbidden` unless the caller is an administrator."""
    if not is_admin(ctx):
        raise Forbidden(f"Only administrators may {action}.", action=action)
