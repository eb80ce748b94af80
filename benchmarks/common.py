"""What every benchmark scenario shares: repeated runs, medians, tables, JSON results.

The machine is shared and noisy, so each figure is the median of several runs, shown
with its spread (min-max), and every scenario measures its references in the same
run so comparisons are ratios taken under the same conditions.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

__all__ = [
    "DEFAULT_AMQP_URL",
    "Figure",
    "amqp_reachable",
    "console",
    "figure_from_dict",
    "fmt",
    "machine_info",
    "percentile",
    "print_table",
    "progress",
    "quiet_logs",
    "ratio_figure",
    "repeat",
    "rpc_isolation",
    "with_spread",
    "write_results",
]

DEFAULT_AMQP_URL = os.environ.get("NOVA_LITE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

console = Console(stderr=True)


@attrs.frozen
class Figure:
    """One measured quantity over several runs: its median and spread."""

    name: str
    unit: str
    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.runs), max(self.runs)

    def as_dict(self) -> dict[str, Any]:
        low, high = self.spread
        return {
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "min": low,
            "max": high,
            "runs": list(self.runs),
        }


def figure_from_dict(data: dict[str, Any]) -> Figure:
    """A Figure back from its `as_dict` form (a JSON result file, a subprocess)."""
    return Figure(str(data.get("name", "")), str(data["unit"]), tuple(data["runs"]))


def ratio_figure(name: str, top: Figure, bottom: Figure) -> Figure:
    """Run-by-run ratios of two figures measured side by side in the same runs."""
    pairs = zip(top.runs, bottom.runs, strict=False)
    return Figure(name, "x", tuple(a / b for a, b in pairs if b))


async def repeat(
    name: str, unit: str, runs: int, measure: Callable[[], Awaitable[float]]
) -> Figure:
    """Run `measure` `runs` times and keep every result."""
    return Figure(name, unit, tuple([await measure() for _ in range(runs)]))


def percentile(samples: Sequence[float], pct: float) -> float:
    """The `pct`-th percentile (nearest rank) of `samples`."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def fmt(value: float) -> str:
    """A figure as a table shows it: thousands separators, decimals only when small."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def with_spread(figure: Figure | None) -> str:
    """``median`` over ``(min-max)`` on a second line, for a table cell."""
    if figure is None or not figure.runs:
        return "-"
    if len(figure.runs) == 1:
        return fmt(figure.median)
    low, high = figure.spread
    return f"{fmt(figure.median)}\n[dim]({fmt(low)}-{fmt(high)})[/]"


def machine_info() -> dict[str, Any]:
    """Where the figures were measured: Python, OS, CPUs, load, package versions."""
    versions = {}
    for package in (
        "nova-lite", "aio-pika", "aiormq", "orjson", "structlog", "aiosqlite",
        "oslo.messaging", "kombu", "amqp",
    ):  # fmt: skip
        with suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "versions": versions,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def amqp_reachable(url: str, timeout: float = 2.0) -> str | None:
    """None if a broker answers at `url`, else the reason it does not."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout):
            return None
    except OSError as exc:
        return f"no RabbitMQ broker answers at {parts.hostname}:{parts.port or 5672} ({exc})"


def rpc_isolation() -> dict[str, str]:
    """``[rpc]`` settings giving one benchmark run its own exchange and queue names."""
    suffix = uuid.uuid4().hex[:8]
    return {"exchange": f"bench-{suffix}", "queue_prefix": f"bench-{suffix}."}


def quiet_logs() -> None:
    """Only warnings and errors from the services, on stderr (no logger caching)."""
    import logging

    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


@contextmanager
def progress() -> Iterator[Progress]:
    """A rich progress display on stderr (silent when stderr is not a terminal)."""
    display = Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    with display:
        yield display


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    caption: str | None = None,
) -> None:
    """Print a results table to standard output."""
    table = Table(title=title, caption=caption)
    for column in columns:
        table.add_column(column, justify="right" if column != columns[0] else "left")
    for row in rows:
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 150).print(table)


def write_results(scenario: str, results: dict[str, Any], directory: Path) -> Path:
    """Write a scenario's figures, configuration and machine to a JSON file."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{scenario}-{stamp}.json"
    payload = {"scenario": scenario, "machine": machine_info(), **results}
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Figure):
        return value.as_dict()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
