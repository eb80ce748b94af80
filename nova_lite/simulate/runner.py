"""`Simulation`: a workload replayed against the real control plane in virtual time.

A simulation starts an in-process `Cloud` (in-memory broker, in-memory SQLite,
fake driver) with N hosts on a `VirtualTimeLoop`, under `nova_lite.clock.virtual`,
and replays a trace: at each arrival it creates a server of the arrival's shape
through the same library API a user calls, and at its departure deletes it. The
cloud's own notifications say when a build ended ACTIVE (placed: the placement
latency is virtual seconds from the create call) or ERROR (rejected, with the
fault; the server is deleted at once). Every `sample_interval` simulated seconds
a sample of the scheduler's view of every host is taken (`nova_lite.simulate.report`),
from sums the scheduler's host changes keep (`HostTally`).

When the trace is done, the simulation waits until every build and delete has
finished, checks the books with the audit (`nova-lite audit`) and returns a
`SimulationResult`. Everything that decides placement is seeded (`random`, which
the scheduler's sample draws from, and `uuid.uuid4`, which the trace's request ids
and so the instance uuids come from), so one trace, seed and configuration give the
same result and the same servers.

Virtual-time settings: hosts send a heartbeat every `report_interval` simulated
seconds (600 by default: heartbeats of thousands of hosts are most of a day's
messages), their full resource report only when it changed or once every
`resource_report_interval` (a simulated day), and a host is down after
`service_down_time` (1800). Periodic work a simulation
has no use for is turned off in its configuration: Prometheus metrics (each
service's queue depths read every 15 s: at 10,000 hosts, more timers than
everything else), and the power-state sync runs once a simulated day unless
`power_sync_interval` says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import structlog

from nova_lite import clock, objects
from nova_lite.cloud import Cloud
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NovaLiteError
from nova_lite.loader import get_transport
from nova_lite.objects import Flavor
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.simulate import inject
from nova_lite.simulate.faults import BrokerOutage, HostFailure, SlowHost
from nova_lite.simulate.loop import VirtualTimeLoop
from nova_lite.simulate.outage import OutageTransport
from nova_lite.simulate.replay import Catalog, Progress, Replay, RetryPolicy
from nova_lite.simulate.report import HostTally, Recorder, SimulationResult
from nova_lite.simulate.trace import Arrival

__all__ = ["SIMULATION_PASSWORD", "Simulation", "SimulationSpec"]

log = structlog.get_logger(__name__)

SIMULATION_PASSWORD = "simulation-admin"
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: simulated time 0, the same every run


@attrs.frozen(kw_only=True)
class SimulationSpec:
    """A simulated cloud: its hosts, its scheduler settings, its faults, its seed."""

    hosts: int = 100
    host_vcpus: int = 16
    host_ram_mb: int = 65536
    host_disk_gb: int = 1000
    spawn_seconds: float = 30.0  # the fake driver's spawn, in simulated seconds
    scheduler: dict[str, Any] = attrs.field(factory=dict)  # [scheduler] options
    overrides: dict[str, Any] = attrs.field(factory=dict)  # more Config.load overrides
    faults: tuple[HostFailure, ...] = ()
    outages: tuple[BrokerOutage, ...] = ()  # the broker unreachable for each window
    slow_hosts: tuple[SlowHost, ...] = ()
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)  # the client, after an outage
    seed: int = 0
    sample_interval: float = 60.0
    report_interval: float = 600.0
    # A host's full resource report when what the scheduler reads from it changed
    # (capacity, zone, ratios, builds under way, failed builds), else once a
    # simulated day; the other reports are heartbeats (its name). The scheduler
    # counts usage from its own claims, so placement does not depend on this.
    resource_report_interval: float = 86400.0
    service_down_time: float = 1800.0
    # The hosts' power-state sync, which also reaps guests of servers deleted while
    # their host could not be told (a host down, a broker outage): a simulated day by
    # default, as at 10,000 hosts it costs a call per guest; 600 s (Nova's) for faults.
    power_sync_interval: float = 86400.0
    end: float | None = None  # simulated seconds; default: the trace's last event
    drain_limit: float = 7200.0  # simulated seconds allowed after the end to settle

    def config(self) -> Config:
        """The cloud's configuration (in memory, fake driver, quiet periodic work)."""
        sections: dict[str, Any] = {
            "state_path": ":memory:",
            "transport_url": "memory://",
            "compute": {
                "report_interval": self.report_interval,
                "resource_report_interval": self.resource_report_interval,
                "service_down_time": self.service_down_time,
                "sync_power_state_interval": self.power_sync_interval,
                "reserved_host_memory_mb": 0,
            },
            "fake_driver": {
                "vcpus": self.host_vcpus,
                "memory_mb": self.host_ram_mb,
                "local_gb": self.host_disk_gb,
                "spawn_delay": self.spawn_seconds,
            },
            # The replaying session lives as long as any scenario (tokens expire in
            # virtual time too).
            "identity": {
                "bootstrap_password": SIMULATION_PASSWORD,
                "token_ttl": 10 * 365 * 86400.0,
            },
            "api": {"max_count": 1000},
            # The simulation measures itself (nova_lite.simulate.report); Prometheus
            # metrics would cost a queue-depth timer per service every 15 s.
            "metrics": {"enabled": False},
            "network": {"quota_port": -1},  # one project holds every simulated server
            # No [rpc] max_message_bytes lift: the audit at the end reads every host,
            # port, instance and allocation a page at a time (nova_lite.paging).
            "scheduler": dict(self.scheduler),
        }
        for key, value in self.overrides.items():
            if isinstance(value, dict) and isinstance(sections.get(key), dict):
                sections[key] = {**sections[key], **value}
            else:
                sections[key] = value
        return Config.load(environ={}, **sections)


class Simulation:
    """Replay `arrivals` on the cloud `spec` describes; `run()` returns the result."""

    def __init__(self, spec: SimulationSpec, arrivals: Sequence[Arrival]) -> None:
        if spec.hosts < 1:
            raise Invalid(f"A simulation needs at least one host, not {spec.hosts}.")
        self.spec = spec
        self.arrivals = sorted(arrivals, key=lambda a: a.arrival)  # stable: ties in order
        self.wall_seconds = 0.0
        # Wall seconds of the last run's phases: start (the cloud and its hosts),
        # replay (the trace), settle (drain, sweep, audit), stop. Not in the result,
        # which holds no wall-clock figure.
        self.phases: dict[str, float] = {}
        self._phase, self._phase_started = "", 0.0
        self.recorder: Recorder | None = None  # the last run's, for a closer look
        self.replay: Replay | None = None  # the last run's client (its servers' uuids)

    def run(
        self, progress: Progress | None = None, *, started: Callable[[], None] | None = None
    ) -> SimulationResult:
        """Run to the end on a virtual-time loop of its own (in a thread when this
        thread already runs a loop, as in a notebook).

        `started` is called once the cloud runs, before the trace starts: where a
        process that owns itself (``nova-lite simulate``, the benchmark) freezes
        the start-up's objects out of the garbage collector's way
        (`nova_lite.process.freeze_after_start`). The library never does that to
        its caller's process on its own.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run_here(progress, started)
        box: list[SimulationResult | BaseException] = []

        def target() -> None:
            try:
                box.append(self._run_here(progress, started))
            except BaseException as exc:
                box.append(exc)

        thread = threading.Thread(target=target, name="nova-lite-simulation")
        thread.start()
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _run_here(
        self, progress: Progress | None, started: Callable[[], None] | None
    ) -> SimulationResult:
        loop = VirtualTimeLoop()
        wall = time.perf_counter()
        try:
            with clock.virtual(loop, EPOCH), _seeded(self.spec.seed), _scratch():
                return loop.run_until_complete(self._main(progress, started))
        finally:
            self.wall_seconds = time.perf_counter() - wall
            loop.close()

    def end_time(self) -> float:
        """Simulated seconds the scenario lasts: `spec.end`, else its last event."""
        if self.spec.end is not None:
            return self.spec.end
        last = [a.departure if a.departure is not None else a.arrival for a in self.arrivals]
        spec = self.spec
        faults = [t for f in spec.faults for t in f.times()]
        faults += [t for f in spec.outages for t in f.times()]
        faults += [t for f in spec.slow_hosts for t in f.times()]
        return max([0.0, *last, *faults]) + self.spec.sample_interval

    async def _main(
        self, progress: Progress | None, started: Callable[[], None] | None
    ) -> SimulationResult:
        spec = self.spec
        transport = get_transport(spec.config().transport_url)
        outages = OutageTransport(transport) if spec.outages else None
        cloud = Cloud(
            spec.config(),
            computes=spec.hosts,
            network_cidr="10.0.0.0/8",
            transport=outages or transport,
        )
        self._mark("start")
        async with cloud.transport, cloud:
            session = await cloud.login_admin()
            ctx = await session.context()
            for resource in ("instances", "cores", "ram"):
                await cloud.api.conductor.quota_set(ctx, ctx.project_id or "", resource, -1)
            catalog = await _catalog(cloud, ctx, self.arrivals)
            recorder = Recorder(spec.sample_interval, list(catalog.flavors.values()))
            self.recorder = recorder
            replay = Replay(cloud, session, recorder, catalog, retry=spec.retry)
            self.replay = replay
            await replay.watch()
            tally = recorder.tally()
            _scheduler(cloud).hosts.watch(tally.update)
            sampler = asyncio.create_task(self._sample(tally, recorder))
            faults = [asyncio.create_task(c) for c in self._faults(cloud, outages, recorder)]
            if started is not None:
                started()
            self._mark("replay")
            await replay.play(self.arrivals, self.end_time(), progress)
            self._mark("settle")
            unsettled = await replay.drain(spec.drain_limit)
            for task in [sampler, *faults]:
                task.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            for outcome in await asyncio.gather(*faults, return_exceptions=True):
                if isinstance(outcome, Exception):  # a fault that failed to act
                    raise outcome
            if replay.failures:
                raise replay.failures[0]
            recorder.totals["strays_deleted"] = await replay.sweep()
            recorder.sample(tally, asyncio.get_running_loop().time())
            audit = await _audit(session)
            self._mark("stop")
        self._mark("")
        recorder.totals["unsettled"] = len(unsettled)
        if outages is not None:
            recorder.totals["bus_refused"] = outages.refused
        return recorder.result(spec_summary(spec), audit)

    def _mark(self, phase: str) -> None:
        """Start timing `phase` (wall seconds, kept out of the result: see `phases`)."""
        now = time.perf_counter()
        if self._phase:
            self.phases[self._phase] = now - self._phase_started
        self._phase, self._phase_started = phase, now

    def _faults(
        self, cloud: Cloud, outages: OutageTransport | None, recorder: Recorder
    ) -> list[Coroutine[Any, Any, None]]:
        spec = self.spec
        acts = [inject.host_failure(cloud, f, recorder) for f in spec.faults]
        acts += [inject.slow_host(cloud, f, recorder) for f in spec.slow_hosts]
        if outages is not None:
            acts += [inject.broker_outage(outages, f, recorder) for f in spec.outages]
        return acts

    async def _sample(self, tally: HostTally, recorder: Recorder) -> None:
        """A sample every `sample_interval`, of the scheduler's own host states in this
        process (no RPC: it costs the cloud nothing, and works in an outage), summed
        as they change (`HostTally`: no scan of every host a sample)."""
        loop = asyncio.get_running_loop()
        while True:
            recorder.sample(tally, loop.time())
            await asyncio.sleep(self.spec.sample_interval)


async def _audit(session: Any) -> dict[str, Any]:
    """The audit of the books; if it cannot be read, the error, in the result (the
    run's other figures stand, and the result says the books were not checked, and
    why)."""
    try:
        report: dict[str, Any] = await session.audit()
    except NovaLiteError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return report


def _scheduler(cloud: Cloud) -> SchedulerManager:
    for service in cloud.services:
        if isinstance(service.manager, SchedulerManager):
            return service.manager
    raise Invalid("The simulated cloud has no scheduler.")


async def _catalog(cloud: Cloud, ctx: RequestContext, arrivals: Sequence[Arrival]) -> Catalog:
    """The flavors, images and server groups the arrivals need, made up front."""
    (cirros,) = [i for i in await cloud.api.image.list(ctx) if i.name == "cirros"]
    images: dict[tuple[tuple[str, str], ...], str] = {(): cirros.id}
    for properties in sorted({tuple(sorted(a.image_properties.items())) for a in arrivals}):
        if properties and properties not in images:
            image = await cloud.api.image.create_from_bytes(
                ctx, f"sim-image-{len(images)}", b"simulated", properties=dict(properties)
            )
            images[properties] = image.id
    groups: dict[str, str] = {}
    for name, policy in sorted(
        {(a.server_group, a.group_policy) for a in arrivals if a.server_group}
    ):
        group = objects.ServerGroup(
            uuid=str(uuid.uuid4()), name=name, project_id=ctx.project_id or "",
            user_id=ctx.user_id or "", policy=policy,
        )  # fmt: skip
        groups[name] = (await cloud.api.conductor.server_group_create(ctx, group)).uuid
    return Catalog(flavors=await _flavors(cloud, ctx, arrivals), images=images, groups=groups)


async def _flavors(
    cloud: Cloud, ctx: RequestContext, arrivals: Sequence[Arrival]
) -> dict[tuple[int, int, int], Flavor]:
    """One flavor per shape in the trace (``sim.<vcpus>c.<ram>m.<disk>g``)."""
    shapes = sorted({a.shape for a in arrivals})
    flavors = {}
    for vcpus, ram, disk in shapes:
        name = f"sim.{vcpus}c.{ram}m.{disk}g"
        flavor = Flavor(flavorid=name, name=name, vcpus=vcpus, memory_mb=ram, root_gb=disk)
        flavors[(vcpus, ram, disk)] = await cloud.api.conductor.flavor_create(ctx, flavor)
    return flavors


def spec_summary(spec: SimulationSpec) -> dict[str, Any]:
    """The configuration part of the result (what was simulated)."""
    summary = attrs.asdict(spec)
    summary["faults"] = [f.describe() for f in spec.faults]
    summary["outages"] = [f.describe() for f in spec.outages]
    summary["slow_hosts"] = [f.describe() for f in spec.slow_hosts]
    return summary


@contextlib.contextmanager
def _scratch() -> Iterator[None]:
    """Run in a directory of the simulation's own, removed at the end.

    With ``state_path = ":memory:"`` the databases are in memory, but the services'
    files (each host's image cache, the image store) go under ``.nova_lite`` in the
    working directory: a simulation would leave hundreds of MB there, and find them
    again on the next run. So the process works, for the simulation's length, in a
    temporary directory, on tmpfs where there is one (a file synced there costs no
    disk write: at 10,000 hosts every host caches an image). The working directory
    is process state, as the clock and the seeded uuids are.
    """
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="nova-lite-simulation-", dir=base) as scratch:
        os.chdir(scratch)
        try:
            yield
        finally:
            os.chdir(previous)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed `random` and make `uuid.uuid4` draw from it, for the simulation's length."""
    state = random.getstate()
    original = uuid.uuid4
    random.seed(seed)
    rng = random.Random(seed ^ 0x5EED)

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    uuid.uuid4 = uuid4
    try:
        yield
    finally:
        uuid.uuid4 = original
        random.setstate(state)
