"""Security groups, their rules and servers' groups, as Neutron (and Nova) have them."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest

from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Conflict,
    Invalid,
    QuotaExceeded,
    SecurityGroupInUse,
    SecurityGroupNotFound,
    SecurityGroupRuleExists,
)
from nova_lite.network import sg_rules
from nova_lite.network.rpcapi import NetworkAPI
from tests.network_fixtures import ALICE, BOB, net, network_with_subnet

__all__ = ["net"]


def _rule(**values: Any) -> dict[str, Any]:
    return {"direction": "ingress", "ethertype": "IPv4", **values}


async def test_a_projects_default_group_is_made_once_with_neutrons_rules(net: NetworkAPI) -> None:
    """Listed first, the default group exists, with egress to all and ingress from itself."""
    (group,) = await net.list_security_groups(ALICE)
    assert group.name == "default" and group.project_id == "p-alice"
    rules = {(r.direction, r.ethertype, r.remote_group_id) for r in group.rules}
    assert rules == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", group.id),
        ("ingress", "IPv6", group.id),
    }
    assert [g.id for g in await net.list_security_groups(ALICE)] == [group.id]


async def test_concurrent_first_looks_make_one_default_group(net: NetworkAPI) -> None:
    """Twenty concurrent first lists of a new project: one default group, not twenty."""
    project = RequestContext(user_id="u", project_id=f"p-{uuid.uuid4().hex[:8]}", roles=("member",))
    seen = await asyncio.gather(*(net.list_security_groups(project) for _ in range(20)))
    assert {tuple(g.id for g in groups) for groups in seen} == {(seen[0][0].id,)}


async def test_the_default_group_keeps_its_name_and_stays(net: NetworkAPI) -> None:
    """No second 'default', no renaming to or from it, no deleting it: 409 each."""
    (default,) = await net.list_security_groups(ALICE)
    with pytest.raises(Conflict, match="Default security group already exists"):
        await net.create_security_group(ALICE, {"name": "default"})
    other = await net.create_security_group(ALICE, {"name": "web"})
    with pytest.raises(Conflict):
        await net.update_security_group(ALICE, other.id, {"name": "default"})
    with pytest.raises(Conflict):
        await net.update_security_group(ALICE, default.id, {"name": "renamed"})
    with pytest.raises(SecurityGroupInUse):
        await net.delete_security_group(ALICE, default.id)


async def test_a_new_group_starts_with_the_two_egress_rules(net: NetworkAPI) -> None:
    """Neutron's new group: all egress, IPv4 and IPv6; nothing in."""
    group = await net.create_security_group(ALICE, {"name": "web", "description": "d"})
    assert {(r.direction, r.ethertype, r.protocol) for r in group.rules} == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (_rule(protocol="bad_protocol_name"), "protocol bad_protocol_name not supported"),
        (_rule(protocol=256), "protocol 256 not supported"),
        (_rule(ethertype="bad_ethertype"), "Invalid input for ethertype"),
        (_rule(direction="sideways"), "Invalid input for direction"),
        (
            _rule(protocol="tcp", port_range_min=-16, port_range_max=80),
            "Invalid value for port -16",
        ),
        (_rule(protocol="tcp", port_range_min=80, port_range_max=79), "port_range_min must be <="),
        (_rule(protocol="tcp", port_range_min=80, port_range_max=65536), "port 65536"),
        (_rule(protocol="tcp", port_range_max=6), "port_range_min must be <= port_range_max"),
        (
            _rule(protocol="icmp", port_range_min=1, port_range_max=256),
            "Invalid value for ICMP code",
        ),
        (
            _rule(protocol="icmp", port_range_min=300, port_range_max=1),
            "Invalid value for ICMP type",
        ),
        (_rule(protocol="icmp", port_range_max=6), "ICMP type (port-range-min) is missing"),
        (_rule(protocol="gre", port_range_min=1, port_range_max=2), "only supported for TCP"),
        (_rule(port_range_min=1, port_range_max=2), "Must also specify protocol"),
        (_rule(remote_ip_prefix="192.168.1.1/33"), "not a valid IP prefix"),
        (_rule(remote_ip_prefix="bad_prefix"), "not a valid IP prefix"),
        (_rule(ethertype="IPv6", remote_ip_prefix="10.0.0.0/8"), "Conflicting value ethertype"),
        (_rule(remote_ip_prefix="10.0.0.0/8", remote_group_id="g"), "Only remote_ip_prefix or"),
    ],
)
def test_bad_rules_are_refused_in_neutrons_words(values: dict[str, Any], message: str) -> None:
    """Every protocol, port, ICMP, ethertype and remote rule names what is wrong."""
    with pytest.raises(Invalid, match=re.escape(message)):
        sg_rules.check_rule(values)


def test_good_rules_are_kept_as_given() -> None:
    """A protocol number, an ICMP type without code, a host prefix: as given."""
    assert sg_rules.check_rule(_rule(protocol=17)).protocol == "17"
    icmp = sg_rules.check_rule(_rule(protocol="icmp", port_range_min=11))
    assert (icmp.port_range_min, icmp.port_range_max) == (11, None)
    assert sg_rules.check_rule(_rule(remote_ip_prefix="10.2.3.124/24")).remote_ip_prefix == (
        "10.2.3.124/24"
    )


async def test_a_duplicate_rule_is_409_even_by_protocol_number(net: NetworkAPI) -> None:
    """The same traffic twice (``tcp`` then ``6``, or the same prefix's network) is refused."""
    group = await net.create_security_group(ALICE, {"name": "web"})
    ssh = _rule(security_group_id=group.id, port_range_min=22, port_range_max=22)
    (made,) = await net.create_security_group_rules(ALICE, [{**ssh, "protocol": "tcp"}])
    with pytest.raises(SecurityGroupRuleExists, match=made.id):
        await net.create_security_group_rules(ALICE, [{**ssh, "protocol": "6"}])
    wide = _rule(security_group_id=group.id, remote_ip_prefix="10.2.3.124/24")
    await net.create_security_group_rules(ALICE, [wide])
    with pytest.raises(SecurityGroupRuleExists):
        await net.create_security_group_rules(ALICE, [{**wide, "remote_ip_prefix": "10.2.3.0/24"}])


async def test_rule_bulk_is_all_or_nothing_and_remotes_must_exist(net: NetworkAPI) -> None:
    """A bulk with an unknown remote group adds none; another project's group is unknown."""
    group = await net.create_security_group(ALICE, {"name": "web"})
    theirs = await net.create_security_group(BOB, {"name": "bob"})
    good = _rule(security_group_id=group.id, protocol="udp")
    bad = _rule(security_group_id=group.id, remote_group_id=theirs.id)
    with pytest.raises(SecurityGroupNotFound):
        await net.create_security_group_rules(ALICE, [good, bad])
    assert len((await net.get_security_group(ALICE, group.id)).rules) == 2  # the egress ones


async def test_deleting_a_group_takes_the_rules_naming_it(net: NetworkAPI) -> None:
    """A rule whose remote is a deleted group goes with it (Neutron's cascade)."""
    web = await net.create_security_group(ALICE, {"name": "web"})
    db = await net.create_security_group(ALICE, {"name": "db"})
    await net.create_security_group_rules(
        ALICE, [_rule(security_group_id=db.id, protocol="tcp", remote_group_id=web.id)]
    )
    await net.delete_security_group(ALICE, web.id)
    assert all(
        r.remote_group_id != web.id for r in (await net.get_security_group(ALICE, db.id)).rules
    )


async def test_a_group_on_a_port_cannot_be_deleted(net: NetworkAPI) -> None:
    """SecurityGroupInUse while a port has it; once the port is gone, it can be deleted."""
    network, _ = await network_with_subnet(net, ALICE)
    group = await net.create_security_group(ALICE, {"name": "web"})
    (port,) = await net.create_ports(
        ALICE, [{"network_id": network.id, "security_groups": [group.id]}]
    )
    assert port.security_groups == (group.id,)
    with pytest.raises(SecurityGroupInUse, match="in use"):
        await net.delete_security_group(ALICE, group.id)
    await net.delete_port(ALICE, port.id)
    await net.delete_security_group(ALICE, group.id)


async def test_groups_count_against_the_quota(net: NetworkAPI) -> None:
    """Past ``quota_security_group`` (4 here, the default group included) a create is refused."""
    for index in range(3):
        await net.create_security_group(ALICE, {"name": f"g{index}"})
    with pytest.raises(QuotaExceeded, match="quota_security_group"):
        await net.create_security_group(ALICE, {"name": "one-too-many"})


# -- servers' groups --------------------------------------------------------------------


async def test_a_servers_ports_get_the_groups_its_create_asked_for(net: NetworkAPI) -> None:
    """Groups recorded before the build are the new ports'; without any, the default one."""
    network, _ = await network_with_subnet(net, ALICE)
    web = await net.create_security_group(ALICE, {"name": "web"})
    (found,) = await net.find_security_groups(ALICE, ["web"])
    assert found.id == web.id
    asked, plain = str(uuid.uuid4()), str(uuid.uuid4())
    await net.request_security_groups(ALICE, [asked], [web.id])
    (port,) = await net.allocate_for_instance(ALICE, asked, [network.id], "p-alice")
    assert port.security_groups == (web.id,)
    (default,) = [g for g in await net.list_security_groups(ALICE) if g.name == "default"]
    (other,) = await net.allocate_for_instance(ALICE, plain, [network.id], "p-alice")
    assert other.security_groups == (default.id,)
    assert [g.name for g in await net.instance_security_groups(ALICE, asked)] == ["web"]


async def test_adding_and_removing_a_servers_group(net: NetworkAPI) -> None:
    """Add applies to every port; remove takes it off; removing one not there is 404."""
    network, _ = await network_with_subnet(net, ALICE)
    server = str(uuid.uuid4())
    await net.allocate_for_instance(ALICE, server, [network.id, network.id], "p-alice")
    await net.create_security_group(ALICE, {"name": "web"})
    await net.add_instance_security_group(ALICE, server, "web")
    ports = await net.list_ports(ALICE, device_id=server)
    assert all(len(port.security_groups) == 2 for port in ports)
    assert {g.name for g in await net.instance_security_groups(ALICE, server)} == {"default", "web"}
    await net.remove_instance_security_group(ALICE, server, "web")
    with pytest.raises(SecurityGroupNotFound, match="not associated"):
        await net.remove_instance_security_group(ALICE, server, "web")
    with pytest.raises(SecurityGroupNotFound):
        await net.add_instance_security_group(ALICE, server, "nope")


async def test_a_name_two_groups_share_must_be_an_id(net: NetworkAPI) -> None:
    """Neutron allows duplicate names; Nova's lookup by name then asks for the id (409)."""
    first = await net.create_security_group(ALICE, {"name": "twin"})
    await net.create_security_group(ALICE, {"name": "twin"})
    with pytest.raises(Conflict, match="Multiple security_group matches"):
        await net.find_security_groups(ALICE, ["twin"])
    assert [g.id for g in await net.find_security_groups(ALICE, [first.id])] == [first.id]
