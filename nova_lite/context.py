"""The request context: who is asking, and the ids that follow a request everywhere."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from nova_lite.objects import TokenInfo

__all__ = ["RequestContext", "generate_request_id", "is_request_id"]

_REQUEST_ID = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def generate_request_id() -> str:
    """A new request id in OpenStack's format, ``req-<uuid4>``.

    The uuid's text is made from the random bytes directly (version 4, RFC 4122
    variant, as `uuid.uuid4` sets them): building a `uuid.UUID` to print it costs
    2.5 times as much, and every service context and periodic run makes one.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    h = raw.hex()
    return f"req-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_request_id(value: object) -> bool:
    """Whether `value` is a request id in OpenStack's format, ``req-<uuid>`` in lower case.

    This is oslo.middleware's test for an inbound ``X-OpenStack-Request-ID``: only such
    a value is taken as the global request id; anything else is ignored.
    """
    return isinstance(value, str) and _REQUEST_ID.fullmatch(value) is not None


def _to_roles(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"roles must be a list of strings, not {value!r}")
    roles = tuple(value or ())
    if not all(isinstance(role, str) for role in roles):
        raise TypeError(f"roles must be a list of strings, not {value!r}")
    return roles


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
    # The wire form, made on the first send and kept: one context rides in every
    # message of its request (a build's dozen calls), and it never changes.
    _wire: tuple[str, dict[str, Any]] | None = attrs.field(
        default=None, init=False, repr=False, eq=False, hash=False
    )

    def to_dict(self) -> dict[str, Any]:
        """The context as plain JSON values, for the wire."""
        return {
            "request_id": self.request_id,
            "global_request_id": self.global_request_id,
            "user_id": self.user_id,
            "project_id": self.project_id,
            "user_name": self.user_name,
            "project_name": self.project_name,
            "roles": list(self.roles),
            "is_admin": self.is_admin,
            "auth_token": self.auth_token,
            "read_deleted": self.read_deleted,
        }

    def wire_fields(self, prefix: str) -> dict[str, Any]:
        """`to_dict()` with `prefix` before each key, made once per context (do not mutate).

        The RPC envelope writes the context as ``_context_<key>`` keys; the result is
        cached on the context for the first `prefix` asked (there is only one).
        """
        wire = self._wire
        if wire is None or wire[0] != prefix:
            wire = (prefix, {prefix + key: value for key, value in self.to_dict().items()})
            object.__setattr__(self, "_wire", wire)
        return wire[1]

    @classmethod
    def from_token(
        cls,
        info: TokenInfo,
        token: str,
        *,
        request_id: str | None = None,
        global_request_id: str | None = None,
    ) -> RequestContext:
        """The context of a request made with `token`, which identity validated into `info`.

        The caller is who the token says: user, project and roles as identity
        recorded them, admin when the roles hold ``admin``. `request_id` is the id
        this request is known by (the HTTP front end passes the id it returns in
        ``X-OpenStack-Request-ID``); without one a new id is made. `global_request_id`
        is the id of the request of another service that this one serves, as
        OpenStack passes it along; it must be in the ``req-<uuid>`` format
        (`is_request_id`), or ValueError is raised.
        """
        if global_request_id is not None and not is_request_id(global_request_id):
            raise ValueError(
                f"global_request_id must look like req-<uuid>, not {global_request_id!r:.80}"
            )
        return cls(
            request_id=request_id or generate_request_id(),
            global_request_id=global_request_id,
            user_id=info.user_id,
            user_name=info.user_name,
            project_id=info.project_id,
            project_name=info.project_name,
            roles=info.roles,
            is_admin=info.is_admin,
            auth_token=token,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestContext:
        """Rebuild a context from `to_dict()` output, ignoring keys it does not know.

        Raises TypeError or ValueError when a known key has a value of the wrong type.
        One request's context arrives in every message of it (a build's dozen), so the
        contexts rebuilt lately are kept by their values and given again: a context
        is frozen, so one may serve them all.
        """
        key = _wire_key(data)
        if key is not None:
            found = _RECENT.get(key)
            if found is not None:
                return found
        values = {k: v for k, v in data.items() if k in _FIELDS and v is not None}
        for name, value in values.items():
            expected = _FIELDS[name]
            if not isinstance(value, expected):
                raise TypeError(f"context field {name!r} must be {expected}, not {value!r}")
        context = cls(**values)
        if key is not None:
            if len(_RECENT) >= _RECENT_SIZE:
                del _RECENT[next(iter(_RECENT))]  # the oldest
            _RECENT[key] = context
        return context

    def elevated(self) -> RequestContext:
        """A copy with admin rights, for a service acting on its own behalf."""
        roles = self.roles if "admin" in self.roles else (*self.roles, "admin")
        return attrs.evolve(self, is_admin=True, roles=roles)

    @classmethod
    def admin(cls, **values: Any) -> RequestContext:
        """A context for a service's own work (periodic tasks, start-up)."""
        return cls(is_admin=True, roles=("admin",), **values)


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "request_id": str,
    "global_request_id": str,
    "user_id": str,
    "project_id": str,
    "user_name": str,
    "project_name": str,
    "roles": (list, tuple),
    "is_admin": bool,
    "auth_token": str,
    "read_deleted": str,
}

_NAMES = tuple(_FIELDS)
_RECENT_SIZE = 512  # contexts kept by `from_dict`: requests in flight in one process
_RECENT: dict[tuple[Any, ...], RequestContext] = {}


def _wire_key(data: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """`data`'s known values as a hashable key, or None if they cannot be one.

    A value's type is part of the key where equal values of other types exist
    (``1 == True``), so a value that `from_dict` refuses never matches one it took.
    """
    get = data.get
    roles = get("roles")
    admin = get("is_admin")
    try:
        key = (
            *[get(name) for name in _NAMES if name not in ("roles", "is_admin")],
            type(roles),
            tuple(roles) if isinstance(roles, list | tuple) else roles,
            type(admin),
            admin,
        )
        hash(key)
    except TypeError:  # an unhashable value: `from_dict` says what is wrong with it
        return None
    return key
