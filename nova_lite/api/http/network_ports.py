"""Networking API v2.0: ports (CRUD, bulk create), with Neutron's ``fixed_ips`` filter.

``GET /ports?fixed_ips=ip_address=10.0.0.5`` (or ``subnet_id=...``, or, with the
``ip-substring-filtering`` extension, ``ip_address_substr=10.0``) keeps the ports
with a fixed IP matching every condition of one of the values given.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, context_of, json
from nova_lite.api.http.network_common import PREFIX, created, listing, resource_bodies, shown
from nova_lite.api.http.network_views import port_view
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()
FIXED_IP_KEYS = ("ip_address", "subnet_id", "ip_address_substr")


def _fixed_ip_condition(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or key not in FIXED_IP_KEYS:
        raise Invalid(
            f"Invalid fixed_ips filter {text!r}: use ip_address=, subnet_id= or ip_address_substr=."
        )
    return key, value


def _has_fixed_ip(port: dict[str, Any], wanted: list[str]) -> bool:
    """Whether one of the port's fixed IPs meets every ``fixed_ips`` condition."""
    conditions = [_fixed_ip_condition(text) for text in wanted]

    def meets(ip: dict[str, str]) -> bool:
        return all(
            value in ip["ip_address"] if key == "ip_address_substr" else ip.get(key) == value
            for key, value in conditions
        )

    return any(meets(ip) for ip in port["fixed_ips"])


@routes.get(PREFIX + "/ports")
async def list_ports(request: web.Request) -> web.Response:
    """The caller's ports; any attribute filters (``device_id``, ``fixed_ips``, ...)."""
    found = await request.app[API].network.all_ports(
        context_of(request),
        device_id=request.query.get("device_id"),
        network_id=request.query.get("network_id"),
    )
    return listing(request, "ports", map(port_view, found), {"fixed_ips": _has_fixed_ip})


@routes.get(PREFIX + "/ports/{port_id}")
async def show_port(request: web.Request) -> web.Response:
    """One port."""
    found = await request.app[API].network.get_port(
        context_of(request), request.match_info["port_id"]
    )
    return shown(request, "port", port_view(found))


@routes.post(PREFIX + "/ports")
async def create_port(request: web.Request) -> web.Response:
    """Create a port (fixed IPs, MAC, security groups, binding ...), or several; 201."""
    bodies, bulk = await resource_bodies(request, "port", "ports")
    made = await request.app[API].network.create_ports(context_of(request), bodies)
    return created("port", "ports", [port_view(p) for p in made], bulk)


@routes.put(PREFIX + "/ports/{port_id}")
async def update_port(request: web.Request) -> web.Response:
    """Change a port: name, state, fixed IPs, security groups, binding, pairs, options."""
    (changes,), _ = await resource_bodies(request, "port", "port")
    found = await request.app[API].network.update_port(
        context_of(request), request.match_info["port_id"], changes
    )
    return json({"port": port_view(found)})


@routes.delete(PREFIX + "/ports/{port_id}")
async def delete_port(request: web.Request) -> web.Response:
    """Delete a port (not a router's or a floating IP's: 409); 204."""
    await request.app[API].network.delete_port(context_of(request), request.match_info["port_id"])
    return web.Response(status=204)
