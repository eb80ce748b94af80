"""Boot benchmark: servers per second end to end, and where each boot's time goes.

Each run starts a fresh `Cloud` (every service in this process, on the chosen
transport, with M fake compute hosts; startup is not timed), lifts the admin
project's quotas, then creates N servers through the API library in batches of
``batch`` sent concurrently, and times until the last build is done. The services'
own log events (`benchmarks.spans`) give each instance's time in the API, the
scheduler, the conductor hand-off and the compute build; the table shows the median
of each stage.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from resource import RUSAGE_SELF, getrusage
from typing import Any

import attrs

from benchmarks.common import Figure, rpc_isolation
from benchmarks.hops import counting
from benchmarks.observe import overrides, unhooked
from benchmarks.spans import CREATE, STAGES, EventRecorder, Mark, recording, stage_medians
from nova_lite.api.client import Session
from nova_lite.cloud import Cloud
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.notifications import decode_notification
from nova_lite.process import freeze_after_start, thaw, tune_garbage_collector
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.transport import Delivery, ExchangeType, Transport

__all__ = [
    "BootResult",
    "BootSpec",
    "boot_figures",
    "boot_run",
    "cloud_config",
    "count_hops",
    "lift_quotas",
    "report_hosts",
    "run_boot",
    "run_boot_modes",
]

Advance = Callable[[int], None]


@attrs.frozen(kw_only=True)
class BootSpec:
    """One boot workload: how many servers, on how many hosts, over which transport."""

    servers: int = 500
    hosts: int = 100
    batch: int = 50
    transport_url: str = "memory://"
    flavor: str = "m1.tiny"
    timeout: float = 600.0
    in_flight: int = 0  # at most this many builds under way at once; 0: all at once
    overrides: dict[str, Any] = attrs.field(factory=dict)  # more Config.load overrides
    hops: bool = False  # count messages and statements per boot (`benchmarks.hops`)
    network_cidr: str = "10.0.0.0/16"  # the servers' network (a /16 holds 65,533)


@attrs.frozen
class BootResult:
    """What one run measured (`checks`: whatever the run's `check` found)."""

    seconds: float
    startup_seconds: float
    active: int
    failed: int
    stages_ms: dict[str, float]
    checks: dict[str, Any] = attrs.field(factory=dict)
    failures: dict[str, int] = attrs.field(factory=dict)  # fault (ids masked): how many
    hops: dict[str, Any] | None = None  # `HopCounts.per_boot`, on a counted run
    startup_rss_mib: float = 0.0  # the process's peak resident memory once started


Check = Callable[[Cloud, Session], Awaitable[dict[str, Any]]]


def cloud_config(state_path: str, transport_url: str, **overrides: Any) -> Config:
    """A benchmark cloud's configuration: its own names on the broker, quiet hosts."""
    return Config.load(
        environ={},
        state_path=state_path,
        transport_url=transport_url,
        rpc=rpc_isolation(),
        compute={"report_interval": 3600.0, "service_down_time": 7200.0,
                 "sync_power_state_interval": 3600.0},
        api={"max_count": 1000},
        network={"quota_port": -1},  # the admin project holds every benchmark server
        **overrides,
    )  # fmt: skip


async def lift_quotas(cloud: Cloud, session: Session) -> None:
    """Make the admin project unlimited (the benchmark boots far past the defaults)."""
    ctx = await session.context()
    for resource in ("instances", "cores", "ram"):
        await cloud.api.conductor.quota_set(ctx, ctx.project_id or "", resource, -1)


async def create_all(
    session: Session, recorder: EventRecorder, spec: BootSpec, advance: Advance
) -> None:
    """Create `spec.servers` servers in batches: all at once, or `spec.in_flight` at most.

    With a limit, each batch is sent once enough earlier builds have ended to keep
    the builds under way within it (a client pacing its requests).
    """

    async def one_batch(first: int, count: int) -> None:
        started = time.perf_counter()
        created = await session.servers.create(
            f"bench{first}", flavor=spec.flavor, image="cirros", count=count
        )
        for server in created:
            recorder.marks.append(Mark(started, CREATE, server.id, None))

    batches = [(i, min(spec.batch, spec.servers - i)) for i in range(0, spec.servers, spec.batch)]
    if not spec.in_flight:
        await asyncio.gather(*(one_batch(first, count) for first, count in batches))
        return
    for first, count in batches:
        await recorder.until_ended(first + count - max(spec.in_flight, count))
        await one_batch(first, count)


async def watch_failures(cloud: Cloud, recorder: EventRecorder) -> None:
    """Tell `recorder` of every ``instance.create.error`` notification, with its fault."""
    transport, exchange = cloud.transport, cloud.config.rpc.exchange
    queue = f"bench_failures_{uuid.uuid4().hex}"

    async def on_error(delivery: Delivery) -> None:
        await delivery.ack()
        note = decode_notification(delivery.message.body)
        if note.get("event_type") == "instance.create.error":
            payload = note["payload"]["nova_object.data"]
            recorder.fail(payload["uuid"], str(payload.get("fault", {}).get("message", "?")))

    await transport.declare_exchange(exchange, ExchangeType.TOPIC)
    await transport.declare_queue(queue, exclusive=True, auto_delete=True)
    await transport.bind_queue(queue, exchange, "notifications.error")
    await transport.consume(queue, on_error)


async def wait_built(
    recorder: EventRecorder, spec: BootSpec, advance: Advance, creating: asyncio.Task[None]
) -> None:
    """Wait until every build has ended (done or failed), or `spec.timeout` has passed,
    reporting progress; the builds still under way then count as not ACTIVE."""
    deadline = time.perf_counter() + spec.timeout
    seen = 0
    while recorder.ended < spec.servers:
        if time.perf_counter() > deadline:
            return
        if creating.done():
            creating.result()  # a failed create call fails the run
        target = min(spec.servers, recorder.ended + max(1, spec.servers // 50))
        waiter = recorder.until_ended(target)
        await asyncio.wait({waiter, creating} if not creating.done() else {waiter}, timeout=1.0)
        advance(recorder.ended - seen)
        seen = recorder.ended


async def report_hosts(cloud: Cloud) -> None:
    """Hand every host's report to the embedded scheduler now, before the clock starts.

    Hosts announce themselves with a fanout cast at start-up, which may still be on
    its way; applying the same reports directly means no boot races it.
    """
    scheduler = next(s.manager for s in cloud.services if isinstance(s.manager, SchedulerManager))
    ctx = RequestContext.admin()
    for compute in cloud.compute_managers():
        await scheduler.update_compute_node(ctx, compute.tracker.compute_node())


async def boot_run(
    spec: BootSpec,
    advance: Advance = lambda _: None,
    check: Check | None = None,
    *,
    transport: Transport | None = None,
) -> BootResult:
    """One run: a fresh cloud, N servers booted, timed, their stages measured.

    `check`, if given, inspects the cloud once every build is done, before it stops.
    With `transport` (connected, to `spec.transport_url`'s broker) the cloud uses it
    and leaves it open.
    """
    recorder = EventRecorder()
    with contextlib.ExitStack() as stack:
        state = stack.enter_context(tempfile.TemporaryDirectory(prefix="nova-lite-bench-"))
        stack.enter_context(recording(recorder))
        config = cloud_config(state, spec.transport_url, **spec.overrides)
        tune_garbage_collector(config.process)  # as the product's processes do
        stack.callback(thaw)
        started = time.perf_counter()
        cloud = Cloud(
            config, computes=spec.hosts, network_cidr=spec.network_cidr, transport=transport
        )
        hop_counts = stack.enter_context(counting(cloud.transport)) if spec.hops else None
        async with cloud:
            startup = time.perf_counter() - started
            startup_rss = getrusage(RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
            freeze_after_start(config.process)
            session = await cloud.login_admin()
            await lift_quotas(cloud, session)
            await report_hosts(cloud)
            await watch_failures(cloud, recorder)
            recorder.marks.clear()
            if hop_counts is not None:
                hop_counts.reset()
            start = time.perf_counter()
            creating = asyncio.get_running_loop().create_task(
                create_all(session, recorder, spec, advance)
            )
            await wait_built(recorder, spec, advance, creating)
            seconds = time.perf_counter() - start
            if not creating.done():  # paced creates left unsent when the run timed out
                creating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await creating
            await creating
            hops = hop_counts.per_boot(spec.servers) if hop_counts is not None else None
            checks = await check(cloud, session) if check is not None else {}
    active = len(recorder.done)  # a build logs done once its instance is ACTIVE
    failures = collections.Counter(recorder.failed.values())
    if unfinished := spec.servers - recorder.ended:
        failures[f"still building after the run's timeout of {spec.timeout:g}s"] = unfinished
    return BootResult(
        seconds,
        startup,
        active,
        spec.servers - active,
        stage_medians(recorder.marks),
        checks,
        dict(failures.most_common()),
        hops,
        startup_rss,
    )


async def run_boot(
    spec: BootSpec, *, runs: int, advance: Advance = lambda _: None
) -> tuple[dict[str, Figure], list[BootResult]]:
    """`runs` boot runs: figures over the runs (servers/s, failures, each stage's
    median), and each run's own result."""
    results = [await boot_run(spec, advance) for _ in range(runs)]
    return boot_figures(spec, results), results


async def run_boot_modes(
    spec: BootSpec, modes: Sequence[str], *, runs: int, advance: Advance = lambda _: None
) -> dict[str, tuple[dict[str, Figure], list[BootResult]]]:
    """`runs` runs under each telemetry mode (`benchmarks.observe`), interleaved run by run."""
    results: dict[str, list[BootResult]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="nova-lite-bench-spans-") as spans:
        specs = {
            mode: attrs.evolve(spec, overrides={**spec.overrides, **overrides(mode, spans)})
            for mode in modes
        }
        for _ in range(runs):
            for mode in modes:
                with unhooked(mode == "unhooked"):
                    results[mode].append(await boot_run(specs[mode], advance))
    return {mode: (boot_figures(spec, found), found) for mode, found in results.items()}


def boot_figures(spec: BootSpec, results: Sequence[BootResult]) -> dict[str, Figure]:
    """Figures over the runs: servers/s, wall time, failures, each stage's median."""
    figures = {
        "servers_per_s": Figure(
            "servers/s", "1/s", tuple(spec.servers / r.seconds for r in results)
        ),
        "seconds": Figure("wall time", "s", tuple(r.seconds for r in results)),
        "failed": Figure("not ACTIVE", "servers", tuple(float(r.failed) for r in results)),
    }
    for stage in STAGES:
        values = tuple(r.stages_ms[stage] for r in results if stage in r.stages_ms)
        if values:
            figures[f"{stage}_ms"] = Figure(f"{stage} (median per server)", "ms", values)
    return figures


HOP_SERVERS = 100  # a counted run's size: enough for stable per-boot averages


async def count_hops(spec: BootSpec) -> dict[str, Any]:
    """Messages and statements per boot, on one untimed run of at most `HOP_SERVERS`,
    with as many servers per host as the timed runs (a host fetches its image once)."""
    servers = min(spec.servers, HOP_SERVERS)
    hosts = max(1, spec.hosts * servers // spec.servers)
    counted = attrs.evolve(
        spec, servers=servers, hosts=hosts, batch=min(spec.batch, servers), hops=True
    )
    result = await boot_run(counted)
    assert result.hops is not None
    return result.hops
