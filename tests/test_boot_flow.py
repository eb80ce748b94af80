"""The boot flow end to end: API → conductor → scheduler → compute, on every broker.

Each test starts a whole `Cloud` (identity, conductor, scheduler, image, network,
volume and fake compute hosts) isolated on the parametrized broker, acts only
through the library API, and observes the services to check that nothing leaked.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import secrets
from typing import Any

import pytest
import structlog

from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.compute import power_state
from nova_lite.exceptions import (
    FlavorNotFound,
    Forbidden,
    ImageNotFound,
    InstanceNotFound,
    Invalid,
    NetworkNotFound,
    NotAuthorized,
    QuotaExceeded,
)
from nova_lite.testing import (
    WAIT,
    CloudFactory,
    DriverFaults,
    NotificationTap,
    add_user,
    assert_audit_clean,
    assert_nothing_leaked,
    fake_driver,
    identity_of,
    unlimited_quota,
    wait_all,
)

# -- the whole flow ------------------------------------------------------------


async def test_boot_then_delete_walks_the_whole_flow(clouds: CloudFactory) -> None:
    """A boot returns BUILD at once, goes ACTIVE on a host with every resource in place, and a
    delete gives all of it back.
    """
    cloud = await clouds.start()
    admin = await cloud.login_admin()
    ctx = await admin.context()

    [server] = await admin.servers.create("web", flavor="m1.tiny", image="cirros")
    assert server.status == "BUILD"
    server = await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)

    assert server.status == "ACTIVE" and server.host is not None
    [network] = await cloud.api.network.list_networks(ctx)
    [subnet] = await cloud.api.network.list_subnets(ctx, network.id)
    first, last = (int(ipaddress.ip_address(a)) for a in (subnet.pool_start, subnet.pool_end))
    assert server.ip is not None and first <= int(ipaddress.ip_address(server.ip)) <= last
    compute = cloud.compute(server.host)
    assert (compute.images.cache_dir / (server.image or "")).is_file()
    instance = await cloud.api.conductor.instance_get(ctx, server.id)
    assert (await compute.driver.get_info(instance)).state == power_state.RUNNING
    [port] = await cloud.api.network.list_ports(ctx, device_id=server.id)
    assert (port.status, port.binding_host, port.network_id) == ("ACTIVE", server.host, network.id)

    await admin.servers.delete(server.id)
    deleted = await admin.servers.wait_for(server.id, "DELETED", timeout=WAIT)

    assert deleted.status == "DELETED"
    await assert_nothing_leaked(cloud, admin, [server.id])
    assert await _usage(admin) == {h: (0, 0, 0) for h in ("compute1", "compute2", "compute3")}
    await assert_audit_clean(cloud)


async def _usage(admin: Session) -> dict[str, tuple[int, int, int]]:
    """Each host's claimed vCPUs, RAM and instance count, as the scheduler reports them."""
    return {
        str(h["host"]): (int(h["vcpus_used"]), int(h["memory_mb_used"]), int(h["running_vms"]))  # type: ignore[call-overload]
        for h in await admin.hosts()
    }


# -- authentication and policy ---------------------------------------------------


async def test_a_random_token_is_not_authorized(clouds: CloudFactory) -> None:
    """A session whose token identity never issued is refused with NotAuthorized."""
    cloud = await clouds.start(computes=1)
    stranger = cloud.api.session(secrets.token_urlsafe(32))

    with pytest.raises(NotAuthorized):
        await stranger.servers.list()
    with pytest.raises(NotAuthorized):
        await stranger.servers.create("web", flavor="m1.tiny", image="cirros")


async def test_an_expired_token_is_not_authorized(clouds: CloudFactory) -> None:
    """Once identity's clock passes the token's expiry, the API refuses the token."""
    cloud = await clouds.start(computes=1, api={"token_cache_ttl": 0})
    admin = await cloud.login_admin()
    await admin.servers.list()
    identity = identity_of(cloud)
    later = objects.utcnow() + datetime.timedelta(seconds=cloud.config.identity.token_ttl + 1)
    identity.now = lambda: later

    with pytest.raises(NotAuthorized, match="expired"):
        await admin.servers.list()


async def test_a_revoked_token_is_not_authorized(clouds: CloudFactory) -> None:
    """After logout, the session's token is refused with NotAuthorized."""
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()
    await admin.servers.list()

    await admin.logout()

    with pytest.raises(NotAuthorized):
        await admin.servers.list()
    with pytest.raises(NotAuthorized):
        await cloud.api.session(admin.token).servers.list()


async def test_a_reader_may_read_but_not_create(clouds: CloudFactory) -> None:
    """A reader is Forbidden to create, yet lists and gets its project's servers."""
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()
    member = await add_user(cloud, admin, "alice", project="demo")
    reader = await add_user(cloud, admin, "bob", project="demo", role="reader")
    [server] = await member.servers.create("web", flavor="m1.tiny", image="cirros")
    await member.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)

    with pytest.raises(Forbidden):
        await reader.servers.create("mine", flavor="m1.tiny", image="cirros")

    assert [s.id for s in await reader.servers.list()] == [server.id]
    assert (await reader.servers.get(server.id)).status == "ACTIVE"
    with pytest.raises(Forbidden):
        await reader.servers.delete(server.id)


async def test_another_projects_server_is_invisible(clouds: CloudFactory) -> None:
    """Another project's server is not found by get or delete and absent from list; an admin sees
    all.
    """
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()
    alice = await add_user(cloud, admin, "alice", project="demo")
    carol = await add_user(cloud, admin, "carol", project="other")
    [mine] = await alice.servers.create("web", flavor="m1.tiny", image="cirros")
    [theirs] = await carol.servers.create("db", flavor="m1.tiny", image="cirros")
    await wait_all(admin, [mine, theirs], "ACTIVE")

    with pytest.raises(InstanceNotFound):
        await carol.servers.get(mine.id)
    with pytest.raises(InstanceNotFound):
        await carol.servers.delete(mine.id)
    assert [s.id for s in await carol.servers.list()] == [theirs.id]
    assert (await alice.servers.get(mine.id)).status == "ACTIVE"
    everyone = {s.id for s in await admin.servers.list(all_projects=True)}
    assert everyone == {mine.id, theirs.id}
    assert await admin.servers.list() == []


# -- quotas and bad requests -------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "limit", "flavor", "count"),
    [("instances", 2, "m1.tiny", 3), ("cores", 3, "m1.medium", 2), ("ram", 1000, "m1.tiny", 2)],
)
async def test_a_boot_over_quota_records_nothing(
    clouds: CloudFactory, resource: str, limit: int, flavor: str, count: int
) -> None:
    """A boot that would exceed a quota raises QuotaExceeded naming it, and records no server."""
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()
    alice = await add_user(cloud, admin, "alice", project="demo")
    project_id = (await alice.context()).project_id or ""
    await cloud.api.conductor.quota_set(await admin.context(), project_id, resource, limit)

    with pytest.raises(QuotaExceeded, match=resource):
        await alice.servers.create("web", flavor=flavor, image="cirros", count=count)

    assert await alice.servers.list() == []
    usage = (await cloud.api.conductor.quota_get(await admin.context(), project_id))["usage"]
    assert (usage["instances"], usage["cores"], usage["ram"]) == (0, 0, 0)
    await assert_audit_clean(cloud)


UNKNOWN: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"flavor": "m9.nope"}, FlavorNotFound),
    ({"image": "no-such-image"}, ImageNotFound),
    ({"image": "00000000-0000-4000-8000-000000000000"}, ImageNotFound),
    ({"networks": ["no-such-network"]}, NetworkNotFound),
]
BAD_INPUT: list[tuple[Any, Any]] = [
    *[(name, 1) for name in ("", "   ", "x" * 256, "bad\x00name", "tab\tname", 42, None)],
    *[("web", count) for count in (0, -1, 101, True, "2", 1.0)],
]
# Not a list of network ids: a string was once read as one-letter ids ("Network a").
BAD_NETWORKS: list[Any] = ["abc", ["private", ""], ["private", 7], {"private": 1}]


async def test_a_boot_naming_unknown_things_fails(clouds: CloudFactory) -> None:
    """An unknown flavor, image or network is reported as not found, and nothing is recorded."""
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()

    for options, error in UNKNOWN:
        with pytest.raises(error):
            await admin.servers.create("web", **{"flavor": "m1.tiny", "image": "cirros", **options})

    assert await admin.servers.list() == []


async def test_a_boot_with_a_bad_name_or_count_is_invalid(clouds: CloudFactory) -> None:
    """A blank, overlong, non-text or control-character name, or a bad count, is Invalid."""
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()

    for name, count in BAD_INPUT:
        with pytest.raises(Invalid) as caught:
            await admin.servers.create(name, flavor="m1.tiny", image="cirros", count=count)
        assert ("count" if name == "web" else "name") in str(caught.value)

    assert await admin.servers.list() == []


async def test_a_boot_with_networks_not_a_list_of_ids_is_invalid(clouds: CloudFactory) -> None:
    """A string, a blank or non-text id, or a mapping as `networks` is Invalid naming it."""
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()

    for networks in BAD_NETWORKS:
        with pytest.raises(Invalid, match=r"^networks(\[1\])? must"):
            await admin.servers.create("web", flavor="m1.tiny", image="cirros", networks=networks)

    assert await admin.servers.list() == []


# -- builds that fail --------------------------------------------------------------


@pytest.mark.parametrize("obstacle", ["flavor too big", "zone full"])
async def test_no_valid_host_puts_the_server_in_error(clouds: CloudFactory, obstacle: str) -> None:
    """When no host passes the filters the server goes to ERROR with a no-valid-host fault, and can
    be deleted.
    """
    cloud = await clouds.start(computes=2)
    admin = await cloud.login_admin()
    ctx = await admin.context()
    await unlimited_quota(cloud, admin)
    options: dict[str, Any] = {"flavor": "m1.tiny"}
    if obstacle == "flavor too big":
        huge = objects.Flavor(flavorid="99", name="huge", vcpus=1024, memory_mb=2**22, root_gb=1)
        await cloud.api.conductor.flavor_create(ctx, huge)
        options = {"flavor": "huge"}
    else:  # a zone of one host, full: the other host has room, but not in the zone
        big = objects.Flavor(flavorid="98", name="big", vcpus=1, memory_mb=30000, root_gb=1)
        await cloud.api.conductor.flavor_create(ctx, big)
        zone = await cloud.api.conductor.aggregate_create(ctx, "a1", availability_zone="az1")
        await cloud.api.conductor.aggregate_add_host(ctx, zone.id, "compute1")
        options = {"flavor": "big", "availability_zone": "az1"}
        [filler] = await admin.servers.create("filler", image="cirros", **options)
        filled = await admin.servers.wait_for(filler.id, "ACTIVE", timeout=WAIT)
        assert (filled.status, filled.host) == ("ACTIVE", "compute1")

    [server] = await admin.servers.create("web", image="cirros", **options)
    server = await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)

    assert server.status == "ERROR"
    assert server.fault is not None and "No valid host" in server.fault.message
    assert server.host is None
    await assert_nothing_leaked(cloud, admin, [server.id])
    await admin.servers.delete(server.id)
    assert (await admin.servers.wait_for(server.id, "DELETED", timeout=WAIT)).status == "DELETED"
    await assert_audit_clean(cloud)


async def test_a_spawn_failure_reschedules_to_another_host(clouds: CloudFactory) -> None:
    """A hypervisor failure on the chosen host reschedules the build to an alternate, where it goes
    ACTIVE.
    """
    cloud = await clouds.start(computes=2)
    admin = await cloud.login_admin()
    tap = await NotificationTap.attach(cloud)
    [first] = await admin.servers.create("first", flavor="m1.small", image="cirros")
    first = await admin.servers.wait_for(first.id, "ACTIVE", timeout=WAIT)
    busy = first.host or ""
    idle = "compute2" if busy == "compute1" else "compute1"
    fake_driver(cloud.compute(idle)).fail_next("spawn")

    [server] = await admin.servers.create("second", flavor="m1.tiny", image="cirros")
    server = await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)

    assert (server.status, server.host) == ("ACTIVE", busy)
    starts = [n.publisher_id for n in tap.about(server.id, "instance.create.start")]
    assert starts == [f"compute.{idle}", f"compute.{busy}"]
    assert server.id not in fake_driver(cloud.compute(idle)).guests
    assert await _usage(admin) == {busy: (2, 2560, 2), idle: (0, 0, 0)}
    await assert_audit_clean(cloud)


async def test_a_spawn_failing_everywhere_ends_in_error(clouds: CloudFactory) -> None:
    """When every attempt's spawn fails the server goes to ERROR after max_attempts, its claims
    released.
    """
    hosts = ["compute1", "compute2", "compute3"]
    cloud = await clouds.start(fake_driver={"fail_spawn_hosts": hosts})
    admin = await cloud.login_admin()
    tap = await NotificationTap.attach(cloud)

    [server] = await admin.servers.create("web", flavor="m1.tiny", image="cirros")
    server = await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)

    assert server.status == "ERROR"
    assert server.fault is not None and "Exceeded maximum number of retries" in server.fault.message
    attempts = tap.about(server.id, "instance.create.start")
    assert len(attempts) == cloud.config.scheduler.max_attempts
    assert {n.publisher_id for n in attempts} == {f"compute.{h}" for h in hosts}
    await tap.wait_event(server.id, "instance.create.error")
    await assert_nothing_leaked(cloud, admin, [server.id])
    assert await _usage(admin) == {h: (0, 0, 0) for h in hosts}
    await assert_audit_clean(cloud)


async def test_an_exhausted_address_pool_puts_the_extra_servers_in_error(
    clouds: CloudFactory,
) -> None:
    """Servers booted past a small subnet's last free address go to ERROR naming the exhaustion, and
    can be deleted.
    """
    cloud = await clouds.start()
    admin = await cloud.login_admin()
    ctx = await admin.context()
    tiny = await cloud.api.network.create_network(ctx, "tiny", shared=True)
    await cloud.api.network.create_subnet(ctx, tiny.id, "10.9.0.0/29")  # pool .2 - .6

    servers = await admin.servers.create(
        "web", flavor="m1.tiny", image="cirros", networks=["tiny"], count=7
    )
    servers = await wait_all(admin, servers, "ACTIVE")

    active = [s for s in servers if s.status == "ACTIVE"]
    failed = [s for s in servers if s.status == "ERROR"]
    assert len(active) == 5 and len(failed) == 2
    assert sorted(s.ip or "" for s in active) == [f"10.9.0.{i}" for i in range(2, 7)]
    for server in failed:
        assert server.fault is not None and "No more IP addresses" in server.fault.message
        await admin.servers.delete(server.id)
    deleted = await wait_all(admin, failed, "DELETED")
    assert {s.status for s in deleted} == {"DELETED"}
    await assert_nothing_leaked(cloud, admin, [s.id for s in failed])
    await assert_audit_clean(cloud)


async def test_an_image_whose_data_was_tampered_with_fails_the_build(
    clouds: CloudFactory,
) -> None:
    """An image whose stored bytes no longer match its checksum puts the server in ERROR and is not
    cached.
    """
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()
    ctx = await admin.context()
    data = b"a bootable disk" * 1000
    image = await cloud.api.image.create_from_bytes(ctx, "tampered", data, visibility="public")
    stored = cloud.config.service_dir("images") / image.id
    stored.write_bytes(b"A" + data[1:])

    [server] = await admin.servers.create("web", flavor="m1.tiny", image=image.id)
    server = await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)

    assert server.status == "ERROR"
    assert server.fault is not None and "MD5" in server.fault.message
    assert list(cloud.compute("compute1").images.cache_dir.iterdir()) == []
    await assert_nothing_leaked(cloud, admin, [server.id])
    await assert_audit_clean(cloud)


@pytest.mark.parametrize("moment", ["scheduling", "spawning"])
async def test_a_delete_during_the_build_wins(clouds: CloudFactory, moment: str) -> None:
    """A server deleted while it is being scheduled or spawned ends DELETED with nothing leaked."""
    cloud = await clouds.start()
    admin = await cloud.login_admin()
    hosts = ("compute1", "compute2", "compute3")
    with DriverFaults([fake_driver(cloud.compute(h)) for h in hosts]).hold("spawn") as gate:
        if moment == "scheduling":
            gate.release()
        [server] = await admin.servers.create("web", flavor="m1.tiny", image="cirros")
        if moment == "spawning":
            await gate.wait_reached()
        await admin.servers.delete(server.id)
    deleted = await admin.servers.wait_for(server.id, "DELETED", timeout=WAIT)

    assert deleted.status == "DELETED"
    await assert_nothing_leaked(cloud, admin, [server.id])
    assert await _usage(admin) == {h: (0, 0, 0) for h in hosts}
    await assert_audit_clean(cloud)


# -- concurrency -----------------------------------------------------------------

TIGHT_HOSTS: dict[str, Any] = {
    # 30 m1.tiny servers (1 vCPU, 512 MiB, 1 GiB) fit each host exactly.
    "fake_driver": {"vcpus": 30, "memory_mb": 30 * 512 + 512, "local_gb": 30},
    "compute": {
        "cpu_allocation_ratio": 1.0,
        "ram_allocation_ratio": 1.0,
        "disk_allocation_ratio": 1.0,
        "reserved_host_memory_mb": 512,
    },
}


async def test_a_hundred_boots_fill_the_hosts_exactly(clouds: CloudFactory) -> None:
    """Of 100 boots at once on room for 90, exactly 90 go ACTIVE, 10 find no valid host, and no host
    or address is given twice.
    """
    cloud = await clouds.start(**TIGHT_HOSTS)
    admin = await cloud.login_admin()
    await unlimited_quota(cloud, admin)

    servers = await admin.servers.create("load", flavor="m1.tiny", image="cirros", count=100)
    # A hundred builds at once over RabbitMQ on a loaded 2-core machine can take longer
    # than one server's WAIT: the test is about where they land, not how fast.
    servers = await wait_all(admin, servers, "ACTIVE", timeout=3 * WAIT)

    active = [s for s in servers if s.status == "ACTIVE"]
    failed = [s for s in servers if s.status == "ERROR"]
    assert (len(active), len(failed)) == (90, 10)
    assert all(s.fault is not None and "No valid host" in s.fault.message for s in failed)
    assert len({s.ip for s in active}) == 90
    assert await _usage(admin) == {
        h: (30, 30 * 512, 30) for h in ("compute1", "compute2", "compute3")
    }
    for index in (1, 2, 3):
        guests = fake_driver(cloud.compute(f"compute{index}")).guests.values()
        assert sum(g.vcpus for g in guests) == 30 and sum(g.memory_mb for g in guests) == 30 * 512
    ports = await cloud.api.network.list_ports(await admin.context())
    addresses = [ip["ip_address"] for p in ports for ip in p.fixed_ips]
    assert len(addresses) == len(set(addresses)) == 90
    await assert_audit_clean(cloud)


async def test_concurrent_boots_never_exceed_the_instance_quota(clouds: CloudFactory) -> None:
    """Twenty concurrent single boots against a quota of five record exactly five servers."""
    cloud = await clouds.start()
    admin = await cloud.login_admin()
    alice = await add_user(cloud, admin, "alice", project="demo")
    project_id = (await alice.context()).project_id or ""
    await cloud.api.conductor.quota_set(await admin.context(), project_id, "instances", 5)

    results = await asyncio.gather(
        *(alice.servers.create(f"web{i}", flavor="m1.tiny", image="cirros") for i in range(20)),
        return_exceptions=True,
    )

    created = [r[0] for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert (len(created), len(refused)) == (5, 15)
    assert {s.status for s in await wait_all(alice, created, "ACTIVE")} == {"ACTIVE"}
    assert len(await alice.servers.list()) == 5
    await assert_audit_clean(cloud)


# -- observability -----------------------------------------------------------------


async def test_one_boot_is_traceable_by_its_request_id(clouds: CloudFactory) -> None:
    """The request id of a boot is on log lines of the api, conductor, scheduler and compute, and no
    token is logged.
    """
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()
    tap = await NotificationTap.attach(cloud)

    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        [server] = await admin.servers.create("web", flavor="m1.tiny", image="cirros")
        await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
        end = await tap.wait_event(server.id, "instance.create.end")

    request_id = end.payload["request_id"]
    mine = {str(e["event"]) for e in logs if e.get("request_id") == request_id}
    for service in ("api", "conductor", "scheduler", "compute"):
        assert any(event.startswith(f"{service}.") for event in mine), (service, mine)
    assert all(admin.token not in repr(entry) for entry in logs)


async def test_a_boot_and_delete_are_announced_as_notifications(clouds: CloudFactory) -> None:
    """A consumer of notifications.* sees create.start/end for a boot, create.error for a failure,
    delete.start/end for a delete.
    """
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()
    tap = await NotificationTap.attach(cloud)

    huge = objects.Flavor(flavorid="99", name="huge", vcpus=1024, memory_mb=2**22, root_gb=1)
    await cloud.api.conductor.flavor_create(await admin.context(), huge)
    await unlimited_quota(cloud, admin)
    [server] = await admin.servers.create("web", flavor="m1.tiny", image="cirros")
    [doomed] = await admin.servers.create("lost", flavor="huge", image="cirros")
    start = await tap.wait_event(server.id, "instance.create.start")
    end = await tap.wait_event(server.id, "instance.create.end")
    error = await tap.wait_event(doomed.id, "instance.create.error")
    await admin.servers.delete(server.id)
    delete_start = await tap.wait_event(server.id, "instance.delete.start")
    delete_end = await tap.wait_event(server.id, "instance.delete.end")

    assert (start.priority, end.priority, error.priority) == ("INFO", "INFO", "ERROR")
    assert (start.payload["status"], start.payload["vm_state"]) == ("BUILD", "building")
    assert (end.payload["status"], end.payload["vm_state"]) == ("ACTIVE", "active")
    assert (error.payload["status"], error.payload["vm_state"]) == ("ERROR", "error")
    assert "No valid host" in error.payload["fault"]["message"]
    assert delete_end.payload["status"] == "DELETED" and delete_start.payload["uuid"] == server.id
    assert start.payload["request_id"] == end.payload["request_id"]
    assert start.payload["request_id"] != delete_end.payload["request_id"]
    assert end.publisher_id == "compute.compute1"
