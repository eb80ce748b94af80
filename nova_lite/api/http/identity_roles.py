"""Keystone's assignment API: roles, implied roles, grants and the role assignment list.

Grants are the same four operations on six kinds of path: a user's or a group's
roles on a project (``/v3/projects/{p}/users/{u}/roles``), on a domain, or on the
system (``/v3/system/users/{u}/roles``): list, and give (PUT), check (GET or HEAD,
204) or take away (DELETE) one role. Implied roles are at
``/v3/roles/{prior}/implies/{implied}`` (HEAD checks, 204), every rule at
``/v3/role_inferences``. ``GET /v3/role_assignments`` takes Keystone's filters.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import base_url, context_of, json
from nova_lite.api.http.identity_views import (
    CrudSpec,
    crud_routes,
    entity_view,
    forget_tokens,
    identity_of,
    list_body,
    query,
)
from nova_lite.identity.assignments import INHERITED_TO

__all__ = ["routes"]

routes = web.RouteTableDef()

crud_routes(
    routes,
    CrudSpec("role", "roles", "role", "roles"),
    {
        "list": "The global roles, or a domain's (``domain_id``); ``name`` filters.",
        "create": "Create a role (global, or a domain's with ``domain_id``); 201.",
        "show": "One role.",
        "update": "Change a role's name, description or attributes.",
        "delete": "Delete a role and every grant of it; 204.",
    },
)


# -- implied roles ---------------------------------------------------------------------


def _role_ref(request: web.Request, ref: dict[str, Any]) -> dict[str, Any]:
    return entity_view(request, "roles", ref)


def _inference(request: web.Request, rule: dict[str, Any]) -> dict[str, Any]:
    implies = rule["implies"]
    shown = (
        [_role_ref(request, r) for r in implies]
        if isinstance(implies, list)
        else _role_ref(request, implies)
    )
    return {"prior_role": _role_ref(request, rule["prior_role"]), "implies": shown}


async def _implied(request: web.Request, op: str) -> dict[str, Any] | None:
    match = request.match_info
    result: dict[str, Any] | None = await identity_of(request).implied_role(
        context_of(request), match["prior_role_id"], match["implied_role_id"], op
    )
    return result


@routes.put("/v3/roles/{prior_role_id}/implies/{implied_role_id}")
async def create_implied_role(request: web.Request) -> web.Response:
    """Make the prior role imply the other; 201."""
    rule = await _implied(request, "create")
    assert rule is not None
    links = {"self": f"{base_url(request)}{request.path}"}
    return json({"role_inference": _inference(request, rule), "links": links}, status=201)


@routes.get("/v3/roles/{prior_role_id}/implies/{implied_role_id}", allow_head=False)
async def show_implied_role(request: web.Request) -> web.Response:
    """One implication rule."""
    rule = await _implied(request, "get")
    assert rule is not None
    links = {"self": f"{base_url(request)}{request.path}"}
    return json({"role_inference": _inference(request, rule), "links": links})


@routes.head("/v3/roles/{prior_role_id}/implies/{implied_role_id}")
async def check_implied_role(request: web.Request) -> web.Response:
    """204 if the prior role implies the other, else 404."""
    await _implied(request, "check")
    return web.Response(status=204)


@routes.delete("/v3/roles/{prior_role_id}/implies/{implied_role_id}")
async def delete_implied_role(request: web.Request) -> web.Response:
    """Remove an implication rule; 204."""
    await _implied(request, "delete")
    return web.Response(status=204)


@routes.get("/v3/roles/{prior_role_id}/implies")
async def list_implied_roles(request: web.Request) -> web.Response:
    """The roles a role implies."""
    (rule,) = await identity_of(request).role_inferences(
        context_of(request), request.match_info["prior_role_id"]
    )
    links = {"self": f"{base_url(request)}{request.path}"}
    return json({"role_inference": _inference(request, rule), "links": links})


@routes.get("/v3/role_inferences")
async def list_role_inferences(request: web.Request) -> web.Response:
    """Every implication rule, by prior role."""
    rules = await identity_of(request).role_inferences(context_of(request))
    body = list_body(request, "role_inferences", [_inference(request, r) for r in rules])
    return json(body)


# -- grants ----------------------------------------------------------------------------

_GRANT_PATHS = {
    ("project", "user"): "/v3/projects/{target_id}/users/{actor_id}/roles",
    ("project", "group"): "/v3/projects/{target_id}/groups/{actor_id}/roles",
    ("domain", "user"): "/v3/domains/{target_id}/users/{actor_id}/roles",
    ("domain", "group"): "/v3/domains/{target_id}/groups/{actor_id}/roles",
    ("system", "user"): "/v3/system/users/{actor_id}/roles",
    ("system", "group"): "/v3/system/groups/{actor_id}/roles",
}
INHERITED = "/inherited_to_projects"


def _grant_routes(
    target_type: str, actor_type: str, roles: str, *, inherited: bool = False
) -> None:
    """The list, give, check and take away routes of one kind of grant (`roles` is the
    path of the list; an inherited grant's paths end ``/inherited_to_projects``)."""
    suffix = INHERITED if inherited else ""
    kind = f"{'inherited_' if inherited else ''}{target_type}_{actor_type}"

    def where(request: web.Request) -> tuple[str, str, str, str]:
        match = request.match_info
        target_id = match.get("target_id", "system")
        return actor_type, match["actor_id"], target_type, target_id

    async def list_grants(request: web.Request) -> web.Response:
        found = await identity_of(request).grants(
            context_of(request), *where(request), inherited=inherited
        )
        views = [entity_view(request, "roles", role) for role in found]
        return json(list_body(request, "roles", views))

    def operation(op: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            actor, actor_id, target, target_id = where(request)
            await identity_of(request).grant(
                context_of(request),
                op,
                actor,
                actor_id,
                target,
                target_id,
                request.match_info["role_id"],
                inherited=inherited,
            )
            if op == "revoke":
                forget_tokens(request)
            return web.Response(status=204)

        return handle

    on = "the system" if target_type == "system" else f"a {target_type}"
    if inherited:
        on += " that the projects below it inherit"
    handlers = {
        "list": (list_grants, f"The roles given to a {actor_type} on {on}."),
        "create": (operation("create"), f"Give a {actor_type} a role on {on}; 204."),
        "check": (operation("check"), f"204 if a {actor_type} has the role on {on}, else 404."),
        "revoke": (operation("revoke"), f"Take a role of a {actor_type} on {on} away; 204."),
    }
    for name, (handler, doc) in handlers.items():
        handler.__doc__ = doc
        handler.__name__ = f"{name}_{kind}_grant"
    if not (inherited and target_type == "project"):  # Keystone lists a domain's only
        routes.get(roles + suffix)(handlers["list"][0])
    item = roles + "/{role_id}" + suffix
    routes.put(item)(handlers["create"][0])
    routes.get(item)(handlers["check"][0])
    routes.delete(item)(handlers["revoke"][0])


for (_target, _actor), _path in _GRANT_PATHS.items():
    _grant_routes(_target, _actor, _path)
    if _target != "system":
        _grant_routes(_target, _actor, "/v3/OS-INHERIT" + _path[3:], inherited=True)


# -- the role assignment list ----------------------------------------------------------


def _assignment_view(request: web.Request, entry: dict[str, Any]) -> dict[str, Any]:
    base = f"{base_url(request)}/v3"
    scope = entry["scope"]
    actor = "user" if "user" in entry else "group"
    where = (
        "system"
        if "system" in scope
        else f"{next(iter(scope))}s/{next(iter(scope.values()))['id']}"
    )
    role_id = entry.get("prior_role", entry["role"]["id"])
    links = {"assignment": f"{base}/{where}/{actor}s/{entry[actor]['id']}/roles/{role_id}"}
    if INHERITED_TO in scope:
        links["assignment"] = (
            f"{base}/OS-INHERIT/{where}/{actor}s/{entry[actor]['id']}/roles/{role_id}{INHERITED}"
        )
    if "group_id" in entry:
        links["assignment"] = f"{base}/{where}/groups/{entry['group_id']}/roles/{role_id}"
        links["membership"] = f"{base}/groups/{entry['group_id']}/users/{entry['user']['id']}"
    if "prior_role" in entry:
        links["prior_role"] = f"{base}/roles/{entry['prior_role']}"
    shown = {k: v for k, v in entry.items() if k not in ("prior_role", "group_id")}
    return {**shown, "links": links}


@routes.get("/v3/role_assignments")
async def list_role_assignments(request: web.Request) -> web.Response:
    """Role assignments (``user.id``, ``group.id``, ``role.id``, ``scope.*``,
    ``effective``, ``include_names``)."""
    found = await identity_of(request).role_assignments(context_of(request), query(request))
    views = [_assignment_view(request, entry) for entry in found]
    return json(list_body(request, "role_assignments", views))
