"""Routers and floating IPs as records: gateways, interfaces, routes, associations."""

from __future__ import annotations

import ipaddress

import pytest

from nova_lite import objects
from nova_lite.exceptions import (
    Conflict,
    FloatingIpNotFound,
    Forbidden,
    Invalid,
    NetworkNotFound,
    NotFound,
    QuotaExceeded,
    SubnetInUse,
)
from nova_lite.network.rpcapi import NetworkAPI
from tests.network_fixtures import ADMIN, ALICE, net, network_with_subnet

__all__ = ["net"]


async def external(net: NetworkAPI) -> objects.Network:
    """An external network (an administrator's) with a subnet for floating IPs."""
    (network,) = await net.create_networks(ADMIN, [{"name": "public", "router:external": True}])
    await net.create_subnets(ADMIN, [{"network_id": network.id, "cidr": "172.24.4.0/24"}])
    return network


async def test_a_gateway_needs_an_external_network(net: NetworkAPI) -> None:
    """A private network is a 400, an unknown one a 404; an external one gives a port."""
    public = await external(net)
    private, _ = await network_with_subnet(net, ALICE)
    router = await net.create_router(ALICE, {"name": "r"})
    with pytest.raises(Invalid, match="is not an external network"):
        await net.update_router(
            ALICE, router.id, {"external_gateway_info": {"network_id": private.id}}
        )
    with pytest.raises(NetworkNotFound):
        await net.update_router(ALICE, router.id, {"external_gateway_info": {"network_id": "nope"}})
    gateway = {"network_id": public.id}
    with_gateway = await net.update_router(ALICE, router.id, {"external_gateway_info": gateway})
    (address,) = with_gateway.external_fixed_ips
    assert ipaddress.ip_address(address["ip_address"]) in ipaddress.ip_network("172.24.4.0/24")
    assert with_gateway.enable_snat
    cleared = await net.update_router(ALICE, router.id, {"external_gateway_info": {}})
    assert cleared.gateway_network_id is None and cleared.external_fixed_ips == ()


async def test_choosing_snat_needs_an_administrator(net: NetworkAPI) -> None:
    """``enable_snat`` on a gateway is the administrator's (Neutron's rule)."""
    public = await external(net)
    gateway = {"network_id": public.id, "enable_snat": False}
    with pytest.raises(Forbidden, match="enable_snat"):
        await net.create_router(ALICE, {"external_gateway_info": gateway})
    router = await net.create_router(ADMIN, {"external_gateway_info": gateway})
    assert not router.enable_snat


async def test_interfaces_take_the_gateway_address_and_may_not_overlap(net: NetworkAPI) -> None:
    """A subnet's interface port has its gateway address; an overlapping subnet is a 400."""
    router = await net.create_router(ALICE, {"name": "r"})
    first, subnet = await network_with_subnet(net, ALICE, "10.1.0.0/24")
    _, overlapping = await network_with_subnet(net, ALICE, "10.1.0.0/25")
    interface = await net.add_router_interface(ALICE, router.id, subnet_id=subnet.id)
    port = await net.get_port(ALICE, interface["port_id"])
    assert (port.device_id, port.device_owner, port.status) == (
        router.id,
        "network:router_interface",
        "ACTIVE",
    )
    assert port.fixed_ips == ({"subnet_id": subnet.id, "ip_address": "10.1.0.1"},)
    with pytest.raises(Invalid, match="overlaps with cidr"):
        await net.add_router_interface(ALICE, router.id, subnet_id=overlapping.id)
    with pytest.raises(Conflict, match="cannot be deleted directly"):
        await net.delete_port(ALICE, port.id)
    with pytest.raises(SubnetInUse):
        await net.delete_subnet(ALICE, subnet.id)
    with pytest.raises(Conflict, match="still has interfaces"):
        await net.delete_router(ALICE, router.id)
    await net.remove_router_interface(ALICE, router.id, subnet_id=subnet.id)
    assert await net.list_ports(ALICE, device_id=router.id) == []
    await net.delete_router(ALICE, router.id)
    await net.delete_network(ALICE, first.id)


async def test_an_interface_by_port_takes_a_free_port(net: NetworkAPI) -> None:
    """A port with a device is in use (409); a free one becomes the router's."""
    network, subnet = await network_with_subnet(net, ALICE)
    router = await net.create_router(ALICE, {"name": "r"})
    (taken,) = await net.create_ports(ALICE, [{"network_id": network.id, "device_id": "vm-1"}])
    with pytest.raises(Conflict, match="in use"):
        await net.add_router_interface(ALICE, router.id, port_id=taken.id)
    (free,) = await net.create_ports(ALICE, [{"network_id": network.id}])
    interface = await net.add_router_interface(ALICE, router.id, port_id=free.id)
    assert (interface["port_id"], interface["subnet_id"]) == (free.id, subnet.id)
    with pytest.raises(NotFound, match="does not have an interface"):
        await net.remove_router_interface(ALICE, router.id, port_id=taken.id)


async def test_extra_routes_go_through_the_routers_subnets(net: NetworkAPI) -> None:
    """A nexthop on an attached subnet is kept; one elsewhere is a 400; None clears them."""
    _, subnet = await network_with_subnet(net, ALICE, "10.1.0.0/24")
    router = await net.create_router(ALICE, {"name": "r"})
    await net.add_router_interface(ALICE, router.id, subnet_id=subnet.id)
    route = {"destination": "10.9.0.0/16", "nexthop": "10.1.0.7"}
    routed = await net.update_router(ALICE, router.id, {"routes": [route]})
    assert list(routed.routes) == [route]
    with pytest.raises(Invalid, match="not connected with router"):
        await net.update_router(ALICE, router.id, {"routes": [{**route, "nexthop": "10.7.0.1"}]})
    assert (await net.update_router(ALICE, router.id, {"routes": None})).routes == ()


async def test_routers_count_against_the_quota(net: NetworkAPI) -> None:
    """Past ``quota_router`` (3 here) a create is refused."""
    for index in range(3):
        await net.create_router(ALICE, {"name": f"r{index}"})
    with pytest.raises(QuotaExceeded, match="quota_router"):
        await net.create_router(ALICE, {"name": "one-too-many"})


# -- floating IPs -----------------------------------------------------------------------


async def _routed(net: NetworkAPI) -> tuple[objects.Network, objects.Subnet, objects.Router]:
    """An external network, a private one, and a router joining them."""
    public = await external(net)
    _, subnet = await network_with_subnet(net, ALICE, "10.1.0.0/24")
    router = await net.create_router(
        ALICE, {"name": "r", "external_gateway_info": {"network_id": public.id}}
    )
    await net.add_router_interface(ALICE, router.id, subnet_id=subnet.id)
    return public, subnet, router


async def test_a_floating_ip_comes_from_an_external_network(net: NetworkAPI) -> None:
    """Its address is of the external subnet; a private network is a 400."""
    public = await external(net)
    private, _ = await network_with_subnet(net, ALICE)
    fip = await net.create_floatingip(ALICE, {"floating_network_id": public.id})
    assert ipaddress.ip_address(fip.floating_ip_address) in ipaddress.ip_network("172.24.4.0/24")
    assert (fip.port_id, fip.status, fip.project_id) == (None, "DOWN", "p-alice")
    with pytest.raises(Invalid, match="not a valid external network"):
        await net.create_floatingip(ALICE, {"floating_network_id": private.id})
    with pytest.raises(Forbidden, match="floating_ip_address"):
        await net.create_floatingip(
            ALICE, {"floating_network_id": public.id, "floating_ip_address": "172.24.4.99"}
        )


async def test_association_needs_a_router_to_the_external_network(net: NetworkAPI) -> None:
    """A port no router joins to the external network is 404 (Neutron's reachability)."""
    public = await external(net)
    network, _ = await network_with_subnet(net, ALICE)
    (port,) = await net.create_ports(ALICE, [{"network_id": network.id}])
    with pytest.raises(FloatingIpNotFound, match="is not reachable"):
        await net.create_floatingip(ALICE, {"floating_network_id": public.id, "port_id": port.id})


async def test_an_association_records_the_router_and_goes_with_the_port(net: NetworkAPI) -> None:
    """Associated: the fixed IP and router are recorded; the port's delete lets go of it."""
    public, subnet, router = await _routed(net)
    (port,) = await net.create_ports(ALICE, [{"network_id": subnet.network_id}])
    fip = await net.create_floatingip(ALICE, {"floating_network_id": public.id, "port_id": port.id})
    assert (fip.port_id, fip.router_id, fip.status) == (port.id, router.id, "ACTIVE")
    assert fip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    with pytest.raises(Conflict, match="already has a floating IP"):
        await net.create_floatingip(ALICE, {"floating_network_id": public.id, "port_id": port.id})
    with pytest.raises(Conflict, match="required by one or more floating IPs"):
        await net.remove_router_interface(ALICE, router.id, subnet_id=subnet.id)
    await net.delete_port(ALICE, port.id)
    free = await net.get_floatingip(ALICE, fip.id)
    assert (free.port_id, free.fixed_ip_address, free.router_id) == (None, None, None)


async def test_disassociating_and_deleting_an_external_network(net: NetworkAPI) -> None:
    """``port_id`` null lets go; deleting the external network deletes its floating IPs."""
    public, subnet, router = await _routed(net)
    (port,) = await net.create_ports(ALICE, [{"network_id": subnet.network_id}])
    fip = await net.create_floatingip(ALICE, {"floating_network_id": public.id, "port_id": port.id})
    released = await net.update_floatingip(ALICE, fip.id, {"port_id": None})
    assert released.port_id is None and released.router_id is None
    await net.update_router(ALICE, router.id, {"external_gateway_info": None})
    await net.delete_network(ADMIN, public.id)
    assert await net.list_floatingips(ALICE) == []
