"""Networking API v2.0 (Neutron) subset: networks, subnets and ports.

Networks can be listed, shown, created and deleted; subnets listed, shown and
created; ports (made by the compute service for its servers) listed and shown. List
queries filter on any field they name (``?name=private``), as Neutron's do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import (
    API,
    base_url,
    body_of,
    check_fields,
    context_of,
    json,
    public,
)
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
PREFIX = "/network/v2.0"


@routes.get("/network")
@routes.get("/network/")
@public
async def versions(request: web.Request) -> web.Response:
    """The networking API versions served (v2.0)."""
    href = f"{base_url(request)}{PREFIX}/"
    return json(
        {
            "versions": [
                {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}
            ]
        }
    )


@routes.get(PREFIX + "/extensions")
async def extensions(request: web.Request) -> web.Response:
    """The API extensions served (none)."""
    return json({"extensions": []})


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _filtered(request: web.Request, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items whose fields equal every query parameter that names a field."""
    wanted = {k: set(request.query.getall(k)) for k in request.query}
    return [
        item
        for item in items
        if all(k not in item or _text(item[k]) in values for k, values in wanted.items())
    ]


# -- networks -------------------------------------------------------------------------------


def network_view(network: objects.Network) -> dict[str, Any]:
    """A network as Neutron shows it."""
    return {
        "id": network.id,
        "name": network.name,
        "status": "ACTIVE",
        "admin_state_up": True,
        "shared": network.shared,
        "subnets": list(network.subnets),
        "project_id": network.project_id,
        "tenant_id": network.project_id,
        "mtu": 1450,
        "router:external": False,
        "port_security_enabled": True,
        "availability_zones": ["nova"],
        "description": "",
        "tags": [],
    }


@routes.get(PREFIX + "/networks")
async def list_networks(request: web.Request) -> web.Response:
    """The networks the caller can use."""
    found = await request.app[API].network.list_networks(context_of(request))
    return json({"networks": _filtered(request, map(network_view, found))})


@routes.get(PREFIX + "/networks/{network_id}")
async def show_network(request: web.Request) -> web.Response:
    """One network."""
    found = await request.app[API].network.get_network(
        context_of(request), request.match_info["network_id"]
    )
    return json({"network": network_view(found)})


@routes.post(PREFIX + "/networks")
async def create_network(request: web.Request) -> web.Response:
    """Create a network (shared ones: administrators); 201."""
    body = await body_of(request, "network")
    check_fields(
        body,
        allowed=("name", "shared", "admin_state_up", "description", "project_id", "tenant_id"),
        where="network",
    )
    shared = body.get("shared", False)
    if not isinstance(shared, bool):
        raise Invalid(f"Invalid input for shared. Reason: {shared!r} is not a boolean.")
    created = await request.app[API].network.create_network(
        context_of(request), body.get("name", ""), shared=shared
    )
    return json({"network": network_view(created)}, status=201)


@routes.delete(PREFIX + "/networks/{network_id}")
async def delete_network(request: web.Request) -> web.Response:
    """Delete a network without ports; 204."""
    await request.app[API].network.delete_network(
        context_of(request), request.match_info["network_id"]
    )
    return web.Response(status=204)


# -- subnets --------------------------------------------------------------------------------


def subnet_view(subnet: objects.Subnet, project_id: str | None) -> dict[str, Any]:
    """A subnet as Neutron shows it."""
    return {
        "id": subnet.id,
        "name": "",
        "network_id": subnet.network_id,
        "cidr": subnet.cidr,
        "ip_version": subnet.ip_version,
        "gateway_ip": subnet.gateway_ip,
        "allocation_pools": [{"start": subnet.pool_start, "end": subnet.pool_end}],
        "enable_dhcp": True,
        "dns_nameservers": [],
        "host_routes": [],
        "project_id": project_id,
        "tenant_id": project_id,
        "description": "",
        "tags": [],
    }


async def _subnets(request: web.Request) -> list[dict[str, Any]]:
    api, ctx = request.app[API], context_of(request)
    views = []
    for network in await api.network.list_networks(ctx):
        for subnet in await api.network.list_subnets(ctx, network.id):
            views.append(subnet_view(subnet, network.project_id))
    return views


@routes.get(PREFIX + "/subnets")
async def list_subnets(request: web.Request) -> web.Response:
    """The subnets of the networks the caller can use."""
    return json({"subnets": _filtered(request, await _subnets(request))})


@routes.get(PREFIX + "/subnets/{subnet_id}")
async def show_subnet(request: web.Request) -> web.Response:
    """One subnet."""
    subnet_id = request.match_info["subnet_id"]
    found = next((s for s in await _subnets(request) if s["id"] == subnet_id), None)
    if found is None:
        raise NotFound(f"Subnet {subnet_id} could not be found.")
    return json({"subnet": found})


def _pool(body: dict[str, Any]) -> tuple[str | None, str | None]:
    pools = body.get("allocation_pools")
    if pools is None:
        return None, None
    if not isinstance(pools, list) or len(pools) != 1 or not isinstance(pools[0], dict):
        raise Invalid("allocation_pools must be a list of one {'start': ..., 'end': ...}.")
    return pools[0].get("start"), pools[0].get("end")


@routes.post(PREFIX + "/subnets")
async def create_subnet(request: web.Request) -> web.Response:
    """Add an IPv4 range to a network; 201."""
    body = await body_of(request, "subnet")
    check_fields(
        body,
        allowed=(
            "ip_version",
            "gateway_ip",
            "allocation_pools",
            "name",
            "enable_dhcp",
            "description",
            "project_id",
            "tenant_id",
        ),
        required=("network_id", "cidr"),
        where="subnet",
    )
    if body.get("ip_version", 4) != 4:
        raise Invalid(f"Invalid input for ip_version: {body['ip_version']!r}; only 4 is served.")
    start, end = _pool(body)
    api, ctx = request.app[API], context_of(request)
    subnet = await api.network.create_subnet(
        ctx,
        body["network_id"],
        body["cidr"],
        gateway_ip=body.get("gateway_ip"),
        pool_start=start,
        pool_end=end,
    )
    network = await api.network.get_network(ctx, subnet.network_id)
    return json({"subnet": subnet_view(subnet, network.project_id)}, status=201)


# -- ports ----------------------------------------------------------------------------------


def port_view(port: objects.Port) -> dict[str, Any]:
    """A port as Neutron shows it."""
    return {
        "id": port.id,
        "name": "",
        "network_id": port.network_id,
        "mac_address": port.mac_address,
        "fixed_ips": [dict(ip) for ip in port.fixed_ips],
        "device_id": port.device_id or "",
        "device_owner": "compute:nova" if port.device_id else "",
        "status": port.status,
        "admin_state_up": True,
        "project_id": port.project_id,
        "tenant_id": port.project_id,
        "binding:host_id": port.binding_host or "",
        "binding:vif_type": "ovs" if port.binding_host else "unbound",
        "binding:vnic_type": "normal",
        "security_groups": [],
        "description": "",
        "tags": [],
    }


@routes.get(PREFIX + "/ports")
async def list_ports(request: web.Request) -> web.Response:
    """The caller's ports; ``device_id`` and ``network_id`` (and any field) filter."""
    found = await request.app[API].network.list_ports(
        context_of(request),
        device_id=request.query.get("device_id"),
        network_id=request.query.get("network_id"),
    )
    return json({"ports": _filtered(request, map(port_view, found))})


@routes.get(PREFIX + "/ports/{port_id}")
async def show_port(request: web.Request) -> web.Response:
    """One port."""
    found = await request.app[API].network.get_port(
        context_of(request), request.match_info["port_id"]
    )
    return json({"port": port_view(found)})
