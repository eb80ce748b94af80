"""The network service (networks, subnets, ports, IP allocation), driven over RPC.

Each test serves the manager on a topic unique to the test as well as on a unique
exchange: worker queues are named after the topic alone, so two runs sharing one
RabbitMQ would otherwise consume (and at teardown delete) each other's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nova_lite import objects, paging
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    Invalid,
    IpAddressExhausted,
    MarkerNotFound,
    NetworkNotFound,
    PortNotFound,
    UnsupportedVersion,
)
from nova_lite.network import ipam
from nova_lite.network.manager import NetworkManager
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.rpc import Invoker, Target
from nova_lite.service import Service
from nova_lite.testing import TransportFactory

ADMIN = RequestContext.admin(user_id="admin", project_id="admin")
ALICE = RequestContext(user_id="alice", project_id="p-alice", roles=("member",))
BOB = RequestContext(user_id="bob", project_id="p-bob", roles=("member",))
MAC = re.compile(r"^fa:16:3e(:[0-9a-f]{2}){3}$")


@pytest.fixture
async def api(broker: TransportFactory, tmp_path: Path) -> AsyncIterator[NetworkAPI]:
    """A network service on host1 and the NetworkAPI that reaches it."""
    topic = broker.name("network")

    class TestManager(NetworkManager):
        pass

    class TestAPI(NetworkAPI):
        pass

    TestManager.topic = TestAPI.topic = topic
    transport = await broker.connect()
    config = Config.load(
        environ={}, state_path=str(tmp_path), rpc={**broker.rpc_options(), "timeout": 15}
    )
    async with Service(TestManager(config, transport, "host1"), serializer=objects.serializer()):
        yield TestAPI(transport, config)


async def shared_net(
    api: NetworkAPI, cidr: str = "10.0.0.0/24", **pool: str
) -> tuple[objects.Network, objects.Subnet]:
    network = await api.create_network(ADMIN, "public")
    subnet = await api.create_subnet(ADMIN, network.id, cidr, **pool)
    return network, subnet


def new_uuid() -> str:
    return str(uuid.uuid4())


def ip_of(port: objects.Port) -> str:
    (fixed,) = port.fixed_ips
    return fixed["ip_address"]


# -- subnets -----------------------------------------------------------------


async def test_subnet_gets_neutron_defaults(api: NetworkAPI) -> None:
    """A subnet without options gets the first host as gateway and the rest as its pool."""
    network, subnet = await shared_net(api)
    assert (subnet.cidr, subnet.gateway_ip, subnet.ip_version) == ("10.0.0.0/24", "10.0.0.1", 4)
    assert (subnet.pool_start, subnet.pool_end) == ("10.0.0.2", "10.0.0.254")
    assert (await api.get_network(ALICE, network.id)).subnets == (subnet.id,)
    assert await api.list_subnets(ALICE, network.id) == [subnet]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"cidr": "10.0.0.300/24"}, "10.0.0.300/24"),
        ({"cidr": "10.0.0.1/24"}, "host bits set"),
        ({"cidr": "not-a-cidr"}, "not-a-cidr"),
        ({"cidr": 42}, "42"),
        ({"cidr": "10.0.0.0/31"}, "too small"),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.1.1"}, "gateway_ip '10.0.1.1'"),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.255"}, "gateway_ip '10.0.0.255'"),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "fe80::1"}, "gateway_ip 'fe80::1'"),
        ({"cidr": "10.0.0.0/24", "pool_start": "bogus"}, "pool_start 'bogus'"),
        ({"cidr": "10.0.0.0/24", "pool_end": "10.0.0.0"}, "pool_end '10.0.0.0'"),
        ({"cidr": "10.0.0.0/24", "pool_start": "10.0.0.9", "pool_end": "10.0.0.5"}, "after"),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.5", "pool_end": "10.0.0.9"}, "gateway"),
    ],
)
def test_plan_subnet_rejects_bad_values(kwargs: dict[str, object], named: str) -> None:
    """Every bad CIDR, gateway or pool raises Invalid whose message names the bad value."""
    with pytest.raises(Invalid, match=re.escape(named)):
        ipam.plan_subnet(**kwargs)


def test_plan_subnet_handles_ipv6_and_custom_pools() -> None:
    """IPv6 subnets use the whole range after the gateway; explicit pools are kept."""
    v6 = ipam.plan_subnet("fd00::/64")
    assert (v6.gateway_ip, v6.pool_start, v6.pool_end, v6.ip_version) == (
        "fd00::1",
        "fd00::2",
        "fd00::ffff:ffff:ffff:ffff",
        6,
    )
    plan = ipam.plan_subnet("10.1.0.0/16", "10.1.255.254", "10.1.0.10", "10.1.0.20")
    assert (plan.gateway_ip, plan.pool_start, plan.pool_end) == (
        "10.1.255.254",
        "10.1.0.10",
        "10.1.0.20",
    )


def test_first_free_skips_taken_addresses_and_reports_a_full_pool() -> None:
    """The allocator picks the lowest free pool address and None once all are taken."""
    assert ipam.first_free("10.0.0.2", "10.0.0.4", {"10.0.0.2"}) == "10.0.0.3"
    assert ipam.first_free("fd00::2", "fd00::3", ["fd00::2"]) == "fd00::3"
    assert ipam.first_free("10.0.0.2", "10.0.0.3", ["10.0.0.2", "10.0.0.3"]) is None


def test_random_mac_uses_the_neutron_prefix() -> None:
    """Generated MACs are locally administered fa:16:3e addresses."""
    assert ipam.random_mac(lambda n: bytes([0xAB, 0x01, 0xFF])) == "fa:16:3e:ab:01:ff"
    assert MAC.match(ipam.random_mac())


async def test_subnet_errors_cross_the_wire(api: NetworkAPI) -> None:
    """Over RPC, bad subnets, overlaps and unknown networks raise the service's errors."""
    network, _ = await shared_net(api)
    with pytest.raises(Invalid, match=re.escape("10.0.0.1/24")):
        await api.create_subnet(ADMIN, network.id, "10.0.0.1/24")
    with pytest.raises(Invalid, match=re.escape("overlaps with another subnet (10.0.0.0/24)")):
        await api.create_subnet(ADMIN, network.id, "10.0.0.128/25")
    with pytest.raises(NetworkNotFound, match="nope"):
        await api.create_subnet(ADMIN, "nope", "10.9.0.0/24")
    with pytest.raises(Forbidden):
        await api.create_subnet(ALICE, network.id, "10.9.0.0/24")


# -- ports -------------------------------------------------------------------


async def test_allocate_gives_a_mac_and_an_ip_from_the_pool(api: NetworkAPI) -> None:
    """Each requested network yields one DOWN port with a fa:16:3e MAC and a pool IP."""
    network, subnet = await shared_net(api, pool_start="10.0.0.100", pool_end="10.0.0.110")
    instance = new_uuid()
    (port,) = await api.allocate_for_instance(ALICE, instance, [network.id], "p-alice")
    assert MAC.match(port.mac_address)
    assert port.fixed_ips == ({"subnet_id": subnet.id, "ip_address": "10.0.0.100"},)
    assert (port.network_id, port.device_id, port.project_id) == (network.id, instance, "p-alice")
    assert (port.status, port.binding_host) == ("DOWN", None)
    assert await api.get_port(ALICE, port.id) == port
    assert await api.list_ports(ALICE, device_id=instance) == [port]


async def test_concurrent_allocations_never_share_an_address(api: NetworkAPI) -> None:
    """50 concurrent allocations on a 50-address pool get 50 distinct IPs; the 51st fails."""
    network, subnet = await shared_net(
        api, "10.0.0.0/26", pool_start="10.0.0.2", pool_end="10.0.0.51"
    )
    results = await asyncio.gather(
        *(api.allocate_for_instance(ADMIN, new_uuid(), [network.id], "p1") for _ in range(50))
    )
    ports = [port for (port,) in results]
    pool = {str(ipaddress.ip_address("10.0.0.2") + i) for i in range(50)}
    assert {ip_of(port) for port in ports} == pool
    assert len({port.mac_address for port in ports}) == 50
    with pytest.raises(IpAddressExhausted) as caught:
        await api.allocate_for_instance(ADMIN, new_uuid(), [network.id], "p1")
    assert subnet.id in str(caught.value) and network.id in str(caught.value)


async def test_deallocate_frees_addresses_for_reuse(api: NetworkAPI) -> None:
    """Releasing an instance's ports returns their addresses to the pool."""
    network, _ = await shared_net(api, "10.0.0.0/29", pool_start="10.0.0.2", pool_end="10.0.0.2")
    first, second = new_uuid(), new_uuid()
    (port,) = await api.allocate_for_instance(ADMIN, first, [network.id], "p1")
    with pytest.raises(IpAddressExhausted):
        await api.allocate_for_instance(ADMIN, second, [network.id], "p1")
    await api.deallocate_for_instance(ADMIN, first)
    await api.deallocate_for_instance(ADMIN, first)  # nothing left: no error
    assert await api.list_ports(ADMIN, device_id=first) == []
    with pytest.raises(PortNotFound):
        await api.get_port(ADMIN, port.id)
    (again,) = await api.allocate_for_instance(ADMIN, second, [network.id], "p1")
    assert ip_of(again) == ip_of(port) == "10.0.0.2"


async def test_failure_on_a_later_network_releases_earlier_ports(api: NetworkAPI) -> None:
    """When the second network's pool is full, the port made on the first is rolled back."""
    first_net, _ = await shared_net(api, "10.0.0.0/24")
    full_net, _ = await shared_net(api, "10.1.0.0/29", pool_start="10.1.0.2", pool_end="10.1.0.2")
    await api.allocate_for_instance(ADMIN, new_uuid(), [full_net.id], "p1")
    instance = new_uuid()
    with pytest.raises(IpAddressExhausted, match=full_net.id):
        await api.allocate_for_instance(ADMIN, instance, [first_net.id, full_net.id], "p1")
    assert await api.list_ports(ADMIN, device_id=instance) == []
    assert await api.list_ports(ADMIN, network_id=first_net.id) == []
    (port,) = await api.allocate_for_instance(ADMIN, new_uuid(), [first_net.id], "p1")
    assert ip_of(port) == "10.0.0.2"


async def test_allocate_again_returns_the_same_ports(api: NetworkAPI) -> None:
    """A second allocation for the same instance and networks (a reschedule) reuses ports."""
    network, _ = await shared_net(api)
    other, _ = await shared_net(api, "10.5.0.0/24")
    instance = new_uuid()
    ports = await api.allocate_for_instance(ADMIN, instance, [network.id, other.id], "p1")
    assert await api.allocate_for_instance(ADMIN, instance, [network.id, other.id], "p1") == ports
    assert len(await api.list_ports(ADMIN, device_id=instance)) == 2


async def test_allocated_ports_are_returned_as_stored(api: NetworkAPI) -> None:
    """The ports an allocation makes (bound to a host, with the groups asked for, or on a
    network without subnets) are returned as a read of them gives them, with no read."""
    network, _ = await shared_net(api)
    bare = await api.create_network(ADMIN, "bare")
    web = await api.create_security_group(ALICE, {"name": "web"})
    instance = new_uuid()
    await api.request_security_groups(ALICE, [instance], [web.id, web.id])
    ports = await api.allocate_for_instance(
        ALICE, instance, [network.id, bare.id], "p-alice", host="compute-3"
    )
    assert [(p.status, p.binding_host, p.security_groups) for p in ports] == [
        ("ACTIVE", "compute-3", (web.id,)),
        ("ACTIVE", "compute-3", (web.id,)),
    ]
    assert ports[1].fixed_ips == ()
    assert [await api.get_port(ALICE, port.id) for port in ports] == ports
    assert await api.list_ports(ALICE, device_id=instance) == ports


async def test_an_address_another_connection_took_is_skipped(
    api: NetworkAPI, tmp_path: Path
) -> None:
    """An address the allocator's free set still holds free, taken meanwhile by another
    connection, is refused by the insert itself: the next one is handed out, never one
    twice; a pool used up that way leaves neither a port nor an address row behind."""
    network, subnet = await shared_net(
        api, "10.0.0.0/29", pool_start="10.0.0.2", pool_end="10.0.0.4"
    )
    (first,) = await api.allocate_for_instance(ADMIN, new_uuid(), [network.id], "p1")
    assert ip_of(first) == "10.0.0.2"
    with sqlite3.connect(tmp_path / "network.sqlite") as other:
        for address in ("10.0.0.3", "10.0.0.4"):
            other.execute(
                "INSERT INTO ports (id, network_id, mac_address, created_at) VALUES (?, ?, ?, '')",
                (f"other-{address}", network.id, ipam.random_mac()),
            )
            other.execute(
                "INSERT INTO ip_allocations (port_id, subnet_id, ip_address) VALUES (?, ?, ?)",
                (f"other-{address}", subnet.id, address),
            )
    instance = new_uuid()
    with pytest.raises(IpAddressExhausted):
        await api.allocate_for_instance(ADMIN, instance, [network.id], "p1")
    assert await api.list_ports(ADMIN, device_id=instance) == []
    with sqlite3.connect(tmp_path / "network.sqlite") as other:
        rows = other.execute("SELECT port_id, ip_address FROM ip_allocations ORDER BY 2")
        assert rows.fetchall() == [
            (first.id, "10.0.0.2"),
            ("other-10.0.0.3", "10.0.0.3"),
            ("other-10.0.0.4", "10.0.0.4"),
        ]
        other.execute("PRAGMA foreign_keys=ON")  # its address goes with it
        other.execute("DELETE FROM ports WHERE id = 'other-10.0.0.4'")
    (port,) = await api.allocate_for_instance(ADMIN, instance, [network.id], "p1")
    assert ip_of(port) == "10.0.0.4"


async def test_bind_port_marks_it_active_on_the_host(api: NetworkAPI) -> None:
    """Binding a port records the compute host and sets the port ACTIVE."""
    network, _ = await shared_net(api)
    (port,) = await api.allocate_for_instance(ALICE, new_uuid(), [network.id], "p-alice")
    bound = await api.bind_port(ALICE, port.id, "compute-7")
    assert (bound.status, bound.binding_host) == ("ACTIVE", "compute-7")
    assert await api.get_port(ALICE, port.id) == bound
    with pytest.raises(PortNotFound):
        await api.bind_port(BOB, port.id, "compute-7")


async def test_delete_network_conflicts_while_ports_remain(api: NetworkAPI) -> None:
    """A network with ports cannot be deleted; once they are released it can."""
    network, _ = await shared_net(api)
    instance = new_uuid()
    await api.allocate_for_instance(ADMIN, instance, [network.id], "p1")
    with pytest.raises(Conflict, match="port"):
        await api.delete_network(ADMIN, network.id)
    await api.deallocate_for_instance(ADMIN, instance)
    await api.delete_network(ADMIN, network.id)
    with pytest.raises(NetworkNotFound):
        await api.get_network(ADMIN, network.id)


async def test_project_networks_are_visible_only_to_their_project(api: NetworkAPI) -> None:
    """Projects see shared networks and their own; admins see all; others get NotFound."""
    public, _ = await shared_net(api)
    with pytest.raises(Forbidden, match="shared"):
        await api.create_network(ALICE, "mine")
    private = await api.create_network(ALICE, "private", shared=False)
    assert (private.project_id, private.shared) == ("p-alice", False)
    await api.create_subnet(ALICE, private.id, "192.168.0.0/24")
    assert {n.id for n in await api.list_networks(ALICE)} == {public.id, private.id}
    assert {n.id for n in await api.list_networks(BOB)} == {public.id}
    assert {n.id for n in await api.list_networks(ADMIN)} == {public.id, private.id}
    with pytest.raises(NetworkNotFound):
        await api.get_network(BOB, private.id)
    with pytest.raises(NetworkNotFound):
        await api.allocate_for_instance(BOB, new_uuid(), [private.id], "p-bob")
    with pytest.raises(Forbidden):
        await api.delete_network(BOB, public.id)
    with pytest.raises(Forbidden, match="create_port"):
        await api.allocate_for_instance(BOB, new_uuid(), [public.id], "p-alice")
    (port,) = await api.allocate_for_instance(ALICE, new_uuid(), [private.id], "p-alice")
    assert await api.list_ports(BOB) == []
    with pytest.raises(PortNotFound):
        await api.get_port(BOB, port.id)


async def test_bad_arguments_raise_invalid_naming_the_field(api: NetworkAPI) -> None:
    """Wrong argument types are refused with Invalid naming the field and the value."""
    with pytest.raises(Invalid, match="name must be a string, not 5"):
        await api.create_network(ADMIN, 5)  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="shared must be true or false, not 'yes'"):
        await api.create_network(ADMIN, "n", shared="yes")  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="network_ids must be a list of strings, not 'abc'"):
        await api.allocate_for_instance(ADMIN, new_uuid(), "abc", "p1")  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="instance_uuid must not be empty"):
        await api.allocate_for_instance(ADMIN, "", [], "p1")


async def test_released_addresses_come_back_lowest_first(api: NetworkAPI) -> None:
    """The allocator's free set: released addresses are handed out again lowest first,
    before any never used, and an address taken by an explicit request is skipped."""
    network, _ = await shared_net(api)
    instances = [new_uuid() for _ in range(6)]
    for instance in instances:
        await api.allocate_for_instance(ADMIN, instance, [network.id], "p1")
    await api.deallocate_for_instance(ADMIN, instances[3])  # 10.0.0.5
    await api.deallocate_for_instance(ADMIN, instances[1])  # 10.0.0.3
    (fixed,) = await api.create_ports(
        ADMIN, [{"network_id": network.id, "fixed_ips": [{"ip_address": "10.0.0.8"}]}]
    )
    assert ip_of(fixed) == "10.0.0.8"
    got = [
        ip_of((await api.allocate_for_instance(ADMIN, new_uuid(), [network.id], "p1"))[0])
        for _ in range(4)
    ]
    assert got == ["10.0.0.3", "10.0.0.5", "10.0.0.9", "10.0.0.10"]
    await api.delete_port(ADMIN, fixed.id)
    (port,) = await api.allocate_for_instance(ADMIN, new_uuid(), [network.id], "p1")
    assert ip_of(port) == "10.0.0.8"


# -- paging the port list ----------------------------------------------------------


async def test_ports_page_by_id_and_every_page_holds_every_port_once(api: NetworkAPI) -> None:
    """`list_ports(limit=, marker=)` gives ports by id after the marker, each port whole
    (two fixed IPs); reading page after page gives the whole list in id order, with a
    port made and one deleted between pages never given twice."""
    network, _ = await shared_net(api)
    other, _ = await shared_net(api, "10.5.0.0/24")
    for _ in range(5):
        await api.allocate_for_instance(ADMIN, new_uuid(), [network.id, other.id], "p1")
    every = await api.list_ports(ADMIN)
    ids = sorted(p.id for p in every)

    first = await api.list_ports(ADMIN, limit=3)
    assert [p.id for p in first] == ids[:3]
    assert [p.id for p in await api.list_ports(ADMIN, marker=ids[2], limit=3)] == ids[3:6]
    assert await api.list_ports(ADMIN, marker=ids[-1], limit=3) == []
    assert {p.id: p for p in every} == {p.id: p for p in await api.all_ports(ADMIN)}

    changes = iter([new_uuid(), new_uuid()])
    read = api.list_ports

    async def changing(ctx: RequestContext, **kwargs: object) -> list[objects.Port]:
        page = await read(ctx, **kwargs)  # type: ignore[arg-type]
        device = next(changes, None)
        if device is not None:  # between pages: a server made, a server gone
            await api.allocate_for_instance(ADMIN, device, [network.id], "p1")
            await api.deallocate_for_instance(ADMIN, str(every[-1].device_id))
        return page

    api.list_ports = changing  # type: ignore[method-assign]
    monkeypatched = await api.all_ports(ADMIN)
    got = [p.id for p in monkeypatched]
    assert got == sorted(set(got))
    assert {p.id for p in every[:-2]} <= set(got)  # the ports no change touched


async def test_an_unknown_marker_or_a_bad_limit_is_refused(api: NetworkAPI) -> None:
    """A marker that is no port the caller sees is `MarkerNotFound` (400); a limit of 0,
    over the maximum or not an integer is `Invalid` naming it."""
    network, _ = await shared_net(api)
    (port,) = await api.allocate_for_instance(ALICE, new_uuid(), [network.id], "p-alice")
    with pytest.raises(MarkerNotFound, match="no-such-port"):
        await api.list_ports(ADMIN, marker="no-such-port", limit=2)
    with pytest.raises(MarkerNotFound):
        await api.list_ports(BOB, marker=port.id, limit=2)  # another project's port
    assert await api.list_ports(ALICE, marker=port.id, limit=2) == []
    for limit in (0, -3, paging.MAX_LIMIT + 1):
        with pytest.raises(Invalid, match="limit must be"):
            await api.list_ports(ADMIN, limit=limit)
    with pytest.raises(Invalid, match="limit"):
        await api.list_ports(ADMIN, limit="2")  # type: ignore[arg-type]


async def test_the_ports_of_some_devices_are_theirs_and_visible_only(api: NetworkAPI) -> None:
    """ports_of_devices (1.3) gives the visible ports of the devices named, each once,
    and none of another; a member sees only its project's; more devices than a call
    may name are asked in parts by the client, and refused on the wire."""
    network, _ = await shared_net(api)
    devices = [new_uuid() for _ in range(5)]
    projects = ("p-alice", "p-alice", "p-bob", "p-bob", "p-alice")
    for device, project in zip(devices, projects, strict=True):
        await api.allocate_for_instance(ADMIN, device, [network.id, network.id], project)
    asked = devices[:3]
    found = await api.devices_ports(ADMIN, asked)
    assert sorted(p.device_id or "" for p in found) == sorted(asked * 2)
    assert len({p.id for p in found}) == 6
    mine = await api.devices_ports(ALICE, devices)
    assert {p.device_id for p in mine} == {devices[0], devices[1], devices[4]}
    assert await api.devices_ports(ALICE, []) == []
    many = [new_uuid() for _ in range(paging.PAGE_SIZE)] + devices[:1]
    assert len(await api.devices_ports(ADMIN, many)) == 2  # two calls, one device found
    with pytest.raises(Invalid, match="At most"):
        await api.invoker.prepare(version="1.3").call(ADMIN, "ports_of_devices", device_ids=many)


async def test_a_project_port_count_is_its_own_ports(api: NetworkAPI) -> None:
    """count_ports (1.2) counts the caller's project's ports, an admin's included (its
    own project, not the cloud's)."""
    network, _ = await shared_net(api)
    for project, count in (("p-alice", 3), ("p-bob", 2)):
        for _ in range(count):
            await api.allocate_for_instance(ADMIN, new_uuid(), [network.id], project)
    for ctx, expected in ((ALICE, 3), (BOB, 2), (ADMIN, 0)):
        assert await api.project_port_count(ctx) == expected


@contextlib.asynccontextmanager
async def _old_network(
    broker: TransportFactory, tmp_path: Path, version: str
) -> AsyncIterator[NetworkAPI]:
    """A network service of an older version (its target's), and an API that reaches it."""
    topic = broker.name("network")

    class OldManager(NetworkManager):
        target = Target(version=version)

    class TestAPI(NetworkAPI):
        pass

    OldManager.topic = TestAPI.topic = topic
    transport = await broker.connect()
    config = Config.load(environ={}, state_path=str(tmp_path), rpc=broker.rpc_options())
    async with Service(OldManager(config, transport, "host1"), serializer=objects.serializer()):
        yield TestAPI(transport, config)


async def test_a_caller_capped_below_1_2_counts_ports_a_1_1_service_lists(
    broker: TransportFactory, tmp_path: Path
) -> None:
    """A network service at 1.1 has no count_ports: an API capped at 1.1 (its network
    services not yet upgraded) reads and counts the project's ports instead; one not
    capped is refused the version."""
    async with _old_network(broker, tmp_path, "1.1") as api:
        network, _ = await shared_net(api)
        for project in ("p-alice", "p-alice", "p-bob"):
            await api.allocate_for_instance(ADMIN, new_uuid(), [network.id], project)
        capped = type(api).__new__(type(api))
        capped.invoker = Invoker(
            api.invoker.transport,
            api.invoker.target,
            version_cap="1.1",
            serializer=objects.serializer(),
        )
        assert await capped.project_port_count(ALICE) == 2
        assert await capped.project_port_count(BOB) == 1
        with pytest.raises(UnsupportedVersion):
            await api.project_port_count(ALICE)
        every = await api.all_ports(ADMIN)
        some = {every[0].device_id or "", every[2].device_id or ""}
        picked = await capped.devices_ports(ADMIN, sorted(some))
        assert sorted(p.id for p in picked) == sorted(p.id for p in every if p.device_id in some)
        with pytest.raises(UnsupportedVersion):
            await api.devices_ports(ADMIN, sorted(some))


async def test_a_list_without_paging_still_goes_to_a_server_of_the_version_before(
    broker: TransportFactory, tmp_path: Path
) -> None:
    """A network service at 1.0 (before paging) still gives every port to a caller that
    does not page (sent as 1.0); a page asked of it is refused as a version it lacks."""
    async with _old_network(broker, tmp_path, "1.0") as api:
        network, _ = await shared_net(api)
        for _ in range(3):
            await api.allocate_for_instance(ADMIN, new_uuid(), [network.id], "p1")
        assert len(await api.list_ports(ADMIN)) == 3
        with pytest.raises(UnsupportedVersion):
            await api.list_ports(ADMIN, limit=2)
