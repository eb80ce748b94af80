"""`nova-lite simulate`: broker outages, slow hosts, image properties and server groups."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from nova_lite.exceptions import Invalid
from nova_lite.simulate import (
    Arrival,
    Simulation,
    SimulationSpec,
    TraceError,
    read_trace,
    write_trace,
)
from nova_lite.simulate.faults import BrokerOutage, SlowHost, parse_outage, parse_slow
from nova_lite.simulate.replay import RetryPolicy

SPREAD = {"ram_weight_multiplier": 1.0, "cpu_weight_multiplier": 1.0}
PACK = {"ram_weight_multiplier": -1.0, "cpu_weight_multiplier": -1.0}
# Hosts report every minute and look down after three: an outage longer than that
# leaves every host unheard.
QUICK = SimulationSpec(report_interval=60.0, service_down_time=180.0, power_sync_interval=300.0)


def steady(
    count: int, *, every: float, lifetime: float | None = None, **shape: object
) -> list[Arrival]:
    """`count` one-vCPU servers, one every `every` seconds."""
    return [
        Arrival(
            arrival=i * every,
            departure=None if lifetime is None else i * every + lifetime,
            vcpus=1,
            ram_mb=512,
            disk_gb=1,
            **shape,  # type: ignore[arg-type]
        )
        for i in range(count)
    ]


def assert_conserved(totals: dict[str, int]) -> None:
    assert totals["arrivals"] == totals["placed"] + totals["rejected"] + totals["withdrawn"]
    assert totals["placed"] == totals["departed"] + totals["remaining"]
    assert totals["unsettled"] == 0


def test_a_short_broker_outage_is_ridden_out_with_clean_books() -> None:
    """The bus is away from 900 s to 1200 s while servers arrive every 30 s: the
    creates that meet it are sent again once it is back (one request id, so never
    twice) and placed late, the build it cut short ends in ERROR as interrupted (its
    host records it once the bus is back, or the reconciliation does), and at the end
    every arrival is placed or rejected, every departure deleted, the audit clean;
    twice the same, byte for byte."""
    spec = attrs.evolve(QUICK, hosts=4, seed=1, outages=(BrokerOutage(900.0, 1200.0),))
    arrivals = steady(120, every=30.0, lifetime=600.0)
    simulation = Simulation(spec, arrivals)
    result = simulation.run()
    totals = result.totals
    assert [e["event"] for e in result.events] == ["broker_down", "broker_up"]
    assert totals["retried"] > 0 and totals["bus_refused"] > 0
    assert_conserved(totals)
    assert totals["remaining"] == 0 and totals["strays_deleted"] == 0
    reasons = ("The build was interrupted", "No valid host was found (ComputeFilter)")
    assert all(reason.startswith(reasons) for reason in totals["rejected_by"])
    assert totals["placed"] > 90  # most of the scenario went on
    # The creates that met the outage are sent again when the bus is back: they are
    # placed late, or, when the retry comes before any host has reported since (every
    # host missed service_down_time's worth of reports), refused by the ComputeFilter.
    # Which of the two depends on the order of timers at the bus's return; one must be.
    placed_late = totals["placement_latency_p99"] > 240
    refused_on_return = totals["rejected_by"].get("No valid host was found (ComputeFilter)", 0)
    assert placed_late or refused_on_return > 0
    assert result.audit == {"clean": True, "findings": 0, "kinds": {}}
    assert simulation.recorder is not None
    places = simulation.recorder.placements.values()
    retried_late = [t for times in places for t in times if t > 1200]
    assert retried_late  # placements went on after the outage
    assert Simulation(spec, arrivals).run().to_json() == result.to_json()


def test_an_outage_longer_than_the_client_waits_rejects_what_meets_it() -> None:
    """With a client that gives a create 600 s, an outage of 1,500 s rejects the
    arrivals that meet it early with the bus's error; the rest retry into the
    recovered cloud; the books are clean once the hosts' periodic tasks have run."""
    spec = attrs.evolve(
        QUICK, hosts=4, seed=2, outages=(BrokerOutage(600.0, 2100.0),),
        retry=RetryPolicy(delay=30.0, limit=600.0), end=3600.0,
    )  # fmt: skip
    result = Simulation(spec, steady(80, every=30.0, lifetime=300.0)).run()
    totals = result.totals
    unreachable = [r for r in totals["rejected_by"] if "broker is unreachable" in r]
    assert sum(totals["rejected_by"][r] for r in unreachable) >= 10
    assert totals["placed"] > 20
    assert_conserved(totals)
    assert totals["remaining"] == 0
    assert result.audit["clean"], result.audit


def test_a_slow_host_builds_slower_in_virtual_time() -> None:
    """compute1's hypervisor turns 4 times slower at 300 s: its builds then take 120
    simulated seconds instead of 30; compute2's stay at 30."""
    spec = SimulationSpec(
        hosts=2, seed=1, scheduler=SPREAD, slow_hosts=(SlowHost("compute1", 4.0, 300.0),)
    )
    simulation = Simulation(spec, steady(20, every=60.0))
    result = simulation.run()
    assert simulation.recorder is not None
    placed_at = simulation.recorder.placements
    latency = simulation.recorder.host_latencies
    pairs = list(zip(placed_at["compute1"], latency["compute1"], strict=True))
    before = [lat for t, lat in pairs if t - lat < 300]  # requested before it slowed
    after = [lat for t, lat in pairs if t - lat >= 300]
    assert set(before) == {30.0} and after and set(after) == {120.0}
    assert set(latency["compute2"]) == {30.0}
    assert result.events == [{"t": 300.0, "event": "host_slow", "host": "compute1"}]
    assert result.totals["placement_latency_p99"] == 120.0
    assert result.audit["clean"]


def test_a_slow_window_ends() -> None:
    """A window with an end: the host is normal again afterwards."""
    spec = SimulationSpec(hosts=1, seed=1, slow_hosts=(SlowHost("compute1", 3.0, 0.0, 600.0),))
    simulation = Simulation(spec, steady(12, every=120.0))
    result = simulation.run()
    assert simulation.recorder is not None
    latencies = simulation.recorder.host_latencies["compute1"]
    assert latencies[:5] == [90.0] * 5 and set(latencies[5:]) == {30.0}
    assert [e["event"] for e in result.events] == ["host_slow", "host_normal"]


def test_image_properties_reach_the_image_properties_filter() -> None:
    """An arrival whose image wants aarch64 finds no host (every fake host is x86_64)
    and is rejected naming ImagePropertiesFilter; one that wants x86_64 is placed."""
    arrivals = [
        Arrival(arrival=0.0, departure=None, vcpus=1, ram_mb=512, disk_gb=1,
                image_properties={"hw_architecture": "aarch64"}),
        Arrival(arrival=10.0, departure=None, vcpus=1, ram_mb=512, disk_gb=1,
                image_properties={"hw_architecture": "x86_64"}),
        Arrival(arrival=20.0, departure=None, vcpus=1, ram_mb=512, disk_gb=1,
                image_properties={"hypervisor_type": "qemu"}),
    ]  # fmt: skip
    result = Simulation(SimulationSpec(hosts=2, seed=1), arrivals).run()
    assert result.totals["placed"] == 1
    assert result.totals["rejected_by"] == {"No valid host was found (ImagePropertiesFilter)": 2}
    assert result.audit["clean"]


def test_server_groups_apply_their_policy() -> None:
    """Packing weighers would put everything on one host, but an anti-affinity group
    spreads its members one per host (the fourth on three hosts finds none); an
    affinity group under spreading weighers keeps its members on one host."""
    apart = steady(4, every=10.0, server_group="web", group_policy="anti-affinity")
    simulation = Simulation(SimulationSpec(hosts=3, seed=1, scheduler=PACK), apart)
    result = simulation.run()
    assert simulation.recorder is not None
    assert sorted(len(v) for v in simulation.recorder.placements.values()) == [1, 1, 1]
    assert result.totals["rejected_by"] == {
        "No valid host was found (ServerGroupAntiAffinityFilter)": 1
    }
    together = steady(4, every=10.0, server_group="db", group_policy="affinity")
    simulation = Simulation(SimulationSpec(hosts=3, seed=1, scheduler=SPREAD), together)
    simulation.run()
    assert simulation.recorder is not None
    assert [len(v) for v in simulation.recorder.placements.values()] == [4]
    ungrouped = Simulation(SimulationSpec(hosts=3, seed=1, scheduler=SPREAD), steady(4, every=10.0))
    ungrouped.run()
    assert ungrouped.recorder is not None and len(ungrouped.recorder.placements) == 3


def test_server_group_columns_are_read_checked_and_written(tmp_path: Path) -> None:
    """``NAME[:POLICY]``: anti-affinity by default, one policy per name, bad ones named."""
    good = tmp_path / "groups.csv"
    good.write_text(
        "arrival,vcpus,ram_mb,disk_gb,server_group\n0,1,512,1,web\n1,1,512,1,db:affinity\n"
    )
    arrivals = read_trace(good)
    assert [(a.server_group, a.group_policy) for a in arrivals] == [
        ("web", "anti-affinity"),
        ("db", "affinity"),
    ]
    assert read_trace(write_trace(arrivals, tmp_path / "again.csv")) == arrivals
    cases = {
        "0,1,512,1,web:sideways\n": "not NAME\\[:POLICY\\]",
        "0,1,512,1,:affinity\n": "not NAME",
        "0,1,512,1,web:affinity\n1,1,512,1,web:anti-affinity\n": "line 3.*is affinity",
    }
    for rows, message in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text("arrival,vcpus,ram_mb,disk_gb,server_group\n" + rows)
        with pytest.raises(TraceError, match=message):
            read_trace(bad)


def test_fault_texts_parse_and_bad_ones_are_named() -> None:
    assert parse_outage("3600-3900") == BrokerOutage(3600.0, 3900.0)
    assert parse_slow("compute3:4") == SlowHost("compute3", 4.0)
    assert parse_slow("compute3:2.5@60-120") == SlowHost("compute3", 2.5, 60.0, 120.0)
    for text in ("3600", "a-b", "900-100"):
        with pytest.raises(Invalid, match="outage"):
            parse_outage(text)
    for text in ("compute3", "compute3:x", ":4", "compute3:0", "compute3:2@50-10"):
        with pytest.raises(Invalid, match="Slow host"):
            parse_slow(text)
