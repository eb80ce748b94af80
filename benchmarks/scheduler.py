"""Scheduler benchmark: placement decisions per second as the hosts grow, and their quality.

Each run is a child process (so its peak memory is its own), with two contenders on
the same hosts and the same request sequence:

- **sampled**: the SchedulerManager as it is, driven directly (no RPC), on an
  in-memory transport, with its database in a temporary directory. Every host
  registers through ``update_compute_node`` as a compute host's heartbeat would;
  then ``select_destinations`` places one instance at a time with Nova's default
  filters and weighers and two alternates, each decision claiming its resources.
- **exhaustive** (the same-run reference): a second SchedulerManager loaded from a
  copy of the first one's database taken after registration, deciding the same
  requests the old way (`ExhaustivePath`: every host filtered, every survivor
  weighed).

Beside decisions per second, the sampled run is checked against exhaustive weighing
(`Quality`): where its picks rank among every host that fits, whether a refusal
left a fitting host (must be 0), and the spread both contenders' placements made
after as many decisions. Memory: peak RSS of the child after the sampled run (only
the sampled scheduler alive), and RSS growth per registered host.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import random
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import attrs

from benchmarks.common import Figure, percentile, quiet_logs, ratio_figure
from benchmarks.scheduler_reference import Books, ExhaustivePath, Quality, mean
from nova_lite import objects
from nova_lite.cloud import DEFAULT_FLAVORS
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import NoValidHost
from nova_lite.loader import get_transport
from nova_lite.scheduler.driver import SamplingRule
from nova_lite.scheduler.host_manager import Allocation
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.service import Service

__all__ = ["SchedulerSpec", "compute_node", "run_scheduler", "started_scheduler"]

Advance = Callable[[int], None]
WARM_UP = 20
PROFILE_LINES = 20  # the head of the profile: its top entries by own CPU time
PROGRESS_EVERY = 50  # decisions per progress report (a pipe write each)


@attrs.frozen(kw_only=True)
class SchedulerSpec:
    """The host counts to measure at, and the decisions each contender makes per run."""

    hosts: tuple[int, ...] = (100, 1000, 10000)
    decisions: int = 500
    duration: float = 10.0  # a contender stops early after this many seconds of decisions
    alternates: int = 2
    mix: str = "mixed"  # "mixed": the five m1 flavors at random; "tiny": m1.tiny only
    quality_every: int = 5  # every how many decisions the sampled pick is checked
    fill: float = 0.5  # mean share of each host's RAM claimed before the decisions
    profile: bool = False  # profile the sampled decisions (pyinstrument), timings aside
    percentage: float | None = None  # [scheduler] percentage_of_hosts_to_score, if not default
    min_hosts: int | None = None  # [scheduler] min_hosts_to_score, if not the default

    def scheduler_options(self) -> dict[str, Any]:
        """The ``[scheduler]`` options the run sets (the others keep their defaults)."""
        options: dict[str, Any] = {}
        if self.percentage is not None:
            options["percentage_of_hosts_to_score"] = self.percentage
        if self.min_hosts is not None:
            options["min_hosts_to_score"] = self.min_hosts
        return options


def compute_node(index: int) -> objects.ComputeNode:
    """The `index`-th fake host's report: Nova's fake driver sizes."""
    name = f"compute{index}"
    return objects.ComputeNode(
        host=name, hypervisor_hostname=name, hypervisor_type="fake",
        vcpus=16, memory_mb=32768, local_gb=500,
    )  # fmt: skip


def requests(spec: SchedulerSpec, seed: int) -> list[objects.RequestSpec]:
    """The request sequence both contenders of a run decide."""
    rng = random.Random(seed)
    flavors = DEFAULT_FLAVORS if spec.mix == "mixed" else DEFAULT_FLAVORS[:1]
    return [
        objects.RequestSpec(
            instance_uuid=str(uuid.UUID(int=rng.getrandbits(128))),
            project_id="bench",
            flavor=rng.choice(flavors),
        )
        for _ in range(spec.decisions)
    ]


async def fill(manager: SchedulerManager, spec: SchedulerSpec, seed: int) -> int:
    """Claim random flavors on every host up to a random share of its RAM (mean `fill`).

    A cloud in service is neither empty nor even: this gives the weighers hosts that
    differ. The hosts are then as if they had reported since (no build in progress).
    """
    rng, claimed = random.Random(seed), 0
    for state in list(manager.hosts.hosts.values()):
        capacity = state.node.memory_mb * state.node.ram_allocation_ratio
        target = min(1.0, rng.uniform(0, 2 * spec.fill)) * capacity
        while state.memory_mb_used < target:
            flavor = rng.choice(DEFAULT_FLAVORS)
            if flavor.memory_mb > state.free_ram_mb or flavor.disk_gb > state.free_disk_gb:
                break
            uuid_ = str(uuid.UUID(int=rng.getrandbits(128)))
            await manager.hosts.claim(Allocation(uuid_, state.host, flavor.vcpus,
                                                 flavor.memory_mb, flavor.disk_gb))  # fmt: skip
            claimed += 1
        state.in_progress = 0
    return claimed


def warm_up(spec: SchedulerSpec, seed: int) -> list[objects.RequestSpec]:
    """A few decisions made before the copy, so neither contender runs cold code."""
    return requests(attrs.evolve(spec, decisions=WARM_UP), seed + 1_000_000)


@asynccontextmanager
async def started_scheduler(
    state_path: str, scheduler: dict[str, Any] | None = None
) -> AsyncIterator[SchedulerManager]:
    """A SchedulerManager running as a Service on a private in-memory transport.

    Hosts stay up for a day without reporting again, so a registration that takes a
    minute (100,000 hosts) leaves no host down.
    """
    config = Config.load(
        environ={}, state_path=state_path, compute={"service_down_time": 86400.0},
        scheduler=scheduler or {},
    )  # fmt: skip
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


@attrs.define
class Timings:
    """One contender's decisions: wall and CPU seconds of each."""

    wall: list[float] = attrs.field(factory=list)
    cpu: float = 0.0
    books: Books = attrs.field(factory=Books)

    def summary(self) -> dict[str, float]:
        ms = [s * 1000 for s in self.wall]
        return {
            "decisions": float(len(self.wall)),
            "per_s": len(self.wall) / sum(self.wall),
            "cpu_us": self.cpu / len(self.wall) * 1e6,
            "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95),
            "p99_ms": percentile(ms, 99),
        }


async def decide(
    manager: SchedulerManager, sequence: list[objects.RequestSpec], spec: SchedulerSpec,
    advance: Advance, quality: Quality | None = None,
) -> Timings:  # fmt: skip
    """Decide the sequence one request at a time, until done or `spec.duration` is up.

    With `quality`, every `spec.quality_every`-th pick is checked against exhaustive
    weighing, and every refusal against every host (both untimed).
    """
    ctx, timings = RequestContext.admin(), Timings()
    deadline = time.perf_counter() + spec.duration
    for index, request in enumerate(sequence):
        checked = quality is not None and index % spec.quality_every == 0
        if quality is not None and checked:
            quality.before(request)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            selections = await manager.select_destinations(ctx, request, spec.alternates)
        except NoValidHost:
            selections = []
        timings.cpu += time.process_time() - cpu
        timings.wall.append(time.perf_counter() - wall)
        picked = selections[0].host if selections else None
        if quality is not None:
            if checked:
                quality.after(picked)
            elif picked is None:
                quality.refused(request)
        timings.books.record(manager, picked)
        if (index + 1) % PROGRESS_EVERY == 0:
            advance(PROGRESS_EVERY)
        if time.perf_counter() > deadline:
            break
    advance(len(timings.wall) % PROGRESS_EVERY)
    return timings


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def one_run(spec: SchedulerSpec, hosts: int, seed: int, advance: Advance) -> dict[str, Any]:
    """Both contenders on `hosts` hosts and one request sequence (run in the child)."""
    sequence = requests(spec, seed)
    with tempfile.TemporaryDirectory(prefix="nova-lite-bench-") as state:
        sampled_state, reference_state = Path(state, "sampled"), Path(state, "exhaustive")
        async with started_scheduler(str(sampled_state), spec.scheduler_options()) as sampled:
            before = rss_mib()
            registrations = await register(sampled, hosts)
            grown = rss_mib() - before
            filled = await fill(sampled, spec, seed)
            await decide(sampled, warm_up(spec, seed), spec, lambda _: None)
            _copy_database(sampled.db.path, reference_state / "scheduler.sqlite")
            quality = Quality(ExhaustivePath(sampled))
            with profiled(spec.profile) as report:  # a profiled run checks no picks
                checks = None if spec.profile else quality
                mine = await decide(sampled, sequence, spec, advance, checks)
            peak = peak_rss_mib()
            scored = SamplingRule.from_config(sampled.config).hosts_to_score(hosts)
        async with started_scheduler(str(reference_state)) as reference:
            reference.driver = ExhaustivePath(reference)
            theirs = await decide(reference, sequence, spec, advance)
    compared = min(len(mine.wall), len(theirs.wall))
    (used, fullest), (ref_used, ref_fullest) = mine.books.at(compared), theirs.books.at(compared)
    return {
        "registrations_per_s": registrations, "kib_per_host": grown * 1024 / hosts,
        "peak_rss_mib": peak, "scored": scored, "filled": filled, "profile": report.text,
        "sampled": mine.summary(), "exhaustive": theirs.summary(),
        "quality": {
            "measured": quality.measured, "above_mean": mean(quality.above),
            "above_max": max(quality.above, default=0.0),
            "refused_though_fitted": quality.refused_though_fitted,
            "invalid_picks": quality.invalid_picks, "compared": compared,
            "hosts_used": used, "fullest_ram": fullest,
            "reference_hosts_used": ref_used, "reference_fullest_ram": ref_fullest,
        },
    }  # fmt: skip


@attrs.define
class ProfileReport:
    """The profile of the sampled decisions, as text (empty when not profiled)."""

    text: str = ""


@contextmanager
def profiled(enabled: bool) -> Iterator[ProfileReport]:
    """Profile the block by CPU time if `enabled`: the functions with the most own time.

    cProfile with `time.process_time` as its clock, not a wall-clock sampler: on a
    shared machine a sampler's wall time is mostly wherever the process was when the
    OS ran someone else. Deterministic profiling slows each call, so a profiled run's
    figures are left out; the shares between functions are what it is for.
    """
    report = ProfileReport()
    if not enabled:
        yield report
        return
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        yield report
    finally:
        profiler.disable()
        report.text = _top_entries(pstats.Stats(profiler))


def _top_entries(stats: pstats.Stats) -> str:
    """The head of a profile: own CPU time per function, as a share of the whole."""
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in entries.values()) or 1.0
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)
    lines = [f"{'own %':>6} {'calls':>9}  function"]
    for (path, line, name), (_, calls, own, _, _) in ranked[:PROFILE_LINES]:
        where = f"{Path(path).name}:{line}" if line else path
        lines.append(f"{own / total * 100:6.1f} {calls:>9}  {name} ({where})")
    return "\n".join(lines)


def _copy_database(source: str, target: Path) -> None:
    """A consistent copy of a live SQLite database (``VACUUM INTO``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(source)
    try:
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()


def main() -> None:
    """The child: ``python -m benchmarks.scheduler SPEC_JSON HOSTS SEED``."""
    spec = SchedulerSpec(**{**json.loads(sys.argv[1]), "hosts": ()})
    hosts, seed = int(sys.argv[2]), int(sys.argv[3])
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    quiet_logs()

    def advance(count: int) -> None:
        out.write(json.dumps({"progress": count}) + "\n")
        out.flush()

    result = asyncio.run(one_run(spec, hosts, seed, advance))
    out.write(json.dumps({"result": result}) + "\n")
    out.flush()


async def child_run(spec: SchedulerSpec, hosts: int, seed: int, advance: Advance) -> dict[str, Any]:
    """One run in a child process; its result."""
    settings = json.dumps({**attrs.asdict(spec), "hosts": ()})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.scheduler", settings, str(hosts), str(seed),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        limit=16 * 1024 * 1024,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    stderr = asyncio.get_running_loop().create_task(process.stderr.read())
    result: dict[str, Any] | None = None
    async for line in process.stdout:
        message = json.loads(line)
        if "progress" in message:
            advance(int(message["progress"]))
        else:
            result = message["result"]
    await process.wait()
    errors = (await stderr).decode(errors="replace")
    if result is None:
        raise RuntimeError(f"scheduler run failed (exit {process.returncode}): {errors[-3000:]}")
    return result


async def run_scheduler(
    spec: SchedulerSpec,
    *,
    runs: int,
    advance: Advance = lambda _: None,
    profiles: dict[int, str] | None = None,
) -> dict[int, dict[str, Figure]]:
    """For each host count: `runs` child runs, each with both contenders.

    With `spec.profile`, the first run of each host count is profiled (its figures
    are left out: the profiler slows it) and its top entries go to `profiles`.
    """
    results: dict[int, dict[str, Figure]] = {}
    for hosts in spec.hosts:
        if spec.profile:
            first = await child_run(spec, hosts, 0, advance)
            if profiles is not None:
                profiles[hosts] = str(first["profile"])
        plain = attrs.evolve(spec, profile=False)
        raw = [await child_run(plain, hosts, seed, advance) for seed in range(runs)]
        results[hosts] = figures_of(raw)
    return results


# key: (name, unit, where in a run's result, scale)
FIGURES: dict[str, tuple[str, str, tuple[str, ...], float]] = {
    "decisions_per_s": ("decisions/s", "1/s", ("sampled", "per_s"), 1),
    "exhaustive_per_s": ("exhaustive decisions/s", "1/s", ("exhaustive", "per_s"), 1),
    "p50_ms": ("p50", "ms", ("sampled", "p50_ms"), 1),
    "p95_ms": ("p95", "ms", ("sampled", "p95_ms"), 1),
    "p99_ms": ("p99", "ms", ("sampled", "p99_ms"), 1),
    "exhaustive_p50_ms": ("exhaustive p50", "ms", ("exhaustive", "p50_ms"), 1),
    "cpu_us": ("CPU per decision", "us", ("sampled", "cpu_us"), 1),
    "exhaustive_cpu_us": ("exhaustive CPU per decision", "us", ("exhaustive", "cpu_us"), 1),
    "decisions": ("decisions", "", ("sampled", "decisions"), 1),
    "exhaustive_decisions": ("exhaustive decisions", "", ("exhaustive", "decisions"), 1),
    "registrations_per_s": ("registrations/s", "1/s", ("registrations_per_s",), 1),
    "bytes_per_host": ("memory per host", "B", ("kib_per_host",), 1024),
    "peak_rss_mib": ("peak RSS", "MiB", ("peak_rss_mib",), 1),
    "scored": ("hosts weighed per decision", "", ("scored",), 1),
    "filled": ("instances placed before the decisions", "", ("filled",), 1),
    "above_mean_pct": ("fitting hosts weighed above the pick, mean", "%",
                       ("quality", "above_mean"), 100),
    "above_max_pct": ("fitting hosts weighed above the pick, worst", "%",
                      ("quality", "above_max"), 100),
    "refused_though_fitted": ("refused though a host fitted", "",
                              ("quality", "refused_though_fitted"), 1),
    "invalid_picks": ("picks a filter refuses", "", ("quality", "invalid_picks"), 1),
    "compared": ("decisions compared", "", ("quality", "compared"), 1),
    "hosts_used": ("hosts used", "", ("quality", "hosts_used"), 1),
    "exhaustive_hosts_used": ("hosts used, exhaustive", "", ("quality", "reference_hosts_used"), 1),
    "fullest_ram_pct": ("fullest host's RAM", "%", ("quality", "fullest_ram"), 100),
    "exhaustive_fullest_ram_pct": ("fullest host's RAM, exhaustive", "%",
                                   ("quality", "reference_fullest_ram"), 100),
}  # fmt: skip


def figures_of(raw: list[dict[str, Any]]) -> dict[str, Figure]:
    """The figures of one host count over its runs, and the same-run speed-up."""
    figures = {
        key: Figure(name, unit, tuple(_at(r, path) * scale for r in raw))
        for key, (name, unit, path, scale) in FIGURES.items()
    }
    figures["speedup"] = ratio_figure(
        "sampled / exhaustive", figures["decisions_per_s"], figures["exhaustive_per_s"]
    )
    return figures


def _at(result: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = result
    for key in path:
        value = value[key]
    return float(value)


if __name__ == "__main__":
    main()
