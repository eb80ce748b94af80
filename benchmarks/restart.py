"""Builds across a broker restart: how many end, how many stay stuck, how soon.

Each run starts a private RabbitMQ node (`nova_lite.testing.PrivateRabbitMQ`, never
the shared broker) and a whole cloud on it with the default build timeout (none),
boots `servers` servers a few at a time, and once a fifth of them are asked for
restarts the broker (``stop_app``, `outage` seconds, ``start_app``). Then it waits
until every server is ACTIVE or ERROR, or `bound` seconds after the reconnection.

Per run: servers stuck (still in BUILD at the bound: must be 0), ACTIVE, ERROR, the
create calls answered with an error, the servers such a create had made anyway
(hidden successes: must be 0), and the seconds from the reconnection until the last
server came to rest.
"""

from __future__ import annotations

import asyncio
import collections
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from nova_lite.api.client import Session
from nova_lite.exceptions import NovaLiteError
from nova_lite.testing import CloudFactory, PrivateRabbitMQ, TransportFactory, unlimited_quota

__all__ = ["RestartSpec", "restart_run"]

AT_ONCE = 10  # create calls in flight


@attrs.frozen(kw_only=True)
class RestartSpec:
    """One run's shape."""

    servers: int = 200
    hosts: int = 4
    durable: bool = True
    outage: float = 5.0
    spawn_delay: float = 1.0
    bound: float = 120.0


async def restart_run(spec: RestartSpec, advance: Callable[[int], None]) -> dict[str, Any]:
    """One run on a fresh private node; its counts and the time to come to rest."""
    with tempfile.TemporaryDirectory(prefix="nova-lite-restart-") as tmp:
        async with PrivateRabbitMQ(Path(tmp) / "rabbit") as node:
            broker = TransportFactory.rabbitmq(node.url)
            async with broker, CloudFactory(broker, Path(tmp) / "clouds") as clouds:
                return await _run(spec, node, clouds, advance)


async def _run(
    spec: RestartSpec, node: PrivateRabbitMQ, clouds: CloudFactory, advance: Callable[[int], None]
) -> dict[str, Any]:
    cloud = await clouds.start(
        computes=spec.hosts,
        rpc={"durable_queues": spec.durable, "timeout": 60.0},
        fake_driver={"vcpus": 1024, "memory_mb": 1024 * 1024, "spawn_delay": spec.spawn_delay},
    )
    admin = await cloud.login_admin()
    await unlimited_quota(cloud, admin)
    answers: dict[str, str] = {}  # server name -> its id, or the error's class
    slots = asyncio.Semaphore(AT_ONCE)
    a_fifth = asyncio.Event()

    async def create(index: int) -> None:
        async with slots:
            name = f"r{index}"
            try:
                [server] = await admin.servers.create(name, flavor="m1.tiny", image="cirros")
            except NovaLiteError as exc:
                answers[name] = type(exc).__name__
            else:
                answers[name] = server.id
            advance(1)
            if len(answers) >= spec.servers // 5:
                a_fifth.set()

    creating = asyncio.gather(*(create(i) for i in range(spec.servers)))
    await a_fifth.wait()
    await node.restart(outage=spec.outage)
    reconnected = time.monotonic()
    await creating
    rest, servers = await _at_rest(admin, reconnected + spec.bound)
    refused = {n for n, a in answers.items() if not _is_id(a)}
    states = collections.Counter(s for s, _ in servers.values())
    return {
        "stuck": sum(n for s, n in states.items() if s not in ("ACTIVE", "ERROR")),
        "active": states["ACTIVE"],
        "error": states["ERROR"],
        "create_errors": len(refused),
        "hidden_successes": len(refused & {name for _, name in servers.values()}),
        "seconds_to_rest": round(rest - reconnected, 1),
    }


async def _at_rest(session: Session, deadline: float) -> tuple[float, dict[str, tuple[str, str]]]:
    """When every server came to rest (or the deadline), and each one's (status, name)."""
    while True:
        servers = {s.id: (s.status, s.name) for s in await session.servers.list()}
        moving = [i for i, (status, _) in servers.items() if status not in ("ACTIVE", "ERROR")]
        if not moving or time.monotonic() >= deadline:
            return time.monotonic(), servers
        await asyncio.sleep(1.0)


def _is_id(answer: str) -> bool:
    return "-" in answer and not answer[0].isupper()
