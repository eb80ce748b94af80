"""nova_lite.testing: each helper does what it says, and the package needs no pytest.

The helpers are tested here on their own (plain objects, one fake hypervisor, one
broker); the whole suite uses them too, which is their larger test.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog

from drivers.fake import OPERATIONS, FakeDriver
from nova_lite import Invoker, RequestContext, Target, Worker, endpoint, objects
from nova_lite.compute import vm_states
from nova_lite.exceptions import HypervisorError, Invalid, RemoteError, TopologyError
from nova_lite.loader import get_transport
from nova_lite.testing import (
    REACHABLE,
    STEPS,
    WAIT,
    CloudFactory,
    CloudHarness,
    DriverFaults,
    PrivateRabbitMQ,
    TransportFactory,
    capture_logs,
    capture_notifications,
    events_named,
    hold,
    slow,
)
from nova_lite.transport import Delivery, Message
from nova_lite.virt.driver import ComputeDriver

TINY = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)


class Recorder:
    """A plain object with a coroutine method that records its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def step(self, name: str) -> str:
        self.calls.append(name)
        return name.upper()


def test_importing_the_helpers_loads_no_pytest_aio_pika_or_plugin() -> None:
    """`import nova_lite.testing` brings in neither pytest nor aio-pika, transports or drivers."""
    code = (
        "import sys, nova_lite.testing;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest',"
        " 'pytest_asyncio', 'aio_pika', 'aiormq', 'transports', 'drivers', 'libvirt')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- hold and slow ---------------------------------------------------------------------


async def test_a_held_call_does_not_run_until_released() -> None:
    """The call waits before it runs; the gate says it arrived; release lets it run."""
    target = Recorder()
    with hold([target], "step") as gate:
        call = asyncio.ensure_future(target.step("a"))
        await gate.wait_reached()
        assert (target.calls, call.done(), gate.held) == ([], False, 1)
        gate.release()
        assert await call == "A"
    assert target.calls == ["a"]
    assert "step" not in vars(target)  # the class's method again


async def test_a_call_held_after_it_ran_returns_when_the_block_ends() -> None:
    """With `after` the call has run and its result waits; leaving the block releases it."""
    target = Recorder()
    with hold([target], "step", after=True) as gate:
        call = asyncio.ensure_future(target.step("a"))
        await gate.wait_reached()
        assert (target.calls, call.done()) == (["a"], False)
    assert await call == "A"


async def test_only_the_first_matching_call_is_held_across_targets() -> None:
    """`match` picks calls by their arguments; `first_only` lets later matching ones pass."""
    first, second = Recorder(), Recorder()
    with hold(
        [first, second], "step", match=lambda name: name.startswith("x"), first_only=True
    ) as gate:
        assert await first.step("a") == "A"
        held = asyncio.ensure_future(second.step("x1"))
        await gate.wait_reached()
        assert await first.step("x2") == "X2"
        assert (held.done(), gate.held, second.calls) == (False, 1, [])
    assert await held == "X1"


async def test_nested_holds_restore_each_other() -> None:
    """Leaving an inner hold puts the outer one's replacement back, not the class's method."""
    target = Recorder()
    with hold([target], "step", match=lambda name: name == "outer") as outer:
        with hold([target], "step", match=lambda name: name == "inner"):
            pass
        call = asyncio.ensure_future(target.step("outer"))
        await outer.wait_reached()
        assert not call.done()
    assert await call == "OUTER"
    assert "step" not in vars(target)


async def test_a_slowed_call_awaits_the_delay_before_it_runs() -> None:
    """Each call first awaits sleep(delay); the method runs only after it."""
    target, asked, woken = Recorder(), asyncio.Queue[float](), asyncio.Event()

    async def sleep(delay: float) -> None:
        await asked.put(delay)
        await woken.wait()

    with slow([target], "step", 3600.0, sleep=sleep):
        call = asyncio.ensure_future(target.step("a"))
        assert await asked.get() == 3600.0
        assert target.calls == []
        woken.set()
        assert await call == "A"
    assert "step" not in vars(target)


# -- the fake hypervisor's faults ----------------------------------------------------------


def _instance() -> objects.Instance:
    return objects.Instance(
        uuid=str(uuid.uuid4()),
        display_name="vm",
        project_id="p",
        user_id="u",
        flavor=TINY,
        image_ref=None,
        vm_state=vm_states.BUILDING,
    )


def test_the_steps_are_the_fake_drivers_operations_and_the_contracts() -> None:
    """Every DriverStep is an operation the fake can fail and a method of ComputeDriver."""
    assert set(STEPS) == set(OPERATIONS)
    assert all(callable(getattr(ComputeDriver, step)) for step in STEPS)


async def test_the_next_call_of_a_step_fails_once_on_every_driver() -> None:
    """fail_next makes each driver's next pause raise HypervisorError, then pause works."""
    drivers = [FakeDriver(host="h1"), FakeDriver(host="h2")]
    instances = [_instance(), _instance()]
    for driver, instance in zip(drivers, instances, strict=True):
        await driver.spawn(instance, None, None, [], [])

    DriverFaults(drivers).fail_next("pause")

    for driver, instance in zip(drivers, instances, strict=True):
        with pytest.raises(
            HypervisorError, match=f"Injected failure of pause on host {driver.host}"
        ):
            await driver.pause(instance)
        await driver.pause(instance)


async def test_a_held_step_holds_on_whichever_driver_runs_it() -> None:
    """A spawn held on a set of drivers waits on the one that got it, until released."""
    drivers = [FakeDriver(host="h1"), FakeDriver(host="h2")]
    instance = _instance()
    with DriverFaults(drivers).hold("spawn") as gate:
        spawn = asyncio.ensure_future(drivers[1].spawn(instance, None, None, [], []))
        await gate.wait_reached()
        assert drivers[1].guests == {}
    await spawn
    assert list(drivers[1].guests) == [instance.uuid]


# -- logs ------------------------------------------------------------------------------


def test_captured_logs_are_processed_as_nova_lite_does_and_nothing_is_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Context variables merged, level and time added, secrets masked; the set-up restored."""
    before = structlog.get_config()
    with capture_logs() as events, structlog.contextvars.bound_contextvars(request_id="req-x"):
        structlog.get_logger("t").info("thing.done", password="hunter2-pw", url="amqp://u:pw@h/")
        structlog.get_logger("t").debug("thing.detail")

    [done, detail] = events
    assert (done["event"], done["request_id"], done["level"]) == ("thing.done", "req-x", "info")
    assert (done["password"], done["url"]) == ("***", "amqp://u:***@h/")
    assert "timestamp" in done and detail["event"] == "thing.detail"
    assert structlog.get_config() == before
    assert "thing.done" not in capsys.readouterr().err


def test_captured_logs_can_start_at_a_level() -> None:
    """Events below the asked level are not captured."""
    with capture_logs(level="warning") as events:
        structlog.get_logger("t").info("quiet")
        structlog.get_logger("t").warning("loud")
    assert [e["event"] for e in events] == ["loud"]


def test_the_log_events_fixture_holds_the_tests_events(
    log_events: list[MutableMapping[str, Any]],
) -> None:
    """The plugin's `log_events` captures what the test logs, masked as a process would."""
    structlog.get_logger("t").warning("thing.odd", token="abc-secret")

    assert [(e["event"], e["token"]) for e in log_events] == [("thing.odd", "***")]


class Divider:
    """An endpoint that fails on a zero divisor."""

    target = Target(version="1.0")

    @endpoint
    async def divide(self, ctx: RequestContext, a: int, b: int) -> float:
        return a / b


async def test_a_failed_requests_log_line_carries_its_request_id(broker: TransportFactory) -> None:
    """The worker's log line about a crashed request, captured, names the request's id."""
    transport = await broker.connect()
    topic = broker.name("divider")
    async with Worker(transport, Target(topic=topic, server="h1"), [Divider()]):
        invoker = Invoker(transport, Target(topic=topic), timeout=10)
        ctx = RequestContext(user_id="alice", project_id="demo")
        with capture_logs() as events, pytest.raises(RemoteError, match="ZeroDivisionError"):
            await invoker.call(ctx, "divide", a=1, b=0)

    [crashed] = events_named(events, "rpc.endpoint.crashed")
    assert (crashed["request_id"], crashed["level"]) == (ctx.request_id, "error")
    assert "ZeroDivisionError" in crashed["exception"]  # formatted, as a process logs it


# -- brokers ----------------------------------------------------------------------------


async def test_a_factorys_connections_share_one_broker_and_no_other() -> None:
    """Two connections of one memory factory see each other's queues; another factory's do not."""
    async with TransportFactory.memory() as mine, TransportFactory.memory() as other:
        first, second = await mine.connect(), await mine.connect()
        queue = await first.declare_queue(mine.name("q"))
        assert await second.declare_queue(queue, passive=True) == queue
        stranger = await other.connect()
        with pytest.raises(TopologyError):
            await stranger.declare_queue(queue, passive=True)
    assert mine.name("q") != other.name("q")


async def test_a_factory_deletes_the_queues_its_connections_declared(rabbitmq_url: str) -> None:
    """Queues declared through a RabbitMQ factory's connections are gone after it closes."""
    factory = TransportFactory.rabbitmq(rabbitmq_url)
    transport = await factory.connect()
    queue = await transport.declare_queue(factory.name("q"))

    await factory.aclose()

    async with get_transport(rabbitmq_url) as check:
        with pytest.raises(TopologyError):
            await check.declare_queue(queue, passive=True)


# -- clouds, harnesses, notifications ------------------------------------------------------


async def test_a_harness_refuses_a_state_it_cannot_walk_to(memory_clouds: CloudFactory) -> None:
    """`reach` knows every resting vm_state but BUILDING, and says which it knows."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    assert set(REACHABLE) == set(vm_states.ALL) - {vm_states.BUILDING, vm_states.DELETED}

    with pytest.raises(Invalid, match="'building' is not reachable; known: active"):
        await harness.reach(vm_states.BUILDING)
    with pytest.raises(Invalid, match="no host"):
        harness.compute(None)


async def test_a_captured_tap_stops_at_the_end_of_its_block(memory_clouds: CloudFactory) -> None:
    """Inside the block the tap hears a server's boot; after it, nothing more arrives."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    async with capture_notifications(harness.cloud) as tap:
        first = await harness.boot()
        await tap.wait_event(first, "instance.create.end")
    second = await harness.boot()
    await harness.tap.wait_event(second, "instance.create.end")

    assert tap.about(second) == [] and "instance.create.start" in tap.event_types(first)


class CountingDriver(FakeDriver):
    """A driver of one's own, here the fake one counting the guests it spawned."""

    spawned = 0

    async def spawn(
        self,
        instance: objects.Instance,
        image: objects.Image | None,
        image_path: Path | None,
        network_info: Sequence[objects.Port],
        volumes: Sequence[objects.Volume],
    ) -> None:
        self.spawned += 1
        await super().spawn(instance, image, image_path, network_info, volumes)


async def test_a_driver_of_ones_own_runs_a_host_of_the_cloud(memory_clouds: CloudFactory) -> None:
    """restart_compute with a driver puts it under a host; servers boot on it and go."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    driver = CountingDriver(host="compute1")
    await harness.restart_compute("compute1", driver=driver)

    server_id = await harness.boot()

    assert (driver.spawned, list(harness.guests(server_id))) == (1, ["compute1"])
    await harness.delete(server_id)


async def test_a_private_rabbitmq_restarts_and_dies_alone(
    private_rabbitmq: PrivateRabbitMQ, private_broker: TransportFactory, rabbitmq_url: str
) -> None:
    """A private node restarts and is killed: its connections come back, the shared one stays."""
    node = private_rabbitmq
    assert node.node.startswith("nl-") and f":{node.port}/" in node.url
    assert str(node.port) not in rabbitmq_url
    shared = get_transport(rabbitmq_url)
    shared_drops: list[str] = []
    shared.add_connection_lost_callback(lambda: shared_drops.append("lost"))
    async with shared:
        private = await private_broker.connect()
        drops: list[str] = []
        private.add_connection_lost_callback(lambda: drops.append("lost"))
        queue = await private.declare_queue(private_broker.name("kept"), durable=True)
        await private.publish("", queue, Message(b"kept", persistent=True), mandatory=True)

        await node.restart()
        await asyncio.wait_for(private.wait_until_up(), WAIT)
        await node.kill()
        assert not node.running
        await node.revive()
        await asyncio.wait_for(private.wait_until_up(), WAIT)

        assert len(drops) >= 2 and shared_drops == [] and shared.is_connected
        inbox: asyncio.Queue[bytes] = asyncio.Queue()

        async def keep(delivery: Delivery) -> None:
            await inbox.put(delivery.message.body)
            await delivery.ack()

        await private.consume(queue, keep)
        assert await asyncio.wait_for(inbox.get(), WAIT) == b"kept"  # persisted across the kill
