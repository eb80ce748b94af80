"""`Simulation`: a workload replayed against the real control plane in virtual time.

A simulation starts an in-process `Cloud` (in-memory broker, in-memory SQLite,
fake driver) with N hosts on a `VirtualTimeLoop`, under `nova_lite.clock.virtual`,
and replays a trace: at each arrival it creates a server of the arrival's shape
through the same library API a user calls, and at its departure deletes it. The
cloud's own notifications say when a build ended ACTIVE (placed: the placement
latency is virtual seconds from the create call) or ERROR (rejected, with the
fault; the server is deleted at once). Every `sample_interval` simulated seconds
a sample of the scheduler's view of every host is taken (`nova_lite.simulate.report`).

When the trace is done, the simulation waits until every build and delete has
finished, checks the books with the audit (`nova-lite audit`) and returns a
`SimulationResult`. Everything that decides placement is seeded (`random`, the
instance uuids), so one trace, seed and configuration give the same result.

Virtual-time settings: hosts report every `report_interval` simulated seconds
(600 by default: heartbeats of thousands of hosts are most of a day's messages)
and a host is down after `service_down_time` (1800).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import structlog

from nova_lite import clock, objects
from nova_lite.api.client import Session
from nova_lite.cloud import Cloud, compute_host_name
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.notifications import decode_notification
from nova_lite.objects import Flavor
from nova_lite.service import Service
from nova_lite.simulate.faults import HostFailure
from nova_lite.simulate.loop import VirtualTimeLoop
from nova_lite.simulate.report import Recorder, SimulationResult
from nova_lite.simulate.trace import Arrival
from nova_lite.transport import Delivery, ExchangeType

__all__ = ["SIMULATION_PASSWORD", "Simulation", "SimulationSpec"]

log = structlog.get_logger(__name__)

SIMULATION_PASSWORD = "simulation-admin"
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: simulated time 0, the same every run
Progress = Callable[[float, float], None]  # (simulated seconds so far, of total)


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
    seed: int = 0
    sample_interval: float = 60.0
    report_interval: float = 600.0
    service_down_time: float = 1800.0
    end: float | None = None  # simulated seconds; default: the trace's last event
    drain_limit: float = 7200.0  # simulated seconds allowed after the end to settle

    def config(self) -> Config:
        """The cloud's configuration (in memory, fake driver, quiet periodic work)."""
        sections: dict[str, Any] = {
            "state_path": ":memory:",
            "transport_url": "memory://",
            "compute": {
                "report_interval": self.report_interval,
                "service_down_time": self.service_down_time,
                "sync_power_state_interval": 86400.0,
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
            "network": {"quota_port": -1},  # one project holds every simulated server
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
        self.arrivals = list(arrivals)
        self.wall_seconds = 0.0
        self.recorder: Recorder | None = None  # the last run's, for a closer look

    def run(self, progress: Progress | None = None) -> SimulationResult:
        """Run to the end on a virtual-time loop of its own (in a thread when this
        thread already runs a loop, as in a notebook)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run_here(progress)
        box: list[SimulationResult | BaseException] = []

        def target() -> None:
            try:
                box.append(self._run_here(progress))
            except BaseException as exc:
                box.append(exc)

        thread = threading.Thread(target=target, name="nova-lite-simulation")
        thread.start()
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _run_here(self, progress: Progress | None) -> SimulationResult:
        loop = VirtualTimeLoop()
        started = time.perf_counter()
        try:
            with clock.virtual(loop, EPOCH), _seeded(self.spec.seed):
                return loop.run_until_complete(self._main(progress))
        finally:
            self.wall_seconds = time.perf_counter() - started
            loop.close()

    def end_time(self) -> float:
        """Simulated seconds the scenario lasts: `spec.end`, else its last event."""
        if self.spec.end is not None:
            return self.spec.end
        last = [a.departure if a.departure is not None else a.arrival for a in self.arrivals]
        faults = [t for f in self.spec.faults for t in f.times()]
        return max([0.0, *last, *faults]) + self.spec.sample_interval

    async def _main(self, progress: Progress | None) -> SimulationResult:
        spec = self.spec
        cloud = Cloud(spec.config(), computes=spec.hosts, network_cidr="10.0.0.0/8")
        async with cloud:
            session = await cloud.login_admin()
            ctx = await session.context()
            for resource in ("instances", "cores", "ram"):
                await cloud.api.conductor.quota_set(ctx, ctx.project_id or "", resource, -1)
            flavors = await _flavors(cloud, ctx, self.arrivals)
            (image,) = [i for i in await cloud.api.image.list(ctx) if i.name == "cirros"]
            recorder = Recorder(
                spec.sample_interval, [f for f in flavors.values()], hosts=spec.hosts
            )
            self.recorder = recorder
            replay = _Replay(cloud, session, recorder, flavors, image.id)
            await replay.watch()
            sampler = asyncio.create_task(self._sample(cloud, ctx, recorder))
            faults = [asyncio.create_task(self._fault(cloud, f, recorder)) for f in spec.faults]
            end = self.end_time()
            await replay.play(self.arrivals, end, progress)
            for fault in faults:  # a fault that failed to act fails the simulation
                if fault.done():
                    fault.result()
            unsettled = await replay.drain(spec.drain_limit)
            sampler.cancel()
            for task in faults:
                task.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            for outcome in await asyncio.gather(*faults, return_exceptions=True):
                if isinstance(outcome, Exception):
                    raise outcome
            await recorder.sample(cloud, ctx, asyncio.get_running_loop().time())
            audit = await session.audit()
        recorder.totals["unsettled"] = len(unsettled)
        return recorder.result(spec_summary(spec), audit)

    async def _sample(self, cloud: Cloud, ctx: RequestContext, recorder: Recorder) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await recorder.sample(cloud, ctx, loop.time())
            await asyncio.sleep(self.spec.sample_interval)

    async def _fault(self, cloud: Cloud, fault: HostFailure, recorder: Recorder) -> None:
        """Stop a host's compute service at the failure, start it again at recovery."""
        loop = asyncio.get_running_loop()
        for down, up in fault.windows():
            await asyncio.sleep(max(0.0, down - loop.time()))
            service = _compute_service(cloud, fault.host)
            await service.stop()
            recorder.event(loop.time(), "host_down", fault.host)
            if up is None:
                return
            await asyncio.sleep(max(0.0, up - loop.time()))
            # A restarted host is a new service process around the same hypervisor
            # (the fake driver's guests survive, as a host's guests survive a
            # nova-compute restart).
            restarted = Service(service.manager, serializer=objects.serializer())
            await restarted.start()
            cloud.services[cloud.services.index(service)] = restarted
            recorder.event(loop.time(), "host_up", fault.host)


class _Replay:
    """Creates and deletes the trace's servers and follows their builds."""

    def __init__(
        self,
        cloud: Cloud,
        session: Session,
        recorder: Recorder,
        flavors: dict[Any, Flavor],
        image: str,
    ) -> None:
        self.cloud = cloud
        self.image = image
        self.session = session
        self.recorder = recorder
        self.flavors = flavors
        self.building: dict[str, float] = {}  # server uuid -> when it was requested
        self.placed: set[str] = set()
        self.departing: set[str] = set()  # deleted before its build ended
        self.tasks: set[asyncio.Task[None]] = set()
        self.settled = asyncio.Event()

    async def watch(self) -> None:
        """Follow ``instance.create.end`` / ``.error`` and ``instance.delete.end``."""
        transport, exchange = self.cloud.transport, self.cloud.config.rpc.exchange
        queue = f"simulation_{uuid.uuid4().hex}"
        await transport.declare_exchange(exchange, ExchangeType.TOPIC)
        await transport.declare_queue(queue, exclusive=True, auto_delete=True)
        for key in ("notifications.info", "notifications.error"):
            await transport.bind_queue(queue, exchange, key)
        await transport.consume(queue, self._on_notification)

    async def _on_notification(self, delivery: Delivery) -> None:
        await delivery.ack()
        note = decode_notification(delivery.message.body)
        event = note.get("event_type")
        if event not in ("instance.create.end", "instance.create.error"):
            return
        data = note["payload"]["nova_object.data"]
        server = str(data["uuid"])
        requested = self.building.pop(server, None)
        if requested is None:
            return
        now = asyncio.get_running_loop().time()
        if event == "instance.create.end":
            self.placed.add(server)
            self.recorder.placed(now, now - requested, str(data.get("host") or ""))
        else:
            fault = data.get("fault") or {}
            self.recorder.rejected(now, str(fault.get("message") or "unknown"))
            self._spawn(self._delete(server, departing=False))
        self._check_settled()

    async def play(
        self, arrivals: Sequence[Arrival], end: float, progress: Progress | None
    ) -> None:
        """Send each arrival at its time and each departure at its time, up to `end`."""
        loop = asyncio.get_running_loop()
        events: list[tuple[float, int, str, Any]] = []
        for seq, arrival in enumerate(arrivals):
            events.append((arrival.arrival, seq, "arrive", arrival))
        heapq.heapify(events)
        seq = len(events)
        while events and events[0][0] <= end:
            at, _, kind, item = heapq.heappop(events)
            await asyncio.sleep(max(0.0, at - loop.time()))
            if progress is not None:
                progress(loop.time(), end)
            if kind == "arrive":
                server = await self._create(item)
                if server is not None and item.departure is not None:
                    seq += 1
                    heapq.heappush(events, (item.departure, seq, "depart", server))
            else:
                self._spawn(self._delete(item, departing=True))
        await asyncio.sleep(max(0.0, end - loop.time()))
        if progress is not None:
            progress(end, end)

    async def _create(self, arrival: Arrival) -> str | None:
        loop = asyncio.get_running_loop()
        self.recorder.arrived(loop.time())
        flavor = self.flavors[arrival.shape]
        metadata = {"project": arrival.project} if arrival.project else None
        try:
            (server,) = await self.session.servers.create(
                "sim", flavor=flavor.flavorid, image=self.image, metadata=metadata
            )
        except Invalid as exc:  # refused at the API: counted as a rejection
            self.recorder.rejected(loop.time(), str(exc))
            return None
        self.building[server.id] = loop.time()
        return server.id

    async def _delete(self, server: str, *, departing: bool) -> None:
        """Delete a departing server (placed, or withdrawn while it was still
        building) or a rejected one (`departing` false: the cleanup)."""
        try:
            await self.session.servers.delete(server)
        except NotFound:
            return
        now = asyncio.get_running_loop().time()
        if self.building.pop(server, None) is not None:
            self.recorder.withdrawn(now)
        elif server in self.placed:
            self.placed.discard(server)
            self.recorder.departed(now)
        self._check_settled()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _check_settled(self) -> None:
        if not self.building and not self.tasks:
            self.settled.set()

    async def drain(self, limit: float) -> list[str]:
        """Wait (at most `limit` simulated seconds) until every build has ended, every
        delete has been answered and no server is still deleting; the servers that
        had not settled by then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while (self.tasks or self.building) and loop.time() < deadline:
            self.settled.clear()
            pending = [*self.tasks]
            if pending:
                await asyncio.wait(pending, timeout=deadline - loop.time())
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.settled.wait(), deadline - loop.time())
        while loop.time() < deadline:
            busy = [s.id for s in await self.session.servers.list() if s.task_state is not None]
            if not busy:
                return sorted(self.building)
            # Polling in virtual time costs a list call, never wall time.
            await asyncio.sleep(min(60.0, max(0.0, deadline - loop.time())))
        busy = [s.id for s in await self.session.servers.list() if s.task_state is not None]
        return sorted({*self.building, *busy})


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


def _compute_service(cloud: Cloud, host: str) -> Service:
    for service in cloud.services:
        if getattr(service.manager, "host", None) == host and service.manager.topic == "compute":
            return service
    raise Invalid(
        f"No compute host {host!r} in this simulation (hosts are {compute_host_name(1)}...)."
    )


def spec_summary(spec: SimulationSpec) -> dict[str, Any]:
    """The configuration part of the result (what was simulated)."""
    summary = attrs.asdict(spec)
    summary["faults"] = [f.describe() for f in spec.faults]
    return summary


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
