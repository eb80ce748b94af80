"""Nova's floating IPs: the proxy of Neutron's (below 2.36) and the server actions (below 2.44).

As Nova with Neutron: ``os-floating-ips`` takes an address from a pool (an external
network, by name or id; the ``public`` one by default) and shows it in Nova's format
(``ip``, ``pool``, ``fixed_ip``, ``instance_id``); ``os-floating-ip-pools`` lists the
external networks; ``addFloatingIp`` associates an address with a fixed IP of the
server's ports (the first, or ``fixed_address``), ``removeFloatingIp`` lets it go.
Nothing is translated (README: no NAT).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, body_of, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX, visible_instance
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, FloatingIpNotFound, Invalid, NotFound

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from nova_lite.api.http.server_actions import Call

__all__ = ["ACTIONS", "DEFAULT_POOL", "routes"]

routes = web.RouteTableDef()
RULE = "os_compute_api:os-floating-ips"
DEFAULT_POOL = "public"  # Nova's [neutron] default_floating_pool
PROXY_REMOVED, ACTIONS_REMOVED = "2.36", "2.44"


def _proxied(request: web.Request, removed: str = PROXY_REMOVED) -> RequestContext:
    if microversion_of(request).at_least(removed):
        raise NotFound("The resource could not be found.")
    return context_of(request)


async def _pools(request: web.Request) -> list[objects.Network]:
    found = await request.app[API].network.list_networks(context_of(request))
    return [network for network in found if network.external]


async def _view(request: web.Request, fip: objects.FloatingIp) -> dict[str, Any]:
    network = request.app[API].network
    ctx = context_of(request)
    pools = {pool.id: pool.name for pool in await _pools(request)}
    instance = None
    if fip.port_id is not None:
        instance = (await network.get_port(ctx, fip.port_id)).device_id or None
    return {
        "id": fip.id,
        "ip": fip.floating_ip_address,
        "pool": pools.get(fip.floating_network_id, fip.floating_network_id),
        "fixed_ip": fip.fixed_ip_address,
        "instance_id": instance,
    }


def _fip_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"Floating IP {value} could not be found.") from None


@routes.get(PREFIX + "/os-floating-ip-pools")
async def list_floating_ip_pools(request: web.Request) -> web.Response:
    """The pools floating IPs come from: the external networks."""
    ctx = _proxied(request)
    request.app[API].authorize(ctx, "os_compute_api:os-floating-ip-pools:list", ctx.project_id)
    return json({"floating_ip_pools": [{"name": pool.name} for pool in await _pools(request)]})


@routes.get(PREFIX + "/os-floating-ips")
async def list_floating_ips(request: web.Request) -> web.Response:
    """The project's floating IPs."""
    ctx = _proxied(request)
    request.app[API].authorize(ctx, f"{RULE}:list", ctx.project_id)
    found = await request.app[API].network.list_floatingips(ctx)
    mine = [fip for fip in found if fip.project_id == ctx.project_id]
    return json({"floating_ips": [await _view(request, fip) for fip in mine]})


@routes.get(PREFIX + "/os-floating-ips/{fip_id}")
async def show_floating_ip(request: web.Request) -> web.Response:
    """One floating IP."""
    ctx = _proxied(request)
    fip = await request.app[API].network.get_floatingip(ctx, _fip_id(request.match_info["fip_id"]))
    request.app[API].authorize(ctx, f"{RULE}:show", fip.project_id)
    return json({"floating_ip": await _view(request, fip)})


@routes.post(PREFIX + "/os-floating-ips")
async def create_floating_ip(request: web.Request) -> web.Response:
    """Take an address from a pool (``{"pool": name or id}``, or the default); 200."""
    ctx = _proxied(request)
    request.app[API].authorize(ctx, f"{RULE}:create", ctx.project_id)
    body = await body_of(request) if request.body_exists else None
    wanted = (body or {}).get("pool") or DEFAULT_POOL  # the schema allows an object or null
    pool = next((p for p in await _pools(request) if wanted in (p.id, p.name)), None)
    if pool is None:
        raise NotFound(f"Floating IP pool not found: {wanted}.")
    fip = await request.app[API].network.create_floatingip(ctx, {"floating_network_id": pool.id})
    return json({"floating_ip": await _view(request, fip)})


@routes.delete(PREFIX + "/os-floating-ips/{fip_id}")
async def delete_floating_ip(request: web.Request) -> web.Response:
    """Give a floating IP back; 202."""
    ctx = _proxied(request)
    fip_id = _fip_id(request.match_info["fip_id"])
    network = request.app[API].network
    fip = await network.get_floatingip(ctx, fip_id)
    request.app[API].authorize(ctx, f"{RULE}:delete", fip.project_id)
    await network.delete_floatingip(ctx, fip_id)
    return web.Response(status=202)


# -- the server actions ---------------------------------------------------------------------


def _address(call: Call, action: str, *, allowed: tuple[str, ...] = ()) -> dict[str, Any]:
    args = call.arguments(action, allowed=allowed, required=("address",))
    for field in ("address", *allowed):
        if field in args:
            try:
                ipaddress.ip_address(str(args[field]))
            except ValueError:
                raise Invalid(
                    f"Invalid input for field/attribute {field}: {args[field]!r}."
                ) from None
    return args


async def _by_address(request: web.Request, address: str) -> objects.FloatingIp:
    found = await request.app[API].network.list_floatingips(context_of(request))
    fip = next((f for f in found if f.floating_ip_address == address), None)
    if fip is None:
        raise FloatingIpNotFound(f"Floating IP not found for address {address}.")
    return fip


async def _add_floating_ip(call: Call) -> web.Response:
    _proxied(call.request, ACTIONS_REMOVED)
    args = _address(call, "addFloatingIp", allowed=("fixed_address",))
    instance = await visible_instance(call.request, call.server_id)
    ctx = context_of(call.request)
    call.request.app[API].authorize(ctx, f"{RULE}:add", instance.project_id)
    fip = await _by_address(call.request, str(args["address"]))
    network = call.request.app[API].network
    fixed = args.get("fixed_address")
    ports = [
        port
        for port in await network.list_ports(ctx, device_id=instance.uuid)
        if port.fixed_ips
        and (fixed is None or fixed in {ip["ip_address"] for ip in port.fixed_ips})
    ]
    if not ports:
        what = f"fixed IP {fixed}" if fixed else "fixed IP"
        raise Invalid(f"No {what} on a port of instance {instance.uuid}.")
    changes = {"port_id": ports[0].id, "fixed_ip_address": fixed}
    try:
        await network.update_floatingip(ctx, fip.id, changes)
    except Conflict as exc:
        raise Invalid(str(exc)) from None
    return web.Response(status=202)


async def _remove_floating_ip(call: Call) -> web.Response:
    _proxied(call.request, ACTIONS_REMOVED)
    args = _address(call, "removeFloatingIp")
    instance = await visible_instance(call.request, call.server_id)
    ctx = context_of(call.request)
    call.request.app[API].authorize(ctx, f"{RULE}:remove", instance.project_id)
    fip = await _by_address(call.request, str(args["address"]))
    network = call.request.app[API].network
    port = None if fip.port_id is None else await network.get_port(ctx, fip.port_id)
    if port is None or port.device_id != instance.uuid:
        raise Conflict(
            f"Floating IP {fip.floating_ip_address} is not associated with instance "
            f"{instance.uuid}."
        )
    await network.update_floatingip(ctx, fip.id, {"port_id": None})
    return web.Response(status=202)


#: The server actions of this module (``server_actions`` runs them).
ACTIONS: dict[str, Callable[[Call], Awaitable[web.Response]]] = {
    "addFloatingIp": _add_floating_ip,
    "removeFloatingIp": _remove_floating_ip,
}
