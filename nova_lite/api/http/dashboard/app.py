"""The dashboard's aiohttp application, mounted at ``/dashboard`` in the API's.

Its own middleware, `guard`, wraps every dashboard request inside the API's
middlewares (request ids, logs): it refuses a POST whose CSRF token is wrong before
anything runs, signs the user in from the session cookie (validating the token with
identity, over HTTP), turns API errors into pages (a 401 back to the sign-in form,
a 409 into the API's message), and gives every response the headers of
`security.secure_headers`. Handlers are marked `public` for the API's token check:
the dashboard authenticates with its cookie instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any, TypeVar

import aiohttp
import attrs
import structlog
from aiohttp import web

from nova_lite.api.http.common import REQUEST_ID, SETTINGS, public
from nova_lite.api.http.dashboard.render import Templates
from nova_lite.api.http.dashboard.rest import ApiClient, loopback_url
from nova_lite.api.http.dashboard.security import (
    CSRF_FIELD,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    CsrfKey,
    forget_session,
    secure_headers,
    served_over_tls,
)
from nova_lite.exceptions import MessagingTimeout, NotAuthorized, NovaError, TransportError
from nova_lite.objects import TokenInfo

__all__ = [
    "DASHBOARD",
    "VIEWER",
    "Dashboard",
    "Viewer",
    "anonymous",
    "api_client",
    "dashboard_app",
    "dashboard_of",
    "error_page",
    "is_secure",
    "page_context",
    "see_other",
    "viewer_of",
]

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

LOGIN_PATH = "/dashboard/login"
API_TIMEOUT = 60.0  # seconds for one page's call to the API (a create waits on quotas)
STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


@attrs.define(kw_only=True)
class Dashboard:
    """What the dashboard keeps for its process: templates, the CSRF key, an HTTP client."""

    templates: Templates
    csrf: CsrfKey
    http: aiohttp.ClientSession | None = None  # open while the application runs


@attrs.frozen(kw_only=True)
class Viewer:
    """The signed-in user of one request: who, their API client, their CSRF token."""

    me: TokenInfo
    api: ApiClient
    csrf: str


DASHBOARD = web.AppKey("dashboard", Dashboard)
VIEWER = web.RequestKey("dashboard_viewer", Viewer)


def anonymous(handler: H) -> H:
    """Mark a dashboard handler as needing no signed-in user (sign-in form, static files)."""
    setattr(handler, "nova_lite_dashboard_anonymous", True)  # noqa: B010
    return public(handler)


def _is_anonymous(request: web.Request) -> bool:
    return bool(getattr(request.match_info.handler, "nova_lite_dashboard_anonymous", False))


def dashboard_of(request: web.Request) -> Dashboard:
    """The dashboard's process-wide parts."""
    return request.config_dict[DASHBOARD]


def viewer_of(request: web.Request) -> Viewer:
    """The signed-in user of this request (set by `guard`)."""
    return request[VIEWER]


def api_client(request: web.Request, token: str = "") -> ApiClient:
    """A client of this server's HTTP API for this request, as the holder of `token`."""
    http = dashboard_of(request).http
    if http is None:
        raise NovaError("The dashboard is not running: its HTTP client is closed.")
    return ApiClient(
        http=http, base=loopback_url(request), request_id=request[REQUEST_ID], token=token
    )


def is_secure(request: web.Request) -> bool:
    """Whether cookies of this request must be ``Secure`` (served over TLS)."""
    return served_over_tls(request, request.config_dict[SETTINGS].public_url)


def page_context(request: web.Request, **values: Any) -> dict[str, Any]:
    """What every template is given: the user (None signed out), the CSRF token, `values`."""
    viewer = request.get(VIEWER)
    base: dict[str, Any] = {
        "me": viewer.me if viewer else None,
        "csrf": viewer.csrf if viewer else "",
        "error": None,
        "section": "",
    }
    return {**base, **values}


def error_page(request: web.Request, title: str, message: str, status: int) -> web.Response:
    """A page saying what went wrong (the API's own message), with its status."""
    context = page_context(request, title=title, error=message)
    return dashboard_of(request).templates.page("error.html", context, status=status)


async def _check_csrf(request: web.Request) -> None:
    cookie = PRESESSION_COOKIE if _is_anonymous(request) else SESSION_COOKIE
    form = await request.post()
    if not dashboard_of(request).csrf.checks(request.cookies.get(cookie, ""), form.get(CSRF_FIELD)):
        log.warning("dashboard.csrf_refused", path=request.path)
        raise web.HTTPForbidden(
            text="This form did not come from this dashboard session; reload the page."
        )


async def _sign_in(request: web.Request) -> None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise NotAuthorized("Sign in first.")
    api = api_client(request, token)
    me = await api.whoami()
    request[VIEWER] = Viewer(me=me, api=api, csrf=dashboard_of(request).csrf.token_for(token))


def see_other(location: str) -> web.Response:
    """A 303 to `location` (a path of the dashboard): where a POST's browser goes next."""
    return web.Response(status=303, headers={"Location": location})


def _to_sign_in() -> web.Response:
    response = see_other(LOGIN_PATH)
    forget_session(response)
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.method == "POST":
            await _check_csrf(request)
        if not _is_anonymous(request):
            await _sign_in(request)
        return await handler(request)
    except NotAuthorized:
        return _to_sign_in()
    except web.HTTPException as exc:
        return error_page(request, exc.reason, exc.text or exc.reason, exc.status)
    except NovaError as exc:
        return error_page(request, type(exc).__name__, str(exc), exc.code)
    except (MessagingTimeout, TransportError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("dashboard.api_unavailable", error=type(exc).__name__, path=request.path)
        return error_page(request, "Unavailable", "The API did not answer; try again.", 503)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CSRF check, sign-in, API errors as pages, and the security headers (module doc)."""
    response = await _answer(request, handler)
    secure_headers(response)
    return response


@anonymous
async def static(request: web.Request) -> web.Response:
    """The dashboard's script and stylesheet (only those two files)."""
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound(text=f"There is no static file {name!r}.")
    data = resources.files(__package__).joinpath("static", name).read_bytes()
    return web.Response(body=data, content_type=STATIC[name], charset="utf-8")


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    """The dashboard's HTTP client of its own API, open while the application runs."""
    state = app[DASHBOARD]
    state.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT))
    try:
        yield
    finally:
        http, state.http = state.http, None
        await http.close()


def dashboard_app(*tables: web.RouteTableDef) -> web.Application:
    """The dashboard application serving the routes of `tables` (mounted at ``/dashboard``)."""
    app = web.Application(middlewares=[guard])
    app[DASHBOARD] = Dashboard(templates=Templates(), csrf=CsrfKey())
    app.cleanup_ctx.append(_http_client)
    app.router.add_get("/static/{name}", static)
    for routes in tables:
        for route in routes:
            if isinstance(route, web.RouteDef):
                public(route.handler)  # no X-Auth-Token: `guard` signs in from the cookie
        app.add_routes(routes)
    return app
