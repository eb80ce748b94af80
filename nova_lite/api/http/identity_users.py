"""Keystone's identity API: users, groups, membership, passwords, application credentials.

Users and groups are the five CRUD routes each. ``POST /v3/users/{id}/password``
is the user's own password change: like Keystone's, it needs no token and no rule,
only the original password (a wrong one is 401), and it revokes the user's
tokens. Group members are added, checked and removed at
``/v3/groups/{g}/users/{u}``. A user's application credentials are made with a
token scoped to the project they will act in; the secret is in the create
response only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import REQUEST_ID, body_of, context_of, json, public
from nova_lite.api.http.identity_views import (
    CrudSpec,
    crud_routes,
    entity_view,
    forget_tokens,
    identity_of,
    list_body,
    query,
)
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()

crud_routes(
    routes,
    CrudSpec("user", "users", "user", "users"),
    {
        "list": "The users (``name``, ``domain_id``, ``enabled`` filter).",
        "create": "Create a user (password, domain, default project, attributes); 201.",
        "show": "One user (never their password).",
        "update": "Change a user; a new password or disabling revokes their tokens.",
        "delete": "Delete a user, their grants and credentials; their tokens stop working.",
    },
)
crud_routes(
    routes,
    CrudSpec("group", "groups", "group", "groups"),
    {
        "list": "The groups (``name``, ``domain_id`` filter).",
        "create": "Create a group; 201.",
        "show": "One group.",
        "update": "Change a group's name, description or attributes.",
        "delete": "Delete a group and its grants; 204.",
    },
)


@routes.post("/v3/users/{user_id}/password")
@public
async def change_password(request: web.Request) -> web.Response:
    """A user's own password change with the original password; 204 (no token needed)."""
    body = await body_of(request, "user")
    original, password = body.get("original_password"), body.get("password")
    if not isinstance(original, str) or not isinstance(password, str):
        raise Invalid("Send the user's original_password and the new password.")
    ctx = RequestContext(request_id=request[REQUEST_ID])
    await identity_of(request).user_change_password(
        ctx, request.match_info["user_id"], original, password
    )
    forget_tokens(request)
    return web.Response(status=204)


@routes.get("/v3/users/{user_id}/projects")
async def list_user_projects(request: web.Request) -> web.Response:
    """The projects a user holds a role on."""
    found = await identity_of(request).user_projects(
        context_of(request), request.match_info["user_id"]
    )
    views = [entity_view(request, "projects", project) for project in found]
    return json(list_body(request, "projects", views))


@routes.get("/v3/users/{user_id}/groups")
async def list_user_groups(request: web.Request) -> web.Response:
    """The groups a user is in."""
    found = await identity_of(request).user_groups(
        context_of(request), request.match_info["user_id"]
    )
    views = [entity_view(request, "groups", group) for group in found]
    return json(list_body(request, "groups", views))


@routes.get("/v3/groups/{group_id}/users")
async def list_group_users(request: web.Request) -> web.Response:
    """The users of a group."""
    found = await identity_of(request).group_users(
        context_of(request), request.match_info["group_id"]
    )
    views = [entity_view(request, "users", user) for user in found]
    return json(list_body(request, "users", views))


async def _member(request: web.Request, op: str) -> web.Response:
    match = request.match_info
    await identity_of(request).group_member(
        context_of(request), match["group_id"], match["user_id"], op
    )
    if op == "remove":
        forget_tokens(request)
    return web.Response(status=204)


@routes.put("/v3/groups/{group_id}/users/{user_id}")
async def add_group_user(request: web.Request) -> web.Response:
    """Add a user to a group; 204."""
    return await _member(request, "add")


@routes.get("/v3/groups/{group_id}/users/{user_id}")
async def check_group_user(request: web.Request) -> web.Response:
    """204 if the user is in the group, else 404."""
    return await _member(request, "check")


@routes.delete("/v3/groups/{group_id}/users/{user_id}")
async def remove_group_user(request: web.Request) -> web.Response:
    """Remove a user from a group; 204."""
    return await _member(request, "remove")


# -- application credentials -----------------------------------------------------------


def _app_cred_view(request: web.Request, user_id: str, cred: dict[str, Any]) -> dict[str, Any]:
    return entity_view(request, f"users/{user_id}/application_credentials", cred)


@routes.get("/v3/users/{user_id}/application_credentials")
async def list_app_creds(request: web.Request) -> web.Response:
    """A user's application credentials (``name`` filters); never their secrets."""
    user_id = request.match_info["user_id"]
    filters = {**query(request), "user_id": user_id}
    found = await identity_of(request).entity_list(
        context_of(request), "application_credential", filters
    )
    views = [_app_cred_view(request, user_id, cred) for cred in found]
    return json(list_body(request, "application_credentials", views))


@routes.post("/v3/users/{user_id}/application_credentials")
async def create_app_cred(request: web.Request) -> web.Response:
    """Make an application credential for the token's project; its secret, once; 201."""
    user_id = request.match_info["user_id"]
    body = {**await body_of(request, "application_credential"), "user_id": user_id}
    created = await identity_of(request).entity_create(
        context_of(request), "application_credential", body
    )
    return json({"application_credential": _app_cred_view(request, user_id, created)}, status=201)


async def _own_app_cred(request: web.Request) -> dict[str, Any]:
    match = request.match_info
    found: dict[str, Any] = await identity_of(request).entity_get(
        context_of(request), "application_credential", match["application_credential_id"]
    )
    if found["user_id"] != match["user_id"]:
        raise web.HTTPNotFound(text="Could not find application credential.")
    return found


@routes.get("/v3/users/{user_id}/application_credentials/{application_credential_id}")
async def show_app_cred(request: web.Request) -> web.Response:
    """One application credential (without its secret)."""
    found = await _own_app_cred(request)
    view = _app_cred_view(request, request.match_info["user_id"], found)
    return json({"application_credential": view})


@routes.delete("/v3/users/{user_id}/application_credentials/{application_credential_id}")
async def delete_app_cred(request: web.Request) -> web.Response:
    """Delete an application credential and revoke its tokens; 204."""
    found = await _own_app_cred(request)
    await identity_of(request).entity_delete(
        context_of(request), "application_credential", found["id"]
    )
    forget_tokens(request)
    return web.Response(status=204)
