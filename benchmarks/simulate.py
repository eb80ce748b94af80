"""Simulation benchmark: simulated hours per wall minute, memory, determinism.

Issue 17's target is a simulated 24 h on 10,000 fake hosts with >= 100,000
arrivals in < 10 min wall and < 4 GiB. Each run is a child process
(``python -m benchmarks.simulate``, with ``PYTHONHASHSEED=0``) replaying one seeded
synthetic workload with `nova_lite.simulate.Simulation`, so its peak resident
memory is its own; it reports its wall time, the simulated span, the result's
totals and the SHA-256 of the result JSON. Equal digests over the runs show the
simulation deterministic across processes.

`delete_hops` counts what one server's delete costs (RPC messages and SQLite
statements, as `benchmarks.hops` counts a boot's): a small trace replayed twice in
this process, once with its servers departing and once without, the difference
divided by the servers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from benchmarks.common import Figure
from benchmarks.scale import peak_rss_mib

if TYPE_CHECKING:
    from benchmarks.hops import HopCounts

__all__ = ["SimulateSpec", "delete_hops", "run_simulate"]

DELETE_HOP_SERVERS = 50  # servers deleted in `delete_hops`' counted run
DELETE_HOP_HOSTS = 10


@attrs.frozen(kw_only=True)
class SimulateSpec:
    """The simulated cloud and workload of one benchmark run."""

    hosts: int = 10000
    hours: float = 24.0
    arrivals_per_hour: float = 4200.0  # >= 100,000 arrivals in 24 h
    median_lifetime: float = 3600.0
    seed: int = 0
    # Seconds between two reports of a host (its heartbeat); a host is down after
    # twice that. 60,000 reports a simulated hour at 10,000 hosts every 600 s.
    report_interval: float = 3600.0


def _child(spec: SimulateSpec) -> dict[str, Any]:
    from nova_lite.config import ProcessConfig
    from nova_lite.log import configure_logging
    from nova_lite.process import freeze_after_start, tune_garbage_collector
    from nova_lite.simulate import Simulation, SimulationSpec, synthetic

    configure_logging(level="error")
    arrivals = synthetic(seed=spec.seed, hours=spec.hours,
                         arrivals_per_hour=spec.arrivals_per_hour,
                         median_lifetime=spec.median_lifetime)  # fmt: skip
    cloud = SimulationSpec(
        hosts=spec.hosts, seed=spec.seed, report_interval=spec.report_interval,
        service_down_time=2 * spec.report_interval,
    )  # fmt: skip
    simulation = Simulation(cloud, arrivals)
    process = ProcessConfig()  # as ``nova-lite simulate`` does: frozen once the cloud runs
    tune_garbage_collector(process)
    cpu = time.process_time()
    result = simulation.run(started=lambda: freeze_after_start(process))
    return {
        "wall_seconds": simulation.wall_seconds,
        "cpu_seconds": time.process_time() - cpu,
        "phases": simulation.phases,
        "simulated_seconds": simulation.end_time(),
        "arrivals": len(arrivals),
        "totals": result.totals,
        "audit": result.audit,
        "digest": hashlib.sha256(result.to_json()).hexdigest(),
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    """The child: ``python -m benchmarks.simulate HOSTS HOURS RATE LIFETIME SEED REPORT``."""
    hosts, hours, rate, lifetime, seed, report = sys.argv[1:7]
    spec = SimulateSpec(hosts=int(hosts), hours=float(hours), arrivals_per_hour=float(rate),
                        median_lifetime=float(lifetime), seed=int(seed),
                        report_interval=float(report))  # fmt: skip
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    out.write(json.dumps({"result": _child(spec)}) + "\n")
    out.flush()


async def one_run(spec: SimulateSpec) -> dict[str, Any]:
    """One child process's result."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.simulate", str(spec.hosts), str(spec.hours),
        str(spec.arrivals_per_hour), str(spec.median_lifetime), str(spec.seed),
        str(spec.report_interval),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    stdout, stderr = await process.communicate()
    for line in stdout.decode().splitlines():
        message = json.loads(line)
        if "result" in message:
            result: dict[str, Any] = message["result"]
            return result
    raise RuntimeError(
        f"simulate run failed (exit {process.returncode}): {stderr.decode()[-3000:]}"
    )


async def run_simulate(
    spec: SimulateSpec, *, runs: int
) -> tuple[dict[str, Figure], list[dict[str, Any]]]:
    """`runs` child runs: figures over the runs, and each run's raw result."""
    raw = [await one_run(spec) for _ in range(runs)]
    figures = {
        "wall_seconds": Figure("wall time", "s", tuple(r["wall_seconds"] for r in raw)),
        # CPU seconds of the child: on a shared machine, less noisy than wall time.
        "cpu_seconds": Figure("CPU time", "s", tuple(r["cpu_seconds"] for r in raw)),
        "simulated_hours_per_wall_minute": Figure(
            "simulated hours per wall minute", "h/min",
            tuple(r["simulated_seconds"] / 3600 / (r["wall_seconds"] / 60) for r in raw),
        ),
        "arrivals_per_wall_second": Figure(
            "arrivals per wall second", "1/s",
            tuple(r["arrivals"] / r["wall_seconds"] for r in raw),
        ),
        "peak_rss_mib": Figure("peak RSS", "MiB", tuple(r["peak_rss_mib"] for r in raw)),
        **{
            f"{phase}_seconds": Figure(
                f"wall time: {phase}", "s", tuple(r["phases"].get(phase, 0.0) for r in raw)
            )
            for phase in ("start", "replay", "settle", "stop")
        },
        "distinct_results": Figure(
            "distinct result digests", "", (float(len({r["digest"] for r in raw})),)
        ),
    }  # fmt: skip
    return figures, raw


@contextlib.contextmanager
def _counted_simulation() -> Iterator[list[HopCounts]]:
    """While the block runs, each `Simulation` counts its cloud's messages and
    statements (`benchmarks.hops.counting` on the transport it makes). Imported
    here, not by the timed child: what a process imports moves where its objects
    live in memory (see `main`)."""
    from unittest import mock

    from benchmarks.hops import counting
    from nova_lite.loader import get_transport as make

    found: list[HopCounts] = []
    with contextlib.ExitStack() as stack:

        def counted(url: str, **options: Any) -> Any:
            transport = make(url, **options)
            found.append(stack.enter_context(counting(transport)))
            return transport

        stack.enter_context(mock.patch("nova_lite.simulate.runner.get_transport", counted))
        yield found


def _hops_of(servers: int, *, depart: bool) -> HopCounts:
    from nova_lite.simulate import Simulation, SimulationSpec
    from nova_lite.simulate.trace import Arrival

    arrivals = [
        Arrival(arrival=float(i), departure=2000.0 + i if depart else None,
                vcpus=1, ram_mb=512, disk_gb=1)
        for i in range(servers)
    ]  # fmt: skip
    # No heartbeat, report or power sync inside the window: only the servers' work.
    spec = SimulationSpec(hosts=DELETE_HOP_HOSTS, report_interval=1e6, service_down_time=2e6,
                          power_sync_interval=1e7, end=5000.0)  # fmt: skip
    with _counted_simulation() as found:
        Simulation(spec, arrivals).run()
    return found[0]


def delete_hops(servers: int = DELETE_HOP_SERVERS) -> dict[str, Any]:
    """Messages and statements per server delete: (boot and delete `servers`) less
    (boot them only), divided by `servers`. Deterministic (a seeded simulation)."""
    kept, deleted = _hops_of(servers, depart=False), _hops_of(servers, depart=True)
    messages: collections.Counter[tuple[str, str, str]] = collections.Counter(deleted.messages)
    messages.subtract(kept.messages)
    statements: collections.Counter[str] = collections.Counter(deleted.statements)
    statements.subtract(kept.statements)
    texts: collections.Counter[tuple[str, str]] = collections.Counter(deleted.texts)
    texts.subtract(kept.texts)
    by_method = {
        (f"{kind} {topic}.{method}" if method else f"{kind} {topic}".strip()): n / servers
        for (kind, topic, method), n in messages.most_common() if n
    }  # fmt: skip
    return {
        "servers": servers,
        "messages_per_delete": round(sum(messages.values()) / servers, 2),
        "messages_by_method": {k: round(v, 2) for k, v in by_method.items()},
        "statements_per_delete": round(sum(statements.values()) / servers, 2),
        "statements_by_database": {
            name: round(n / servers, 2) for name, n in sorted(statements.items()) if n
        },
        "statements_by_text": {
            f"{name}: {text}": round(n / servers, 2)
            for (name, text), n in texts.most_common(20) if n
        },
    }  # fmt: skip


if __name__ == "__main__":
    main()
