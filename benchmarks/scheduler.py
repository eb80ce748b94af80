"""Scheduler benchmark: placement decisions per second as the number of hosts grows.

The SchedulerManager is driven directly in this process (no RPC): it runs as a
`Service` on an in-memory transport, with its database in a temporary directory,
and every host registers through ``update_compute_node`` with a `ComputeNode`, as a
compute host's heartbeat would. Then ``select_destinations`` places one m1.tiny
instance at a time, with Nova's default filters, weighers and two alternates; each
decision claims its resources, so later decisions see the earlier claims.

Figures per host count: decisions per second and per-decision latency (p50/p95/p99),
host registration rate, and the memory each host costs the scheduler (tracemalloc,
measured in a separate pass so tracing does not slow the timed ones).
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import attrs

from benchmarks.common import Figure, percentile
from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.loader import get_transport
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.service import Service

__all__ = ["SchedulerSpec", "compute_node", "run_scheduler", "started_scheduler"]

Advance = Callable[[int], None]
TINY = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)


@attrs.frozen(kw_only=True)
class SchedulerSpec:
    """The host counts to measure at, and how many decisions each run makes."""

    hosts: tuple[int, ...] = (100, 1000, 10000)
    decisions: int = 500
    duration: float = 10.0  # a run stops early after this many seconds of decisions
    alternates: int = 2


def compute_node(index: int) -> objects.ComputeNode:
    """The `index`-th fake host's report: Nova's fake driver sizes."""
    name = f"compute{index}"
    return objects.ComputeNode(
        host=name, hypervisor_hostname=name, hypervisor_type="fake",
        vcpus=16, memory_mb=32768, local_gb=500,
    )  # fmt: skip


@asynccontextmanager
async def started_scheduler(state_path: str) -> AsyncIterator[SchedulerManager]:
    """A SchedulerManager running as a Service on a private in-memory transport."""
    config = Config.load(environ={}, state_path=state_path)
    async with get_transport("memory://") as transport:
        manager = SchedulerManager(config, transport, "bench")
        async with Service(manager, serializer=objects.serializer()):
            yield manager


async def register(manager: SchedulerManager, hosts: int) -> float:
    """Register `hosts` hosts; return registrations per second."""
    ctx = RequestContext.admin()
    start = time.perf_counter()
    for index in range(1, hosts + 1):
        await manager.update_compute_node(ctx, compute_node(index))
    return hosts / (time.perf_counter() - start)


async def decide(manager: SchedulerManager, spec: SchedulerSpec, advance: Advance) -> list[float]:
    """Place up to `spec.decisions` instances one at a time; each decision's seconds."""
    ctx = RequestContext.admin()
    deadline = time.perf_counter() + spec.duration
    latencies = []
    for _ in range(spec.decisions):
        request = objects.RequestSpec(
            instance_uuid=str(uuid.uuid4()), project_id="bench", flavor=TINY
        )
        start = time.perf_counter()
        await manager.select_destinations(ctx, request, spec.alternates)
        latencies.append(time.perf_counter() - start)
        advance(1)
        if time.perf_counter() > deadline:
            break
    return latencies


async def memory_per_host(hosts: int) -> float:
    """Bytes the scheduler holds per registered host (heap growth under tracemalloc)."""
    with tempfile.TemporaryDirectory(prefix="nova-lite-bench-") as state:
        async with started_scheduler(state) as manager:
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                await register(manager, hosts)
                after = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
    return (after - before) / hosts


async def one_run(hosts: int, spec: SchedulerSpec, advance: Advance) -> tuple[float, list[float]]:
    """A fresh scheduler: register `hosts`, then time the decisions."""
    with tempfile.TemporaryDirectory(prefix="nova-lite-bench-") as state:
        async with started_scheduler(state) as manager:
            registrations = await register(manager, hosts)
            return registrations, await decide(manager, spec, advance)


async def run_scheduler(
    spec: SchedulerSpec, *, runs: int, advance: Advance = lambda _: None
) -> dict[int, dict[str, Figure]]:
    """For each host count: `runs` timed runs and one memory pass."""
    results: dict[int, dict[str, Figure]] = {}
    for hosts in spec.hosts:
        samples: dict[str, list[float]] = {}
        for _ in range(runs):
            registrations, latencies = await one_run(hosts, spec, advance)
            ms = [s * 1000 for s in latencies]
            for key, value in (
                ("decisions_per_s", len(latencies) / sum(latencies)),
                ("p50_ms", percentile(ms, 50)),
                ("p95_ms", percentile(ms, 95)),
                ("p99_ms", percentile(ms, 99)),
                ("registrations_per_s", registrations),
                ("decisions", float(len(latencies))),
            ):
                samples.setdefault(key, []).append(value)
        figures = {k: Figure(k, _unit(k), tuple(v)) for k, v in samples.items()}
        figures["bytes_per_host"] = Figure("memory per host", "B", (await memory_per_host(hosts),))
        results[hosts] = figures
    return results


def _unit(key: str) -> str:
    return "ms" if key.endswith("_ms") else "1/s" if key.endswith("_per_s") else ""
