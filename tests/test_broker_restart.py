"""Builds and creates across a broker restart, on a RabbitMQ node of the test's own.

The dangerous state is held on purpose: every spawn waits at a gate while the broker
restarts, so builds are caught at every hop (being scheduled, cast to a host,
networking, spawning) with their messages in queues and their calls in flight. The
default configuration is used (``instance_build_timeout = 0``): nothing but the
conductor's reconciliation can end a build the outage stranded.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from nova_lite.api.client import Session
from nova_lite.api.views import Server
from nova_lite.cloud import Cloud
from nova_lite.conductor.reconcile import RECONCILE_WINDOW
from nova_lite.exceptions import NovaLiteError
from nova_lite.testing import (
    WAIT,
    CloudFactory,
    DriverFaults,
    PrivateRabbitMQ,
    TransportFactory,
    assert_audit_clean,
    fake_driver,
    unlimited_quota,
)

BURST = 40  # servers asked for while the broker restarts
OUTAGE = 3.0  # seconds between stop_app and start_app
#: The bound on a server's build after the outage: the reconciliation's window, and a
#: build's own time on a busy machine.
SETTLED = RECONCILE_WINDOW + WAIT


@pytest_asyncio.fixture
async def private_clouds(
    private_broker: TransportFactory, tmp_path: Path
) -> AsyncIterator[CloudFactory]:
    """Clouds on the test's private RabbitMQ node, which the test restarts."""
    async with CloudFactory(private_broker, tmp_path / "clouds") as factory:
        yield factory


class Burst:
    """Creates of `count` servers, a few at a time; what each create answered."""

    def __init__(self, session: Session, count: int, *, at_once: int = 8) -> None:
        self.session = session
        self.count = count
        self.created: list[str] = []
        self.refused: collections.Counter[str] = collections.Counter()
        self._slots = asyncio.Semaphore(at_once)

    async def run(self) -> None:
        await asyncio.gather(*(self._create(i) for i in range(self.count)))

    async def _create(self, index: int) -> None:
        async with self._slots:
            try:
                [server] = await self.session.servers.create(
                    f"burst{index}", flavor="m1.tiny", image="cirros"
                )
            except NovaLiteError as exc:
                self.refused[type(exc).__name__] += 1
                return
            self.created.append(server.id)


async def _start_cloud(clouds: CloudFactory, *, durable: bool) -> tuple[Cloud, Session]:
    cloud = await clouds.start(
        computes=2,
        rpc={"durable_queues": durable},
        fake_driver={"vcpus": 128, "memory_mb": 128 * 1024},
    )
    admin = await cloud.login_admin()
    await unlimited_quota(cloud, admin)
    return cloud, admin


async def _ended(session: Session, server_ids: list[str]) -> list[Server]:
    """Each server once it is ACTIVE or ERROR (`WaitTimeout` past the bound)."""
    waits = (session.servers.wait_for(i, "ACTIVE", timeout=SETTLED) for i in server_ids)
    return list(await asyncio.gather(*waits))


def _faults(cloud: Cloud) -> DriverFaults:
    return DriverFaults([fake_driver(cloud.compute(f"compute{i}")) for i in (1, 2)])


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "transient"])
async def test_every_build_in_flight_at_a_broker_restart_ends(
    private_rabbitmq: PrivateRabbitMQ, private_clouds: CloudFactory, durable: bool
) -> None:
    """A restart mid-burst, default config: every server ends ACTIVE or ERROR with a fault."""
    cloud, admin = await _start_cloud(private_clouds, durable=durable)
    burst = Burst(admin, BURST)
    with _faults(cloud).hold("spawn") as gate:
        creating = asyncio.create_task(burst.run())
        await gate.wait_reached()  # builds are spawning (held), others queued behind them
        await private_rabbitmq.restart(outage=OUTAGE)
    await asyncio.wait_for(creating, SETTLED)

    servers = await _ended(admin, [s.id for s in await admin.servers.list()])

    outcomes = collections.Counter(s.status for s in servers)
    assert set(outcomes) <= {"ACTIVE", "ERROR"}, outcomes
    assert all(s.fault is not None for s in servers if s.status == "ERROR")
    assert outcomes["ACTIVE"] > 0, outcomes  # the burst goes on after the restart
    await assert_audit_clean(cloud)
