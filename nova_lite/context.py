"""The request context: who is asking, and the ids that follow a request everywhere."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["RequestContext", "generate_request_id"]


def generate_request_id() -> str:
    """A new request id in OpenStack's format, ``req-<uuid4>``."""
    return f"req-{uuid.uuid4()}"


def _to_roles(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


@attrs.frozen(kw_only=True)
class RequestContext:
    """Who makes a request and under which ids; it rides in every RPC message.

    The `auth_token` is a secret: it is left out of ``repr()`` and never logged.
    """

    request_id: str = attrs.field(factory=generate_request_id)
    global_request_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    user_name: str | None = None
    project_name: str | None = None
    roles: tuple[str, ...] = attrs.field(default=(), converter=_to_roles)
    is_admin: bool = False
    auth_token: str | None = attrs.field(default=None, repr=False)
    read_deleted: str = "no"

    def to_dict(self) -> dict[str, Any]:
        """The context as plain JSON values, for the wire."""
        data = attrs.asdict(self)
        data["roles"] = list(self.roles)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestContext:
        """Rebuild a context from `to_dict()` output, ignoring keys it does not know."""
        known = {f.name for f in attrs.fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        return cls(**values)

    def elevated(self) -> RequestContext:
        """A copy with admin rights, for a service acting on its own behalf."""
        roles = self.roles if "admin" in self.roles else (*self.roles, "admin")
        return attrs.evolve(self, is_admin=True, roles=roles)

    @classmethod
    def admin(cls, **values: Any) -> RequestContext:
        """A context for a service's own work (periodic tasks, start-up)."""
        return cls(is_admin=True, roles=("admin",), **values)
