"""Identity API v3 (Keystone) subset: version discovery, tokens, projects and users.

``POST /v3/auth/tokens`` takes Keystone's password method (a user name in the
``Default`` domain) with a project scope by name (or by id, for projects this front
end has already seen in a token) and answers 201 with the token in
``X-Subject-Token`` and its details, service catalog included, in the body. The
``token`` method re-issues the details of a token for its own project. ``GET``,
``HEAD`` and ``DELETE`` on the same path check and revoke the token named by
``X-Subject-Token``. Projects and users are listed for administrators.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from aiohttp import web

from nova_lite.api.http.catalog import catalog
from nova_lite.api.http.common import API, REQUEST_ID, base_url, body_of, context_of, json, public
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotAuthorized, NotFound
from nova_lite.objects import TokenInfo, utcnow

__all__ = ["PROJECT_NAMES", "routes"]

routes = web.RouteTableDef()

# Project ids this front end has seen in tokens, with their names (scoping by id).
PROJECT_NAMES = web.AppKey("project_names", dict[str, str])

DEFAULT_DOMAIN = {"id": "default", "name": "Default"}
AUTH_FAILED = "The request you have made requires authentication."


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


@routes.get("/")
@public
async def versions(request: web.Request) -> web.Response:
    """The identity API versions (300 Multiple Choices, as Keystone answers)."""
    return json({"versions": {"values": [_version_doc(base_url(request))]}}, status=300)


@routes.get("/v3")
@routes.get("/v3/")
@public
async def version(request: web.Request) -> web.Response:
    """The identity v3 version document."""
    return json({"version": _version_doc(base_url(request))})


# -- tokens ----------------------------------------------------------------------------


def keystone_time(moment: datetime.datetime) -> str:
    """Keystone's time format, ``2015-11-05T22:00:11.000000Z``."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def token_body(
    request: web.Request, info: TokenInfo, *, methods: list[str], issued_at: datetime.datetime
) -> dict[str, Any]:
    """The ``{"token": ...}`` body describing `info` (with the catalog unless ``nocatalog``)."""
    project = {"id": info.project_id, "name": info.project_name, "domain": DEFAULT_DOMAIN}
    token: dict[str, Any] = {
        "methods": methods,
        "user": {
            "id": info.user_id,
            "name": info.user_name,
            "domain": DEFAULT_DOMAIN,
            "password_expires_at": None,
        },
        "project": project,
        "roles": [{"id": role, "name": role} for role in info.roles],
        "is_domain": False,
        "expires_at": keystone_time(info.expires_at),
        "issued_at": keystone_time(issued_at),
        "audit_ids": [uuid.uuid4().hex[:22]],
    }
    if "nocatalog" not in request.query:
        token["catalog"] = catalog(base_url(request), info.project_id)
    return {"token": token}


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"Invalid input for field '{where}': an object is required.")
    return value


def _check_domain(entity: dict[str, Any], where: str) -> None:
    domain = entity.get("domain")
    if domain is None:
        return
    domain = _object(domain, f"{where}.domain")
    if domain.get("id", "default") != "default" or domain.get("name", "Default") != "Default":
        raise NotAuthorized(AUTH_FAILED)


def _project_name(request: web.Request, scope: Any) -> str:
    """The project the request scopes to, by name or by an id seen before."""
    if scope is None:
        raise Invalid("nova_lite issues project-scoped tokens only: give auth.scope.project.")
    project = _object(_object(scope, "auth.scope").get("project"), "auth.scope.project")
    _check_domain(project, "auth.scope.project")
    if isinstance(project.get("name"), str):
        return str(project["name"])
    name = request.app[PROJECT_NAMES].get(str(project.get("id")))
    if name is None:
        raise NotAuthorized(AUTH_FAILED)
    return name


async def _password_auth(
    request: web.Request, identity: dict[str, Any], scope: Any
) -> tuple[str, TokenInfo]:
    password = _object(identity.get("password"), "auth.identity.password")
    user = _object(password.get("user"), "auth.identity.password.user")
    _check_domain(user, "auth.identity.password.user")
    name, secret = user.get("name"), user.get("password")
    if not isinstance(name, str) or not isinstance(secret, str):
        raise Invalid("Authenticate with auth.identity.password.user's name and password.")
    result = await request.app[API].identity.authenticate(
        RequestContext(request_id=request[REQUEST_ID]),
        username=name,
        password=secret,
        project_name=_project_name(request, scope),
    )
    return result["token"], result["token_info"]


async def _token_auth(
    request: web.Request, identity: dict[str, Any], scope: Any
) -> tuple[str, TokenInfo]:
    token = _object(identity.get("token"), "auth.identity.token").get("id")
    if not isinstance(token, str):
        raise Invalid("Give the token to re-scope in auth.identity.token.id.")
    info = await request.app[API].identity.validate_token(
        RequestContext(request_id=request[REQUEST_ID]), token
    )
    if scope is not None and _project_name(request, scope) != info.project_name:
        raise NotAuthorized(AUTH_FAILED)
    return token, info


@routes.post("/v3/auth/tokens")
@public
async def issue_token(request: web.Request) -> web.Response:
    """Authenticate (password or token method); 201 with ``X-Subject-Token``."""
    auth = _object((await body_of(request, "auth")), "auth")
    identity = _object(auth.get("identity"), "auth.identity")
    methods = identity.get("methods")
    if methods == ["password"]:
        token, info = await _password_auth(request, identity, auth.get("scope"))
    elif methods == ["token"]:
        token, info = await _token_auth(request, identity, auth.get("scope"))
    else:
        raise Invalid(f"Unsupported auth methods {methods!r}; use ['password'] or ['token'].")
    request.app[PROJECT_NAMES][info.project_id] = info.project_name
    body = token_body(request, info, methods=methods, issued_at=utcnow())
    return json(body, status=201, headers={"X-Subject-Token": token})


async def _subject(request: web.Request) -> tuple[str, TokenInfo]:
    subject = request.headers.get("X-Subject-Token", "").strip()
    if not subject:
        raise Invalid("Name the token to check in the X-Subject-Token header.")
    try:
        info = await request.app[API].identity.validate_token(context_of(request), subject)
    except NotAuthorized as exc:
        raise NotFound(f"Could not find token: {exc}") from None
    rule = {"GET": "identity:validate_token", "HEAD": "identity:check_token"}.get(
        request.method, "identity:revoke_token"
    )
    target = {"target.token.user_id": info.user_id}
    request.app[API].policy.authorize(context_of(request), rule, target)
    return subject, info


@routes.get("/v3/auth/tokens")
async def check_token(request: web.Request) -> web.Response:
    """The details of the ``X-Subject-Token`` token (HEAD: just whether it is valid)."""
    subject, info = await _subject(request)
    ttl = datetime.timedelta(seconds=request.app[API].config.identity.token_ttl)
    body = token_body(request, info, methods=["password"], issued_at=info.expires_at - ttl)
    return json(body, headers={"X-Subject-Token": subject})


@routes.delete("/v3/auth/tokens")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke the ``X-Subject-Token`` token; 204."""
    subject, _ = await _subject(request)
    api = request.app[API]
    await api.identity.revoke_token(context_of(request), subject)
    api.forget_token(subject)
    return web.Response(status=204)


@routes.get("/v3/auth/projects")
async def token_projects(request: web.Request) -> web.Response:
    """The projects the token may scope to: its own."""
    ctx = context_of(request)
    project = {"id": ctx.project_id, "name": ctx.project_name, "description": ""}
    return json({"projects": [_project_view(request, project)], "links": _links(request)})


# -- projects and users (administrators) -----------------------------------------------


def _links(request: web.Request) -> dict[str, Any]:
    return {"self": f"{base_url(request)}{request.path}", "previous": None, "next": None}


def _project_view(request: web.Request, project: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": project["id"],
        "name": project["name"],
        "description": project.get("description", ""),
        "domain_id": "default",
        "parent_id": "default",
        "enabled": True,
        "is_domain": False,
        "tags": [],
        "options": {},
        "links": {"self": f"{base_url(request)}/v3/projects/{project['id']}"},
    }


@routes.get("/v3/projects")
async def list_projects(request: web.Request) -> web.Response:
    """Every project (administrators only); ``name`` filters."""
    projects = await request.app[API].identity.list_projects(context_of(request))
    if "name" in request.query:
        projects = [p for p in projects if p["name"] == request.query["name"]]
    views = [_project_view(request, p) for p in projects]
    return json({"projects": views, "links": _links(request)})


@routes.get("/v3/users")
async def list_users(request: web.Request) -> web.Response:
    """Every user (administrators only); ``name`` filters."""
    users = await request.app[API].identity.list_users(context_of(request))
    if "name" in request.query:
        users = [u for u in users if u["name"] == request.query["name"]]
    views = [
        {
            "id": u["id"],
            "name": u["name"],
            "domain_id": "default",
            "enabled": True,
            "password_expires_at": None,
            "options": {},
            "links": {"self": f"{base_url(request)}/v3/users/{u['id']}"},
        }
        for u in users
    ]
    return json({"users": views, "links": _links(request)})
