"""Scale benchmark: a simulated cloud of many fake hosts booting many servers.

Each run is a child process (``python -m benchmarks.scale``) so that its peak
resident memory (``ru_maxrss``) is its own: a `Cloud` with H fake compute hosts on
the in-memory broker (heartbeats every hour, so they stay out of the way), a /16
network (a /12 past 65,000 servers), then N servers booted as the boot benchmark
does. Once every build is done
the child checks that no host is oversubscribed, both in the scheduler's claims and
in the fake hypervisors' guests, and that both agree on every host's guest count.
The child streams progress as JSON lines and ends with its result.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from collections.abc import Callable
from typing import IO, Any

import attrs

from benchmarks.boot import BootResult, BootSpec, boot_run
from benchmarks.common import Figure
from drivers.fake import FakeDriver, FakeGuest
from nova_lite.api.client import Session
from nova_lite.cloud import Cloud
from nova_lite.compute.manager import ComputeManager

__all__ = ["ScaleSpec", "check_capacity", "problems", "run_scale"]

Advance = Callable[[int], None]


@attrs.frozen(kw_only=True)
class ScaleSpec:
    """How big the simulated cloud is."""

    hosts: int = 1000
    servers: int = 10000
    batch: int = 100
    timeout: float = 1800.0
    in_flight: int = 0


async def check_capacity(cloud: Cloud, session: Session) -> dict[str, Any]:
    """Hosts over capacity, by the scheduler's claims and by the fake drivers' guests."""
    ctx = await session.context()
    counts = {"oversubscribed_by_claims": 0, "oversubscribed_by_guests": 0,
              "claims_guests_disagree": 0, "guests": 0}  # fmt: skip
    drivers = {s.manager.host: s.manager.driver for s in cloud.services
               if isinstance(s.manager, ComputeManager)}  # fmt: skip
    for host in await cloud.api.scheduler.all_hosts(ctx):
        cpu_cap = host["vcpus"] * host["cpu_allocation_ratio"]
        ram_cap = host["memory_mb"] * host["ram_allocation_ratio"]
        disk_cap = host["local_gb"] * host["disk_allocation_ratio"]
        guests = _guests(drivers[host["host"]])
        vcpus = sum(g.vcpus for g in guests)
        memory = sum(g.memory_mb for g in guests)
        counts["oversubscribed_by_claims"] += (
            host["vcpus_used"] > cpu_cap
            or host["memory_mb_used"] > ram_cap
            or host["local_gb_used"] > disk_cap
        )
        counts["oversubscribed_by_guests"] += vcpus > cpu_cap or memory > ram_cap
        counts["claims_guests_disagree"] += len(guests) != host["running_vms"]
        counts["guests"] += len(guests)
    return counts


def _guests(driver: object) -> list[FakeGuest]:
    """A host's guests, from its driver (found for every host in one pass over the
    services: `Cloud.compute` looks through them all for each, 50 million looks at
    10,000 hosts)."""
    if not isinstance(driver, FakeDriver):
        raise TypeError(f"The scale benchmark needs the fake driver, not {driver!r}.")
    return list(driver.guests.values())


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _child(spec: ScaleSpec, out: IO[str]) -> None:
    def advance(count: int) -> None:
        if count:
            out.write(json.dumps({"progress": count}) + "\n")
            out.flush()

    boot = BootSpec(
        servers=spec.servers,
        hosts=spec.hosts,
        batch=spec.batch,
        timeout=spec.timeout,
        in_flight=spec.in_flight,
        # A /16 holds 65,533 servers' addresses; a /12 over a million.
        network_cidr="10.0.0.0/16" if spec.servers <= 65000 else "10.0.0.0/12",
    )
    base = peak_rss_mib()  # the interpreter and the code, before any cloud
    result: BootResult = await boot_run(boot, advance, check_capacity)
    out.write(json.dumps({"result": {
        **attrs.asdict(result), "peak_rss_mib": peak_rss_mib(), "base_rss_mib": base,
    }}))  # fmt: skip
    out.write("\n")
    out.flush()


def main() -> None:
    """The child: ``python -m benchmarks.scale HOSTS SERVERS BATCH TIMEOUT IN_FLIGHT``."""
    hosts, servers, batch, timeout, in_flight = sys.argv[1:6]
    spec = ScaleSpec(hosts=int(hosts), servers=int(servers), batch=int(batch),
                     timeout=float(timeout), in_flight=int(in_flight))  # fmt: skip
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    asyncio.run(_child(spec, out))


async def one_run(spec: ScaleSpec, advance: Advance) -> dict[str, Any]:
    """Run one child process and return its result."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.scale",
        str(spec.hosts), str(spec.servers), str(spec.batch), str(spec.timeout),
        str(spec.in_flight),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        limit=16 * 1024 * 1024,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    stderr = asyncio.get_running_loop().create_task(process.stderr.read())
    result: dict[str, Any] | None = None
    async for line in process.stdout:
        message = json.loads(line)
        if "progress" in message:
            advance(int(message["progress"]))
        else:
            result = message["result"]
    await process.wait()
    errors = (await stderr).decode(errors="replace")
    if result is None:
        raise RuntimeError(f"scale run failed (exit {process.returncode}): {errors[-3000:]}")
    return result


CAPACITY_CHECKS = ("oversubscribed_by_claims", "oversubscribed_by_guests", "claims_guests_disagree")


def problems(raw: list[dict[str, Any]]) -> list[str]:
    """What makes the runs a failure: any server not ACTIVE, any capacity check not 0.

    One line per run at fault, with its faults grouped by message (ids masked) and
    counted, most common first.
    """
    found = []
    for number, run in enumerate(raw, 1):
        checks = {key: run["checks"].get(key, 0) for key in CAPACITY_CHECKS}
        bad_checks = ", ".join(f"{key}={value}" for key, value in checks.items() if value)
        if not run["failed"] and not bad_checks:
            continue
        faults = "; ".join(f"{count} x {why}" for why, count in run.get("failures", {}).items())
        line = f"run {number}: {run['failed']} of {run['active'] + run['failed']} not ACTIVE"
        found.append(
            line + (f" ({faults})" if faults else "") + (f"; {bad_checks}" if bad_checks else "")
        )
    return found


async def run_scale(
    spec: ScaleSpec, *, runs: int, advance: Advance = lambda _: None
) -> tuple[dict[str, Figure], list[dict[str, Any]]]:
    """`runs` child runs: figures over the runs, and each run's raw result."""
    raw = [await one_run(spec, advance) for _ in range(runs)]
    figures = {
        "boot_seconds": Figure("boot time", "s", tuple(r["seconds"] for r in raw)),
        "startup_seconds": Figure("cloud startup", "s", tuple(r["startup_seconds"] for r in raw)),
        "servers_per_s": Figure("servers/s", "1/s",
                                tuple(spec.servers / r["seconds"] for r in raw)),
        "peak_rss_mib": Figure("peak RSS", "MiB", tuple(r["peak_rss_mib"] for r in raw)),
        # What starting the cloud added, over its hosts; what booting added, over its
        # servers (the services' fixed cost counts as the hosts').
        "rss_per_host_kib": Figure("peak RSS per host, started", "KiB", tuple(
            1024 * (r["startup_rss_mib"] - r["base_rss_mib"]) / spec.hosts for r in raw
        )),
        "rss_per_server_kib": Figure(
            "peak RSS per server, booted", "KiB",
            tuple(1024 * (r["peak_rss_mib"] - r["startup_rss_mib"]) / spec.servers for r in raw),
        ),
        "not_active": Figure("not ACTIVE", "servers", tuple(float(r["failed"]) for r in raw)),
    }  # fmt: skip
    for key in CAPACITY_CHECKS:
        figures[key] = Figure(key, "hosts", tuple(float(r["checks"][key]) for r in raw))
    return figures, raw


if __name__ == "__main__":
    main()
