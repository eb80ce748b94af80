"""`nova-lite simulate`: traces, determinism, conservation, faults, comparisons."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nova_lite.exceptions import Invalid
from nova_lite.simulate import (
    Arrival,
    HostFailure,
    Simulation,
    SimulationSpec,
    TraceError,
    failures_by_mtbf,
    read_azure,
    read_trace,
    synthetic,
    write_trace,
)
from nova_lite.simulate.report import COUNTS

SMALL_TRACE = Path(__file__).parent.parent / "examples" / "simulate" / "small-trace.csv"
SPREAD = {"ram_weight_multiplier": 1.0, "cpu_weight_multiplier": 1.0}
PACK = {"ram_weight_multiplier": -1.0, "cpu_weight_multiplier": -1.0}


def steady(count: int, *, every: float = 60.0, lifetime: float | None = None) -> list[Arrival]:
    """`count` one-vCPU servers, one every `every` seconds."""
    return [
        Arrival(
            arrival=i * every,
            departure=None if lifetime is None else i * every + lifetime,
            vcpus=1,
            ram_mb=512,
            disk_gb=1,
        )
        for i in range(count)
    ]


def assert_conserved(totals: dict[str, int]) -> None:
    """Every arrival ended placed, rejected or withdrawn; every placed server departed
    or remains."""
    assert totals["arrivals"] == totals["placed"] + totals["rejected"] + totals["withdrawn"]
    assert totals["placed"] == totals["departed"] + totals["remaining"]
    assert totals["unsettled"] == 0


def test_the_shipped_trace_replays_conserved_with_clean_books() -> None:
    """Two simulated hours of the example trace: everything accounted, audit clean,
    one sample per simulated minute."""
    arrivals = read_trace(SMALL_TRACE)
    simulation = Simulation(SimulationSpec(hosts=8, seed=3), arrivals)
    result = simulation.run()
    assert result.totals["arrivals"] == len(arrivals) > 200
    assert_conserved(result.totals)
    assert result.audit == {"clean": True, "findings": 0, "kinds": {}}
    departures = sum(1 for a in arrivals if a.departure is not None)
    assert result.totals["departed"] + result.totals["withdrawn"] <= departures
    minutes = [row["minute"] for row in result.samples]
    assert minutes[:3] == [0, 1, 2] and len(result.samples) >= simulation.end_time() // 60
    assert max(row["active_servers"] for row in result.samples) > 0


def test_the_same_trace_seed_and_configuration_give_identical_results() -> None:
    """Byte for byte, twice: no wall-clock figure or random draw leaks into the result."""
    arrivals = synthetic(seed=11, hours=1, arrivals_per_hour=240, median_lifetime=600)
    spec = SimulationSpec(hosts=4, seed=5, host_ram_mb=8192)  # small hosts: some rejections
    runs = [Simulation(spec, arrivals) for _ in range(2)]
    first, second = (run.run().to_json() for run in runs)
    assert first == second
    # The servers themselves are the same ones: their uuids (which order the
    # instance lists and trackers) come from the seed, not from os.urandom.
    made = [run.replay.placed if run.replay else set() for run in runs]
    assert made[0] and made[0] == made[1]
    totals = json.loads(first)["totals"]
    assert totals["placed"] > 0 and totals["rejected"] > 0  # both paths were taken
    assert_conserved(totals)


def test_rejections_name_their_reason_and_the_books_stay_clean() -> None:
    """More servers than one small host holds: the rest are rejected "No valid host",
    counted by reason, and deleted."""
    spec = SimulationSpec(hosts=1, host_vcpus=1, host_ram_mb=2048, seed=1,
                          overrides={"compute": {"cpu_allocation_ratio": 1.0}})  # fmt: skip
    result = Simulation(spec, steady(5)).run()
    assert (result.totals["placed"], result.totals["rejected"]) == (1, 4)
    (reason,) = result.totals["rejected_by"]
    assert reason.startswith("No valid host")
    assert sum(row["rejected"] for row in result.samples) == 4
    assert_conserved(result.totals)
    assert result.audit["clean"]


def test_a_host_that_dies_mid_trace_gets_no_more_servers() -> None:
    """compute1 dies at 600 s and never recovers: once the scheduler sees it down
    (service_down_time after its last report) nothing more is placed there; builds
    sent to it meanwhile never finish and are withdrawn at their departure; its
    servers stay until deleted. The audit can only say it could not check it."""
    spec = SimulationSpec(
        hosts=3, seed=2, scheduler=PACK, report_interval=30, service_down_time=120,
        faults=(HostFailure.once("compute1", 600.0),),
    )  # fmt: skip
    simulation = Simulation(spec, steady(60, lifetime=3000))
    result = simulation.run()
    assert simulation.recorder is not None
    placements = simulation.recorder.placements
    assert max(placements["compute1"]) < 600.0  # packed there until it died ...
    assert min(placements["compute2"]) > 600.0  # ... then onto the next host
    assert result.events == [{"t": 600.0, "event": "host_down", "host": "compute1"}]
    assert 0 < result.totals["withdrawn"] <= 3  # sent to it before it was seen down
    assert_conserved(result.totals)
    assert result.audit["kinds"] == {"unaudited_host": 1}


def test_a_host_that_recovers_takes_servers_again() -> None:
    """A window down then up: the restarted service reports and (emptier than its
    peer, under spreading weighers) is chosen again."""
    spec = SimulationSpec(
        hosts=2, seed=2, scheduler=SPREAD, report_interval=30, service_down_time=120,
        faults=(HostFailure.once("compute1", 600.0, 1800.0),),
    )  # fmt: skip
    simulation = Simulation(spec, steady(60, lifetime=600))
    result = simulation.run()
    assert simulation.recorder is not None
    after = [t for t in simulation.recorder.placements["compute1"] if t > 1800.0]
    assert after, "compute1 was never chosen again after it recovered"
    assert [e["event"] for e in result.events] == ["host_down", "host_up"]
    assert_conserved(result.totals)
    assert result.audit["clean"]


def test_two_weigher_settings_pack_differently() -> None:
    """The same 40 servers on 10 hosts: spreading weighers leave every host a few,
    packing ones fill the first hosts and leave most empty (median host at 0)."""
    arrivals = steady(40)
    spread = Simulation(SimulationSpec(hosts=10, seed=4, scheduler=SPREAD), arrivals).run()
    pack = Simulation(SimulationSpec(hosts=10, seed=4, scheduler=PACK), arrivals).run()
    last_spread, last_pack = spread.samples[-1], pack.samples[-1]
    assert last_spread["vcpu_utilization"] == last_pack["vcpu_utilization"] > 0
    assert last_spread["host_vcpu_utilization_p50"] > 0
    assert last_pack["host_vcpu_utilization_p50"] == 0
    assert last_pack["host_vcpu_utilization_p99"] > last_spread["host_vcpu_utilization_p99"]


def test_stranded_capacity_is_free_room_no_flavor_fits() -> None:
    """A host with vCPUs free but its RAM gone strands those vCPUs."""
    big = [Arrival(arrival=0.0, departure=None, vcpus=1, ram_mb=4096, disk_gb=1)]
    ratios = {"cpu_allocation_ratio": 1.0, "ram_allocation_ratio": 1.0}
    spec = SimulationSpec(hosts=1, host_vcpus=4, host_ram_mb=4096, seed=1,
                          overrides={"compute": ratios})  # fmt: skip
    result = Simulation(spec, big).run()
    assert result.samples[-1]["stranded_vcpus"] == 3.0
    assert result.samples[-1]["stranded_ram_mb"] == 0.0


def test_trace_files_round_trip_and_bad_rows_are_named(tmp_path: Path) -> None:
    arrivals = synthetic(seed=1, hours=0.5, arrivals_per_hour=100)
    path = write_trace(arrivals, tmp_path / "t.csv")
    assert read_trace(path) == arrivals
    cases = {
        "arrival,vcpus,ram_mb\n": "missing column(s) disk_gb",
        "arrival,vcpus,ram_mb,disk_gb,colour\n": "unknown column(s) colour",
        "arrival,vcpus,ram_mb,disk_gb\n0,x,512,1\n": "line 2: column 'vcpus': 'x' is not an int",
        "arrival,vcpus,ram_mb,disk_gb\n0,0,512,1\n": "line 2: column 'vcpus': 0 is below 1",
        "arrival,vcpus,ram_mb,disk_gb\n5,1,512,1\n1,1,512,1\n": "line 3: arrival 1 is before",
        "arrival,lifetime,departure,vcpus,ram_mb,disk_gb\n0,5,6,1,512,1\n": "not both",
        "arrival,departure,vcpus,ram_mb,disk_gb\n10,5,1,512,1\n": "column 'departure'",
        "arrival,vcpus,ram_mb,disk_gb,image_properties\n0,1,512,1,[1]\n": "JSON object",
        "arrival,vcpus,ram_mb,disk_gb\nnan,1,512,1\n": "not finite",
    }
    for text, message in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(TraceError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_trace(bad)


def test_synthetic_workloads_are_seeded_and_bursty_when_asked() -> None:
    steady_load = synthetic(seed=3, hours=4, arrivals_per_hour=600)
    assert steady_load == synthetic(seed=3, hours=4, arrivals_per_hour=600)
    assert steady_load != synthetic(seed=4, hours=4, arrivals_per_hour=600)
    assert 2000 < len(steady_load) < 2800  # Poisson around 2,400
    bursty = synthetic(seed=3, hours=4, arrivals_per_hour=600, burstiness=0.9)
    per_half_hour = [0] * 8
    for a in bursty:
        per_half_hour[int(a.arrival // 1800)] += 1
    assert max(per_half_hour) > 3 * min(per_half_hour)  # peaks and troughs
    short = synthetic(seed=3, hours=4, arrivals_per_hour=600, median_lifetime=300)
    lifetimes = sorted(a.departure - a.arrival for a in short if a.departure is not None)
    median, p99 = lifetimes[len(lifetimes) // 2], lifetimes[int(len(lifetimes) * 0.99)]
    assert 250 < median < 350 and p99 > 10 * median  # log-normal: a heavy tail
    with pytest.raises(Invalid, match="burstiness"):
        synthetic(seed=1, hours=1, arrivals_per_hour=1, burstiness=1.0)


def test_the_azure_packing_trace_schema_is_read(tmp_path: Path) -> None:
    """A miniature file in the Azure packing trace 2020 schema converts to arrivals."""
    path = tmp_path / "packing_trace_zone_a_v1.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE vm (vmId INTEGER, tenantId INTEGER, vmTypeId INTEGER,"
        " priority INTEGER, starttime REAL, endtime REAL);"
        "CREATE TABLE vmType (id INTEGER, vmTypeId INTEGER, machineId INTEGER,"
        " core REAL, memory REAL, hdd REAL, ssd REAL, nic REAL);"
        "INSERT INTO vmType VALUES (1, 10, 0, 0.25, 0.125, 0, 0.01, 0.1),"
        " (2, 10, 1, 0.5, 0.25, 0, 0.02, 0.1), (3, 11, 0, 0.05, 0.02, 0, 0, 0.1);"
        "INSERT INTO vm VALUES (1, 7, 10, 1, -0.5, 0.25), (2, 8, 11, 0, 0.5, NULL),"
        " (3, 7, 10, 1, 0.1, 0.2);"
    )
    db.commit()
    db.close()
    arrivals = read_azure(path, machine=(40, 262144, 2048))
    assert [(a.arrival, a.departure, a.shape, a.project) for a in arrivals] == [
        (0.0, 21600.0, (10, 32768, 20), "7"),  # started before the trace: at 0
        (8640.0, 17280.0, (10, 32768, 20), "7"),
        (43200.0, None, (2, 5243, 0), "8"),  # still alive: no departure
    ]
    with pytest.raises(TraceError, match="not an Azure packing trace"):
        read_azure(SMALL_TRACE)


def test_failures_drawn_by_mtbf_are_seeded_and_ordered() -> None:
    failures = failures_by_mtbf(20, mtbf=3600, mttr=600, end=86400, seed=9)
    assert failures == failures_by_mtbf(20, mtbf=3600, mttr=600, end=86400, seed=9)
    assert failures and all(f.host.startswith("compute") for f in failures)
    for failure in failures:
        ends = [t for window in failure.windows() for t in window if t is not None]
        assert ends == sorted(ends)
    with pytest.raises(Invalid, match="in order"):
        HostFailure("compute1", ((100.0, 50.0),))


def test_the_command_runs_compares_and_writes_results(tmp_path: Path) -> None:
    """`nova-lite simulate --trace ... --compare A B --plot`: two results, a table, a plot."""
    a, b = tmp_path / "spread.toml", tmp_path / "pack.toml"
    a.write_text("[scheduler]\nram_weight_multiplier = 1.0\n")
    b.write_text("[scheduler]\nram_weight_multiplier = -1.0\ncpu_weight_multiplier = -1.0\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "nova_lite.cli", "simulate", "--trace", str(SMALL_TRACE),
         "--hosts", "6", "--compare", str(a), str(b), "--output", str(out), "--plot"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "spread" in done.stdout and "pack" in done.stdout and "audit" in done.stdout
    for label in ("spread", "pack"):
        totals = json.loads((out / f"result-{label}.json").read_text())["totals"]
        assert set(COUNTS) <= set(totals)
        assert_conserved(totals)
    assert (out / "plot.png").read_bytes().startswith(b"\x89PNG")
    assert "simulated h per wall minute" in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "nova_lite.cli", "simulate", "--synthetic", "--trace",
         str(SMALL_TRACE)], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "exactly one of" in bad.stderr


def test_started_is_called_once_the_cloud_runs_before_the_first_arrival() -> None:
    """The hook a process uses to freeze its start-up (`nova_lite.process`): once, with
    the cloud's hosts up and no arrival replayed yet."""
    seen: list[tuple[int, int]] = []
    simulation = Simulation(SimulationSpec(hosts=2, seed=3), steady(3))

    def started() -> None:
        assert simulation.recorder is not None
        seen.append((simulation.recorder.totals["arrivals"], len(simulation.phases)))

    result = simulation.run(started=started)
    assert seen == [(0, 0)]  # no arrival yet, and the start phase not yet ended
    assert result.totals["arrivals"] == 3
    assert_conserved(result.totals)
