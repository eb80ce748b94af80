"""Neutron's API over HTTP (bulk, fields, filters, paging, errors) and Nova's side of it.

Nova's side: security groups on server create, the server actions, and the
os-security-groups and os-floating-ips proxies with their formats and codes. Each
test serves a whole `Cloud` through the HTTP front end and uses only HTTP requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite.testing import CloudFactory
from tests.http_fixtures import FrontEnd

COMPUTE, NETWORK = "/compute/v2.1", "/network/v2.0"
PROXY_GONE = {"OpenStack-API-Version": "compute 2.36"}


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end (at most 3 networks a project)."""
    cloud = await clouds.start(computes=1, network={"quota_network": 3})
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


async def _post(front: FrontEnd, token: str, path: str, body: Any, status: int = 201) -> Any:
    reply = await front.call("POST", path, token=token, json=body)
    assert reply.status == status, reply.body
    return reply.body


async def _routed_public(front: FrontEnd, token: str) -> str:
    """An external network 'public', and a router joining the shared 'private' to it."""
    body = {"network": {"name": "public", "router:external": True}}
    public = (await _post(front, token, f"{NETWORK}/networks", body))["network"]["id"]
    subnet = {"subnet": {"network_id": public, "cidr": "172.24.4.0/24"}}
    await _post(front, token, f"{NETWORK}/subnets", subnet)
    router = {"router": {"name": "r1", "external_gateway_info": {"network_id": public}}}
    router_id = (await _post(front, token, f"{NETWORK}/routers", router))["router"]["id"]
    private = await front.call("GET", f"{NETWORK}/networks?name=private", token=token)
    (subnet_id,) = private.body["networks"][0]["subnets"]
    path = f"{NETWORK}/routers/{router_id}/add_router_interface"
    added = await front.call("PUT", path, token=token, json={"subnet_id": subnet_id})
    assert added.status == 200, added.body
    return str(public)


async def test_bulk_create_fields_filters_and_paging(front: FrontEnd) -> None:
    """Two networks in one request; lists filter by any attribute, pick fields, page."""
    token = await front.token()
    bulk = {"networks": [{"name": "a"}, {"name": "b", "router:external": True}]}
    made = (await _post(front, token, f"{NETWORK}/networks", bulk))["networks"]
    external = await front.call(
        "GET", f"{NETWORK}/networks?router:external=True&fields=id&fields=name", token=token
    )
    page = await front.call("GET", f"{NETWORK}/networks?limit=1&sort_key=name", token=token)
    shown = await front.call("GET", f"{NETWORK}/networks/{made[0]['id']}?fields=mtu", token=token)

    assert [n["name"] for n in made] == ["a", "b"]
    assert external.body == {"networks": [{"id": made[1]["id"], "name": "b"}]}
    assert [n["name"] for n in page.body["networks"]] == ["a"]
    assert page.body["networks_links"][0]["rel"] == "next"
    assert "marker=" in page.body["networks_links"][0]["href"]
    assert shown.body == {"network": {"mtu": 1450}}


async def test_neutron_errors_name_their_type(front: FrontEnd) -> None:
    """A network in use is 409 NetworkInUse; a quota exceeded is 409 OverQuota (Neutron)."""
    token = await front.token()
    network = await _post(front, token, f"{NETWORK}/networks", {"network": {"name": "n"}})
    network_id = network["network"]["id"]
    await _post(front, token, f"{NETWORK}/ports", {"port": {"network_id": network_id}})
    in_use = await front.call("DELETE", f"{NETWORK}/networks/{network_id}", token=token)
    bulk = {"networks": [{"name": "x"}, {"name": "y"}, {"name": "z"}]}
    over = await front.call("POST", f"{NETWORK}/networks", token=token, json=bulk)

    assert in_use.status == 409 and in_use.body["NeutronError"]["type"] == "NetworkInUse"
    assert "still in use on the network" in in_use.body["NeutronError"]["message"]
    assert over.status == 409 and over.body["NeutronError"]["type"] == "OverQuota"


async def test_ports_filter_on_their_fixed_ips(front: FrontEnd) -> None:
    """``fixed_ips=ip_address=`` finds a port by its address; ``ip_address_substr`` by part."""
    token = await front.token()
    network = await _post(front, token, f"{NETWORK}/networks", {"network": {"name": "n"}})
    network_id = network["network"]["id"]
    subnet = {"subnet": {"network_id": network_id, "cidr": "10.7.0.0/24"}}
    await _post(front, token, f"{NETWORK}/subnets", subnet)
    fixed = [{"ip_address": "10.7.0.77"}]
    port = await _post(
        front, token, f"{NETWORK}/ports", {"port": {"network_id": network_id, "fixed_ips": fixed}}
    )
    by_ip = await front.call("GET", f"{NETWORK}/ports?fixed_ips=ip_address=10.7.0.77", token=token)
    by_part = await front.call(
        "GET", f"{NETWORK}/ports?fixed_ips=ip_address_substr=10.7.0.7", token=token
    )

    assert [p["id"] for p in by_ip.body["ports"]] == [port["port"]["id"]]
    assert [p["id"] for p in by_part.body["ports"]] == [port["port"]["id"]]


async def test_the_security_group_proxy_speaks_novas_format(front: FrontEnd) -> None:
    """A group and rules in Nova's shape (200s and 202s); duplicates and the default are 400;
    from 2.36 the proxy is gone (404)."""
    token = await front.token()
    body = {"security_group": {"name": "web", "description": "w"}}
    group = (await _post(front, token, f"{COMPUTE}/os-security-groups", body, 200))[
        "security_group"
    ]
    rule = {"parent_group_id": group["id"], "ip_protocol": "tcp", "from_port": 22, "to_port": 22}
    path = f"{COMPUTE}/os-security-group-rules"
    made = (await _post(front, token, path, {"security_group_rule": rule}, 200))[
        "security_group_rule"
    ]
    again = await front.call("POST", path, token=token, json={"security_group_rule": rule})
    icmp = {**rule, "ip_protocol": "icmp", "from_port": -1, "to_port": -1}
    ping = (await _post(front, token, path, {"security_group_rule": icmp}, 200))[
        "security_group_rule"
    ]
    listed = await front.call("GET", f"{COMPUTE}/os-security-groups", token=token)
    default = next(g for g in listed.body["security_groups"] if g["name"] == "default")
    refused = await front.call(
        "DELETE", f"{COMPUTE}/os-security-groups/{default['id']}", token=token
    )
    not_uuid = await front.call("GET", f"{COMPUTE}/os-security-groups/nope", token=token)
    gone = await front.call("GET", f"{COMPUTE}/os-security-groups", token=token, headers=PROXY_GONE)

    assert group["rules"] == [] and group["tenant_id"]
    assert (made["ip_range"], made["group"], made["from_port"]) == ({"cidr": "0.0.0.0/0"}, {}, 22)
    assert (ping["from_port"], ping["to_port"]) == (-1, -1)
    assert again.status == 400 and "already exists" in again.body["badRequest"]["message"]
    assert refused.status == 400
    assert not_uuid.status == 400 and gone.status == 404


async def test_a_servers_ports_get_the_groups_it_was_created_with(front: FrontEnd) -> None:
    """``security_groups`` on create reach the ports; add/remove change them; an unknown
    group is a 400 before anything is built."""
    token = await front.token()
    for name in ("web", "db"):
        await _post(front, token, f"{NETWORK}/security-groups", {"security_group": {"name": name}})
    server = await front.boot(token, security_groups=[{"name": "web"}])
    unknown = await front.call(
        "POST",
        f"{COMPUTE}/servers",
        token=token,
        json={
            "server": {
                "name": "x",
                "imageRef": await front.image_id(),
                "flavorRef": "1",
                "security_groups": [{"name": "nope"}],
            }
        },
    )
    action = f"{COMPUTE}/servers/{server}/action"
    added = await front.call("POST", action, token=token, json={"addSecurityGroup": {"name": "db"}})
    groups = await front.call("GET", f"{COMPUTE}/servers/{server}/os-security-groups", token=token)
    removed = await front.call(
        "POST", action, token=token, json={"removeSecurityGroup": {"name": "web"}}
    )
    twice = await front.call(
        "POST", action, token=token, json={"removeSecurityGroup": {"name": "web"}}
    )
    ports = await front.call("GET", f"{NETWORK}/ports?device_id={server}", token=token)
    names = await front.call("GET", f"{NETWORK}/security-groups?fields=id&fields=name", token=token)
    by_id = {g["id"]: g["name"] for g in names.body["security_groups"]}

    assert unknown.status == 400 and "nope" in unknown.body["badRequest"]["message"]
    assert (added.status, removed.status, twice.status) == (202, 202, 404)
    assert sorted(g["name"] for g in groups.body["security_groups"]) == ["db", "web"]
    (port,) = ports.body["ports"]
    assert [by_id[g] for g in port["security_groups"]] == ["db"]


async def _shown_groups(front: FrontEnd, token: str, server: str) -> list[Any] | None:
    """The server's ``security_groups`` as show and the detail list give them (the same)."""
    shown = (await front.call("GET", f"{COMPUTE}/servers/{server}", token=token)).body["server"]
    listed = await front.call("GET", f"{COMPUTE}/servers/detail", token=token)
    (entry,) = [s for s in listed.body["servers"] if s["id"] == server]
    assert entry.get("security_groups") == shown.get("security_groups")
    groups: list[Any] | None = shown.get("security_groups")
    return groups


async def test_a_servers_view_shows_its_ports_groups_and_none_when_all_are_removed(
    front: FrontEnd,
) -> None:
    """security_groups are the ports' groups by name, each once; with every group
    removed (or no port at all) the key is absent, as Nova shows it."""
    token = await front.token()
    await _post(front, token, f"{NETWORK}/security-groups", {"security_group": {"name": "db"}})
    server = await front.boot(token)
    portless = await front.boot(token, "bare", networks="none")
    action = f"{COMPUTE}/servers/{server}/action"

    at_boot = await _shown_groups(front, token, server)
    await front.call("POST", action, token=token, json={"addSecurityGroup": {"name": "db"}})
    both = await _shown_groups(front, token, server)
    for name in ("default", "db"):
        await front.call("POST", action, token=token, json={"removeSecurityGroup": {"name": name}})
    none_left = await _shown_groups(front, token, server)

    assert at_boot == [{"name": "default"}]
    assert both == [{"name": "db"}, {"name": "default"}]
    assert none_left is None
    assert await _shown_groups(front, token, portless) is None


async def test_the_floating_ip_proxy_and_actions(front: FrontEnd) -> None:
    """A floating IP from the default pool is associated with a server, shown with its
    instance, and let go; letting go again is 409."""
    token = await front.token()
    await _routed_public(front, token)
    server = await front.boot(token)
    pools = await front.call("GET", f"{COMPUTE}/os-floating-ip-pools", token=token)
    fip = (await _post(front, token, f"{COMPUTE}/os-floating-ips", {}, 200))["floating_ip"]
    action = f"{COMPUTE}/servers/{server}/action"
    add = await front.call(
        "POST", action, token=token, json={"addFloatingIp": {"address": fip["ip"]}}
    )
    shown = await front.call("GET", f"{COMPUTE}/os-floating-ips/{fip['id']}", token=token)
    neutron = await front.call("GET", f"{NETWORK}/floatingips/{fip['id']}", token=token)
    remove = {"removeFloatingIp": {"address": fip["ip"]}}
    removed = await front.call("POST", action, token=token, json=remove)
    again = await front.call("POST", action, token=token, json=remove)

    assert pools.body == {"floating_ip_pools": [{"name": "public"}]}
    assert (fip["pool"], fip["instance_id"], fip["fixed_ip"]) == ("public", None, None)
    assert add.status == 202 and shown.body["floating_ip"]["instance_id"] == server
    assert neutron.body["floatingip"]["status"] == "ACTIVE"
    assert (removed.status, again.status) == (202, 409)


async def test_novas_network_views_and_their_end_at_236(front: FrontEnd) -> None:
    """os-networks and os-tenant-networks show Neutron's networks in Nova's shape; from
    2.36 they and the floating IP proxy are gone (404), as in Nova."""
    token = await front.token()
    tenant = await front.call("GET", f"{COMPUTE}/os-tenant-networks", token=token)
    (private,) = tenant.body["networks"]
    shown = await front.call("GET", f"{COMPUTE}/os-networks/{private['id']}", token=token)
    missing = await front.call("GET", f"{COMPUTE}/os-networks/nope", token=token)
    gone = [
        (await front.call("GET", f"{COMPUTE}/{path}", token=token, headers=PROXY_GONE)).status
        for path in ("os-networks", "os-tenant-networks", "os-floating-ips")
    ]

    assert (private["label"], private["cidr"]) == ("private", "10.0.0.0/20")
    network = shown.body["network"]
    assert (network["label"], network["gateway"], network["netmask"]) == (
        "private",
        "10.0.0.1",
        "255.255.240.0",
    )
    assert missing.status == 404 and gone == [404, 404, 404]
