"""What every handler uses: the app's NovaAPI, the caller's session, bodies and URLs.

The middlewares in `app` store the request id, the microversion and (for routes that
need a token) the caller's `Session` and `RequestContext` in the request; handlers
read them through these helpers. Bodies are checked where they enter: malformed JSON,
a missing wrapper key, missing or unknown fields are all `Invalid` (400) with a
message that names the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, TypeVar

import attrs
import orjson
from aiohttp import web

from nova_lite.api.client import NovaAPI, Session
from nova_lite.api.http.microversion import MIN_VERSION, APIVersion
from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden, Invalid

__all__ = [
    "API",
    "CONTEXT",
    "MICROVERSION",
    "REQUEST_ID",
    "SESSION",
    "SETTINGS",
    "Handler",
    "HttpSettings",
    "base_url",
    "body_of",
    "check_fields",
    "context_of",
    "json",
    "microversion_of",
    "public",
    "query_int",
    "require_admin",
    "session_of",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)


@attrs.frozen(kw_only=True)
class HttpSettings:
    """What the HTTP front end needs besides NovaAPI: the URL its catalog advertises."""

    public_url: str = ""


API = web.AppKey("api", NovaAPI)
SETTINGS = web.AppKey("settings", HttpSettings)
REQUEST_ID = web.RequestKey("request_id", str)
CONTEXT = web.RequestKey("context", RequestContext)
SESSION = web.RequestKey("session", Session)
MICROVERSION = web.RequestKey("microversion", APIVersion)


def public(handler: H) -> H:
    """Mark a handler as needing no token (version documents, authentication)."""
    setattr(handler, "nova_lite_public", True)  # noqa: B010
    return handler


def is_public(handler: object) -> bool:
    """Whether `handler` was marked `public`."""
    return bool(getattr(handler, "nova_lite_public", False))


def session_of(request: web.Request) -> Session:
    """The caller's session (set by the auth middleware)."""
    return request[SESSION]


def context_of(request: web.Request) -> RequestContext:
    """The caller's request context: who they are, under this request's id."""
    return request[CONTEXT]


def microversion_of(request: web.Request) -> APIVersion:
    """The compute microversion this request negotiated (2.1 outside compute)."""
    if MICROVERSION not in request:
        return MIN_VERSION
    return request[MICROVERSION]


def require_admin(request: web.Request, action: str) -> RequestContext:
    """The caller's context, or `Forbidden` unless they are an administrator."""
    ctx = context_of(request)
    if not ctx.is_admin:
        raise Forbidden(f"Policy doesn't allow {action} to be performed.")
    return ctx


def base_url(request: web.Request) -> str:
    """The front end's base URL: ``[api] public_url``, else the one the caller used."""
    configured = request.app[SETTINGS].public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


async def body_of(request: web.Request, wrapper: str | None = None) -> Any:
    """The JSON body (the value under `wrapper`, if given); `Invalid` if malformed."""
    raw = await request.read()
    if not raw:
        raise Invalid("The request body is missing; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"Malformed request body: not valid JSON ({exc}).") from None
    if wrapper is None:
        return body
    if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
        raise Invalid(f"The request body must be an object with an object {wrapper!r}.")
    extra = set(body) - {wrapper}
    if extra:
        raise Invalid(f"Additional properties are not allowed ({_names(extra)} unexpected).")
    return body[wrapper]


def check_fields(
    body: Mapping[str, Any],
    *,
    allowed: Collection[str],
    required: Collection[str] = (),
    where: str = "",
) -> None:
    """`Invalid` if `body` lacks a required field or has one not allowed."""
    missing = [name for name in required if name not in body]
    if missing:
        raise Invalid(f"'{missing[0]}' is a required property{_in(where)}.")
    unknown = set(body) - set(allowed) - set(required)
    if unknown:
        raise Invalid(
            f"Additional properties are not allowed ({_names(unknown)} unexpected){_in(where)}."
        )


def _names(names: Collection[str]) -> str:
    return ", ".join(repr(n) for n in sorted(names))


def _in(where: str) -> str:
    return f" in {where!r}" if where else ""


def query_int(request: web.Request, name: str, *, minimum: int = 0) -> int | None:
    """An integer query parameter, or None; `Invalid` if it is not one."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"Invalid {name} {raw!r}: it must be an integer.") from None
    if value < minimum:
        raise Invalid(f"Invalid {name} {raw!r}: it must be at least {minimum}.")
    return value


def json(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response (orjson: datetimes as ISO 8601)."""
    return web.Response(
        body=orjson.dumps(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )
