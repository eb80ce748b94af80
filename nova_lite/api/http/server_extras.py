"""A server's addresses (``/servers/{id}/ips``) and its password (``os-server-password``).

``/ips`` lists the fixed addresses by network name, ``/ips/{network}`` those on one
network (404 if the server has none there), as Nova's ips view: address and IP
version only. ``os-server-password`` shows the encrypted password a guest posted to
the metadata service (empty until one does: nova_lite serves no metadata service,
so it stays empty unless an operator sets it) and clears it.
"""

from __future__ import annotations

from aiohttp import web

from nova_lite.api.http.common import API, context_of, json, session_of
from nova_lite.api.http.compute import PREFIX, server_view, visible_instance
from nova_lite.exceptions import NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
SERVER = PREFIX + "/servers/{server_id}"


async def _addresses(request: web.Request, rule: str) -> dict[str, list[dict[str, object]]]:
    instance = await visible_instance(request, request.match_info["server_id"])
    request.app[API].authorize(context_of(request), rule, instance.project_id)
    return (await server_view(request)).addresses(instance, extended=False)


@routes.get(SERVER + "/ips")
async def list_ips(request: web.Request) -> web.Response:
    """The server's addresses by network."""
    return json({"addresses": await _addresses(request, "os_compute_api:ips:index")})


@routes.get(SERVER + "/ips/{network}")
async def show_ips(request: web.Request) -> web.Response:
    """The server's addresses on one network (by its name)."""
    network = request.match_info["network"]
    addresses = await _addresses(request, "os_compute_api:ips:show")
    if network not in addresses:
        raise NotFound("Instance is not a member of specified network")
    return json({network: addresses[network]})


@routes.get(SERVER + "/os-server-password")
async def show_password(request: web.Request) -> web.Response:
    """The encrypted password the guest posted ("" if none)."""
    password = await session_of(request).servers.password(request.match_info["server_id"])
    return json({"password": password})


@routes.delete(SERVER + "/os-server-password")
async def clear_password(request: web.Request) -> web.Response:
    """Forget the server's password; 204."""
    await session_of(request).servers.clear_password(request.match_info["server_id"])
    return web.Response(status=204)
