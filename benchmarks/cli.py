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
@common_options
def rpc(runs: int, count: int, duration: float | None, latency_count: int,
        levels: tuple[int, ...], transports: tuple[str, ...], oslo: bool, amqp_url: str,
        output: Path, plot: bool) -> None:  # fmt: skip
    """Call latency, call throughput at several concurrencies, cast throughput."""
    from benchmarks.contenders import BareAioPika, BareAsyncio, Contender, NovaLite, Workload
    from benchmarks.rpc import run_rpc

    workload = Workload(count=count, duration=duration, latency_count=latency_count,
                        concurrency=tuple(levels))  # fmt: skip
    contenders: list[Contender] = [BareAsyncio()]
    skipped: dict[str, str] = {}
    if "memory" in transports:
        contenders.append(NovaLite("memory://"))
    if "rabbitmq" in transports:
        unreachable = amqp_reachable(amqp_url)
        if unreachable:
            skipped.update(dict.fromkeys(("bare aio-pika", "nova_lite amqp"), unreachable))
        else:
            contenders += [BareAioPika(amqp_url), NovaLite(amqp_url)]
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
                   "transports": list(transports), "amqp_url": _redact(amqp_url)},
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
@common_options
def boot(runs: int, count: int, hosts: int, batch: int, transports: tuple[str, ...],
         in_flight: int, amqp_url: str, output: Path, plot: bool) -> None:  # fmt: skip
    """Servers per second end to end, and the median time of each stage."""
    from benchmarks.boot import BootSpec, run_boot

    figures: dict[str, Any] = {}
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
            task = bar.add_task(f"boot {transport}", total=count * runs)
            figures[transport], results = asyncio.run(
                run_boot(spec, runs=runs, advance=functools.partial(bar.advance, task))
            )
            failures[transport] = [r.failures for r in results]
    tables.boot_table(figures, skipped, runs=runs, count=count, hosts=hosts)
    _finish("boot", {
        "config": {"runs": runs, "servers": count, "hosts": hosts, "batch": batch,
                   "in_flight": in_flight, "transports": list(transports),
                   "amqp_url": _redact(amqp_url)},
        "figures": figures, "skipped": skipped, "failures": failures,
        "stages": tables.stage_descriptions(),
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
@common_options
def scheduler(runs: int, count: int, duration: float, host_counts: tuple[int, ...],
              output: Path, plot: bool) -> None:  # fmt: skip
    """SchedulerManager decisions per second and latency as hosts grow."""
    from benchmarks.scheduler import SchedulerSpec, run_scheduler

    spec = SchedulerSpec(hosts=tuple(host_counts), decisions=count, duration=duration)
    with progress() as bar:
        task = bar.add_task("decisions", total=runs * count * len(host_counts))
        results = asyncio.run(
            run_scheduler(spec, runs=runs, advance=lambda n: bar.advance(task, n))
        )
    tables.scheduler_table(results, runs=runs)
    _finish("scheduler", {
        "config": {"runs": runs, "decisions": count, "duration": duration,
                   "hosts": list(host_counts), "alternates": spec.alternates,
                   "flavor": "m1.tiny"},
        "figures": {str(h): f for h, f in results.items()},
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
    """A simulated cloud: many fake hosts booting many servers on the in-memory broker."""
    from benchmarks.scale import ScaleSpec, run_scale

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
