"""Networking API v2.0: routers (with interfaces) and floating IPs, kept as records.

Nothing is routed or translated (README, "The HTTP API"): a router and a floating
IP are what Neutron's API shows of them, with Neutron's checks.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, check_fields, context_of, json
from nova_lite.api.http.network_common import PREFIX, listing, resource_bodies, shown
from nova_lite.api.http.network_views import floating_ip_view, router_view
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get(PREFIX + "/routers")
async def list_routers(request: web.Request) -> web.Response:
    """The caller's project's routers."""
    found = await request.app[API].network.list_routers(context_of(request))
    return listing(request, "routers", map(router_view, found))


@routes.get(PREFIX + "/routers/{router_id}")
async def show_router(request: web.Request) -> web.Response:
    """One router."""
    found = await request.app[API].network.get_router(
        context_of(request), request.match_info["router_id"]
    )
    return shown(request, "router", router_view(found))


@routes.post(PREFIX + "/routers")
async def create_router(request: web.Request) -> web.Response:
    """Create a router (with a gateway on an external network, if one is named); 201."""
    (body,), _ = await resource_bodies(request, "router", "router")
    made = await request.app[API].network.create_router(context_of(request), body)
    return json({"router": router_view(made)}, status=201)


@routes.put(PREFIX + "/routers/{router_id}")
async def update_router(request: web.Request) -> web.Response:
    """Change a router: name, state, gateway (``{}`` clears it), extra routes."""
    (changes,), _ = await resource_bodies(request, "router", "router")
    found = await request.app[API].network.update_router(
        context_of(request), request.match_info["router_id"], changes
    )
    return json({"router": router_view(found)})


@routes.delete(PREFIX + "/routers/{router_id}")
async def delete_router(request: web.Request) -> web.Response:
    """Delete a router without interfaces or floating IPs; 204 (409 otherwise)."""
    await request.app[API].network.delete_router(
        context_of(request), request.match_info["router_id"]
    )
    return web.Response(status=204)


async def _interface_body(request: web.Request) -> dict[str, Any]:
    body = await body_of(request)
    if not isinstance(body, dict):
        raise Invalid("The request body must be an object with 'subnet_id' or 'port_id'.")
    check_fields(body, allowed=("subnet_id", "port_id"))
    return body


@routes.put(PREFIX + "/routers/{router_id}/add_router_interface")
async def add_router_interface(request: web.Request) -> web.Response:
    """Attach a subnet (a port on its gateway address) or a free port; the interface."""
    body = await _interface_body(request)
    found = await request.app[API].network.add_router_interface(
        context_of(request),
        request.match_info["router_id"],
        subnet_id=body.get("subnet_id"),
        port_id=body.get("port_id"),
    )
    return json(found)


@routes.put(PREFIX + "/routers/{router_id}/remove_router_interface")
async def remove_router_interface(request: web.Request) -> web.Response:
    """Detach an interface, by subnet or port (its port is deleted); the interface."""
    body = await _interface_body(request)
    found = await request.app[API].network.remove_router_interface(
        context_of(request),
        request.match_info["router_id"],
        subnet_id=body.get("subnet_id"),
        port_id=body.get("port_id"),
    )
    return json(found)


# -- floating IPs ---------------------------------------------------------------------------


@routes.get(PREFIX + "/floatingips")
async def list_floatingips(request: web.Request) -> web.Response:
    """The caller's project's floating IPs; any attribute filters."""
    found = await request.app[API].network.list_floatingips(context_of(request))
    return listing(request, "floatingips", map(floating_ip_view, found))


@routes.get(PREFIX + "/floatingips/{floatingip_id}")
async def show_floatingip(request: web.Request) -> web.Response:
    """One floating IP."""
    found = await request.app[API].network.get_floatingip(
        context_of(request), request.match_info["floatingip_id"]
    )
    return shown(request, "floatingip", floating_ip_view(found))


@routes.post(PREFIX + "/floatingips")
async def create_floatingip(request: web.Request) -> web.Response:
    """Take an address of an external network (associated, if a port is named); 201."""
    (body,), _ = await resource_bodies(request, "floatingip", "floatingip")
    made = await request.app[API].network.create_floatingip(context_of(request), body)
    return json({"floatingip": floating_ip_view(made)}, status=201)


@routes.put(PREFIX + "/floatingips/{floatingip_id}")
async def update_floatingip(request: web.Request) -> web.Response:
    """Associate with a port, let go (``port_id: null``), or describe."""
    (changes,), _ = await resource_bodies(request, "floatingip", "floatingip")
    found = await request.app[API].network.update_floatingip(
        context_of(request), request.match_info["floatingip_id"], changes
    )
    return json({"floatingip": floating_ip_view(found)})


@routes.delete(PREFIX + "/floatingips/{floatingip_id}")
async def delete_floatingip(request: web.Request) -> web.Response:
    """Give a floating IP back; 204."""
    await request.app[API].network.delete_floatingip(
        context_of(request), request.match_info["floatingip_id"]
    )
    return web.Response(status=204)
