"""Fixtures and helpers for end-to-end tests that run a whole `Cloud` on one broker.

`clouds` starts clouds isolated on the parametrized broker (a unique exchange and
queue prefix, a state directory per cloud) and stops them after the test. The
helpers reach into the embedded services only to observe them (usage, guests,
ports) or to move the identity clock; every action goes through the library API.
Nothing here sleeps: `NotificationTap` lets a test await the notification it needs.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.api.views import Server
from nova_lite.audit import Audit, AuditReport
from nova_lite.cloud import Cloud
from nova_lite.compute.manager import ComputeManager
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.identity import manager as identity_manager_module
from nova_lite.identity.manager import IdentityManager
from nova_lite.identity.passwords import ScryptParams
from nova_lite.notifications import decode_notification
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.service import Service
from nova_lite.transport import Delivery, ExchangeType, Transport
from tests.conftest import TransportFactory

__all__ = [
    "WAIT",
    "CloudFactory",
    "Notification",
    "NotificationTap",
    "add_user",
    "assert_audit_clean",
    "assert_nothing_leaked",
    "audit",
    "identity_of",
    "restart_compute",
    "scheduler_of",
    "unlimited_quota",
    "wait_all",
]

WAIT = 20.0  # generous upper bound for any one awaited event; tests finish far sooner
FAST_HASHES = ScryptParams(n=2**10)  # users created by tests log in quickly
PASSWORD = "correct horse battery staple"


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def identity_of(cloud: Cloud) -> IdentityManager:
    """The cloud's identity manager (tests move its clock)."""
    return next(s.manager for s in cloud.services if isinstance(s.manager, IdentityManager))


def scheduler_of(cloud: Cloud) -> SchedulerManager:
    """The cloud's scheduler manager (tests read its claims)."""
    return next(s.manager for s in cloud.services if isinstance(s.manager, SchedulerManager))


class CloudFactory:
    """Starts isolated clouds on one test's broker and stops them all afterwards."""

    def __init__(self, broker: TransportFactory, tmp_path: Path) -> None:
        self.broker = broker
        self.tmp_path = tmp_path
        self._clouds: list[Cloud] = []
        self._count = itertools.count(1)

    def config(self, **overrides: Any) -> Config:
        """A config isolated on this test's broker and directory, with `overrides`."""
        base: dict[str, Any] = {
            "state_path": str(self.tmp_path / f"cloud{next(self._count)}"),
            "host": "control1",
            "rpc": {**self.broker.rpc_options(), "timeout": WAIT},
            "identity": {"bootstrap_password": PASSWORD},
        }
        return Config.load(environ={}, **_merge(base, overrides))

    async def start(self, *, computes: int = 3, **overrides: Any) -> Cloud:
        """A started cloud with `computes` hosts, every host known to the scheduler."""
        cloud = Cloud(
            self.config(**overrides), computes=computes, transport=await self.broker.connect()
        )
        await cloud.start()
        self._clouds.append(cloud)
        await _hosts_reported(cloud)
        return cloud

    async def aclose(self) -> None:
        for cloud in reversed(self._clouds):
            await cloud.stop()


async def _hosts_reported(cloud: Cloud) -> None:
    """Apply each host's start-up report now, so no test races the fanout cast."""
    hosts = scheduler_of(cloud).hosts
    for index in range(1, cloud.computes + 1):
        await hosts.update_node(cloud.compute(f"compute{index}").tracker.compute_node())


@pytest.fixture
async def clouds(
    broker: TransportFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CloudFactory]:
    """Starts clouds on the parametrized broker; all are stopped after the test.

    Passwords are hashed with cheap scrypt parameters, so logins take milliseconds.
    """
    monkeypatch.setattr(identity_manager_module, "DEFAULT_PARAMS", FAST_HASHES)
    factory = CloudFactory(broker, tmp_path)
    try:
        yield factory
    finally:
        await asyncio.wait_for(factory.aclose(), WAIT)


async def add_user(
    cloud: Cloud, admin: Session, name: str, *, project: str, role: str = "member"
) -> Session:
    """A logged-in session of a new user with `role` on `project` (created if new)."""
    ctx = await admin.context()
    if project not in {p["name"] for p in await cloud.api.identity.list_projects(ctx)}:
        await cloud.api.identity.create_project(ctx, project)
    await cloud.api.identity.create_user(ctx, name, PASSWORD, project, role)
    return await cloud.api.login(name, PASSWORD, project=project)


async def unlimited_quota(cloud: Cloud, admin: Session, project_id: str | None = None) -> None:
    """Lift every quota of `project_id` (the admin's own project by default)."""
    ctx = await admin.context()
    for resource in ("instances", "cores", "ram"):
        await cloud.api.conductor.quota_set(ctx, project_id or ctx.project_id or "", resource, -1)


async def wait_all(session: Session, servers: Iterable[Server], status: str) -> list[Server]:
    """Every server once it shows `status` (or ERROR)."""
    return list(
        await asyncio.gather(
            *(session.servers.wait_for(s.id, status, timeout=WAIT) for s in servers)
        )
    )


async def assert_nothing_leaked(cloud: Cloud, admin: Session, uuids: Iterable[str]) -> None:
    """No guest, port, host claim or tracked flavor is left for the instances."""
    ctx = await admin.context()
    gone = set(uuids)
    for index in range(1, cloud.computes + 1):
        compute = cloud.compute(f"compute{index}")
        assert gone.isdisjoint(compute.driver.guests), compute.host  # type: ignore[attr-defined]
        assert gone.isdisjoint(compute.tracker.instances), compute.host
    for instance_uuid in gone:
        assert await cloud.api.network.list_ports(ctx, device_id=instance_uuid) == []
    assert gone.isdisjoint(scheduler_of(cloud).hosts.allocations)


async def restart_compute(cloud: Cloud, host: str) -> ComputeManager:
    """Stop `host`'s compute service if it runs, and start a new one on the same hypervisor.

    The new service recovers at start-up as a restarted process does (reaps guests of
    servers deleted meanwhile, recovers interrupted tasks), and reports to the
    scheduler before this returns.
    """
    old = cloud.compute(host)
    service = next(s for s in cloud.services if s.manager is old)
    if service.running:
        await service.stop()
    manager = ComputeManager(cloud.config, cloud.transport, host, driver=old.driver)
    replacement = Service(manager, serializer=objects.serializer())
    await replacement.start()
    cloud.services[cloud.services.index(service)] = replacement
    await scheduler_of(cloud).hosts.update_node(manager.tracker.compute_node())
    return manager


async def audit(cloud: Cloud) -> AuditReport:
    """The audit of the cloud's books, counting any task nothing works on as stuck."""
    return await Audit(cloud.transport, cloud.config, stuck_after=0).run(RequestContext.admin())


async def assert_audit_clean(cloud: Cloud) -> None:
    """Every book of the cloud agrees: the audit finds no disagreement at all.

    Any task_state left with nothing working on it counts (no grace time), so call
    it once the test's actions are done.
    """
    report = await audit(cloud)
    assert report.clean, "the audit found:\n" + "\n".join(
        f"  {f.kind} [{f.host}] {f.detail}" for f in report.findings
    )


@attrs.frozen
class Notification:
    """One received notification: its event type, priority, publisher and payload."""

    event_type: str
    priority: str
    publisher_id: str
    payload: dict[str, Any]


class NotificationTap:
    """A consumer of every ``notifications.*`` message on a cloud's control exchange."""

    def __init__(self, transport: Transport, exchange: str) -> None:
        self.transport = transport
        self.exchange = exchange
        self.queue = f"test_tap_{uuid.uuid4().hex}"
        self.received: list[Notification] = []
        self._changed = asyncio.Condition()

    @classmethod
    async def attach(cls, cloud: Cloud) -> NotificationTap:
        """A tap bound to `cloud`'s exchange and already consuming."""
        tap = cls(cloud.transport, cloud.config.rpc.exchange)
        await tap.transport.declare_exchange(tap.exchange, ExchangeType.TOPIC)
        await tap.transport.declare_queue(tap.queue, exclusive=True, auto_delete=True)
        await tap.transport.bind_queue(tap.queue, tap.exchange, "notifications.*")
        await tap.transport.consume(tap.queue, tap._on_message)
        return tap

    async def _on_message(self, delivery: Delivery) -> None:
        await delivery.ack()
        body = decode_notification(delivery.message.body)
        note = Notification(
            event_type=body["event_type"],
            priority=body["priority"],
            publisher_id=body["publisher_id"],
            payload=body["payload"]["nova_object.data"],
        )
        async with self._changed:
            self.received.append(note)
            self._changed.notify_all()

    def about(self, instance_uuid: str, event_type: str | None = None) -> list[Notification]:
        """The notifications received so far about one instance (of one type)."""
        return [
            n
            for n in self.received
            if n.payload.get("uuid") == instance_uuid
            and (event_type is None or n.event_type == event_type)
        ]

    async def wait_for(self, match: Callable[[Notification], bool]) -> Notification:
        """The first notification (received before or after the call) that `match`es."""

        def found() -> Notification | None:
            return next((n for n in self.received if match(n)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), WAIT)
        note = found()
        assert note is not None
        return note

    async def wait_count(self, instance_uuid: str, event_type: str, count: int) -> None:
        """Until `count` notifications of `event_type` about `instance_uuid` have come."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.about(instance_uuid, event_type)) >= count),
                WAIT,
            )

    async def wait_event(self, instance_uuid: str, event_type: str) -> Notification:
        """The first `event_type` notification about `instance_uuid`."""
        return await self.wait_for(
            lambda n: n.event_type == event_type and n.payload.get("uuid") == instance_uuid
        )
