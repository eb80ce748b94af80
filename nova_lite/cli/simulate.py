"""``nova-lite simulate``: replay a workload on the real control plane in virtual time."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nova_lite.exceptions import NovaLiteError

if TYPE_CHECKING:
    from nova_lite.config import ProcessConfig

__all__ = ["simulate"]


def _scheduler_options(path: Path) -> dict[str, Any]:
    """The ``[scheduler]`` table of a nova-lite TOML file (the part a study varies)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}") from None
    unknown = sorted(set(data) - {"scheduler"})
    if unknown:
        raise click.BadParameter(
            f"{path}: only a [scheduler] table is compared, not {', '.join(unknown)}"
        )
    options: dict[str, Any] = data.get("scheduler", {})
    return options


def _ensure_hash_seed() -> None:
    """Re-run with a fixed string hash seed: set order must not vary between runs."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "nova_lite.cli", *sys.argv[1:]])


@click.command()
@click.option("--hosts", default=100, show_default=True, help="Fake compute hosts.")
@click.option(
    "--trace",
    "trace_file",
    type=click.Path(exists=True, path_type=Path),
    help="A trace file (CSV, README 'Scheduling studies').",
)
@click.option(
    "--azure",
    type=click.Path(exists=True, path_type=Path),
    help="The Azure packing trace 2020 (its SQLite file).",
)
@click.option("--azure-limit", type=int, default=None, help="At most this many Azure VMs.")
@click.option("--synthetic", is_flag=True, help="A seeded synthetic workload instead of a file.")
@click.option("--hours", default=24.0, show_default=True, help="Synthetic: simulated hours.")
@click.option("--rate", default=1000.0, show_default=True, help="Synthetic: arrivals per hour.")
@click.option("--burstiness", default=0.0, show_default=True, help="Synthetic: 0 (steady) to <1.")
@click.option(
    "--median-lifetime",
    default=3600.0,
    show_default=True,
    help="Synthetic: median server lifetime, seconds (log-normal).",
)
@click.option("--seed", default=0, show_default=True, help="Seeds the workload and placement.")
@click.option("--host-vcpus", default=16, show_default=True)
@click.option("--host-ram-mb", default=65536, show_default=True)
@click.option("--host-disk-gb", default=1000, show_default=True)
@click.option(
    "--fail",
    "failures",
    multiple=True,
    metavar="HOST@DOWN[-UP]",
    help="A host failure (simulated seconds), e.g. compute3@3600-7200. Repeatable.",
)
@click.option(
    "--broker-outage",
    "outages",
    multiple=True,
    metavar="START-END",
    help="The message bus unreachable from START to END (simulated seconds). Repeatable.",
)
@click.option(
    "--slow",
    "slow_hosts",
    multiple=True,
    metavar="HOST:FACTOR[@START[-END]]",
    help="A host whose hypervisor is FACTOR times slower, e.g. compute2:4@3600. Repeatable.",
)
@click.option(
    "--power-sync-interval",
    type=float,
    default=86400.0,
    show_default=True,
    help="Hosts' power-state sync (reaps guests of servers deleted while a host or the"
    " bus was away), simulated seconds; 600 for fault studies.",
)
@click.option(
    "--report-interval",
    type=float,
    default=600.0,
    show_default=True,
    help="Simulated seconds between two reports of a host (its heartbeat, a scheduler"
    " write each); a host is down after three missed.",
)
@click.option("--mtbf", type=float, default=None, help="Host failures drawn by MTBF (seconds)...")
@click.option("--mttr", type=float, default=3600.0, show_default=True, help="...and MTTR.")
@click.option(
    "--scheduler-config",
    type=click.Path(exists=True, path_type=Path),
    help="A TOML file whose [scheduler] table configures placement.",
)
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(exists=True, path_type=Path),
    metavar="CONFIG_A CONFIG_B",
    help="Replay the trace under two [scheduler] configurations, side by side.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=Path("simulation"),
    show_default=True,
    help="Directory for result.json (and plot.png).",
)
@click.option("--plot", is_flag=True, help="Also draw plot.png (needs matplotlib).")
@click.option(
    "--write-trace",
    type=click.Path(path_type=Path),
    help="Also save the workload in the trace format.",
)
def simulate(hosts: int, trace_file: Path | None, azure: Path | None, azure_limit: int | None,
             synthetic: bool, hours: float, rate: float, burstiness: float,
             median_lifetime: float, seed: int, host_vcpus: int, host_ram_mb: int,
             host_disk_gb: int, failures: tuple[str, ...], outages: tuple[str, ...],
             slow_hosts: tuple[str, ...], power_sync_interval: float, report_interval: float,
             mtbf: float | None,
             mttr: float,
             scheduler_config: Path | None, compare: tuple[Path, Path] | None, output: Path,
             plot: bool, write_trace: Path | None) -> None:  # fmt: skip
    """Replay a workload trace on N fake hosts in virtual time; report per minute."""
    from nova_lite.config import Config
    from nova_lite.log import configure_logging
    from nova_lite.process import tune_garbage_collector
    from nova_lite.simulate import faults as fault_module
    from nova_lite.simulate import trace
    from nova_lite.simulate.runner import Simulation, SimulationSpec

    if [trace_file is not None, azure is not None, synthetic].count(True) != 1:
        raise click.UsageError("Give exactly one of --trace FILE, --azure FILE, --synthetic.")
    _ensure_hash_seed()
    configure_logging(level="error")
    try:
        if trace_file is not None:
            arrivals = trace.read_trace(trace_file)
        elif azure is not None:
            arrivals = trace.read_azure(
                azure, machine=(host_vcpus, host_ram_mb, host_disk_gb), limit=azure_limit
            )
        else:
            arrivals = trace.synthetic(seed=seed, hours=hours, arrivals_per_hour=rate,
                                       burstiness=burstiness,
                                       median_lifetime=median_lifetime)  # fmt: skip
        if write_trace is not None:
            trace.write_trace(arrivals, write_trace)
        # [process] from the environment (the simulated cloud's own configuration is
        # built in memory). Each run freezes once its cloud runs, and thaws after.
        process = Config.load().process
        tune_garbage_collector(process)
        base = SimulationSpec(hosts=hosts, host_vcpus=host_vcpus, host_ram_mb=host_ram_mb,
                              host_disk_gb=host_disk_gb, seed=seed)  # fmt: skip
        end = Simulation(base, arrivals).end_time()
        injected = [fault_module.parse_failure(f) for f in failures]
        if mtbf is not None:
            injected += fault_module.failures_by_mtbf(
                hosts, mtbf=mtbf, mttr=mttr, end=end, seed=seed
            )
        configs: dict[str, dict[str, Any]] = (
            {p.stem: _scheduler_options(p) for p in compare}
            if compare
            else {"run": _scheduler_options(scheduler_config) if scheduler_config else {}}
        )
        if compare and len(configs) != 2:
            raise click.BadParameter("The two configurations need different file names.")
        results = {}
        output.mkdir(parents=True, exist_ok=True)
        for label, scheduler in configs.items():
            spec = SimulationSpec(
                hosts=hosts, host_vcpus=host_vcpus, host_ram_mb=host_ram_mb,
                host_disk_gb=host_disk_gb, seed=seed, scheduler=scheduler,
                faults=fault_module.merge(injected),
                outages=tuple(fault_module.parse_outage(o) for o in outages),
                slow_hosts=tuple(fault_module.parse_slow(h) for h in slow_hosts),
                power_sync_interval=power_sync_interval, report_interval=report_interval,
                service_down_time=3 * report_interval,
            )  # fmt: skip
            simulation = Simulation(spec, arrivals)
            results[label] = _run(simulation, label, len(arrivals), process)
            name = "result.json" if not compare else f"result-{label}.json"
            (output / name).write_bytes(results[label].to_json())
    except NovaLiteError as exc:
        raise click.ClickException(str(exc)) from None
    _summary(results)
    if plot:
        from nova_lite.simulate.plot import plot_results

        click.echo(f"plot: {plot_results(results, output / 'plot.png')}")
    click.echo(f"results: {output}")


def _run(simulation: Any, label: str, arrivals: int, process: ProcessConfig) -> Any:
    """One simulation with a progress bar, its start-up frozen out of the collector's way."""
    from nova_lite.process import freeze_after_start, thaw

    console = Console(stderr=True)
    columns = (
        TextColumn(f"[bold]{label}[/] {arrivals:,} arrivals"),
        BarColumn(),
        TextColumn("{task.fields[simulated]} simulated"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=1.0, simulated="0 h")

        def progress(now: float, end: float) -> None:
            bar.update(task, completed=now / end if end else 1.0, simulated=f"{now / 3600:.1f} h")

        try:
            result = simulation.run(progress, started=lambda: freeze_after_start(process))
        finally:
            thaw()
    hours = simulation.end_time() / 3600
    minutes = simulation.wall_seconds / 60
    console.print(
        f"{label}: {hours:.1f} simulated hours in {simulation.wall_seconds:.1f} s wall"
        f" ({hours / minutes if minutes else 0:.1f} simulated h per wall minute)"
    )
    return result


def _summary(results: dict[str, Any]) -> None:
    table = Table(title="Simulation")
    table.add_column("figure")
    for label in results:
        table.add_column(label, justify="right")
    keys = ["arrivals", "placed", "rejected", "withdrawn", "departed", "remaining", "unsettled",
            "placement_latency_p50", "placement_latency_p99"]  # fmt: skip
    for key in keys:
        table.add_row(key, *(str(r.totals.get(key, "")) for r in results.values()))

    def mean(result: Any, key: str) -> str:
        rows = [row[key] for row in result.samples]
        return f"{sum(rows) / len(rows):.3f}" if rows else "-"

    for key in ("vcpu_utilization", "ram_utilization", "host_vcpu_utilization_p90",
                "stranded_vcpus"):  # fmt: skip
        table.add_row(f"mean {key}", *(mean(r, key) for r in results.values()))
    table.add_row("audit", *("clean" if r.audit["clean"] else f"{r.audit['findings']} findings"
                             for r in results.values()))  # fmt: skip
    Console().print(table)
