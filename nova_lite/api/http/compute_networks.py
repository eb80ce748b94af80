"""Compute API: ``os-networks``, Nova's deprecated proxy to the network service (below 2.36).

Nova answers it from Neutron: the networks the caller sees, by id and ``label`` (the
network's name), with the nova-network fields it no longer has left null. From 2.36
it is gone (404), as in Nova; use the network API.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX
from nova_lite.exceptions import NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
NETWORKS = PREFIX + "/os-networks"
# nova-network's fields, which a Neutron network does not have.
_NOVA_NETWORK_FIELDS = (
    "bridge", "bridge_interface", "broadcast", "cidr", "cidr_v6", "created_at", "deleted",
    "deleted_at", "dhcp_server", "dhcp_start", "dns1", "dns2", "enable_dhcp", "gateway",
    "gateway_v6", "host", "injected", "mtu", "multi_host", "netmask", "netmask_v6",
    "priority", "project_id", "rxtx_base", "share_address", "updated_at", "vlan",
    "vpn_private_address", "vpn_public_address", "vpn_public_port",
)  # fmt: skip


def _view(network: objects.Network) -> dict[str, Any]:
    return {"id": network.id, "label": network.name, **dict.fromkeys(_NOVA_NETWORK_FIELDS)}


def _authorize(request: web.Request, rule: str) -> None:
    if microversion_of(request).at_least("2.36"):
        raise NotFound("os-networks was removed in microversion 2.36; use the network API.")
    ctx = context_of(request)
    request.app[API].authorize(ctx, f"os_compute_api:os-networks:{rule}", ctx.project_id)


@routes.get(NETWORKS)
async def list_compute_networks(request: web.Request) -> web.Response:
    """The networks the caller sees, as nova-network showed them (below 2.36)."""
    _authorize(request, "list")
    networks = await request.app[API].network.list_networks(context_of(request))
    return json({"networks": [_view(n) for n in networks]})


@routes.get(NETWORKS + "/{network_id}")
async def show_compute_network(request: web.Request) -> web.Response:
    """One network the caller sees (below 2.36)."""
    _authorize(request, "show")
    ctx, network_id = context_of(request), request.match_info["network_id"]
    return json({"network": _view(await request.app[API].network.get_network(ctx, network_id))})
