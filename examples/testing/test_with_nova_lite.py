"""Testing your own endpoint, and your own driver in a whole cloud, with nova_lite.testing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from drivers.fake import FakeDriver
from nova_lite import Invoker, RequestContext, Target, Worker, endpoint, objects
from nova_lite.exceptions import RemoteError
from nova_lite.testing import (
    CloudFactory,
    CloudHarness,
    TransportFactory,
    capture_logs,
    events_named,
)


class Calculator:
    """Your endpoint: its `@endpoint` methods are callable over RPC."""

    target = Target(version="1.0")

    @endpoint
    async def divide(self, ctx: RequestContext, a: int, b: int) -> float:
        return a / b


async def test_the_endpoint_answers_on_every_broker(broker: TransportFactory) -> None:
    """Runs on the in-memory broker, then on RabbitMQ; a crash is logged with the request id."""
    transport = await broker.connect()
    topic = broker.name("calculator")  # unique to this test on a shared broker
    async with Worker(transport, Target(topic=topic, server="host1"), [Calculator()]):
        invoker = Invoker(transport, Target(topic=topic), timeout=10)
        ctx = RequestContext(user_id="alice", project_id="demo")
        assert await invoker.call(ctx, "divide", a=6, b=3) == 2.0
        with capture_logs() as events, pytest.raises(RemoteError, match="ZeroDivisionError"):
            await invoker.call(ctx, "divide", a=1, b=0)
    [crashed] = events_named(events, "rpc.endpoint.crashed")
    assert crashed["request_id"] == ctx.request_id


async def test_a_pause_the_hypervisor_fails_puts_the_server_in_error(
    harness: CloudHarness,
) -> None:
    """A whole cloud in-process: the next pause fails, the server shows ERROR, nothing leaks."""
    server_id = await harness.boot(harness.member)
    harness.faults().fail_next("pause")

    await harness.member.servers.pause(server_id)

    failed = await harness.wait(server_id, "ERROR")
    assert failed.fault is not None and failed.fault.details == "HypervisorError"
    await harness.tap.wait_event(server_id, "instance.pause.error")
    await harness.delete(server_id)  # and checks no guest, port or claim is left


class CountingDriver(FakeDriver):
    """Your driver (here the fake one, counting the guests it spawns)."""

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


async def test_the_driver_serves_a_host_of_a_cloud(memory_clouds: CloudFactory) -> None:
    """The driver runs compute1; a delete raced against a held spawn leaves nothing behind."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    driver = CountingDriver(host="compute1")
    await harness.restart_compute("compute1", driver=driver)

    with harness.faults().hold("spawn") as gate:
        [server] = await harness.servers.create("web", flavor="m1.tiny", image="cirros")
        await gate.wait_reached()  # the build is spawning, and stays so until released
        await harness.servers.delete(server.id)
    await harness.wait(server.id, "DELETED")

    assert driver.spawned == 1
    await harness.assert_nothing_leaked(server.id)
    await harness.assert_audit_clean()
