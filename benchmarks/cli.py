"""The benchmark commands: ``python -m benchmarks <scenario>`` or ``nova-lite bench <scenario>``.

Every scenario prints a table (medians over ``--runs``, with the min-max spread),
writes a JSON result file (figures, configuration, machine, versions) under
``--output``, shows progress on stderr while it runs, and with ``--plot`` draws its
figures to a PNG beside the JSON file.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click

from benchmarks import tables
from benchmarks.common import (
    DEFAULT_AMQP_URL,
    amqp_reachable,
    progress,
    quiet_logs,
    write_results,
)

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
TRANSPORTS = click.Choice(["memory", "rabbitmq"])
OBSERVE = click.Choice(["off", "metrics", "tracing", "both", "unhooked"])
OBSERVE_HELP = (
    "Run nova_lite with metrics and tracing off, or on (repeatable: the modes are "
    "interleaved run by run, each on against off as a same-run ratio)."
)
IN_FLIGHT_HELP = (
    "At most this many builds under way: a batch is sent once earlier builds have "
    "ended (0: every create call at once)."
)


def common_options(func: F) -> F:
    """``--runs``, ``--output`` and ``--plot``, shared by every scenario."""
    func = click.option("--plot", is_flag=True, help="Also draw the results to a PNG.")(func)
    func = click.option(
        "--output", type=click.Path(file_okay=False, path_type=Path),
        default=Path("benchmarks/results"), show_default=True,
        help="Directory for the JSON result file (and PNG).",
    )(func)  # fmt: skip
    return func


def _finish(scenario: str, results: dict[str, Any], output: Path, plot: bool) -> None:
    path = write_results(scenario, results, output)
    click.echo(f"results: {path}", err=True)
    if plot:
        from benchmarks.plot import plot_results

        png = plot_results(json.loads(path.read_text()), path.with_suffix(".png"))
        click.echo(f"plot: {png}", err=True)


def label(name: str, mode: str) -> str:
    """A column's name under an ``--observe`` mode (``off`` keeps the plain name)."""
    from benchmarks.observe import label as observed

    return observed(name, mode)


def observed_ratios(figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """servers/s of each observed column over its plain one, run by run."""
    from benchmarks.common import ratio_figure

    ratios = {}
    for name in figures:
        base = name.partition(" +")[0]
        if name != base and base in figures:
            top, bottom = (base, name) if name.endswith(" +unhooked") else (name, base)
            key = f"{top} / {bottom} servers_per_s"
            ratios[key] = ratio_figure(
                key, figures[top]["servers_per_s"], figures[bottom]["servers_per_s"]
            )
    return ratios


def _url_for(transport: str, amqp_url: str) -> str:
    return "memory://" if transport == "memory" else amqp_url


@click.group()
def main() -> None:
    """nova_lite's benchmark harness: rpc, boot, scheduler, scale and restart scenarios."""
    quiet_logs()


@main.command()
@click.option("--runs", default=5, show_default=True, help="Interleaved runs of every workload.")
@click.option("--count", default=2000, show_default=True, help="Calls/casts per measurement.")
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Time each call-throughput measurement instead of counting calls (s).",
)
@click.option(
    "--latency-count",
    default=300,
    show_default=True,
    help="Sequential calls per latency measurement.",
)
@click.option(
    "--concurrency",
    "levels",
    multiple=True,
    type=int,
    default=(1, 8, 64, 256),
    show_default=True,
    help="Calls in flight (repeatable).",
)
@click.option(
    "--transport",
    "transports",
    multiple=True,
    default=("memory", "rabbitmq"),
    show_default=True,
    type=TRANSPORTS,
)
@click.option(
    "--oslo/--no-oslo",
    default=True,
    show_default=True,
    help="Measure oslo.messaging over RabbitMQ too.",
)
@click.option("--amqp-url", default=DEFAULT_AMQP_URL, show_default=True)
@click.option("--observe", "modes", multiple=True, default=("off",), show_default=True,
              type=OBSERVE, help=OBSERVE_HELP)  # fmt: skip
@common_options
def rpc(runs: int, count: int, duration: float | None, latency_count: int,
        levels: tuple[int, ...], transports: tuple[str, ...], oslo: bool, amqp_url: str,
        modes: tuple[str, ...], output: Path, plot: bool) -> None:  # fmt: skip
    """Call latency, call throughput at several concurrencies, cast throughput."""
    from benchmarks.contenders import BareAioPika, BareAsyncio, Contender, NovaLite, Workload
    from benchmarks.rpc import run_rpc

    workload = Workload(count=count, duration=duration, latency_count=latency_count,
                        concurrency=tuple(levels))  # fmt: skip
    contenders: list[Contender] = [BareAsyncio()]
    skipped: dict[str, str] = {}
    if "memory" in transports:
        contenders += [NovaLite("memory://", observe=mode) for mode in modes]
    if "rabbitmq" in transports:
        unreachable = amqp_reachable(amqp_url)
        if unreachable:
            skipped.update(dict.fromkeys(("bare aio-pika", "nova_lite amqp"), unreachable))
        else:
            contenders += [BareAioPika(amqp_url)]
            contenders += [NovaLite(amqp_url, observe=mode) for mode in modes]
        if oslo:
            _add_oslo(contenders, skipped, amqp_url, unreachable, max(levels))
    steps = runs * (len(contenders) * (2 + len(levels))) + len(contenders)
    with progress() as bar:
        task = bar.add_task("rpc", total=steps)

        def step(what: str) -> None:
            bar.update(task, advance=1, description=what)

        results = asyncio.run(run_rpc(contenders, runs=runs, workload=workload, step=step))
    results.skipped.update(skipped)
    tables.rpc_tables(results, workload, runs)
    _finish("rpc", {
        "config": {"runs": runs, "count": count, "duration": duration,
                   "latency_count": latency_count, "concurrency": list(levels),
                   "transports": list(transports), "amqp_url": _redact(amqp_url),
                   "observe": list(modes)},
        "figures": results.figures, "ratios": results.ratios, "skipped": results.skipped,
    }, output, plot)  # fmt: skip


def _add_oslo(contenders: list[Any], skipped: dict[str, str], amqp_url: str,
              unreachable: str | None, pool: int) -> None:  # fmt: skip
    from benchmarks.oslo import NAME, OsloMessaging, oslo_missing

    reason = unreachable or oslo_missing()
    if reason:
        skipped[NAME] = reason
    else:
        contenders.append(OsloMessaging(amqp_url, pool_size=max(pool, 30)))


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


@main.command()
@click.option("--runs", default=3, show_default=True, help="Boot runs per transport.")
@click.option("--count", default=500, show_default=True, help="Servers booted per run.")
@click.option("--hosts", default=100, show_default=True, help="Fake compute hosts.")
@click.option(
    "--batch",
    default=50,
    show_default=True,
    help="Servers per create call (calls are sent concurrently).",
)
@click.option(
    "--transport",
    "transports",
    multiple=True,
    default=("memory", "rabbitmq"),
    show_default=True,
    type=TRANSPORTS,
)
@click.option("--in-flight", default=0, show_default=True, help=IN_FLIGHT_HELP)
@click.option("--amqp-url", default=DEFAULT_AMQP_URL, show_default=True)
@click.option(
    "--hops/--no-hops",
    default=True,
    show_default=True,
    help="Also count RPC messages and SQLite statements per boot (a separate, untimed run).",
)
@click.option("--observe", "modes", multiple=True, default=("off",), show_default=True,
              type=OBSERVE, help=OBSERVE_HELP)  # fmt: skip
@common_options
def boot(runs: int, count: int, hosts: int, batch: int, transports: tuple[str, ...],
         in_flight: int, amqp_url: str, hops: bool, modes: tuple[str, ...], output: Path,
         plot: bool) -> None:  # fmt: skip
    """Servers per second end to end, the median time of each stage, and hops per boot."""
    from benchmarks.boot import BootSpec, count_hops, run_boot_modes

    figures: dict[str, Any] = {}
    hop_counts: dict[str, dict[str, Any]] = {}
    failures: dict[str, list[dict[str, int]]] = {}
    skipped: dict[str, str] = {}
    with progress() as bar:
        for transport in transports:
            reason = amqp_reachable(amqp_url) if transport == "rabbitmq" else None
            if reason:
                skipped[transport] = reason
                continue
            spec = BootSpec(servers=count, hosts=hosts, batch=batch, in_flight=in_flight,
                            transport_url=_url_for(transport, amqp_url))  # fmt: skip
            task = bar.add_task(f"boot {transport}", total=count * runs * len(modes))
            advance = functools.partial(bar.advance, task)
            by_mode = asyncio.run(run_boot_modes(spec, modes, runs=runs, advance=advance))
            for mode, (mode_figures, results) in by_mode.items():
                figures[label(transport, mode)] = mode_figures
                failures[label(transport, mode)] = [r.failures for r in results]
            if hops:
                hop_counts[transport] = asyncio.run(count_hops(spec))
    tables.boot_table(figures, skipped, runs=runs, count=count, hosts=hosts)
    ratios = observed_ratios(figures)
    if ratios:
        tables.ratio_table(ratios)
    if hop_counts:
        tables.hops_table(hop_counts)
    _finish("boot", {
        "config": {"runs": runs, "servers": count, "hosts": hosts, "batch": batch,
                   "in_flight": in_flight, "transports": list(transports),
                   "amqp_url": _redact(amqp_url), "observe": list(modes)},
        "figures": figures, "ratios": ratios, "skipped": skipped, "failures": failures,
        "stages": tables.stage_descriptions(), "hops": hop_counts,
    }, output, plot)  # fmt: skip


@main.command()
@click.option("--runs", default=3, show_default=True, help="Runs per host count.")
@click.option("--count", default=500, show_default=True, help="Decisions per run (at most).")
@click.option(
    "--duration",
    default=10.0,
    show_default=True,
    help="A run stops early after this many seconds of decisions.",
)
@click.option(
    "--hosts",
    "host_counts",
    multiple=True,
    type=int,
    default=(100, 1000, 10000),
    show_default=True,
    help="Host counts to measure at (repeatable).",
)
@click.option(
    "--mix",
    type=click.Choice(["mixed", "tiny"]),
    default="mixed",
    show_default=True,
    help="Requests: the five m1 flavors at random, or m1.tiny only.",
)
@click.option(
    "--quality-every",
    default=5,
    show_default=True,
    help="Check every N-th sampled pick against exhaustive weighing (untimed).",
)
@click.option(
    "--fill",
    default=0.5,
    show_default=True,
    help="Mean share of each host's RAM claimed (random flavors) before the decisions.",
)
@click.option(
    "--percentage",
    type=float,
    default=None,
    help="[scheduler] percentage_of_hosts_to_score for the sampled contender.",
)
@click.option(
    "--min-hosts",
    type=int,
    default=None,
    help="[scheduler] min_hosts_to_score for the sampled contender.",
)
@click.option(
    "--profile",
    is_flag=True,
    help="Profile one more run per host count (pyinstrument) and print its top entries.",
)
@common_options
def scheduler(runs: int, count: int, duration: float, host_counts: tuple[int, ...], mix: str,
              quality_every: int, fill: float, percentage: float | None, min_hosts: int | None,
              profile: bool, output: Path, plot: bool) -> None:  # fmt: skip
    """Decisions per second as hosts grow: sampled, and the exhaustive path as reference."""
    from benchmarks.scheduler import SchedulerSpec, run_scheduler

    spec = SchedulerSpec(hosts=tuple(host_counts), decisions=count, duration=duration, mix=mix,
                         quality_every=quality_every, fill=fill, profile=profile,
                         percentage=percentage, min_hosts=min_hosts)  # fmt: skip
    profiles: dict[int, str] = {}
    total = 2 * (runs + profile) * count * len(host_counts)
    with progress() as bar:
        task = bar.add_task("decisions", total=total)
        results = asyncio.run(run_scheduler(
            spec, runs=runs, advance=lambda n: bar.advance(task, n), profiles=profiles
        ))  # fmt: skip
    tables.scheduler_table(results, runs=runs)
    for hosts, text in profiles.items():
        click.echo(f"\nProfile of the sampled decisions at {hosts:,} hosts (own time):\n{text}")
    _finish("scheduler", {
        "config": {"runs": runs, "decisions": count, "duration": duration,
                   "hosts": list(host_counts), "alternates": spec.alternates, "mix": mix,
                   "quality_every": quality_every, "fill": fill,
                   "scheduler": spec.scheduler_options()},
        "figures": {str(h): f for h, f in results.items()},
        "profiles": {str(h): text for h, text in profiles.items()},
    }, output, plot)  # fmt: skip


@main.command()
@click.option("--runs", default=3, show_default=True, help="Runs (each in its own process).")
@click.option("--count", default=10000, show_default=True, help="Servers to boot.")
@click.option("--hosts", default=1000, show_default=True, help="Fake compute hosts.")
@click.option("--batch", default=100, show_default=True, help="Servers per create call.")
@click.option("--timeout", default=1800.0, show_default=True, help="Give up a run after (s).")
@click.option("--in-flight", default=0, show_default=True, help=IN_FLIGHT_HELP)
@common_options
def scale(runs: int, count: int, hosts: int, batch: int, timeout: float, in_flight: int,
          output: Path, plot: bool) -> None:  # fmt: skip
    """A simulated cloud: many fake hosts booting many servers on the in-memory broker.

    Exit status 1 when any server of any run did not end ACTIVE, or a host was
    oversubscribed: the faults are printed, grouped by message with their counts.
    """
    from benchmarks.scale import ScaleSpec, problems, run_scale

    spec = ScaleSpec(hosts=hosts, servers=count, batch=batch, timeout=timeout,
                     in_flight=in_flight)  # fmt: skip
    with progress() as bar:
        task = bar.add_task(f"scale: {count} servers on {hosts} hosts", total=runs * count)
        figures, raw = asyncio.run(
            run_scale(spec, runs=runs, advance=lambda n: bar.advance(task, n))
        )
    tables.scale_table(figures, spec, runs=runs, raw=raw)
    _finish("scale", {
        "config": {"runs": runs, "servers": count, "hosts": hosts, "batch": batch,
                   "in_flight": in_flight, "transport": "memory"},
        "figures": figures, "runs": raw,
    }, output, plot)  # fmt: skip
    if found := problems(raw):
        click.echo("scale: FAILED, every server must end ACTIVE on hosts not oversubscribed:",
                   err=True)  # fmt: skip
        for line in found:
            click.echo(f"  {line}", err=True)
        raise SystemExit(1)


@main.command()
@click.option("--runs", default=3, show_default=True, help="Runs (each in its own process).")
@click.option("--hosts", default=10000, show_default=True, help="Fake compute hosts.")
@click.option("--hours", default=24.0, show_default=True, help="Simulated hours.")
@click.option("--rate", default=4200.0, show_default=True, help="Arrivals per simulated hour.")
@click.option("--median-lifetime", default=3600.0, show_default=True, help="Seconds.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--report-interval",
    default=3600.0,
    show_default=True,
    help="Simulated seconds between two reports of a host (down after twice that).",
)
@click.option("--delete-hops/--no-delete-hops", default=True, show_default=True,
              help="Also count the messages and statements of one server delete "
                   "(a small seeded simulation in this process, a few seconds).")  # fmt: skip
@common_options
def simulate(runs: int, hosts: int, hours: float, rate: float, median_lifetime: float,
             seed: int, report_interval: float, delete_hops: bool, output: Path,
             plot: bool) -> None:  # fmt: skip
    """nova-lite simulate in the harness: simulated hours per wall minute, memory, and
    whether every run gave the same result."""
    from benchmarks.simulate import SimulateSpec, run_simulate
    from benchmarks.simulate import delete_hops as count_delete_hops

    spec = SimulateSpec(hosts=hosts, hours=hours, arrivals_per_hour=rate,
                        median_lifetime=median_lifetime, seed=seed,
                        report_interval=report_interval)  # fmt: skip
    figures, raw = asyncio.run(run_simulate(spec, runs=runs))
    tables.simulate_table(figures, spec, runs=runs, raw=raw)
    hops = None
    if delete_hops:
        from nova_lite.log import configure_logging

        configure_logging(level="error")
        hops = count_delete_hops()
        tables.delete_hops_table(hops)
    _finish("simulate", {
        "config": attrs.asdict(spec) | {"runs": runs},
        "figures": figures, "runs": raw, "delete_hops": hops,
    }, output, plot)  # fmt: skip


@main.command("observe")
@click.option("--blocks", default=30, show_default=True, help="Alternating blocks per mode.")
@click.option("--calls", default=200, show_default=True, help="Calls per block.")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(min=1),
              help="Calls in flight; above 1: calls/s and CPU per call, no p50.")  # fmt: skip
@click.option("--transport", type=TRANSPORTS, default="memory", show_default=True)
@click.option("--amqp-url", default=DEFAULT_AMQP_URL, show_default=True)
@click.option("--observe", "modes", multiple=True, default=("unhooked", "off"),
              show_default=True, type=OBSERVE,
              help="Modes; the first is the reference.")  # fmt: skip
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("benchmarks/results"), show_default=True,
              help="Directory for the JSON result file.")  # fmt: skip
def observe_command(blocks: int, calls: int, concurrency: int, transport: str, amqp_url: str,
                    modes: tuple[str, ...], output: Path) -> None:  # fmt: skip
    """Call latency (or, with calls in flight, calls/s) and CPU per call per telemetry
    mode in alternating blocks: each mode over the first."""
    from benchmarks.common import Figure
    from benchmarks.observe import concurrent_blocks, latency_blocks

    url = _url_for(transport, amqp_url)
    if concurrency == 1:
        medians, cpu = asyncio.run(latency_blocks(url, modes, blocks=blocks, calls=calls))
        key, what, unit = "p50_us", "p50 per block", "us"
    else:
        medians, cpu = asyncio.run(concurrent_blocks(url, modes, blocks=blocks, calls=calls,
                                                     concurrency=concurrency))  # fmt: skip
        key, what, unit = "calls_per_s", f"calls/s @{concurrency} per block", "calls/s"

    def over_first(values: list[float], reference: list[float]) -> Figure:
        ratios = tuple(a / b for a, b in zip(values, reference, strict=True))
        return Figure(f"over {modes[0]}", "x", ratios)

    figures = {
        mode: {
            key: Figure(what, unit, tuple(values)),
            "ratio": over_first(values, medians[modes[0]]),
            "cpu_us": Figure("CPU per call per block", "us", tuple(cpu[mode])),
            "cpu_ratio": over_first(cpu[mode], cpu[modes[0]]),
        }
        for mode, values in medians.items()
    }
    tables.observe_table(figures, reference=modes[0], blocks=blocks, calls=calls,
                         concurrency=concurrency)  # fmt: skip
    _finish("observe", {
        "config": {"blocks": blocks, "calls": calls, "concurrency": concurrency,
                   "transport": transport, "observe": list(modes)},
        "figures": figures,
    }, output, False)  # fmt: skip


@main.command()
@click.option("--runs", default=3, show_default=True, help="Runs per queue durability.")
@click.option("--count", default=200, show_default=True, help="Servers asked for per run.")
@click.option("--hosts", default=4, show_default=True, help="Fake compute hosts.")
@click.option("--outage", default=5.0, show_default=True, help="Seconds the broker is away.")
@click.option(
    "--durable",
    "durabilities",
    multiple=True,
    type=click.Choice(["true", "false"]),
    default=("true", "false"),
    show_default=True,
    help="[rpc] durable_queues of the runs (repeatable).",
)
@common_options
def restart(runs: int, count: int, hosts: int, outage: float, durabilities: tuple[str, ...],
            output: Path, plot: bool) -> None:  # fmt: skip
    """Builds across a broker restart (a private RabbitMQ node): stuck, ended, how soon."""
    from benchmarks.restart import RestartSpec, restart_run

    results: dict[str, list[dict[str, Any]]] = {}
    with progress() as bar:
        for durable in durabilities:
            spec = RestartSpec(servers=count, hosts=hosts, durable=durable == "true",
                               outage=outage)  # fmt: skip
            task = bar.add_task(f"restart durable={durable}", total=runs * count)
            advance = functools.partial(bar.advance, task)
            results[durable] = [asyncio.run(restart_run(spec, advance)) for _ in range(runs)]
    tables.restart_table(results, runs=runs, count=count, outage=outage)
    _finish("restart", {
        "config": {"runs": runs, "servers": count, "hosts": hosts, "outage": outage,
                   "instance_build_timeout": 0},
        "runs": results,
    }, output, plot)  # fmt: skip


@main.command("plot")
@click.argument("result", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def plot_command(result: Path) -> None:
    """Draw a JSON result file to a PNG beside it."""
    from benchmarks.plot import plot_results

    png = plot_results(json.loads(result.read_text()), result.with_suffix(".png"))
    click.echo(f"plot: {png}", err=True)
