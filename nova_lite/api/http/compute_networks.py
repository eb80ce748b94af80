"""Nova's os-networks and os-tenant-networks: its views of Neutron's networks (below 2.36).

As Nova with Neutron, these only show networks: ``label`` is the network's name and
``cidr`` its first subnet's; from microversion 2.36 both answer 404 (Nova's proxy
APIs are gone there). Creating or deleting networks through them is not served
(Nova with Neutron refuses it too).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX
from nova_lite.context import RequestContext
from nova_lite.exceptions import NetworkNotFound, NotFound

__all__ = ["routes"]

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


def _first(subnets: list[objects.Subnet], version: int) -> objects.Subnet | None:
    return next((s for s in subnets if s.ip_version == version), None)


def tenant_view(network: objects.Network, subnets: list[objects.Subnet]) -> dict[str, Any]:
    """A network as os-tenant-networks shows it: id, label, CIDR."""
    v4 = _first(subnets, 4)
    return {"id": network.id, "label": network.name, "cidr": v4.cidr if v4 else None}


def network_view(network: objects.Network, subnets: list[objects.Subnet]) -> dict[str, Any]:
    """A network as os-networks shows it (Nova's nova-network fields, from Neutron's)."""
    v4, v6 = _first(subnets, 4), _first(subnets, 6)
    dns = list(v4.dns_nameservers) if v4 else []
    return {
        **tenant_view(network, subnets),
        "cidr_v6": v6.cidr if v6 else None,
        "gateway": v4.gateway_ip if v4 else None,
        "gateway_v6": v6.gateway_ip if v6 else None,
        "netmask": str(ipaddress.ip_network(v4.cidr).netmask) if v4 else None,
        "dns1": dns[0] if dns else None,
        "dns2": dns[1] if len(dns) > 1 else None,
        "enable_dhcp": v4.enable_dhcp if v4 else None,
        "mtu": network.mtu,
        "project_id": network.project_id,
        "share_address": network.shared,
    }


async def _find(request: web.Request, ctx: RequestContext) -> objects.Network:
    network_id = request.match_info["network_id"]
    try:
        return await request.app[API].network.get_network(ctx, network_id)
    except NetworkNotFound:
        raise NotFound(f"Network {network_id} could not be found.") from None


@routes.get(PREFIX + "/os-networks")
async def list_compute_networks(request: web.Request) -> web.Response:
    """The networks the caller sees, in Nova's network format."""
    ctx = _proxied(request, "os_compute_api:os-networks:list")
    subnets = await _subnets(request)
    found = await request.app[API].network.list_networks(ctx)
    return json({"networks": [network_view(n, subnets.get(n.id, [])) for n in found]})


@routes.get(PREFIX + "/os-networks/{network_id}")
async def show_compute_network(request: web.Request) -> web.Response:
    """One network, in Nova's network format."""
    ctx = _proxied(request, "os_compute_api:os-networks:view")
    network = await _find(request, ctx)
    return json({"network": network_view(network, (await _subnets(request)).get(network.id, []))})


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
    network = await _find(request, ctx)
    return json({"network": tenant_view(network, (await _subnets(request)).get(network.id, []))})
