"""Faults acted out on a running simulated cloud, each at its simulated time.

`nova_lite.simulate.faults` says what a fault is; this module does it: a host's
compute service stopped and started again (`host_failure`), its hypervisor
slowed for a window (`slow_host`), the broker taken away for a window
(`broker_outage`). Each is a coroutine the runner starts as a task; each records
what it did in the `Recorder`'s events.
"""

from __future__ import annotations

import asyncio

import attrs

from nova_lite import objects
from nova_lite.cloud import Cloud, compute_host_name
from nova_lite.compute.manager import ComputeManager
from nova_lite.config import FakeDriverConfig
from nova_lite.exceptions import Invalid
from nova_lite.service import Service
from nova_lite.simulate.faults import BrokerOutage, HostFailure, SlowHost
from nova_lite.simulate.outage import OutageTransport
from nova_lite.simulate.report import Recorder

__all__ = ["broker_outage", "compute_service", "host_failure", "slow_host"]


async def _until(at: float) -> None:
    loop = asyncio.get_running_loop()
    if at > loop.time():
        await asyncio.sleep(at - loop.time())


async def host_failure(cloud: Cloud, fault: HostFailure, recorder: Recorder) -> None:
    """Stop a host's compute service at each failure, start it again at recovery."""
    loop = asyncio.get_running_loop()
    for down, up in fault.windows():
        await _until(down)
        service = compute_service(cloud, fault.host)
        await service.stop()
        recorder.event(loop.time(), "host_down", fault.host)
        if up is None:
            return
        await _until(up)
        # A restarted host is a new service process around the same hypervisor
        # (the fake driver's guests survive, as a host's guests survive a
        # nova-compute restart). It cannot start while the broker is away.
        await cloud.transport.wait_until_up()
        restarted = Service(service.manager, serializer=objects.serializer())
        await restarted.start()
        cloud.services[cloud.services.index(service)] = restarted
        recorder.event(loop.time(), "host_up", fault.host)


async def slow_host(cloud: Cloud, fault: SlowHost, recorder: Recorder) -> None:
    """Make a host's fake hypervisor `factor` times slower for the fault's window.

    Every operation's delay (spawn, and the others: power, delete ...) is scaled;
    an operation already under way keeps the delay it started with.
    """
    loop = asyncio.get_running_loop()
    manager = compute_service(cloud, fault.host).manager
    assert isinstance(manager, ComputeManager)
    driver = manager.driver
    normal = getattr(driver, "config", None)
    if not isinstance(normal, FakeDriverConfig):
        raise Invalid(f"Slow host {fault.host}: only the fake driver's delays can be scaled.")
    await _until(fault.start)
    driver.config = attrs.evolve(  # type: ignore[attr-defined]
        normal,
        spawn_delay=normal.spawn_delay * fault.factor,
        operation_delay=normal.operation_delay * fault.factor,
    )
    recorder.event(loop.time(), "host_slow", fault.host)
    if fault.end is None:
        return
    await _until(fault.end)
    driver.config = normal  # type: ignore[attr-defined]
    recorder.event(loop.time(), "host_normal", fault.host)


async def broker_outage(
    transport: OutageTransport, fault: BrokerOutage, recorder: Recorder
) -> None:
    """Take the broker away from the outage's start to its end."""
    loop = asyncio.get_running_loop()
    await _until(fault.start)
    transport.go_down()
    recorder.event(loop.time(), "broker_down", "")
    await _until(fault.end)
    transport.come_up()
    recorder.event(loop.time(), "broker_up", "")


def compute_service(cloud: Cloud, host: str) -> Service:
    """The service running `host`'s compute manager."""
    for service in cloud.services:
        if getattr(service.manager, "host", None) == host and service.manager.topic == "compute":
            return service
    raise Invalid(
        f"No compute host {host!r} in this simulation (hosts are {compute_host_name(1)}...)."
    )
