"""RPC benchmark: nova_lite's call and cast against the references and oslo.messaging.

Three workloads, each measured on every contender (`benchmarks.contenders`,
`benchmarks.oslo`):

- ``latency``: sequential calls, one at a time (p50/p95/p99 in microseconds);
- ``calls/s @N``: calls with N in flight, for each N in `concurrency` (1, 8, 64, 256);
- ``casts/s``: casts sent back to back, timed until the server has handled them all.

Runs are interleaved: every run measures each workload on every contender back to
back, so a ratio between two contenders is taken run by run under the same load.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from benchmarks.common import Figure, percentile, ratio_figure
from benchmarks.contenders import Contender, Workload

__all__ = ["RpcResults", "run_rpc", "same_run_ratios"]


@attrs.define
class RpcResults:
    """Each contender's figures, the contenders skipped (with why), and same-run ratios."""

    figures: dict[str, dict[str, Figure]] = attrs.field(factory=dict)
    skipped: dict[str, str] = attrs.field(factory=dict)
    ratios: dict[str, Figure] = attrs.field(factory=dict)


Step = Callable[[str], None]


async def _measure_run(
    contenders: Sequence[Contender],
    workload: Workload,
    samples: dict[str, dict[str, list[float]]],
    step: Step,
) -> None:
    """One run: every workload on every contender, back to back."""
    for contender in contenders:
        step(f"{contender.name}: latency")
        lat = await contender.latencies(workload.latency_count)
        for pct in (50, 95, 99):
            samples[contender.name].setdefault(f"p{pct}_us", []).append(percentile(lat, pct))
    for concurrency in workload.concurrency:
        for contender in contenders:
            step(f"{contender.name}: {concurrency} in flight")
            rate = await contender.call_throughput(workload, concurrency)
            samples[contender.name].setdefault(f"calls_per_s@{concurrency}", []).append(rate)
    for contender in contenders:
        step(f"{contender.name}: casts")
        rate = await contender.cast_throughput(workload)
        samples[contender.name].setdefault("casts_per_s", []).append(rate)


async def run_rpc(
    contenders: Sequence[Contender],
    *,
    runs: int,
    workload: Workload,
    step: Step = lambda _: None,
) -> RpcResults:
    """Set every contender up, measure `runs` interleaved runs, tear them down."""
    results = RpcResults()
    ready: list[Contender] = []
    try:
        for contender in contenders:
            step(f"{contender.name}: setup")
            try:
                await contender.setup()
            except Exception as exc:  # a contender that cannot start is reported, not fatal
                results.skipped[contender.name] = f"setup failed: {exc!r}"
                continue
            ready.append(contender)
            await contender.call_throughput(attrs.evolve(workload, count=200, duration=None), 8)
        samples: dict[str, dict[str, list[float]]] = {c.name: {} for c in ready}
        for _ in range(runs):
            await _measure_run(ready, workload, samples, step)
    finally:
        for contender in ready:
            await contender.teardown()
    for name, figures in samples.items():
        results.figures[name] = {
            key: Figure(key, "us" if key.endswith("_us") else "1/s", tuple(values))
            for key, values in figures.items()
        }
    results.ratios = same_run_ratios(results.figures, workload.concurrency)
    return results


RATIO_PAIRS = (
    ("nova_lite amqp", "oslo.messaging"),
    ("nova_lite amqp", "bare aio-pika"),
    ("nova_lite memory", "bare asyncio (floor)"),
)


def same_run_ratios(
    figures: dict[str, dict[str, Figure]], concurrency: Sequence[int]
) -> dict[str, Figure]:
    """Throughput ratios between contenders, taken run by run."""
    ratios = {}
    keys = [f"calls_per_s@{n}" for n in concurrency] + ["casts_per_s"]
    # Each telemetry mode over plain nova_lite; plain (off) over the unhooked reference.
    observed = [
        (base, name) if name.endswith(" +unhooked") else (name, base)
        for name in figures
        if " +" in name and (base := name.partition(" +")[0]) in figures
    ]
    for top, bottom in (*RATIO_PAIRS, *observed):
        if top not in figures or bottom not in figures:
            continue
        for key in keys:
            if key in figures[top] and key in figures[bottom]:
                name = f"{top} / {bottom} {key}"
                ratios[name] = ratio_figure(name, figures[top][key], figures[bottom][key])
    return ratios
