"""Signing in and out: a Keystone password becomes a token held in the session cookie."""

from __future__ import annotations

import contextlib

from aiohttp import web

from nova_lite.api.http.dashboard.app import (
    anonymous,
    api_client,
    dashboard_of,
    is_secure,
    page_context,
    see_other,
    viewer_of,
)
from nova_lite.api.http.dashboard.security import (
    SESSION_COOKIE,
    forget_session,
    keep_presession,
    presession_of,
    remember_session,
)
from nova_lite.exceptions import Invalid, NotAuthorized

__all__ = ["routes"]

routes = web.RouteTableDef()
HOME = "/dashboard/servers"


def _sign_in_form(
    request: web.Request, *, username: str = "", project: str = "", error: str | None = None
) -> web.Response:
    presession = presession_of(request)
    dashboard = dashboard_of(request)
    context = page_context(
        request,
        title="Sign in",
        csrf=dashboard.csrf.token_for(presession),
        username=username,
        project=project,
        error=error,
    )
    status = 200 if error is None else 401
    response = dashboard.templates.page("login.html", context, status=status)
    keep_presession(response, presession, secure=is_secure(request))
    return response


@routes.get("")
@routes.get("/")
@anonymous
async def home(request: web.Request) -> web.Response:
    """The dashboard's address: the servers, or the sign-in form when signed out."""
    return see_other(HOME if SESSION_COOKIE in request.cookies else "/dashboard/login")


@routes.get("/login")
@anonymous
async def sign_in_form(request: web.Request) -> web.Response:
    """The sign-in form: user, password and project."""
    return _sign_in_form(request, project=request.query.get("project", ""))


@routes.post("/login")
@anonymous
async def sign_in(request: web.Request) -> web.Response:
    """Get a token for the form's user and project, and hold it in the session cookie."""
    form = await request.post()
    username, password, project = (
        str(form.get(k, "")) for k in ("username", "password", "project")
    )
    try:
        if not (username and password and project):
            raise Invalid("Give a user, a password and a project.")
        token, info = await api_client(request).login(username, password, project)
    except (NotAuthorized, Invalid) as exc:
        message = "Wrong user, password or project." if isinstance(exc, NotAuthorized) else str(exc)
        return _sign_in_form(request, username=username, project=project, error=message)
    response = see_other(HOME)
    remember_session(response, token, info, secure=is_secure(request))
    return response


@routes.post("/logout")
async def sign_out(request: web.Request) -> web.Response:
    """Revoke the token and drop the session cookie."""
    with contextlib.suppress(NotAuthorized):  # already gone: signed out all the same
        await viewer_of(request).api.logout()
    response = see_other("/dashboard/login")
    forget_session(response)
    return response
