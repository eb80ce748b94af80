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

__all__ = [
    "COUNTS",
    "HostTally",
    "Recorder",
    "SimulationResult",
    "counted_percentile",
    "percentile",
]

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

    def tally(self) -> HostTally:
        """Sums over hosts kept as they change (`HostTally`), for `sample` to read."""
        return HostTally(self)

    def host_row(self, host: HostState) -> tuple[float, ...]:
        """One host's part of a sample: vCPUs used and offered, RAM used and offered,
        its vCPU utilization, and its stranded vCPUs and RAM."""
        node = host.node
        cap_cpu = node.vcpus * node.cpu_allocation_ratio
        used_cpu = float(host.vcpus_used)
        free = (host.free_vcpus, host.free_ram_mb, host.free_disk_gb)
        stranded = self._stranded(free)
        return (
            used_cpu, cap_cpu, float(host.memory_mb_used),
            node.memory_mb * node.ram_allocation_ratio,
            used_cpu / cap_cpu if cap_cpu else 0.0,
            max(0.0, free[0]) if stranded else 0.0,
            max(0.0, free[1]) if stranded else 0.0,
        )  # fmt: skip

    def sample(self, hosts: Iterable[HostState] | HostTally, now: float) -> None:
        """One row: utilization and stranded capacity from the scheduler's host states,
        read from a `HostTally` (no scan) or from every host."""
        if isinstance(hosts, HostTally) and hosts.exact():
            sums, cpu_util = hosts.sums(), hosts.utilization
        else:
            states = hosts.states() if isinstance(hosts, HostTally) else hosts
            sums, cpu_util = self._scan(states)
        cpu_used, cpu_cap, ram_used, ram_cap, stranded_cpu, stranded_ram = sums
        latencies = self._latencies
        self.samples.append({
            "t": _r(now),
            "minute": int(now // 60),
            "vcpu_utilization": _r(cpu_used / cpu_cap if cpu_cap else 0.0),
            "ram_utilization": _r(ram_used / ram_cap if ram_cap else 0.0),
            "host_vcpu_utilization_p50": _r(counted_percentile(cpu_util, 50)),
            "host_vcpu_utilization_p90": _r(counted_percentile(cpu_util, 90)),
            "host_vcpu_utilization_p99": _r(counted_percentile(cpu_util, 99)),
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

    def _scan(
        self, hosts: Iterable[HostState]
    ) -> tuple[tuple[float, ...], collections.Counter[float]]:
        """The sums (in host order, as floats add) and the hosts' vCPU utilizations."""
        cpu_used = cpu_cap = ram_used = ram_cap = stranded_cpu = stranded_ram = 0.0
        cpu_util: collections.Counter[float] = collections.Counter()
        for host in hosts:
            used, cap, ram, ram_offered, util, lost_cpu, lost_ram = self.host_row(host)
            cpu_used, cpu_cap = cpu_used + used, cpu_cap + cap
            ram_used, ram_cap = ram_used + ram, ram_cap + ram_offered
            cpu_util[util] += 1
            stranded_cpu, stranded_ram = stranded_cpu + lost_cpu, stranded_ram + lost_ram
        return (cpu_used, cpu_cap, ram_used, ram_cap, stranded_cpu, stranded_ram), cpu_util

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


class HostTally:
    """A sample's sums over every host, kept up to date as hosts change.

    A scan of 10,000 hosts each simulated minute was the simulation's own largest
    cost; the scheduler's `HostManager.watch` calls `update` with each host it adds
    or changes (a claim, a release, a report), which swaps that host's row
    (`Recorder.host_row`) in the sums. Floats add exactly while every figure is a
    whole number (below 2**53): the sums are then the scan's, whatever the order, and
    the JSON byte for byte the same. With a figure that is not (an allocation ratio
    of 1.1, say), `exact` is false and the sample scans the hosts as before.
    """

    def __init__(self, recorder: Recorder) -> None:
        self._row = recorder.host_row
        self._rows: dict[str, tuple[float, ...]] = {}
        self._states: dict[str, HostState] = {}
        self._sums = [0.0] * 6  # vCPUs used, offered; RAM used, offered; stranded both
        self.utilization: collections.Counter[float] = collections.Counter()
        self._fractional = 0  # hosts with a figure that is not a whole number

    def update(self, host: HostState) -> None:
        """Take `host`'s figures now (a new host, or a change to one)."""
        row = self._row(host)
        old = self._rows.get(host.host)
        if old == row:
            return
        if old is not None:
            self._add(old, -1)
        self._rows[host.host], self._states[host.host] = row, host
        self._add(row, 1)

    def _add(self, row: tuple[float, ...], sign: int) -> None:
        used, cap, ram, ram_offered, util, lost_cpu, lost_ram = row
        sums = self._sums
        sums[0] += sign * used
        sums[1] += sign * cap
        sums[2] += sign * ram
        sums[3] += sign * ram_offered
        sums[4] += sign * lost_cpu
        sums[5] += sign * lost_ram
        count = self.utilization[util] + sign
        if count:
            self.utilization[util] = count
        else:
            del self.utilization[util]
        if not all(v.is_integer() for v in (used, cap, ram, ram_offered, lost_cpu, lost_ram)):
            self._fractional += sign

    def exact(self) -> bool:
        """Whether the sums are exactly what a scan of the hosts would add up."""
        return self._fractional == 0 and all(abs(v) < 2**53 for v in self._sums)

    def sums(self) -> tuple[float, ...]:
        return tuple(self._sums)

    def states(self) -> Iterable[HostState]:
        """The hosts, in the order they were first heard of (the scheduler's)."""
        return self._states.values()


def counted_percentile(counts: collections.Counter[float], q: float) -> float:
    """`percentile` of the values `counts` holds (each value as many times as its count)."""
    total = sum(counts.values())
    if not total:
        return 0.0
    rank = max(1, math.ceil(q / 100 * total))
    for value in sorted(counts):
        rank -= counts[value]
        if rank <= 0:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")


def _audit_summary(audit: dict[str, Any]) -> dict[str, Any]:
    if "error" in audit:  # the books could not be read: not clean, and why
        return {"clean": False, "findings": 0, "kinds": {}, "error": audit["error"]}
    findings = audit.get("findings", [])
    return {"clean": not findings, "findings": len(findings),
            "kinds": dict(collections.Counter(str(f.get("kind")) for f in findings))}  # fmt: skip
