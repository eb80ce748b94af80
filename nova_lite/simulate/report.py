"""What a simulation measures, minute by minute, and its result.

Per sample (every ``sample_interval`` simulated seconds, from the scheduler's own
view of every host, its `HostState` objects read in this process): vCPU and RAM
utilization of the cloud and the 50th/90th/99th percentile host; active servers;
arrivals, placements and rejections since the last sample (rejections by their
fault: "No valid host" and why); **stranded capacity**, the free vCPUs and RAM on
hosts where no flavor of the workload fits any more; and the placement latency
(create call to ACTIVE, simulated seconds).

The result is plain JSON-able data with no wall-clock figure in it, so two runs of
one scenario give byte-identical files (`SimulationResult.to_json`).
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import orjson

from nova_lite.objects import Flavor
from nova_lite.scheduler.host_manager import HostState

__all__ = ["COUNTS", "Recorder", "SimulationResult", "percentile"]

# Conservation: arrivals = placed + rejected + withdrawn + unsettled, and
# placed = departed + remaining (still placed when the scenario ended). "retried"
# counts the tries sent again after a broker outage left their outcome unknown.
COUNTS = ("arrivals", "placed", "rejected", "withdrawn", "departed", "unsettled", "retried")


_REMOVED_BY = re.compile(r"(\w+) removed \d+")


def reason_key(reason: str) -> str:
    """A rejection's reason as counted: its first sentence and, for "No valid host",
    the filter that removed the last hosts (e.g. ``No valid host was found
    (ImagePropertiesFilter)``)."""
    short = reason.split(". ")[0][:200]
    removed = _REMOVED_BY.findall(reason)
    return f"{short} ({removed[-1]})" if short.startswith("No valid host") and removed else short


def percentile(values: Sequence[float], q: float, *, ordered: bool = False) -> float:
    """The `q`-th percentile (nearest rank) of `values` (already sorted if `ordered`);
    0 for none."""
    if not values:
        return 0.0
    if not ordered:
        values = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[rank - 1]


@attrs.frozen
class SimulationResult:
    """The configuration, the totals, one row per sample, and the audit's verdict."""

    config: dict[str, Any]
    totals: dict[str, Any]
    samples: list[dict[str, Any]]
    events: list[dict[str, Any]]
    audit: dict[str, Any]

    def to_json(self) -> bytes:
        """Deterministic JSON (sorted keys, fixed rounding)."""
        return orjson.dumps(attrs.asdict(self), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


def _r(value: float) -> float:
    return round(value, 4)


class Recorder:
    """Counts what happens between samples and takes the samples."""

    def __init__(self, interval: float, flavors: Sequence[Flavor]) -> None:
        self.interval = interval
        self.flavors = list(flavors)
        # free (vCPUs, RAM, disk) -> whether no flavor fits: most hosts share a few.
        self._strands: dict[tuple[float, float, float], bool] = {}
        self.samples: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.totals: collections.Counter[str] = collections.Counter()
        self.reasons: collections.Counter[str] = collections.Counter()
        self._window: collections.Counter[str] = collections.Counter()
        self._window_reasons: collections.Counter[str] = collections.Counter()
        self._latencies: list[float] = []
        self._all_latencies: list[float] = []
        self.active = 0
        # Kept for callers (not in the JSON, which stays small at 10,000 hosts):
        self.placements: dict[str, list[float]] = collections.defaultdict(list)
        self.host_latencies: dict[str, list[float]] = collections.defaultdict(list)

    def arrived(self, now: float) -> None:
        self._count("arrivals")

    def placed(self, now: float, latency: float, host: str) -> None:
        self._count("placed")
        self.active += 1
        self._latencies.append(latency)
        self._all_latencies.append(latency)
        self.placements[host].append(now)
        self.host_latencies[host].append(latency)

    def rejected(self, now: float, reason: str) -> None:
        self._count("rejected")
        short = reason_key(reason)
        self._window_reasons[short] += 1
        self.reasons[short] += 1

    def departed(self, now: float) -> None:
        """A placed server deleted at its departure."""
        self._count("departed")

    def withdrawn(self, now: float) -> None:
        """A server whose departure came before its build ended (deleted unplaced)."""
        self._count("withdrawn")

    def event(self, now: float, kind: str, host: str) -> None:
        self.events.append({"t": _r(now), "event": kind, "host": host})

    def count(self, key: str) -> None:
        """Count one more of `key` (in the totals and this sample's window)."""
        self._count(key)

    def _count(self, key: str) -> None:
        self.totals[key] += 1
        self._window[key] += 1

    def sample(self, hosts: Iterable[HostState], now: float) -> None:
        """One row: utilization and stranded capacity from the scheduler's host states."""
        cpu_used = cpu_cap = ram_used = ram_cap = 0.0
        cpu_util: list[float] = []
        stranded_cpu = stranded_ram = 0.0
        for host in hosts:
            node = host.node
            cap_cpu = node.vcpus * node.cpu_allocation_ratio
            used_cpu = float(host.vcpus_used)
            cpu_used, cpu_cap = cpu_used + used_cpu, cpu_cap + cap_cpu
            ram_used += host.memory_mb_used
            ram_cap += node.memory_mb * node.ram_allocation_ratio
            cpu_util.append(used_cpu / cap_cpu if cap_cpu else 0.0)
            free = (host.free_vcpus, host.free_ram_mb, host.free_disk_gb)
            if self._stranded(free):
                stranded_cpu += max(0.0, free[0])
                stranded_ram += max(0.0, free[1])
        latencies = self._latencies
        cpu_util.sort()
        self.samples.append({
            "t": _r(now),
            "minute": int(now // 60),
            "vcpu_utilization": _r(cpu_used / cpu_cap if cpu_cap else 0.0),
            "ram_utilization": _r(ram_used / ram_cap if ram_cap else 0.0),
            "host_vcpu_utilization_p50": _r(percentile(cpu_util, 50, ordered=True)),
            "host_vcpu_utilization_p90": _r(percentile(cpu_util, 90, ordered=True)),
            "host_vcpu_utilization_p99": _r(percentile(cpu_util, 99, ordered=True)),
            "active_servers": self.active_servers(),
            "arrivals": self._window["arrivals"],
            "placed": self._window["placed"],
            "rejected": self._window["rejected"],
            "rejected_by": dict(sorted(self._window_reasons.items())),
            "stranded_vcpus": _r(stranded_cpu),
            "stranded_ram_mb": _r(stranded_ram),
            "placement_latency_p50": _r(percentile(latencies, 50)),
            "placement_latency_p99": _r(percentile(latencies, 99)),
        })  # fmt: skip
        self._window.clear()
        self._window_reasons.clear()
        self._latencies = []

    def _stranded(self, free: tuple[float, float, float]) -> bool:
        found = self._strands.get(free)
        if found is None:
            found = self._strands[free] = not any(
                f.vcpus <= free[0] and f.memory_mb <= free[1] and f.disk_gb <= free[2]
                for f in self.flavors
            )
        return found

    def active_servers(self) -> int:
        """Servers placed and not yet deleted."""
        return self.totals["placed"] - self.totals["departed"]

    def result(self, config: dict[str, Any], audit: dict[str, Any]) -> SimulationResult:
        totals: dict[str, Any] = {key: self.totals[key] for key in COUNTS}
        totals.update((k, v) for k, v in sorted(self.totals.items()) if k not in totals)
        totals["remaining"] = self.active_servers()
        totals["rejected_by"] = dict(sorted(self.reasons.items()))
        totals["placement_latency_p50"] = _r(percentile(self._all_latencies, 50))
        totals["placement_latency_p99"] = _r(percentile(self._all_latencies, 99))
        return SimulationResult(config, totals, self.samples, self.events, _audit_summary(audit))


def _audit_summary(audit: dict[str, Any]) -> dict[str, Any]:
    if "error" in audit:  # the books could not be read: not clean, and why
        return {"clean": False, "findings": 0, "kinds": {}, "error": audit["error"]}
    findings = audit.get("findings", [])
    return {"clean": not findings, "findings": len(findings),
            "kinds": dict(collections.Counter(str(f.get("kind")) for f in findings))}  # fmt: skip
