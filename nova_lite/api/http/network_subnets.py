"""Networking API v2.0: subnets (CRUD, bulk create) and subnet pools (records)."""

from __future__ import annotations

from aiohttp import web

from nova_lite.api.http.common import API, context_of, json
from nova_lite.api.http.network_common import PREFIX, created, listing, resource_bodies, shown
from nova_lite.api.http.network_views import subnet_pool_view, subnet_view

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get(PREFIX + "/subnets")
async def list_subnets(request: web.Request) -> web.Response:
    """The subnets of the networks the caller can use."""
    found = await request.app[API].network.list_subnets(context_of(request))
    return listing(request, "subnets", map(subnet_view, found))


@routes.get(PREFIX + "/subnets/{subnet_id}")
async def show_subnet(request: web.Request) -> web.Response:
    """One subnet."""
    found = await request.app[API].network.get_subnet(
        context_of(request), request.match_info["subnet_id"]
    )
    return shown(request, "subnet", subnet_view(found))


@routes.post(PREFIX + "/subnets")
async def create_subnet(request: web.Request) -> web.Response:
    """Add a range (IPv4 or IPv6) to a network, or several in bulk (all or none); 201."""
    bodies, bulk = await resource_bodies(request, "subnet", "subnets")
    made = await request.app[API].network.create_subnets(context_of(request), bodies)
    return created("subnet", "subnets", [subnet_view(s) for s in made], bulk)


@routes.put(PREFIX + "/subnets/{subnet_id}")
async def update_subnet(request: web.Request) -> web.Response:
    """Change a subnet's name, gateway, pools, DNS servers, host routes or DHCP."""
    (changes,), _ = await resource_bodies(request, "subnet", "subnet")
    found = await request.app[API].network.update_subnet(
        context_of(request), request.match_info["subnet_id"], changes
    )
    return json({"subnet": subnet_view(found)})


@routes.delete(PREFIX + "/subnets/{subnet_id}")
async def delete_subnet(request: web.Request) -> web.Response:
    """Delete a subnet no port has an address of; 204 (409 while one has)."""
    await request.app[API].network.delete_subnet(
        context_of(request), request.match_info["subnet_id"]
    )
    return web.Response(status=204)


# -- subnet pools ---------------------------------------------------------------------------


@routes.get(PREFIX + "/subnetpools")
async def list_subnetpools(request: web.Request) -> web.Response:
    """The subnet pools the caller sees."""
    found = await request.app[API].network.list_subnetpools(context_of(request))
    return listing(request, "subnetpools", map(subnet_pool_view, found))


@routes.get(PREFIX + "/subnetpools/{subnetpool_id}")
async def show_subnetpool(request: web.Request) -> web.Response:
    """One subnet pool."""
    found = await request.app[API].network.get_subnetpool(
        context_of(request), request.match_info["subnetpool_id"]
    )
    return shown(request, "subnetpool", subnet_pool_view(found))


@routes.post(PREFIX + "/subnetpools")
async def create_subnetpool(request: web.Request) -> web.Response:
    """Create a subnet pool (its prefixes and prefix lengths); 201."""
    (body,), _ = await resource_bodies(request, "subnetpool", "subnetpool")
    made = await request.app[API].network.create_subnetpool(context_of(request), body)
    return json({"subnetpool": subnet_pool_view(made)}, status=201)


@routes.put(PREFIX + "/subnetpools/{subnetpool_id}")
async def update_subnetpool(request: web.Request) -> web.Response:
    """Change a subnet pool."""
    (changes,), _ = await resource_bodies(request, "subnetpool", "subnetpool")
    found = await request.app[API].network.update_subnetpool(
        context_of(request), request.match_info["subnetpool_id"], changes
    )
    return json({"subnetpool": subnet_pool_view(found)})


@routes.delete(PREFIX + "/subnetpools/{subnetpool_id}")
async def delete_subnetpool(request: web.Request) -> web.Response:
    """Delete a subnet pool; 204."""
    await request.app[API].network.delete_subnetpool(
        context_of(request), request.match_info["subnetpool_id"]
    )
    return web.Response(status=204)
