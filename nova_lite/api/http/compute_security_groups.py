"""Nova's security groups: the proxy of Neutron's (below 2.36) and the servers' groups.

As Nova with Neutron, every call here is a call to the network service with the
caller's credentials, translated: ``os-security-groups`` shows a group's ingress
rules in Nova's format (``ip_protocol``, ``from_port``/``to_port``, ``ip_range`` or
``group``), and Neutron's refusals become Nova's (a group in use or the default
one: 400). Its rules (``os-security-group-rules``) are in
``compute_security_group_rules``. From microversion 2.36 the proxy answers 404,
as Nova's does. ``GET /servers/{id}/os-security-groups`` and the
``addSecurityGroup``/``removeSecurityGroup`` actions (`ACTIONS`, run by
``server_actions``) apply to every port of the server.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, body_of, check_fields, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX, visible_instance
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from nova_lite.api.http.server_actions import Call

__all__ = [
    "ACTIONS",
    "authorize",
    "group_view",
    "proxied",
    "routes",
    "rule_view",
    "uuid_of",
    "visible_groups",
]

routes = web.RouteTableDef()
RULE = "os_compute_api:os-security-groups:"
PROXY_REMOVED = "2.36"  # Nova's proxy APIs answer 404 from this microversion
PORT_PROTOCOLS = ("tcp", "udp")


def proxied(request: web.Request) -> RequestContext:
    """The caller's context, if this microversion still has the proxy API (else 404)."""
    if microversion_of(request).at_least(PROXY_REMOVED):
        raise NotFound("The resource could not be found.")
    return context_of(request)


def uuid_of(value: str) -> str:
    """A group id as Nova's proxy takes it: a UUID (400 otherwise)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Invalid("Security group id should be uuid") from None


def authorize(request: web.Request, rule: str, project: str | None) -> None:
    request.app[API].authorize(context_of(request), RULE + rule, project)


# -- Nova's format --------------------------------------------------------------------------


def rule_view(
    rule: objects.SecurityGroupRule, names: dict[str, objects.SecurityGroup]
) -> dict[str, Any]:
    """A Neutron rule as Nova shows it (ports as -1 or 1-65535 where Neutron has none)."""
    low, high = rule.port_range_min, rule.port_range_max
    if rule.protocol is not None and low is None and high is None:
        low, high = (1, 65535) if rule.protocol.lower() in PORT_PROTOCOLS else (-1, -1)
    view: dict[str, Any] = {
        "id": rule.id,
        "parent_group_id": rule.security_group_id,
        "ip_protocol": rule.protocol,
        "from_port": low,
        "to_port": high,
        "group": {},
        "ip_range": {},
    }
    source = names.get(rule.remote_group_id or "")
    if rule.remote_group_id is not None and source is not None:
        view["group"] = {"name": source.name, "tenant_id": source.project_id or ""}
    elif rule.remote_group_id is None:
        view["ip_range"] = {"cidr": rule.remote_ip_prefix or "0.0.0.0/0"}
    return view


def group_view(
    group: objects.SecurityGroup, names: dict[str, objects.SecurityGroup]
) -> dict[str, Any]:
    """A Neutron group as Nova shows it: its ingress rules only."""
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "tenant_id": group.project_id or "",
        "rules": [rule_view(r, names) for r in group.rules if r.direction == "ingress"],
    }


async def visible_groups(request: web.Request) -> dict[str, objects.SecurityGroup]:
    found = await request.app[API].network.list_security_groups(context_of(request))
    return {group.id: group for group in found}


# -- os-security-groups ---------------------------------------------------------------------


@routes.get(PREFIX + "/os-security-groups")
async def list_security_groups(request: web.Request) -> web.Response:
    """The project's security groups (every project's for admins with ``all_tenants``)."""
    ctx = proxied(request)
    authorize(request, "get", ctx.project_id)
    every = await visible_groups(request)
    all_tenants = ctx.is_admin and "all_tenants" in request.query
    shown = [g for g in every.values() if all_tenants or g.project_id == ctx.project_id]
    return json({"security_groups": [group_view(g, every) for g in shown]})


@routes.get(PREFIX + "/os-security-groups/{group_id}")
async def show_security_group(request: web.Request) -> web.Response:
    """One security group."""
    ctx = proxied(request)
    group = await request.app[API].network.get_security_group(
        ctx, uuid_of(request.match_info["group_id"])
    )
    authorize(request, "show", group.project_id)
    return json({"security_group": group_view(group, await visible_groups(request))})


async def _group_body(request: web.Request) -> dict[str, Any]:
    body = await body_of(request, "security_group")
    check_fields(body, allowed=("name", "description"), where="security_group")
    for field in ("name", "description"):
        value = body.get(field, "")
        if not isinstance(value, str) or len(value) > 255:
            raise Invalid(f"Security group {field} must be a string of 0 to 255 characters.")
    return {field: body[field] for field in ("name", "description") if field in body}


@routes.post(PREFIX + "/os-security-groups")
async def create_security_group(request: web.Request) -> web.Response:
    """Create a security group (Nova answers 200)."""
    ctx = proxied(request)
    authorize(request, "create", ctx.project_id)
    values = await _group_body(request)
    try:
        group = await request.app[API].network.create_security_group(ctx, values)
    except Conflict as exc:
        raise Invalid(str(exc)) from None
    return json({"security_group": group_view(group, await visible_groups(request))})


@routes.put(PREFIX + "/os-security-groups/{group_id}")
async def update_security_group(request: web.Request) -> web.Response:
    """Rename or describe a security group."""
    ctx = proxied(request)
    group_id = uuid_of(request.match_info["group_id"])
    current = await request.app[API].network.get_security_group(ctx, group_id)
    authorize(request, "update", current.project_id)
    values = await _group_body(request)
    try:
        group = await request.app[API].network.update_security_group(ctx, group_id, values)
    except Conflict as exc:
        raise Invalid(str(exc)) from None
    return json({"security_group": group_view(group, await visible_groups(request))})


@routes.delete(PREFIX + "/os-security-groups/{group_id}")
async def delete_security_group(request: web.Request) -> web.Response:
    """Delete a security group (in use, or the default one: 400); 202."""
    ctx = proxied(request)
    group_id = uuid_of(request.match_info["group_id"])
    current = await request.app[API].network.get_security_group(ctx, group_id)
    authorize(request, "delete", current.project_id)
    try:
        await request.app[API].network.delete_security_group(ctx, group_id)
    except Conflict as exc:
        raise Invalid(str(exc)) from None
    return web.Response(status=202)


# -- a server's groups ----------------------------------------------------------------------


@routes.get(PREFIX + "/servers/{server_id}/os-security-groups")
async def list_server_security_groups(request: web.Request) -> web.Response:
    """The security groups of a server's ports."""
    instance = await visible_instance(request, request.match_info["server_id"])
    ctx = context_of(request)
    authorize(request, "list", instance.project_id)
    found = await request.app[API].network.instance_security_groups(ctx, instance.uuid)
    every = await visible_groups(request)
    return json({"security_groups": [group_view(g, every) for g in found]})


def _group_name(call: Call, action: str) -> str:
    args = call.arguments(action, required=("name",))
    name = args["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise Invalid(f"Invalid input for action {action!r}: a group 'name' is required.")
    return name


async def _add_security_group(call: Call) -> web.Response:
    name = _group_name(call, "addSecurityGroup")
    instance = await visible_instance(call.request, call.server_id)
    authorize(call.request, "add", instance.project_id)
    ctx = context_of(call.request)
    await call.request.app[API].network.add_instance_security_group(ctx, instance.uuid, name)
    return web.Response(status=202)


async def _remove_security_group(call: Call) -> web.Response:
    name = _group_name(call, "removeSecurityGroup")
    instance = await visible_instance(call.request, call.server_id)
    authorize(call.request, "remove", instance.project_id)
    ctx = context_of(call.request)
    await call.request.app[API].network.remove_instance_security_group(ctx, instance.uuid, name)
    return web.Response(status=202)


#: The server actions of this module (``server_actions`` runs them).
ACTIONS: dict[str, Callable[[Call], Awaitable[web.Response]]] = {
    "addSecurityGroup": _add_security_group,
    "removeSecurityGroup": _remove_security_group,
}
