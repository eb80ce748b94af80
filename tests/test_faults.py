"""Faults: services dying mid-work, services doubled, and the broker restarting.

Process death is played in process: a "killed" service has its connection closed
under it without a graceful stop (what the broker sees when a process dies), and
its replacement starts from the same state directory, as a restarted process does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
import pytest_asyncio

from nova_lite import Invoker, RequestContext, Target, Worker, objects
from nova_lite.cloud import Cloud
from nova_lite.compute.manager import ComputeManager
from nova_lite.conductor.manager import ConductorManager
from nova_lite.exceptions import ConnectionLost, MessagingTimeout, QuotaExceeded
from nova_lite.rpc import endpoint
from nova_lite.rpc.worker import WorkerState
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.service import Service
from nova_lite.testing import PrivateRabbitMQ
from nova_lite.transport import Delivery, Message
from tests.cloud_fixtures import (
    WAIT,
    CloudFactory,
    NotificationTap,
    assert_audit_clean,
    scheduler_of,
    unlimited_quota,
)
from tests.conftest import TransportFactory


async def _kill(cloud: Cloud, manager_type: type, host: str | None = None) -> Service:
    """Take a service out of the cloud as if its process died: no graceful stop.

    Its consumers go, its in-flight handlers and periodic tasks are cancelled where
    they stand, and nothing is cleaned up.
    """
    for service in list(cloud.services):
        manager = service.manager
        if isinstance(manager, manager_type) and (host is None or manager.host == host):
            cloud.services.remove(service)
            service.running = False
            worker = service.worker
            for subscription in worker._subscriptions:
                if subscription.consumer is not None:
                    await subscription.consumer.cancel()
                    subscription.consumer = None
            doomed = [*service._periodic, *worker._tasks]
            for task in doomed:
                task.cancel()
            await asyncio.gather(*doomed, return_exceptions=True)
            worker.state = WorkerState.STOPPED
            return service
    raise AssertionError(f"no {manager_type.__name__} to kill")


async def test_compute_killed_mid_build_ends_in_error_and_recovers(
    clouds: CloudFactory, broker: TransportFactory
) -> None:
    """A build whose compute dies times out to ERROR; the restarted compute recovers."""
    cloud = await clouds.start(
        computes=1,
        compute={"instance_build_timeout": 1.0},
        fake_driver={"spawn_delay": 30.0},
    )
    admin = await cloud.login_admin()
    tap = await NotificationTap.attach(cloud)
    (server,) = await admin.servers.create("doomed", flavor="m1.tiny", image="cirros")
    compute = cloud.compute("compute1")
    await tap.wait_event(server.id, "instance.create.start")  # the build reached the host
    dead = await _kill(cloud, ComputeManager, "compute1")
    await dead.manager.cleanup_host()
    failed = await admin.servers.wait_for(server.id, "ERROR", timeout=WAIT)
    assert failed.fault is not None and "instance_build_timeout" in failed.fault.message
    assert server.id not in scheduler_of(cloud).hosts.allocations

    transport = await broker.connect()
    driver = compute.driver
    driver.config = attrs.evolve(driver.config, spawn_delay=0.0)  # type: ignore[attr-defined]
    revived = ComputeManager(cloud.config, transport, "compute1", driver=driver)
    async with Service(revived, serializer=objects.serializer()):
        (later,) = await admin.servers.create("later", flavor="m1.tiny", image="cirros")
        assert (await admin.servers.wait_for(later.id, "ACTIVE", timeout=WAIT)).host
        await admin.servers.delete(server.id)
        await admin.servers.wait_for(server.id, "DELETED", timeout=WAIT)
        await admin.servers.delete(later.id)
        await admin.servers.wait_for(later.id, "DELETED", timeout=WAIT)
        await assert_audit_clean(cloud)


async def test_a_restarted_conductor_carries_on(
    clouds: CloudFactory, broker: TransportFactory
) -> None:
    """Killing the conductor and starting a new one on the same database loses nothing."""
    cloud = await clouds.start(computes=2)
    admin = await cloud.login_admin()
    (first,) = await admin.servers.create("before", flavor="m1.tiny", image="cirros")
    await admin.servers.wait_for(first.id, "ACTIVE", timeout=WAIT)
    dead = await _kill(cloud, ConductorManager)
    await dead.manager.cleanup_host()
    replacement = Service(
        ConductorManager(cloud.config, await broker.connect(), "control2"),
        serializer=objects.serializer(),
    )
    await replacement.start()
    try:
        assert (await admin.servers.get(first.id)).status == "ACTIVE"
        (second,) = await admin.servers.create("after", flavor="m1.tiny", image="cirros")
        assert (await admin.servers.wait_for(second.id, "ACTIVE", timeout=WAIT)).host
        await assert_audit_clean(cloud)
    finally:
        await replacement.stop()


async def test_two_schedulers_never_double_book(
    clouds: CloudFactory, broker: TransportFactory
) -> None:
    """Two scheduler processes on one database share the hosts without overbooking."""
    cloud = await clouds.start(
        computes=2,
        fake_driver={"vcpus": 4, "memory_mb": 4096 + 512},
        compute={"cpu_allocation_ratio": 1.0, "ram_allocation_ratio": 1.0},
    )
    admin = await cloud.login_admin()
    await unlimited_quota(cloud, admin)
    scheduler = SchedulerManager(cloud.config, await broker.connect(), "control2")
    second = Service(scheduler, serializer=objects.serializer())
    await second.start()
    try:
        for host in ("compute1", "compute2"):
            await scheduler.hosts.update_node(cloud.compute(host).tracker.compute_node())
        creates = [
            admin.servers.create(f"s{i}", flavor="m1.tiny", image="cirros") for i in range(12)
        ]
        servers = [s for batch in await asyncio.gather(*creates) for s in batch]
        done = [await admin.servers.wait_for(s.id, "ACTIVE", timeout=WAIT) for s in servers]
        active = [s for s in done if s.status == "ACTIVE"]
        assert len(active) == 8  # 2 hosts x 4 vCPUs of m1.tiny, whichever scheduler chose
        for host in ("compute1", "compute2"):
            assert len(cloud.compute(host).driver.guests) == 4  # type: ignore[attr-defined]
    finally:
        await second.stop()
    for host in ("compute1", "compute2"):  # the reports that show each its peer's claims
        await scheduler_of(cloud).hosts.update_node(cloud.compute(host).tracker.compute_node())
    await assert_audit_clean(cloud)


@pytest_asyncio.fixture
async def private_clouds(
    private_broker: TransportFactory, tmp_path: Path
) -> AsyncIterator[CloudFactory]:
    """Clouds on the test's private RabbitMQ node, which the test may restart."""
    async with CloudFactory(private_broker, tmp_path / "clouds") as factory:
        yield factory


class Slow:
    """An endpoint whose calls never answer (until released), and a cast counter."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.seen: list[int] = []
        self.changed = asyncio.Event()

    @endpoint
    async def hang(self, ctx: RequestContext) -> None:
        self.entered.set()
        await self.release.wait()

    @endpoint
    async def note(self, ctx: RequestContext, n: int) -> None:
        self.seen.append(n)
        self.changed.set()


async def test_broker_restart_loses_no_confirmed_cast(
    private_rabbitmq: PrivateRabbitMQ,
    private_broker: TransportFactory,
    private_clouds: CloudFactory,
) -> None:
    """After a broker restart: confirmed casts survive, calls fail fast, all reconnect."""
    broker = private_broker
    cloud = await private_clouds.start(computes=1, rpc={"durable_queues": True})
    admin = await cloud.login_admin()
    transport = await broker.connect()
    target = Target(topic=broker.name("durable"), exchange=broker.name("nova"))
    worker_target = Target(topic=target.topic, server="w1", exchange=target.exchange)
    slow = Slow()
    async with Worker(transport, worker_target, [slow], durable_queues=True):
        pass  # leave a durable queue with nobody consuming
    # Every party on one exchange declares it alike: durable exactly when durable_queues.
    invoker = Invoker(transport, target, timeout=60, persistent_casts=True, durable_queues=True)
    for n in range(200):
        await invoker.cast(RequestContext(), "note", n=n)
    hanging_target = Target(topic=broker.name("hang"), exchange=target.exchange)
    hanging = Slow()
    hanging_worker = Worker(
        transport,
        Target(topic=hanging_target.topic, server="w2", exchange=target.exchange),
        [hanging],
        durable_queues=True,
    )
    await hanging_worker.start()
    in_flight = asyncio.create_task(
        Invoker(transport, hanging_target, timeout=60, durable_queues=True).call(
            RequestContext(), "hang"
        )
    )
    await asyncio.wait_for(hanging.entered.wait(), WAIT)
    try:
        await private_rabbitmq.stop_app()
        with pytest.raises((ConnectionLost, MessagingTimeout)):
            await asyncio.wait_for(in_flight, 30)
    finally:
        await private_rabbitmq.start_app()
    for connection in (transport, cloud.transport):  # each reconnects and restores itself
        await asyncio.wait_for(connection.wait_until_up(), 60)
    hanging.release.set()
    await hanging_worker.stop()
    async with Worker(transport, worker_target, [slow], durable_queues=True):
        while len(slow.seen) < 200:
            slow.changed.clear()
            await asyncio.wait_for(slow.changed.wait(), 60)
    assert sorted(slow.seen) == list(range(200))
    (server,) = await admin.servers.create("after-restart", flavor="m1.tiny", image="cirros")
    assert (await admin.servers.wait_for(server.id, "ACTIVE", timeout=60)).status == "ACTIVE"
    assert all(s.task_state is None for s in await admin.servers.list())
    await assert_audit_clean(cloud)


async def test_two_conductors_never_exceed_a_quota(
    clouds: CloudFactory, broker: TransportFactory
) -> None:
    """Two conductor processes on one database: concurrent creates stay within quota."""
    cloud = await clouds.start(computes=2, quota={"instances": 5})
    admin = await cloud.login_admin()
    second = Service(
        ConductorManager(cloud.config, await broker.connect(), "control2"),
        serializer=objects.serializer(),
    )
    await second.start()
    try:
        creates = [
            admin.servers.create(f"q{i}", flavor="m1.tiny", image="cirros") for i in range(20)
        ]
        outcomes = await asyncio.gather(*creates, return_exceptions=True)
        created = [o[0] for o in outcomes if isinstance(o, list)]
        refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
        others = [o for o in outcomes if not isinstance(o, list | QuotaExceeded)]
        assert (len(created), len(refused)) == (5, 15), others
        assert len(await admin.servers.list()) == 5
        for server in created:
            assert (await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)).host
        await assert_audit_clean(cloud)
    finally:
        await second.stop()


async def test_a_handler_running_when_the_broker_restarts_carries_on(
    private_rabbitmq: PrivateRabbitMQ, private_broker: TransportFactory
) -> None:
    """A delivery's handler is not cancelled by a lost connection: it finishes its work."""
    transport = await private_broker.connect()
    queue = await transport.declare_queue(private_broker.name("work"), durable=True)
    entered, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        await delivery.ack()  # at most once: the work is this handler's from here on
        entered.set()
        await release.wait()
        finished.set()

    await transport.consume(queue, handler)
    await transport.publish("", queue, Message(b"job", persistent=True), mandatory=True)
    await asyncio.wait_for(entered.wait(), WAIT)

    await private_rabbitmq.restart()
    await asyncio.wait_for(transport.wait_until_up(), WAIT)
    release.set()

    await asyncio.wait_for(finished.wait(), WAIT)


async def test_a_publish_during_an_outage_is_sent_once_the_broker_is_back(
    private_rabbitmq: PrivateRabbitMQ, private_broker: TransportFactory
) -> None:
    """A confirmed publish made while the broker is away waits for it, then goes through."""
    transport = await private_broker.connect()
    queue = await transport.declare_queue(private_broker.name("later"), durable=True)
    await private_rabbitmq.stop_app()
    sending = asyncio.create_task(
        transport.publish("", queue, Message(b"later", persistent=True), mandatory=True)
    )
    await asyncio.sleep(1.0)  # the outage, long enough for the publish to be waiting
    assert not sending.done()
    await private_rabbitmq.start_app()
    await asyncio.wait_for(sending, WAIT)

    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def keep(delivery: Delivery) -> None:
        await received.put(delivery.message.body)
        await delivery.ack()

    await transport.consume(queue, keep)
    assert await asyncio.wait_for(received.get(), WAIT) == b"later"
