"""Nova's os-tenant-networks: the networks a project may use, from Neutron (below 2.36).

As Nova with Neutron, it only shows networks: ``label`` is the network's name and
``cidr`` its first IPv4 subnet's; from microversion 2.36 it answers 404 (Nova's proxy
APIs are gone there). Creating or deleting networks through it is not served (Nova
with Neutron refuses it too). ``os-networks``, the administrators' view, is
``compute_networks``'s.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX
from nova_lite.context import RequestContext
from nova_lite.exceptions import NetworkNotFound, NotFound

__all__ = ["routes", "tenant_view"]

routes = web.RouteTableDef()
PROXY_REMOVED = "2.36"


def _proxied(request: web.Request, rule: str) -> RequestContext:
    if microversion_of(request).at_least(PROXY_REMOVED):
        raise NotFound("The resource could not be found.")
    ctx = context_of(request)
    request.app[API].authorize(ctx, rule, ctx.project_id)
    return ctx


async def _subnets(request: web.Request) -> dict[str, list[objects.Subnet]]:
    found: dict[str, list[objects.Subnet]] = {}
    for subnet in await request.app[API].network.list_subnets(context_of(request)):
        found.setdefault(subnet.network_id, []).append(subnet)
    return found


def tenant_view(network: objects.Network, subnets: list[objects.Subnet]) -> dict[str, Any]:
    """A network as os-tenant-networks shows it: id, label, CIDR."""
    v4 = next((s for s in subnets if s.ip_version == 4), None)
    return {"id": network.id, "label": network.name, "cidr": v4.cidr if v4 else None}


@routes.get(PREFIX + "/os-tenant-networks")
async def list_tenant_networks(request: web.Request) -> web.Response:
    """The networks the project may use: id, label and CIDR."""
    ctx = _proxied(request, "os_compute_api:os-tenant-networks:list")
    subnets = await _subnets(request)
    found = await request.app[API].network.list_networks(ctx)
    return json({"networks": [tenant_view(n, subnets.get(n.id, [])) for n in found]})


@routes.get(PREFIX + "/os-tenant-networks/{network_id}")
async def show_tenant_network(request: web.Request) -> web.Response:
    """One network the project may use."""
    ctx = _proxied(request, "os_compute_api:os-tenant-networks:show")
    network_id = request.match_info["network_id"]
    try:
        network = await request.app[API].network.get_network(ctx, network_id)
    except NetworkNotFound:
        raise NotFound(f"Network {network_id} could not be found.") from None
    return json({"network": tenant_view(network, (await _subnets(request)).get(network.id, []))})
