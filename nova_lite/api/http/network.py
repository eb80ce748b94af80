"""Networking API v2.0 (Neutron): version documents, extensions, agents and networks.

The other resources have modules of their own (``network_subnets``, ``network_ports``,
``network_security_groups``, ``network_routers``); their shared conventions (bulk
bodies, list filters, ``fields=``, paging) are in ``network_common``, their views in
``network_views``. `EXTENSIONS` is what ``/extensions`` advertises, which is what
clients (and Tempest) read to decide what to use: every alias in it is served.
"""

from __future__ import annotations

from aiohttp import web

from nova_lite.api.http.common import API, base_url, context_of, json, public
from nova_lite.api.http.network_common import PREFIX, created, listing, resource_bodies, shown
from nova_lite.api.http.network_views import network_view
from nova_lite.exceptions import NotFound

__all__ = ["EXTENSIONS", "routes"]

routes = web.RouteTableDef()

#: Each advertised extension: alias -> (name, description).
EXTENSIONS: dict[str, tuple[str, str]] = {
    "allowed-address-pairs": ("Allowed Address Pairs", "Addresses a port may also use."),
    "binding": ("Port Binding", "The host a port is bound to, its VIF and VNIC types."),
    "external-net": ("Neutron external network", "router:external on networks."),
    "ext-gw-mode": ("Neutron L3 Configurable external gateway mode", "enable_snat on gateways."),
    "extra_dhcp_opt": ("Neutron Extra DHCP options", "Extra DHCP options of a port."),
    "extraroute": ("Neutron Extra Route", "Extra routes of a router."),
    "ip-substring-filtering": ("IP address substring filtering", "fixed_ips=ip_address_substr=."),
    "net-mtu": ("Network MTU", "The MTU of a network."),
    "port-security": ("Port Security", "port_security_enabled on networks and ports."),
    "project-id": ("project_id field enabled", "project_id beside tenant_id."),
    "router": ("Neutron L3 Router", "Routers and floating IPs (records: nothing is routed)."),
    "security-group": ("security-group", "Security groups and their rules."),
    "standard-attr-description": ("standard-attr-description", "description on resources."),
    "standard-attr-revisions": ("Resource revision numbers", "revision_number on resources."),
    "standard-attr-timestamp": ("Resource timestamps", "created_at and updated_at."),
    "subnet-external-network": ("Subnet External Network", "Subnets of external networks."),
    "subnet_allocation": ("Subnet Allocation", "Subnet pools (records)."),
}
RESOURCES = ("network", "subnet", "port", "subnetpool", "security_group", "router", "floatingip")


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


@routes.get(PREFIX + "/")
async def version(request: web.Request) -> web.Response:
    """The v2.0 document: the resource collections it serves."""
    base = f"{base_url(request)}{PREFIX}"
    return json(
        {
            "resources": [
                {
                    "name": name,
                    "collection": f"{name}s",
                    "links": [{"rel": "self", "href": f"{base}/{name.replace('_', '-')}s"}],
                }
                for name in RESOURCES
            ]
        }
    )


def _extension(alias: str) -> dict[str, object]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2026-12-01T00:00:00-00:00",
        "links": [],
    }


@routes.get(PREFIX + "/extensions")
async def extensions(request: web.Request) -> web.Response:
    """The API extensions served."""
    return json({"extensions": [_extension(alias) for alias in sorted(EXTENSIONS)]})


@routes.get(PREFIX + "/extensions/{alias}")
async def show_extension(request: web.Request) -> web.Response:
    """One served extension (404 for any other alias)."""
    alias = request.match_info["alias"]
    if alias not in EXTENSIONS:
        raise NotFound(f"Extension with alias {alias} does not exist")
    return json({"extension": _extension(alias)})


@routes.get(PREFIX + "/agents")
async def list_agents(request: web.Request) -> web.Response:
    """Neutron's agents: none (the network service is one process, without agents)."""
    return json({"agents": []})


# -- networks -------------------------------------------------------------------------------


@routes.get(PREFIX + "/networks")
async def list_networks(request: web.Request) -> web.Response:
    """The networks the caller can use; any attribute filters, ``fields`` picks."""
    found = await request.app[API].network.list_networks(context_of(request))
    return listing(request, "networks", map(network_view, found))


@routes.get(PREFIX + "/networks/{network_id}")
async def show_network(request: web.Request) -> web.Response:
    """One network."""
    found = await request.app[API].network.get_network(
        context_of(request), request.match_info["network_id"]
    )
    return shown(request, "network", network_view(found))


@routes.post(PREFIX + "/networks")
async def create_network(request: web.Request) -> web.Response:
    """Create a network, or several (``{"networks": [...]}``, all or none); 201."""
    bodies, bulk = await resource_bodies(request, "network", "networks")
    made = await request.app[API].network.create_networks(context_of(request), bodies)
    return created("network", "networks", [network_view(n) for n in made], bulk)


@routes.put(PREFIX + "/networks/{network_id}")
async def update_network(request: web.Request) -> web.Response:
    """Change a network's name, description, states, MTU, sharing or external flag."""
    (changes,), _ = await resource_bodies(request, "network", "network")
    found = await request.app[API].network.update_network(
        context_of(request), request.match_info["network_id"], changes
    )
    return json({"network": network_view(found)})


@routes.delete(PREFIX + "/networks/{network_id}")
async def delete_network(request: web.Request) -> web.Response:
    """Delete a network (with its subnets) no port is on; 204 (409 while one is)."""
    await request.app[API].network.delete_network(
        context_of(request), request.match_info["network_id"]
    )
    return web.Response(status=204)
