"""The tables each scenario prints: medians, with the min-max spread under each."""

from __future__ import annotations

from typing import Any

from benchmarks.common import Figure, fmt, print_table, with_spread
from benchmarks.spans import STAGES

__all__ = [
    "boot_table",
    "hops_table",
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


def hops_table(hops: dict[str, dict[str, Any]]) -> None:
    """Messages (by kind, topic and method) and statements (by database) per boot."""
    transports = list(hops)
    keys: dict[str, None] = {}
    for counts in hops.values():
        keys.update(dict.fromkeys(counts["messages_by_method"]))
    rows = [["messages, all", *(f"{hops[t]['messages_per_boot']:.1f}" for t in transports)]]
    for key in sorted(keys):
        rows.append(
            [key, *(f"{hops[t]['messages_by_method'].get(key, 0):.2f}" for t in transports)]
        )
    rows.append(["SQLite statements, all",
                 *(f"{hops[t]['statements_per_boot']:.1f}" for t in transports)])  # fmt: skip
    databases: dict[str, None] = {}
    for counts in hops.values():
        databases.update(dict.fromkeys(counts["statements_by_database"]))
    for name in sorted(databases):
        rows.append([f"statements: {name}",
                     *(f"{hops[t]['statements_by_database'].get(name, 0):.2f}"
                       for t in transports)])  # fmt: skip
    servers = next(iter(hops.values()))["servers"]
    print_table(
        f"Hops per boot (a counted run of {servers} servers)", ["per boot", *transports], rows
    )


def simulate_table(
    figures: dict[str, Figure], spec: Any, *, runs: int, raw: list[dict[str, Any]]
) -> None:
    """Wall time, simulated hours per wall minute, memory, determinism, conservation."""
    rows = [[f.name, with_spread(f)] for f in figures.values()]
    first = raw[0]
    rows.append(["arrivals", f"{first['arrivals']:,}"])
    rows.append(["placed / rejected / withdrawn",
                 f"{first['totals']['placed']:,} / {first['totals']['rejected']:,} / "
                 f"{first['totals']['withdrawn']:,}"])  # fmt: skip
    rows.append(["audit", "clean" if all(r["audit"]["clean"] for r in raw) else "findings"])
    print_table(
        f"Simulate: {spec.hours:g} h on {spec.hosts:,} fake hosts, median (min-max) of {runs}",
        ["figure", "value"], rows,
    )  # fmt: skip


def delete_hops_table(hops: dict[str, Any]) -> None:
    """Messages by method and statements by database, per server delete."""
    rows = [[name, f"{count:g}"] for name, count in hops["messages_by_method"].items()]
    rows.append(["all messages", f"{hops['messages_per_delete']:g}"])
    rows += [[f"statements: {name}", f"{count:g}"]
             for name, count in hops["statements_by_database"].items()]  # fmt: skip
    rows.append(["all statements", f"{hops['statements_per_delete']:g}"])
    print_table(
        f"Per server delete ({hops['servers']} servers booted and deleted, less booted only)",
        ["message / statements", "per delete"], rows,
    )  # fmt: skip


def scheduler_table(results: dict[int, dict[str, Figure]], *, runs: int) -> None:
    """Speed per host count (sampled, and the exhaustive reference of the same runs),
    then the quality of the sampled picks against exhaustive weighing.
    """
    speed = [
        [f"{hosts:,}",
         *(with_spread(f[k]) for k in ("decisions_per_s", "exhaustive_per_s", "speedup",
                                       "p50_ms", "p99_ms", "cpu_us", "registrations_per_s",
                                       "peak_rss_mib")),
         f"{f['bytes_per_host'].median / 1024:,.1f}"]
        for hosts, f in results.items()
    ]  # fmt: skip
    print_table(
        f"Scheduler: select_destinations, sampled vs exhaustive (same runs), median (min-max) "
        f"of {runs} runs",
        ["hosts", "decisions/s", "exhaustive/s", "ratio", "p50 ms", "p99 ms", "CPU us",
         "registrations/s", "peak RSS MiB", "KiB per host"], speed,
    )  # fmt: skip
    quality = [
        [f"{hosts:,}", fmt(f["scored"].median),
         *(with_spread(f[k]) for k in ("above_mean_pct", "above_max_pct")),
         fmt(max(f["refused_though_fitted"].runs)), fmt(max(f["invalid_picks"].runs)),
         f"{with_spread(f['hosts_used'])} / {with_spread(f['exhaustive_hosts_used'])}",
         f"{with_spread(f['fullest_ram_pct'])} / {with_spread(f['exhaustive_fullest_ram_pct'])}"]
        for hosts, f in results.items()
    ]  # fmt: skip
    print_table(
        "Quality of the sampled picks against exhaustive weighing (same request sequence)",
        ["hosts", "weighed", "fitting hosts above pick: mean %", "worst %",
         "refused though fitted", "picks a filter refuses", "hosts used: sampled / exhaustive",
         "fullest host RAM %: sampled / exhaustive"], quality,
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


def ratio_table(ratios: dict[str, Figure]) -> None:
    """Same-run ratios of an observed mode over plain nova_lite (median of per-run ratios)."""
    print_table(
        "Same-run ratios, telemetry on / off (median of per-run ratios)",
        ["ratio", "median", "min-max"],
        [[name, f"{f.median:.3f}x", f"{f.spread[0]:.3f}-{f.spread[1]:.3f}"]
         for name, f in ratios.items()],
    )  # fmt: skip


def observe_table(
    figures: dict[str, dict[str, Figure]],
    *,
    reference: str,
    blocks: int,
    calls: int,
    concurrency: int = 1,
) -> None:
    """Each mode's median per-block p50 (or calls/s, with calls in flight) and CPU per
    call, and their ratios over the reference."""
    key, head, title = (
        ("p50_us", "p50 µs (median of blocks)", f"{calls} sequential calls")
        if concurrency == 1
        else ("calls_per_s", f"calls/s @{concurrency} (median of blocks)",
              f"{calls} calls, {concurrency} in flight")
    )  # fmt: skip
    print_table(
        f"Calls by telemetry mode: {blocks} alternating blocks of {title}",
        ["mode", head, f"ratio over {reference}", "min-max",
         "CPU µs per call", f"CPU ratio over {reference}", "min-max"],
        [[mode, f"{f[key].median:.1f}", f"{f['ratio'].median:.3f}x",
          f"{f['ratio'].spread[0]:.3f}-{f['ratio'].spread[1]:.3f}",
          f"{f['cpu_us'].median:.1f}", f"{f['cpu_ratio'].median:.3f}x",
          f"{f['cpu_ratio'].spread[0]:.3f}-{f['cpu_ratio'].spread[1]:.3f}"]
         for mode, f in figures.items()],
    )  # fmt: skip


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
