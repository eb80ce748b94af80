"""Workload traces: what arrives when, how big, for how long.

The trace format is CSV with a header row; one row per server request, in order
of arrival:

==================  ========  ==================================================
column              required  meaning
==================  ========  ==================================================
``arrival``         yes       seconds from the start of the simulation (>= 0)
``lifetime``        no        seconds the server lives; empty: to the end
``departure``       no        or: seconds from the start when it is deleted
``vcpus``           yes       integer >= 1
``ram_mb``          yes       integer >= 1
``disk_gb``         yes       integer >= 0
``project``         no        the requesting project (recorded on the server)
``image_properties`` no       a JSON object of strings (``{"hw_architecture": "x86_64"}``)
``server_group``    no        ``NAME[:POLICY]``: a server group the server joins
==================  ========  ==================================================

A row gives ``lifetime`` or ``departure``, not both. Each distinct set of image
properties becomes an image with those properties, booted by the rows that name
it (so the scheduler's ImagePropertiesFilter sees them); each server group is
created once with its policy (``affinity``, ``anti-affinity``, ``soft-affinity``
or ``soft-anti-affinity``; anti-affinity when none is given; a name keeps one
policy in a file) and its rows boot with it as their ``group`` hint, so the
server-group filters and weighers apply. `read_trace` refuses a file
that breaks any of this, naming the line and the column. `write_trace` writes
the same format, so `synthetic` workloads and `read_azure` conversions can be
saved and replayed.
"""

from __future__ import annotations

import csv
import math
import random
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import orjson

from nova_lite.exceptions import Invalid

__all__ = [
    "COLUMNS",
    "GROUP_POLICIES",
    "Arrival",
    "FlavorShare",
    "TraceError",
    "read_azure",
    "read_trace",
    "synthetic",
    "write_trace",
]

COLUMNS = (
    "arrival",
    "lifetime",
    "departure",
    "vcpus",
    "ram_mb",
    "disk_gb",
    "project",
    "image_properties",
    "server_group",
)
_REQUIRED = ("arrival", "vcpus", "ram_mb", "disk_gb")
GROUP_POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


class TraceError(Invalid):
    """A trace file that does not follow the format, with where and what."""


@attrs.frozen(kw_only=True)
class Arrival:
    """One server request of a workload."""

    arrival: float
    departure: float | None  # None: it stays until the simulation ends
    vcpus: int
    ram_mb: int
    disk_gb: int
    project: str | None = None
    image_properties: dict[str, str] = attrs.field(factory=dict)
    server_group: str | None = None  # the group's name
    group_policy: str = "anti-affinity"  # its policy (only with a group)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(vcpus, ram_mb, disk_gb): what a flavor must give it."""
        return (self.vcpus, self.ram_mb, self.disk_gb)


def read_trace(path: str | Path) -> list[Arrival]:
    """Every row of the trace file at `path`, checked; `TraceError` names what is wrong."""
    path = Path(path)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in COLUMNS]
        missing = [c for c in _REQUIRED if c not in header]
        if unknown or missing:
            raise TraceError(
                f"{path}: line 1: "
                + "; ".join(
                    ([f"unknown column(s) {', '.join(unknown)}"] if unknown else [])
                    + ([f"missing column(s) {', '.join(missing)}"] if missing else [])
                )
                + f" (the columns are {', '.join(COLUMNS)})"
            )
        arrivals: list[Arrival] = []
        policies: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            arrival = _row(path, line, row)
            if arrivals and arrival.arrival < arrivals[-1].arrival:
                raise TraceError(
                    f"{path}: line {line}: arrival {arrival.arrival:g} is before the"
                    f" previous row's {arrivals[-1].arrival:g}; rows go in order of arrival"
                )
            if arrival.server_group is not None:
                policy = policies.setdefault(arrival.server_group, arrival.group_policy)
                if policy != arrival.group_policy:
                    raise TraceError(
                        f"{path}: line {line}: column 'server_group': group"
                        f" {arrival.server_group!r} is {policy} on an earlier row, not"
                        f" {arrival.group_policy}"
                    )
            arrivals.append(arrival)
    return arrivals


def _row(path: Path, line: int, row: dict[str, str | None]) -> Arrival:
    def fail(column: str, why: str) -> TraceError:
        return TraceError(f"{path}: line {line}: column {column!r}: {why}")

    def number(column: str, *, integer: bool, minimum: float) -> float:
        text = (row.get(column) or "").strip()
        if not text:
            raise fail(column, "is empty")
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise fail(column, f"{text!r} is not {kind}") from None
        if not math.isfinite(value) or value < minimum:
            raise fail(column, f"{text} is below {minimum:g} or not finite")
        return value

    def optional(column: str) -> str | None:
        text = (row.get(column) or "").strip()
        return text or None

    arrival = number("arrival", integer=False, minimum=0)
    lifetime, departure = optional("lifetime"), optional("departure")
    if lifetime and departure:
        raise fail("departure", "give lifetime or departure, not both")
    leaves: float | None = None
    if lifetime:
        leaves = arrival + number("lifetime", integer=False, minimum=0)
    elif departure:
        leaves = number("departure", integer=False, minimum=arrival)
    properties: dict[str, str] = {}
    if text := optional("image_properties"):
        try:
            loaded = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise fail("image_properties", "is not JSON") from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            raise fail("image_properties", "must be a JSON object of strings")
        properties = loaded
    group, policy = None, "anti-affinity"
    if text := optional("server_group"):
        group, _, named = text.partition(":")
        policy = named.strip() or policy
        group = group.strip()
        if not group or policy not in GROUP_POLICIES:
            raise fail(
                "server_group",
                f"{text!r} is not NAME[:POLICY] with a policy of {', '.join(GROUP_POLICIES)}",
            )
    return Arrival(
        arrival=arrival,
        departure=leaves,
        vcpus=int(number("vcpus", integer=True, minimum=1)),
        ram_mb=int(number("ram_mb", integer=True, minimum=1)),
        disk_gb=int(number("disk_gb", integer=True, minimum=0)),
        project=optional("project"),
        image_properties=properties,
        server_group=group,
        group_policy=policy,
    )


def write_trace(arrivals: Iterable[Arrival], path: str | Path) -> Path:
    """Write `arrivals` (in order of arrival) in the trace format; the path."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["arrival", "departure", "vcpus", "ram_mb", "disk_gb", "project",
             "image_properties", "server_group"]
        )  # fmt: skip
        for a in arrivals:
            writer.writerow([
                _seconds(a.arrival),
                "" if a.departure is None else _seconds(a.departure),
                a.vcpus, a.ram_mb, a.disk_gb, a.project or "",
                orjson.dumps(a.image_properties).decode() if a.image_properties else "",
                f"{a.server_group}:{a.group_policy}" if a.server_group else "",
            ])  # fmt: skip
    return path


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


@attrs.frozen
class FlavorShare:
    """One flavor shape of a synthetic mix and its share of the arrivals."""

    vcpus: int
    ram_mb: int
    disk_gb: int
    weight: float


DEFAULT_MIX = (
    FlavorShare(1, 512, 1, 0.40),
    FlavorShare(1, 2048, 20, 0.25),
    FlavorShare(2, 4096, 40, 0.20),
    FlavorShare(4, 8192, 80, 0.10),
    FlavorShare(8, 16384, 160, 0.05),
)


def synthetic(
    *,
    seed: int,
    hours: float,
    arrivals_per_hour: float,
    mix: Sequence[FlavorShare] = DEFAULT_MIX,
    median_lifetime: float = 3600.0,
    lifetime_sigma: float = 1.5,
    burstiness: float = 0.0,
    burst_period: float = 3600.0,
    projects: int = 1,
) -> list[Arrival]:
    """A seeded workload: Poisson arrivals, log-normal (heavy-tailed) lifetimes.

    `burstiness` in [0, 1) modulates the arrival rate over `burst_period` seconds
    (a sine: 0 is steady Poisson; 0.9 swings between 10% and 190% of the mean).
    Lifetimes are log-normal with the given median and sigma (sigma 1.5: most
    servers short, a few living many times the median), as measured clouds show.
    The same arguments give the same list.
    """
    if not 0 <= burstiness < 1:
        raise Invalid(f"burstiness must be in [0, 1), not {burstiness}")
    if arrivals_per_hour <= 0 or hours <= 0:
        raise Invalid("hours and arrivals_per_hour must be positive")
    rng = random.Random(seed)
    weights = [share.weight for share in mix]
    end = hours * 3600.0
    peak = arrivals_per_hour / 3600.0 * (1 + burstiness)
    arrivals: list[Arrival] = []
    t = 0.0
    while True:
        t += rng.expovariate(peak)  # thinning: candidates at the peak rate
        if t >= end:
            return arrivals
        rate = 1 + burstiness * math.sin(2 * math.pi * t / burst_period)
        if rng.random() * (1 + burstiness) > rate:
            continue
        share = rng.choices(mix, weights)[0]
        lifetime = rng.lognormvariate(math.log(median_lifetime), lifetime_sigma)
        arrivals.append(
            Arrival(
                arrival=round(t, 3),
                departure=round(t + lifetime, 3) if t + lifetime < end else None,
                vcpus=share.vcpus,
                ram_mb=share.ram_mb,
                disk_gb=share.disk_gb,
                project=f"project-{rng.randrange(projects)}" if projects > 1 else None,
            )
        )


def read_azure(
    path: str | Path,
    *,
    machine: tuple[int, int, int] = (40, 262144, 2048),
    machine_id: int | None = None,
    limit: int | None = None,
) -> list[Arrival]:
    """Arrivals from the Azure packing trace 2020 (``packing_trace_zone_a_v1.sqlite``).

    Its ``vm`` table (``vmId, tenantId, vmTypeId, priority, starttime, endtime``,
    times in days) names a VM type; its ``vmType`` table gives each type's
    ``core``, ``memory`` and ``ssd`` as fractions of one machine generation
    (``machineId``). So a conversion picks one generation (`machine_id`; default:
    the one that can host the most VM types) and that machine's absolute size
    (`machine`: vCPUs, RAM MiB, disk GiB, to match the simulated hosts). VMs that
    started before the trace's first day arrive at 0; an ``endtime`` of NULL stays.
    The trace is not shipped: download it from the AzurePublicDataset repository.
    """
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        if machine_id is None:
            row = db.execute(
                "SELECT machineId FROM vmType GROUP BY machineId"
                " ORDER BY COUNT(*) DESC, machineId LIMIT 1"
            ).fetchone()
            if row is None:
                raise TraceError(f"{path}: the vmType table is empty")
            machine_id = int(row[0])
        query = (
            "SELECT vm.starttime, vm.endtime, t.core, t.memory, t.ssd, vm.tenantId"
            " FROM vm JOIN vmType AS t ON t.vmTypeId = vm.vmTypeId AND t.machineId = ?"
            " ORDER BY vm.starttime, vm.vmId"
        )
        rows: Iterator[Any] = db.execute(query, (machine_id,))
        arrivals: list[Arrival] = []
        vcpus, ram_mb, disk_gb = machine
        for start, stop, core, memory, ssd, tenant in rows:
            if limit is not None and len(arrivals) >= limit:
                break
            arrival = max(0.0, float(start)) * 86400.0
            arrivals.append(
                Arrival(
                    arrival=round(arrival, 3),
                    departure=None if stop is None else round(max(arrival, stop * 86400.0), 3),
                    vcpus=max(1, round(core * vcpus)),
                    ram_mb=max(1, round(memory * ram_mb)),
                    disk_gb=max(0, round((ssd or 0.0) * disk_gb)),
                    project=None if tenant is None else str(tenant),
                )
            )
        return arrivals
    except sqlite3.Error as exc:
        raise TraceError(f"{path}: not an Azure packing trace: {exc}") from exc
    finally:
        db.close()
