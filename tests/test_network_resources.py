"""Networks, subnets and ports as Neutron's API has them, driven over RPC on every broker."""

from __future__ import annotations

import re

import pytest

from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    Invalid,
    IpAddressInUse,
    MacAddressInUse,
    NetworkInUse,
    NetworkNotFound,
    PortNotFound,
    SubnetInUse,
    SubnetNotFound,
)
from nova_lite.network import subnet_plans
from nova_lite.network.rpcapi import NetworkAPI
from tests.network_fixtures import ADMIN, ALICE, BOB, READER, net, network_with_subnet

__all__ = ["net"]


# -- networks ---------------------------------------------------------------------------


async def test_a_network_update_changes_its_attributes_and_revision(net: NetworkAPI) -> None:
    """Name, description, MTU and admin state change; the revision counts the update."""
    (network,) = await net.create_networks(ALICE, [{"name": "a", "description": "d1"}])
    changes = {"name": "b", "description": "d2", "mtu": 1400, "admin_state_up": False}
    updated = await net.update_network(ALICE, network.id, changes)
    assert (updated.name, updated.description, updated.mtu) == ("b", "d2", 1400)
    assert not updated.admin_state_up
    assert updated.revision_number == network.revision_number + 1


async def test_sharing_or_making_external_needs_an_administrator(net: NetworkAPI) -> None:
    """A member may not share a network nor make it external; an admin may do both."""
    (network,) = await net.create_networks(ALICE, [{"name": "a"}])
    for attribute in ("shared", "router:external"):
        with pytest.raises(Forbidden, match=f"update_network:{attribute}"):
            await net.update_network(ALICE, network.id, {attribute: True})
        with pytest.raises(Forbidden):
            await net.create_networks(ALICE, [{"name": "x", attribute: True}])
    external = await net.update_network(ADMIN, network.id, {"router:external": True})
    assert external.external
    assert network.id in {n.id for n in await net.list_networks(BOB)}  # external: visible


async def test_a_reader_sees_but_cannot_change_a_network(net: NetworkAPI) -> None:
    """The project's reader gets the network; an update is refused; others get 404."""
    (network,) = await net.create_networks(ALICE, [{"name": "a"}])
    assert (await net.get_network(READER, network.id)).id == network.id
    with pytest.raises(Forbidden):
        await net.update_network(READER, network.id, {"name": "b"})
    with pytest.raises(NetworkNotFound):
        await net.update_network(BOB, network.id, {"name": "b"})


async def test_a_bulk_create_is_all_or_nothing(net: NetworkAPI) -> None:
    """One bad network in a bulk request: none of them is made."""
    before = await net.list_networks(ALICE)
    with pytest.raises(Invalid, match="mtu"):
        await net.create_networks(ALICE, [{"name": "ok"}, {"name": "bad", "mtu": 99999}])
    assert await net.list_networks(ALICE) == before
    made = await net.create_networks(ALICE, [{"name": "one"}, {"name": "two"}])
    assert [n.name for n in made] == ["one", "two"]


async def test_unknown_attributes_are_refused_by_name(net: NetworkAPI) -> None:
    """An attribute Neutron's network does not have is named in the 400."""
    with pytest.raises(Invalid, match=r"Unrecognized attribute.*'colour'"):
        await net.create_networks(ALICE, [{"name": "a", "colour": "blue"}])
    with pytest.raises(Invalid, match="admin privileges"):
        await net.create_networks(ALICE, [{"name": "a", "project_id": "p-bob"}])


async def test_a_network_with_ports_is_in_use(net: NetworkAPI) -> None:
    """Deleting a network with a port is NetworkInUse (Neutron's words); without, it goes
    and takes its subnets."""
    network, subnet = await network_with_subnet(net, ALICE)
    (port,) = await net.create_ports(ALICE, [{"network_id": network.id}])
    with pytest.raises(NetworkInUse, match="one or more ports still in use on the network"):
        await net.delete_network(ALICE, network.id)
    await net.delete_port(ALICE, port.id)
    await net.delete_network(ALICE, network.id)
    with pytest.raises(SubnetNotFound):
        await net.get_subnet(ALICE, subnet.id)


# -- subnets ----------------------------------------------------------------------------


async def test_a_subnet_keeps_its_pools_dns_servers_and_routes(net: NetworkAPI) -> None:
    """Several pools, DNS servers and host routes are stored and shown as given."""
    pools = [{"start": "10.1.0.10", "end": "10.1.0.20"}, {"start": "10.1.0.30", "end": "10.1.0.40"}]
    routes = [{"destination": "10.20.0.0/16", "nexthop": "10.1.0.5"}]
    _, subnet = await network_with_subnet(
        net, ALICE, allocation_pools=pools, dns_nameservers=["8.8.8.8"], host_routes=routes
    )
    assert list(subnet.allocation_pools) == pools
    assert (subnet.pool_start, subnet.pool_end) == ("10.1.0.10", "10.1.0.20")
    assert subnet.dns_nameservers == ("8.8.8.8",) and list(subnet.host_routes) == routes


async def test_a_subnets_default_pools_leave_out_the_gateway(net: NetworkAPI) -> None:
    """A gateway inside the range splits the default pools around it; no gateway, one pool."""
    _, middle = await network_with_subnet(net, ALICE, "10.1.0.0/24", gateway_ip="10.1.0.100")
    assert list(middle.allocation_pools) == [
        {"start": "10.1.0.1", "end": "10.1.0.99"},
        {"start": "10.1.0.101", "end": "10.1.0.254"},
    ]
    _, none = await network_with_subnet(net, ALICE, "10.2.0.0/24", gateway_ip=None)
    assert none.gateway_ip is None
    assert list(none.allocation_pools) == [{"start": "10.2.0.1", "end": "10.2.0.254"}]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"allocation_pools": [{"start": "10.1.0.2", "end": "10.1.1.9"}]}, "not a usable address"),
        (
            {
                "allocation_pools": [
                    {"start": "10.1.0.2", "end": "10.1.0.20"},
                    {"start": "10.1.0.10", "end": "10.1.0.30"},
                ]
            },
            "overlapping allocation pools",
        ),
        (
            {
                "gateway_ip": "10.1.0.5",
                "allocation_pools": [{"start": "10.1.0.2", "end": "10.1.0.9"}],
            },
            "Gateway ip 10.1.0.5 conflicts with allocation pool",
        ),
        ({"dns_nameservers": ["8.8.8.8", "8.8.8.8"]}, "Duplicate nameserver"),
        ({"dns_nameservers": [f"10.0.0.{i}" for i in range(6)]}, "exceeds the limit 5"),
        ({"dns_nameservers": ["fd00::1"]}, "not an IPv4 address"),
        ({"host_routes": [{"destination": "fd00::/64", "nexthop": "10.1.0.1"}]}, "not IPv4"),
        ({"ipv6_ra_mode": "slaac"}, "for IPv6 subnets only"),
        ({"ip_version": 6}, "does not match"),
    ],
)
def test_subnet_plans_refuse_bad_addresses_by_name(values: dict[str, object], message: str) -> None:
    """Every pool, gateway, DNS server, route and IPv6 mode rule raises Invalid naming it."""
    with pytest.raises(Invalid, match=re.escape(message)):
        subnet_plans.plan({"cidr": "10.1.0.0/24", **values})


def test_ipv6_modes_must_agree_and_slaac_needs_a_64() -> None:
    """Different RA and address modes are refused; SLAAC on a /80 is refused (EUI-64)."""
    with pytest.raises(Invalid, match="must be the same value"):
        subnet_plans.plan(
            {"cidr": "fd00::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"}
        )
    with pytest.raises(Invalid, match="requires the prefix to be /64"):
        subnet_plans.plan({"cidr": "fd00::/80", "ipv6_address_mode": "slaac"})
    spec = subnet_plans.plan({"cidr": "fd00::/64", "ipv6_address_mode": "slaac"})
    assert spec.auto_address and spec.gateway_ip == "fd00::1"


def test_the_slaac_address_is_the_eui64_of_the_mac() -> None:
    """EUI-64: the MAC with ff:fe in the middle and the universal/local bit flipped."""
    assert (
        subnet_plans.eui64("2001:db8::/64", "fa:16:3e:12:34:56") == "2001:db8::f816:3eff:fe12:3456"
    )


async def test_a_subnet_update_is_checked_against_its_pools(net: NetworkAPI) -> None:
    """A new gateway inside a pool is refused; name, DNS servers and routes change."""
    pools = [{"start": "10.1.0.10", "end": "10.1.0.20"}]
    _, subnet = await network_with_subnet(net, ALICE, allocation_pools=pools)
    with pytest.raises(Invalid, match="conflicts with allocation pool"):
        await net.update_subnet(ALICE, subnet.id, {"gateway_ip": "10.1.0.15"})
    updated = await net.update_subnet(
        ALICE, subnet.id, {"name": "s", "gateway_ip": "10.1.0.2", "dns_nameservers": ["1.1.1.1"]}
    )
    assert (updated.name, updated.gateway_ip, updated.dns_nameservers) == (
        "s",
        "10.1.0.2",
        ("1.1.1.1",),
    )


async def test_a_subnet_with_addresses_in_use_cannot_be_deleted(net: NetworkAPI) -> None:
    """SubnetInUse while a port holds an address of it; a SLAAC subnet's addresses go with it."""
    network, subnet = await network_with_subnet(net, ALICE)
    (slaac,) = await net.create_subnets(
        ALICE,
        [{"network_id": network.id, "cidr": "fd00::/64", "ipv6_address_mode": "slaac"}],
    )
    (port,) = await net.create_ports(ALICE, [{"network_id": network.id}])
    assert {ip["subnet_id"] for ip in port.fixed_ips} == {subnet.id, slaac.id}
    with pytest.raises(SubnetInUse, match="One or more ports have an IP allocation"):
        await net.delete_subnet(ALICE, subnet.id)
    await net.delete_subnet(ALICE, slaac.id)
    assert [ip["subnet_id"] for ip in (await net.get_port(ALICE, port.id)).fixed_ips] == [subnet.id]


async def test_overlapping_subnets_of_one_network_are_refused(net: NetworkAPI) -> None:
    """Neutron's words, which clients search for: 'overlaps with another subnet'."""
    network, _ = await network_with_subnet(net, ALICE, "10.1.0.0/24")
    with pytest.raises(Invalid, match="overlaps with another subnet"):
        await net.create_subnets(ALICE, [{"network_id": network.id, "cidr": "10.1.0.128/25"}])


# -- ports ------------------------------------------------------------------------------


async def test_a_port_gets_the_addresses_and_mac_asked_for(net: NetworkAPI) -> None:
    """A fixed IP by address, one by subnet only, and a chosen MAC (the network's owner)."""
    network, subnet = await network_with_subnet(net, ALICE)
    fixed = [{"ip_address": "10.1.0.50"}, {"subnet_id": subnet.id}]
    (port,) = await net.create_ports(
        ALICE, [{"network_id": network.id, "fixed_ips": fixed, "mac_address": "fa:16:3e:00:00:01"}]
    )
    addresses = [ip["ip_address"] for ip in port.fixed_ips]
    assert addresses[0] == "10.1.0.50" and len(addresses) == 2
    assert port.mac_address == "fa:16:3e:00:00:01"
    with pytest.raises(IpAddressInUse, match=re.escape("10.1.0.50 already allocated")):
        await net.create_ports(ALICE, [{"network_id": network.id, "fixed_ips": [fixed[0]]}])
    with pytest.raises(MacAddressInUse):
        await net.create_ports(ALICE, [{"network_id": network.id, "mac_address": port.mac_address}])
    with pytest.raises(Invalid, match="not a valid IP for any of the subnets"):
        await net.create_ports(
            ALICE, [{"network_id": network.id, "fixed_ips": [{"ip_address": "10.9.9.9"}]}]
        )


async def test_choosing_addresses_on_a_shared_network_needs_its_owner(net: NetworkAPI) -> None:
    """Another project may make ports on a shared network, but not choose their address."""
    (shared,) = await net.create_networks(ADMIN, [{"name": "s", "shared": True}])
    await net.create_subnets(ADMIN, [{"network_id": shared.id, "cidr": "10.5.0.0/24"}])
    (port,) = await net.create_ports(ALICE, [{"network_id": shared.id}])
    assert port.project_id == "p-alice"
    with pytest.raises(Forbidden, match="create_port:fixed_ips:ip_address"):
        await net.create_ports(
            ALICE, [{"network_id": shared.id, "fixed_ips": [{"ip_address": "10.5.0.9"}]}]
        )
    with pytest.raises(Forbidden, match="create_port:binding:host_id"):
        await net.create_ports(ALICE, [{"network_id": shared.id, "binding:host_id": "h1"}])


async def test_updating_fixed_ips_keeps_the_addresses_still_asked_for(net: NetworkAPI) -> None:
    """From two subnets to one and back: the address kept is the one it had."""
    network, first = await network_with_subnet(net, ALICE, "10.1.0.0/24")
    (second,) = await net.create_subnets(ALICE, [{"network_id": network.id, "cidr": "10.2.0.0/24"}])
    both = [{"subnet_id": first.id}, {"subnet_id": second.id}]
    (port,) = await net.create_ports(ALICE, [{"network_id": network.id, "fixed_ips": both}])
    kept = port.fixed_ips[0]
    one = await net.update_port(ALICE, port.id, {"fixed_ips": [{"subnet_id": first.id}]})
    assert list(one.fixed_ips) == [kept]
    two = await net.update_port(ALICE, port.id, {"fixed_ips": both})
    assert two.fixed_ips[0] == kept and len(two.fixed_ips) == 2


async def test_a_port_bulk_create_is_all_or_nothing(net: NetworkAPI) -> None:
    """A bulk with one port on an unknown network makes no port at all."""
    network, _ = await network_with_subnet(net, ALICE)
    with pytest.raises(NetworkNotFound):
        await net.create_ports(ALICE, [{"network_id": network.id}, {"network_id": "nope"}])
    assert await net.list_ports(ALICE, network_id=network.id) == []


async def test_port_security_off_means_no_groups_and_no_pairs(net: NetworkAPI) -> None:
    """Without port security a port has no group; asking for one, or pairs, is 409."""
    network, _ = await network_with_subnet(net, ALICE)
    (port,) = await net.create_ports(
        ALICE, [{"network_id": network.id, "port_security_enabled": False}]
    )
    assert port.security_groups == ()
    pairs = [{"ip_address": "10.1.0.99"}]
    with pytest.raises(Conflict, match="Port Security must be enabled"):
        await net.update_port(ALICE, port.id, {"allowed_address_pairs": pairs})
    secure = await net.update_port(
        ALICE, port.id, {"port_security_enabled": True, "allowed_address_pairs": pairs}
    )
    assert [p["ip_address"] for p in secure.allowed_address_pairs] == ["10.1.0.99"]


async def test_deleting_a_port_frees_its_address(net: NetworkAPI) -> None:
    """A deleted port's address and MAC may be taken again; a second delete is not found."""
    network, _ = await network_with_subnet(net, ALICE)
    (port,) = await net.create_ports(ALICE, [{"network_id": network.id}])
    await net.delete_port(ALICE, port.id)
    with pytest.raises(PortNotFound):
        await net.delete_port(ALICE, port.id)
    again = {"network_id": network.id, "fixed_ips": list(port.fixed_ips)}
    (reused,) = await net.create_ports(ALICE, [{**again, "mac_address": port.mac_address}])
    assert (reused.fixed_ips, reused.mac_address) == (port.fixed_ips, port.mac_address)
