"""Backpressure instead of timeouts: a burst ends ACTIVE however long the queues get.

Each test makes the queue on purpose: the network service slowed to one port at a
time so that its queue is several times the ``[rpc] timeout``, or spawns held while
more builds than ``[conductor] max_concurrent_builds`` arrive. Every build must
still end ACTIVE (the call monitor keeps the queued calls alive; the admission keeps
builds beyond the limit waiting at the conductor, not in the services' queues), and
the books must agree afterwards. On the in-memory broker and on RabbitMQ.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.cloud import Cloud, compute_host_name
from nova_lite.conductor.manager import ConductorManager
from nova_lite.network.manager import NetworkManager
from nova_lite.service import Manager, Service
from nova_lite.testing import (
    CloudFactory,
    DriverFaults,
    assert_audit_clean,
    capture_logs,
    conductor_of,
    events_named,
    fake_driver,
    scheduler_of,
    slow,
    unlimited_quota,
    wait_all,
)

M = TypeVar("M", bound=Manager)


def _service(cloud: Cloud, kind: type[M]) -> tuple[Service, M]:
    [service] = [s for s in cloud.services if isinstance(s.manager, kind)]
    assert isinstance(service.manager, kind)
    return service, service.manager


def _faults(cloud: Cloud) -> DriverFaults:
    hosts = (compute_host_name(i) for i in range(1, cloud.computes + 1))
    return DriverFaults([fake_driver(cloud.compute(host)) for host in hosts])


async def _admin(cloud: Cloud) -> Session:
    admin = await cloud.login_admin()
    await unlimited_quota(cloud, admin)
    return admin


async def test_a_burst_queued_past_the_rpc_timeout_at_a_slow_network_ends_active(
    clouds: CloudFactory,
) -> None:
    """16 builds behind a network giving one port per 0.4 s, with a 2 s timeout: all ACTIVE.

    The last port is handed out 6.4 s after the first request: without heartbeats
    every build past the fifth would time out on ``allocate_for_instance`` and go to
    ERROR.
    """
    cloud = await clouds.start(computes=2, rpc={"timeout": 2.0})
    admin = await _admin(cloud)
    _, network = _service(cloud, NetworkManager)
    # Inside the allocation's write transaction: the ports are made one at a time.
    with slow([network.allocator], "create_port", 0.4):
        servers = await admin.servers.create("burst", flavor="m1.tiny", image="cirros", count=16)
        done = await wait_all(admin, servers, "ACTIVE")
    assert [(s.status, s.fault) for s in done] == [("ACTIVE", None)] * 16
    await assert_audit_clean(cloud)


async def test_builds_past_the_admission_limit_wait_at_the_conductor(
    clouds: CloudFactory,
) -> None:
    """With two builds allowed at once and both held, six more wait unscheduled, then run."""
    cloud = await clouds.start(computes=2, conductor={"max_concurrent_builds": 2})
    admin = await _admin(cloud)
    admission = conductor_of(cloud).builds.admission
    with _faults(cloud).hold("spawn") as gate:
        servers = await admin.servers.create("burst", flavor="m1.tiny", image="cirros", count=8)
        await gate.wait_reached()
        assert (admission.running, admission.waiting) == (2, 6)
        records = [await admin.servers.get(s.id) for s in servers]
        assert sum(r.host is None for r in records) >= 6, "six builds are not even scheduled"
        assert len(scheduler_of(cloud).hosts.allocations) <= 2
    done = await wait_all(admin, servers, "ACTIVE")
    assert [s.status for s in done] == ["ACTIVE"] * 8
    assert (admission.running, admission.waiting) == (0, 0)
    await assert_audit_clean(cloud)


async def test_a_server_deleted_while_waiting_for_admission_is_never_scheduled(
    clouds: CloudFactory,
) -> None:
    """A waiting build whose server is deleted is withdrawn: no claim, no host, nothing left."""
    cloud = await clouds.start(computes=2, conductor={"max_concurrent_builds": 1})
    admin = await _admin(cloud)
    with capture_logs() as events, _faults(cloud).hold("spawn") as gate:
        servers = await admin.servers.create("burst", flavor="m1.tiny", image="cirros", count=3)
        await gate.wait_reached()
        waiting = [s for s in servers if (await admin.servers.get(s.id)).host is None]
        assert len(waiting) == 2
        await admin.servers.delete(waiting[0].id)
        await admin.servers.wait_for(waiting[0].id, "DELETED")
    kept = [s for s in servers if s.id != waiting[0].id]
    assert [s.status for s in await wait_all(admin, kept, "ACTIVE")] == ["ACTIVE"] * 2
    [withdrawn] = events_named(events, "conductor.build_withdrawn")
    assert withdrawn["instance_uuid"] == waiting[0].id
    selected = {e.get("instance_uuid") for e in events_named(events, "scheduler.selected")}
    assert waiting[0].id not in selected
    await assert_audit_clean(cloud)


async def test_a_stopping_conductor_hands_its_waiting_builds_back(clouds: CloudFactory) -> None:
    """Builds waiting when the conductor stops go back on the bus; the next one builds them."""
    cloud = await clouds.start(computes=2, conductor={"max_concurrent_builds": 1})
    admin = await _admin(cloud)
    service, _ = _service(cloud, ConductorManager)
    with capture_logs() as events, _faults(cloud).hold("spawn") as gate:
        servers = await admin.servers.create("burst", flavor="m1.tiny", image="cirros", count=3)
        await gate.wait_reached()
        await asyncio.wait_for(service.stop(), 20)
        assert len(events_named(events, "conductor.build_handed_back")) == 2
        manager = ConductorManager(cloud.config, cloud.transport, service.manager.host)
        replacement = Service(manager, serializer=objects.serializer())
        await replacement.start()
        cloud.services[cloud.services.index(service)] = replacement
    done = await wait_all(admin, servers, "ACTIVE")
    assert [s.status for s in done] == ["ACTIVE"] * 3
    await assert_audit_clean(cloud)
