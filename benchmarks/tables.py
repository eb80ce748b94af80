"""The tables each scenario prints: medians, with the min-max spread under each."""

from __future__ import annotations

from typing import Any

from benchmarks.common import Figure, print_table, with_spread
from benchmarks.spans import STAGES

__all__ = [
    "boot_table",
    "restart_table",
    "rpc_tables",
    "scale_table",
    "scheduler_table",
    "stage_descriptions",
]


def rpc_tables(results: Any, workload: Any, runs: int) -> None:
    """The RPC table (one row per contender), the skipped ones, and same-run ratios."""
    levels = workload.concurrency
    rows = []
    for name, figures in results.figures.items():
        rows.append([
            name,
            *(with_spread(figures.get(k)) for k in ("p50_us", "p95_us", "p99_us")),
            *(with_spread(figures.get(f"calls_per_s@{n}")) for n in levels),
            with_spread(figures.get("casts_per_s")),
        ])  # fmt: skip
    size = f"{workload.duration:g} s" if workload.duration else f"{workload.count} messages"
    print_table(
        f"RPC: median (min-max) of {runs} interleaved runs, {size} per measurement",
        ["contender", "p50 µs", "p95 µs", "p99 µs", *(f"calls/s @{n}" for n in levels),
         "casts/s"],
        rows,
        caption="\n".join(f"{n}: skipped: {r}" for n, r in results.skipped.items()) or None,
    )  # fmt: skip
    if results.ratios:
        print_table(
            "Same-run throughput ratios (median of per-run ratios)",
            ["ratio", "median", "min-max"],
            [[name, f"{f.median:.2f}x", f"{f.spread[0]:.2f}-{f.spread[1]:.2f}"]
             for name, f in results.ratios.items()],
        )  # fmt: skip


def stage_descriptions() -> dict[str, str]:
    """What each boot stage covers, for the table and the JSON file."""
    return {stage: description for stage, (_, _, description) in STAGES.items()}


def boot_table(
    figures: dict[str, dict[str, Figure]], skipped: dict[str, str], *, runs: int, count: int,
    hosts: int,
) -> None:  # fmt: skip
    """One column per transport: servers/s, wall time, and each stage's median."""
    transports = list(figures)
    keys = ["servers_per_s", "seconds", "failed", *(f"{s}_ms" for s in STAGES)]
    labels = {"servers_per_s": "servers/s", "seconds": "wall time (s)",
              "failed": "not ACTIVE"}  # fmt: skip
    rows = []
    for key in keys:
        label = labels.get(key, f"{key.removesuffix('_ms')} stage (ms, median/server)")
        rows.append([label, *(with_spread(figures[t].get(key)) for t in transports)])
    caption = "; ".join(f"{t}: skipped ({r})" for t, r in skipped.items()) or None
    print_table(
        f"Boot: {count} servers on {hosts} fake hosts, median (min-max) of {runs} runs",
        ["figure", *transports], rows, caption=caption,
    )  # fmt: skip


def scheduler_table(results: dict[int, dict[str, Figure]], *, runs: int) -> None:
    """One row per host count."""
    rows = [
        [f"{hosts:,}",
         with_spread(f["decisions_per_s"]),
         *(with_spread(f[k]) for k in ("p50_ms", "p95_ms", "p99_ms")),
         with_spread(f["registrations_per_s"]),
         f"{f['bytes_per_host'].median / 1024:,.1f}"]
        for hosts, f in results.items()
    ]  # fmt: skip
    print_table(
        f"Scheduler: select_destinations, median (min-max) of {runs} runs",
        ["hosts", "decisions/s", "p50 ms", "p95 ms", "p99 ms", "registrations/s",
         "KiB per host"], rows,
    )  # fmt: skip


def scale_table(
    figures: dict[str, Figure], spec: Any, *, runs: int, raw: list[dict[str, Any]]
) -> None:
    """One row per figure of the scale run, and why builds failed, if any did."""
    rows = [[f.name + (f" ({f.unit})" if f.unit else ""), with_spread(f)] for f in figures.values()]
    print_table(
        f"Scale: {spec.servers:,} servers on {spec.hosts:,} fake hosts, in-memory broker, "
        f"median (min-max) of {runs} runs",
        ["figure", "value"], rows, caption=_failures(raw),
    )  # fmt: skip


def _failures(raw: list[dict[str, Any]]) -> str | None:
    lines = [
        f"run {i}: {count} x {reason}"
        for i, run in enumerate(raw, 1)
        for reason, count in run.get("failures", {}).items()
    ]
    return "\n".join(["builds that failed, by fault:", *lines]) if lines else None


def restart_table(
    results: dict[str, list[dict[str, Any]]], *, runs: int, count: int, outage: float
) -> None:
    """One row per run of the restart scenario, by queue durability."""
    keys = ["stuck", "active", "error", "create_errors", "hidden_successes", "seconds_to_rest"]
    rows = [
        [durable, str(index + 1), *(str(run[k]) for k in keys)]
        for durable, measured in results.items()
        for index, run in enumerate(measured)
    ]
    print_table(
        f"Broker restart ({outage:g} s outage) during {count} boots, {runs} runs each",
        ["durable_queues", "run", "stuck", "ACTIVE", "ERROR", "create errors",
         "hidden successes", "s to rest"],
        rows,
    )  # fmt: skip
