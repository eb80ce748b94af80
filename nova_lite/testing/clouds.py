"""Whole clouds in one process for tests, and checks of their books.

`CloudFactory` starts `Cloud`s isolated on one test's broker (a unique exchange and
queue prefix, a state directory per cloud) with cheap password hashes, and stops
them all at the end. The functions beside it reach into the embedded services only
to observe them (guests, claims, ports, the audit) or to restart a compute host as a
crashed process would be; every action a test takes goes through the library API.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.api.views import Server
from nova_lite.audit import Audit, AuditReport
from nova_lite.cloud import Cloud
from nova_lite.compute.manager import ComputeManager
from nova_lite.conductor.manager import ConductorManager
from nova_lite.conductor.quotas import RESOURCES as QUOTA_RESOURCES
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.identity.manager import IdentityManager
from nova_lite.identity.passwords import ScryptParams
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.service import Manager, Service
from nova_lite.testing.brokers import TransportFactory
from nova_lite.testing.limits import WAIT
from nova_lite.virt.driver import ComputeDriver

if TYPE_CHECKING:
    from drivers.fake import FakeDriver

__all__ = [
    "FAST_HASHES",
    "PASSWORD",
    "WAIT",
    "CloudFactory",
    "add_user",
    "assert_audit_clean",
    "assert_nothing_leaked",
    "audit",
    "conductor_of",
    "fake_driver",
    "fast_password_hashes",
    "identity_of",
    "restart_compute",
    "scheduler_of",
    "unlimited_quota",
    "wait_all",
]

FAST_HASHES = ScryptParams(n=2**10)  # users made in tests log in in milliseconds
PASSWORD = "correct horse battery staple"  # the bootstrap admin's and every test user's

M = TypeVar("M", bound=Manager)
_PARAMS = "DEFAULT_PARAMS"  # the name IdentityManager.__init__ reads its hashing parameters by


@contextlib.contextmanager
def fast_password_hashes() -> Iterator[None]:
    """Identity services made inside hash passwords with cheap scrypt parameters.

    Real parameters make every login take a good fraction of a second, which adds up
    over a suite. Never use this outside tests.
    """
    from nova_lite.identity import manager

    saved = getattr(manager, _PARAMS)
    setattr(manager, _PARAMS, FAST_HASHES)
    try:
        yield
    finally:
        setattr(manager, _PARAMS, saved)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class CloudFactory:
    """Starts isolated clouds on one test's broker and stops them all at the end.

    Every cloud gets its own state directory under `path` and the broker's unique
    names; ``**overrides`` of `config` and `start` are configuration sections as
    `Config.load` takes them (``compute={"shelved_offload_time": -1}``). It is an
    async context manager, or call `aclose` yourself; a factory made by `memory`
    also closes its broker.
    """

    def __init__(self, broker: TransportFactory, path: Path, *, fast_hashes: bool = True) -> None:
        self.broker = broker
        self.path = path
        self.fast_hashes = fast_hashes
        self._clouds: list[Cloud] = []
        self._count = itertools.count(1)
        self._owns_broker = False

    @classmethod
    def memory(cls, path: Path) -> Self:
        """A factory of clouds on a new, private in-memory broker (closed with it)."""
        factory = cls(TransportFactory.memory(), path)
        factory._owns_broker = True
        return factory

    def __repr__(self) -> str:
        return f"<CloudFactory {self.broker.kind} clouds={len(self._clouds)}>"

    def config(self, **overrides: Any) -> Config:
        """A configuration isolated on this factory's broker and directory, with `overrides`."""
        base: dict[str, Any] = {
            "state_path": str(self.path / f"cloud{next(self._count)}"),
            "host": "control1",
            # A call the service keeps beating for still ends (6 x WAIT), not 30 min on.
            "rpc": {**self.broker.rpc_options(), "timeout": WAIT, "long_timeout": 6 * WAIT},
            "identity": {"bootstrap_password": PASSWORD},
        }
        return Config.load(environ={}, **_merge(base, overrides))

    async def start(self, *, computes: int = 3, **overrides: Any) -> Cloud:
        """A started cloud with `computes` hosts, every host already known to the scheduler."""
        cloud = Cloud(
            self.config(**overrides), computes=computes, transport=await self.broker.connect()
        )
        with fast_password_hashes() if self.fast_hashes else contextlib.nullcontext():
            await cloud.start()
        self._clouds.append(cloud)
        await _hosts_reported(cloud)
        return cloud

    async def aclose(self) -> None:
        """Stop every cloud this factory started, newest first (and its own broker)."""
        try:
            while self._clouds:
                await asyncio.wait_for(self._clouds.pop().stop(), WAIT)
        finally:
            if self._owns_broker:
                await self.broker.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def _hosts_reported(cloud: Cloud) -> None:
    """Apply each host's start-up report now, so no test races the fanout cast."""
    hosts = scheduler_of(cloud).hosts
    for compute in cloud.compute_managers():
        await hosts.update_node(compute.tracker.compute_node())


def _manager(cloud: Cloud, kind: type[M]) -> M:
    found = [s.manager for s in cloud.services if isinstance(s.manager, kind)]
    if not found:
        raise LookupError(f"{cloud!r} runs no {kind.__name__}.")
    return found[0]


def identity_of(cloud: Cloud) -> IdentityManager:
    """The cloud's identity manager (tests move its clock)."""
    return _manager(cloud, IdentityManager)


def scheduler_of(cloud: Cloud) -> SchedulerManager:
    """The cloud's scheduler manager (tests read its claims)."""
    return _manager(cloud, SchedulerManager)


def conductor_of(cloud: Cloud) -> ConductorManager:
    """The cloud's conductor manager (tests hold its clients' calls)."""
    return _manager(cloud, ConductorManager)


def fake_driver(compute: ComputeManager) -> FakeDriver:
    """The fake hypervisor of a compute host, typed as such (`TypeError` for another driver)."""
    from drivers.fake import FakeDriver  # a plugin: imported when used

    driver = compute.driver
    if not isinstance(driver, FakeDriver):
        raise TypeError(f"{compute!r} runs {type(driver).__name__}, not the fake driver.")
    return driver


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
    """Lift every compute quota of `project_id` (the admin's own project by default)."""
    ctx = await admin.context()
    unlimited = dict.fromkeys(QUOTA_RESOURCES, -1)
    await cloud.api.conductor.quota_update(ctx, project_id or ctx.project_id or "", unlimited)


async def wait_all(
    session: Session, servers: Iterable[Server], status: str, *, timeout: float = WAIT
) -> list[Server]:
    """Every server once it shows `status` (or ERROR), each within `timeout`."""
    waits = (session.servers.wait_for(s.id, status, timeout=timeout) for s in servers)
    return list(await asyncio.gather(*waits))


async def assert_nothing_leaked(cloud: Cloud, admin: Session, uuids: Iterable[str]) -> None:
    """No guest, host tracker entry, port or scheduler claim is left for the instances."""
    ctx = await admin.context()
    gone = set(uuids)
    for compute in cloud.compute_managers():
        guests = gone & set(await compute.driver.list_instances())
        assert not guests, f"{compute.host} still has guests {sorted(guests)}"
        tracked = gone & set(compute.tracker.instances)
        assert not tracked, f"{compute.host}'s tracker still counts {sorted(tracked)}"
    for instance_uuid in sorted(gone):
        ports = await cloud.api.network.list_ports(ctx, device_id=instance_uuid)
        assert ports == [], f"{instance_uuid} still has ports {[p.id for p in ports]}"
    claimed = gone & set(scheduler_of(cloud).hosts.allocations)
    assert not claimed, f"the scheduler still has claims for {sorted(claimed)}"


async def restart_compute(
    cloud: Cloud, host: str, *, driver: ComputeDriver | None = None
) -> ComputeManager:
    """Stop `host`'s compute service if it runs, and start a new one on the same hypervisor.

    The new service recovers at start-up as a restarted process does (reaps guests of
    servers deleted meanwhile, recovers interrupted tasks), and reports to the
    scheduler before this returns. Given a `driver`, the new service runs on it
    instead: the way to put a driver of your own into a whole cloud under test.
    """
    old = cloud.compute(host)
    service = next(s for s in cloud.services if s.manager is old)
    if service.running:
        await service.stop()
    manager = ComputeManager(cloud.config, cloud.transport, host, driver=driver or old.driver)
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
