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
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

__all__ = ["Figure", "console", "machine_info", "percentile", "repeat", "write_results"]

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
        return {"unit": self.unit, "median": self.median, "min": low, "max": high,
                "runs": list(self.runs)}


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


def machine_info() -> dict[str, Any]:
    """Where the figures were measured."""
    versions = {}
    for package in ("nova-lite", "aio-pika", "aiormq", "orjson", "oslo.messaging"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a results table to the console."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column != columns[0] else "left")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def write_results(scenario: str, results: dict[str, Any], directory: Path) -> Path:
    """Write a scenario's figures, configuration and machine to a JSON file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scenario}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"scenario": scenario, "machine": machine_info(), **results},
                               indent=2))
    return path
