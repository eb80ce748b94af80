"""Networking API v2.0: security groups and security group rules (bulk rules too)."""

from __future__ import annotations

from aiohttp import web

from nova_lite.api.http.common import API, context_of, json
from nova_lite.api.http.network_common import PREFIX, created, listing, resource_bodies, shown
from nova_lite.api.http.network_views import rule_view, security_group_view

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get(PREFIX + "/security-groups")
async def list_security_groups(request: web.Request) -> web.Response:
    """The caller's project's groups (its ``default`` group is made on first use)."""
    found = await request.app[API].network.list_security_groups(context_of(request))
    return listing(request, "security_groups", map(security_group_view, found))


@routes.get(PREFIX + "/security-groups/{group_id}")
async def show_security_group(request: web.Request) -> web.Response:
    """One group, with its rules."""
    found = await request.app[API].network.get_security_group(
        context_of(request), request.match_info["group_id"]
    )
    return shown(request, "security_group", security_group_view(found))


@routes.post(PREFIX + "/security-groups")
async def create_security_group(request: web.Request) -> web.Response:
    """Create a group (it starts with Neutron's two egress rules); 201."""
    (body,), _ = await resource_bodies(request, "security_group", "security_group")
    made = await request.app[API].network.create_security_group(context_of(request), body)
    return json({"security_group": security_group_view(made)}, status=201)


@routes.put(PREFIX + "/security-groups/{group_id}")
async def update_security_group(request: web.Request) -> web.Response:
    """Rename or describe a group (the default group keeps its name: 409)."""
    (changes,), _ = await resource_bodies(request, "security_group", "security_group")
    found = await request.app[API].network.update_security_group(
        context_of(request), request.match_info["group_id"], changes
    )
    return json({"security_group": security_group_view(found)})


@routes.delete(PREFIX + "/security-groups/{group_id}")
async def delete_security_group(request: web.Request) -> web.Response:
    """Delete a group no port uses, and its rules; 204 (409: in use, or the default)."""
    await request.app[API].network.delete_security_group(
        context_of(request), request.match_info["group_id"]
    )
    return web.Response(status=204)


# -- rules ----------------------------------------------------------------------------------


@routes.get(PREFIX + "/security-group-rules")
async def list_security_group_rules(request: web.Request) -> web.Response:
    """The rules of the caller's project's groups."""
    found = await request.app[API].network.list_security_group_rules(context_of(request))
    return listing(request, "security_group_rules", map(rule_view, found))


@routes.get(PREFIX + "/security-group-rules/{rule_id}")
async def show_security_group_rule(request: web.Request) -> web.Response:
    """One rule."""
    found = await request.app[API].network.get_security_group_rule(
        context_of(request), request.match_info["rule_id"]
    )
    return shown(request, "security_group_rule", rule_view(found))


@routes.post(PREFIX + "/security-group-rules")
async def create_security_group_rule(request: web.Request) -> web.Response:
    """Add a rule (or several, all or none) to a group; 201 (409: a duplicate)."""
    bodies, bulk = await resource_bodies(request, "security_group_rule", "security_group_rules")
    made = await request.app[API].network.create_security_group_rules(context_of(request), bodies)
    views = [rule_view(rule) for rule in made]
    return created("security_group_rule", "security_group_rules", views, bulk)


@routes.delete(PREFIX + "/security-group-rules/{rule_id}")
async def delete_security_group_rule(request: web.Request) -> web.Response:
    """Delete a rule; 204."""
    await request.app[API].network.delete_security_group_rule(
        context_of(request), request.match_info["rule_id"]
    )
    return web.Response(status=204)
