"""``python -m benchmarks <scenario>``: run a benchmark scenario and print its table."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from benchmarks.common import print_table, write_results
from benchmarks.rpc import run_rpc

DEFAULT_AMQP = os.environ.get("NOVA_LITE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@click.group()
def main() -> None:
    """nova_lite's benchmark harness."""


@main.command()
@click.option("--runs", default=5, show_default=True, help="Repetitions of each workload.")
@click.option("--count", default=5000, show_default=True, help="Calls/casts per run.")
@click.option("--concurrency", default=64, show_default=True, help="Calls in flight.")
@click.option("--transport", "transports", multiple=True, default=("memory", "rabbitmq"),
              show_default=True, type=click.Choice(["memory", "rabbitmq"]))
@click.option("--amqp-url", default=DEFAULT_AMQP, show_default=True)
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("benchmarks/results"), show_default=True)
def rpc(runs: int, count: int, concurrency: int, transports: tuple[str, ...], amqp_url: str,
        output: Path) -> None:
    """Call latency, concurrent call throughput and cast throughput."""
    results = asyncio.run(run_rpc(transports=list(transports), amqp_url=amqp_url, runs=runs,
                                  count=count, concurrency=concurrency))
    rows = []
    for name, figures in results.items():
        rows.append([
            name,
            *(f"{figures[k].median:,.0f}" for k in ("p50_us", "p95_us", "p99_us")),
            _with_spread(figures["calls_per_s"]),
            _with_spread(figures["casts_per_s"]),
        ])
    print_table(
        f"RPC: median of {runs} runs, {count} messages, {concurrency} calls in flight",
        ["contender", "p50 µs", "p95 µs", "p99 µs", "calls/s (min-max)", "casts/s (min-max)"],
        rows,
    )
    path = write_results("rpc", {
        "config": {"runs": runs, "count": count, "concurrency": concurrency,
                   "transports": list(transports)},
        "figures": {n: {k: f.as_dict() for k, f in fs.items()} for n, fs in results.items()},
    }, output)
    click.echo(f"results: {path}", err=True)


def _with_spread(figure: object) -> str:
    low, high = figure.spread  # type: ignore[attr-defined]
    return f"{figure.median:,.0f} ({low:,.0f}-{high:,.0f})"  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
