"""Charts of benchmark results: one PNG per result file (matplotlib, Agg backend).

Each scenario draws what its figures are about: RPC throughput against calls in
flight, scheduler decisions per second against hosts, the boot stages per
transport, the scale run's time and memory. Every chart plots medians with the
min-max spread as error bars. Works from a result file's JSON, so old results can be
drawn again with ``nova-lite bench plot FILE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_results"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise RuntimeError("--plot needs matplotlib: pip install 'nova-lite[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _errors(figures: list[dict[str, Any]]) -> list[list[float]]:
    return [
        [f["median"] - f["min"] for f in figures],
        [f["max"] - f["median"] for f in figures],
    ]


def _rpc(ax: Any, results: dict[str, Any]) -> None:
    levels = results["config"]["concurrency"]
    for name, figures in results["figures"].items():
        points = [figures.get(f"calls_per_s@{n}") for n in levels]
        xs = [n for n, p in zip(levels, points, strict=True) if p]
        ys = [p for p in points if p]
        ax.errorbar(xs, [p["median"] for p in ys], yerr=_errors(ys), marker="o", capsize=3,
                    label=name)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, [str(n) for n in levels])
    ax.set_yscale("log")
    ax.set_xlabel("calls in flight")
    ax.set_ylabel("calls per second")
    ax.set_title("RPC call throughput against concurrency")


def _scheduler(ax: Any, results: dict[str, Any]) -> None:
    hosts = sorted(results["figures"], key=int)
    xs = [int(h) for h in hosts]
    for key, label in (("decisions_per_s", "sampled"), ("exhaustive_per_s", "exhaustive")):
        figures = [results["figures"][h][key] for h in hosts if key in results["figures"][h]]
        if len(figures) == len(xs):
            ax.errorbar(xs, [f["median"] for f in figures], yerr=_errors(figures), marker="o",
                        capsize=3, label=label)  # fmt: skip
    cpu = [results["figures"][h].get("cpu_us") for h in hosts]
    if all(cpu):
        ax.plot(xs, [1e6 / f["median"] for f in cpu], linestyle=":", marker=".",
                label="sampled, per CPU-second")  # fmt: skip
    ax.plot([1000, 10000, 100000], [3000, 1500, 500], linestyle="--", color="grey",
            marker="_", label="targets")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs, [f"{x:,}" for x in xs])
    ax.set_xlabel("hosts")
    ax.set_ylabel("decisions per second")
    ax.set_title("Scheduler decisions per second against hosts")


def _boot(ax: Any, results: dict[str, Any]) -> None:
    stages = ["api", "scheduler", "conductor", "compute"]
    transports = list(results["figures"])
    bottoms = [0.0] * len(transports)
    for stage in stages:
        values = [results["figures"][t].get(f"{stage}_ms", {}).get("median", 0.0)
                  for t in transports]  # fmt: skip
        ax.bar(transports, values, bottom=bottoms, label=stage)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.set_ylabel("median milliseconds per server")
    ax.set_title("Where a boot's time goes")


def _scale(ax: Any, results: dict[str, Any]) -> None:
    figures = results["figures"]
    names = ["startup_seconds", "boot_seconds"]
    values = [figures[n] for n in names]
    ax.bar(["cloud startup", "boot"], [v["median"] for v in values], yerr=_errors(values),
           capsize=3, label="seconds")  # fmt: skip
    ax.axhline(120, linestyle="--", color="grey", label="target: 2 minutes")
    ax.set_ylabel("seconds")
    rss = figures["peak_rss_mib"]["median"]
    ax.set_title(f"{results['config']['servers']:,} servers on {results['config']['hosts']:,} "
                 f"hosts (peak RSS {rss:,.0f} MiB)")  # fmt: skip


DRAW = {"rpc": _rpc, "scheduler": _scheduler, "boot": _boot, "scale": _scale}


def plot_results(results: dict[str, Any], path: Path) -> Path:
    """Draw one scenario's results (as written to its JSON file) to a PNG at `path`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    try:
        DRAW[results["scenario"]](ax, results)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
