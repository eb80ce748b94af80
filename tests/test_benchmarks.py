"""Smoke tests of the benchmark harness: every scenario runs at a tiny size.

They pin that the harness does not rot as nova_lite changes; they assert that the
figures exist and make sense, never how fast anything is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks import plot, scale, spans
from benchmarks.boot import BootSpec, boot_run, run_boot_modes
from benchmarks.cli import main as bench_main
from benchmarks.common import Figure, write_results
from benchmarks.contenders import BareAioPika, BareAsyncio, Contender, NovaLite, Workload
from benchmarks.oslo import OsloMessaging, oslo_missing
from benchmarks.restart import RestartSpec, restart_run
from benchmarks.rpc import run_rpc
from benchmarks.scale import ScaleSpec, run_scale
from benchmarks.scheduler import SchedulerSpec, run_scheduler
from benchmarks.simulate import delete_hops
from nova_lite.cli import main as nova_lite_main
from nova_lite.testing import PrivateRabbitMQ, TransportFactory

TINY = Workload(count=40, latency_count=10, concurrency=(1, 4))


def _positive(figures: dict[str, Figure]) -> None:
    for key, figure in figures.items():
        assert figure.runs, key
        assert all(value > 0 for value in figure.runs), (key, figure)


async def test_rpc_scenario_measures_every_contender(broker: TransportFactory) -> None:
    """The rpc scenario gives each contender latency, call and cast figures, and ratios."""
    contenders: list[Contender] = [BareAsyncio()]
    if broker.kind == "memory":
        contenders.append(NovaLite("memory://"))
    else:
        contenders += [BareAioPika(broker.url), NovaLite(broker.url)]
    results = await run_rpc(contenders, runs=2, workload=TINY)
    assert set(results.figures) == {c.name for c in contenders}
    for figures in results.figures.values():
        assert set(figures) == {
            "p50_us", "p95_us", "p99_us", "calls_per_s@1", "calls_per_s@4", "casts_per_s",
        }  # fmt: skip
        assert all(len(f.runs) == 2 for f in figures.values())
        _positive(figures)
    assert results.ratios and not results.skipped


async def test_rpc_scenario_measures_nova_lite_with_telemetry_on_against_off() -> None:
    """Each --observe mode is a contender of its own, with its same-run ratio against off."""
    modes = ("off", "metrics", "tracing", "both", "unhooked")
    results = await run_rpc(
        [NovaLite("memory://", observe=m) for m in modes], runs=1, workload=TINY
    )
    assert set(results.figures) == {"nova_lite memory"} | {
        f"nova_lite memory +{m}" for m in modes[1:]
    }
    for mode in modes[1:-1]:
        ratio = results.ratios[f"nova_lite memory +{mode} / nova_lite memory casts_per_s"]
        assert ratio.median > 0
    assert results.ratios["nova_lite memory / nova_lite memory +unhooked casts_per_s"].median > 0


def test_bench_observe_compares_call_latency_in_alternating_blocks(tmp_path: Path) -> None:
    """``bench observe`` prints each mode's per-block latency, CPU and ratios; writes JSON."""
    result = CliRunner().invoke(
        bench_main,
        ["observe", "--blocks", "2", "--calls", "5", "--observe", "unhooked",
         "--observe", "off", "--output", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [written] = tmp_path.glob("observe-*.json")
    figures = json.loads(written.read_text())["figures"]
    assert set(figures) == {"unhooked", "off"}
    assert figures["unhooked"]["ratio"]["median"] == 1.0
    assert figures["unhooked"]["cpu_ratio"]["median"] == 1.0
    assert figures["off"]["cpu_us"]["median"] > 0


def test_bench_observe_at_concurrency_gives_calls_per_s_and_cpu_per_call(tmp_path: Path) -> None:
    """``bench observe --concurrency`` runs blocks with calls in flight, modes alternating:
    each mode's calls/s and CPU per call, their ratios over the first mode."""
    result = CliRunner().invoke(
        bench_main,
        ["observe", "--blocks", "2", "--calls", "16", "--concurrency", "4", "--observe", "off",
         "--observe", "tracing", "--output", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 in flight" in result.output
    [written] = tmp_path.glob("observe-*.json")
    data = json.loads(written.read_text())
    assert data["config"]["concurrency"] == 4
    figures = data["figures"]
    assert set(figures) == {"off", "tracing"}
    assert figures["off"]["cpu_ratio"]["median"] == 1.0
    for mode in ("off", "tracing"):
        assert len(figures[mode]["calls_per_s"]["runs"]) == 2
        assert figures[mode]["calls_per_s"]["median"] > 0
        assert figures[mode]["cpu_us"]["median"] > 0
    assert "p50_us" not in figures["tracing"]


async def test_boot_scenario_interleaves_telemetry_modes() -> None:
    """Boot runs under each mode, one after the other, every server ACTIVE in each."""
    spec = BootSpec(servers=3, hosts=1, batch=3, transport_url="memory://", timeout=60)
    by_mode = await run_boot_modes(spec, ("unhooked", "off", "both"), runs=1)
    for figures, results in by_mode.values():
        assert [r.active for r in results] == [3]
        _positive({"servers_per_s": figures["servers_per_s"]})


async def test_rpc_throughput_can_be_bounded_by_duration() -> None:
    """With a duration, a call-throughput measurement runs for that long, not a count."""
    results = await run_rpc(
        [BareAsyncio()], runs=1, workload=Workload(duration=0.05, latency_count=5, count=10)
    )
    assert results.figures["bare asyncio (floor)"]["calls_per_s@1"].median > 0


@pytest.mark.rabbitmq
async def test_oslo_messaging_contender_runs_over_rabbitmq(rabbitmq_url: str) -> None:
    """oslo.messaging, in its child process, answers the same workloads over RabbitMQ."""
    missing = oslo_missing()
    if missing:
        pytest.skip(missing)
    results = await run_rpc([OsloMessaging(rabbitmq_url, pool_size=8)], runs=1, workload=TINY)
    assert not results.skipped, results.skipped
    _positive(results.figures["oslo.messaging"])


async def test_boot_scenario_boots_and_breaks_time_into_stages(
    broker: TransportFactory,
) -> None:
    """A tiny boot run makes every server ACTIVE and times each stage of its boot."""
    spec = BootSpec(servers=6, hosts=2, batch=3, transport_url=broker.url, timeout=60)
    result = await boot_run(spec, transport=await broker.connect())
    assert (result.active, result.failed) == (6, 0)
    assert set(result.stages_ms) == set(spans.STAGES)
    assert all(ms >= 0 for ms in result.stages_ms.values())
    assert result.stages_ms["total"] >= result.stages_ms["compute"]


async def test_boot_scenario_counts_hops_per_boot(broker: TransportFactory) -> None:
    """A counted run splits each boot's messages by kind, topic and method, and its
    SQLite statements by service, divided by the servers booted."""
    spec = BootSpec(servers=4, hosts=2, batch=2, transport_url=broker.url, timeout=60, hops=True)
    transport = await broker.connect()
    result = await boot_run(spec, transport=transport)
    assert (result.active, result.failed) == (4, 0)
    hops = result.hops
    assert hops is not None and hops["servers"] == 4
    methods = hops["messages_by_method"]
    # Each create call of two is placed with one scheduler call; each build is cast
    # to one compute host once.
    assert methods["call scheduler.select_destinations_batch"] == 0.5
    assert "call scheduler.select_destinations" not in methods
    assert methods["cast compute.build_and_run_instance"] == 1.0
    calls = sum(v for k, v in methods.items() if k.startswith("call "))
    assert methods.get("reply") == pytest.approx(calls), methods  # every call answered once
    assert hops["messages_per_boot"] == pytest.approx(sum(methods.values()), abs=0.05)
    assert {"conductor", "network"} <= set(hops["statements_by_database"])
    assert hops["statements_per_boot"] > 0
    assert "publish" not in vars(transport)  # the counter is gone with the run


def test_simulate_counts_what_one_server_delete_costs() -> None:
    """The per-delete count: each delete is cast to its host once, the host does not
    read the record the cast carries, asks for the server's volumes once, and every
    service's statements are counted."""
    hops = delete_hops(servers=4)
    methods = hops["messages_by_method"]
    assert methods["cast compute.terminate_instance"] == 1.0
    for call in ("conductor.instance_destroy", "network.deallocate_for_instance",
                 "volume.list", "scheduler.release"):  # fmt: skip
        assert methods[f"call {call}"] == 1.0, methods
    # One read: the API's (the host takes the cast's record, compute 1.1).
    assert methods["call conductor.instance_get"] == 1.0
    assert hops["messages_per_delete"] == pytest.approx(sum(methods.values()), abs=0.05)
    assert {"conductor", "network", "scheduler", "volume"} <= set(hops["statements_by_database"])


async def test_boot_scenario_can_pace_its_requests() -> None:
    """With an in-flight limit, every server still boots, a batch at a time."""
    spec = BootSpec(servers=6, hosts=2, batch=2, in_flight=2, timeout=60)
    result = await boot_run(spec)
    assert (result.active, result.failed) == (6, 0)


async def test_boot_scenario_counts_failed_builds_with_their_fault() -> None:
    """Builds that end in ERROR end the wait too, counted by their fault message."""
    spec = BootSpec(
        servers=3, hosts=1, batch=3, timeout=60,
        overrides={"fake_driver": {"fail_spawn_names": "^bench"}},
    )  # fmt: skip
    result = await boot_run(spec)
    assert (result.active, result.failed) == (0, 3)
    assert sum(result.failures.values()) == 3


def test_stage_times_pair_each_instance_s_marks() -> None:
    """Stage durations are taken per instance, from its first start to its last end."""
    marks = [
        spans.Mark(0.0, spans.CREATE, "a", None),
        spans.Mark(1.0, spans.SCHEDULING, "a", "req-1"),
        spans.Mark(3.0, spans.SELECTED, "a", "req-1"),
        spans.Mark(4.0, spans.BUILD_START, "a", "req-1"),
        spans.Mark(5.0, spans.BUILD_START, "a", "req-1"),  # a reschedule's second start
        spans.Mark(9.0, spans.BUILD_DONE, "a", "req-1"),
    ]
    assert spans.stage_times(marks) == {
        "api": [1.0], "scheduler": [2.0], "conductor": [1.0], "compute": [5.0], "total": [9.0],
    }  # fmt: skip


async def test_scheduler_scenario_scales_over_host_counts() -> None:
    """The scheduler scenario gives decisions/s beside the exhaustive reference's, latency,
    memory and the quality figures per host count; no sampled refusal left a fitting host.
    """
    spec = SchedulerSpec(hosts=(5, 300), decisions=15, duration=5.0, quality_every=2)
    results = await run_scheduler(spec, runs=2)
    assert set(results) == {5, 300}
    speed = ("decisions_per_s", "exhaustive_per_s", "speedup", "p99_ms", "cpu_us",
             "registrations_per_s", "peak_rss_mib", "scored", "hosts_used")  # fmt: skip
    for figures in results.values():
        _positive({key: figures[key] for key in speed})
        assert figures["decisions"].runs == figures["exhaustive_decisions"].runs == (15.0, 15.0)
        assert figures["refused_though_fitted"].runs == figures["invalid_picks"].runs == (0, 0)
        assert figures["compared"].runs == (15.0, 15.0)
    assert results[300]["scored"].median == 100  # min_hosts_to_score: a sample of 300


async def test_a_profiled_scheduler_run_reports_its_top_entries() -> None:
    """With profile, the first run of each host count is profiled and its entries returned."""
    spec = SchedulerSpec(hosts=(10,), decisions=5, duration=5.0, profile=True)
    profiles: dict[int, str] = {}
    results = await run_scheduler(spec, runs=1, profiles=profiles)
    assert "select_destinations" in profiles[10] or "%" in profiles[10]
    assert results[10]["decisions"].runs == (5.0,)


async def test_scale_scenario_checks_capacity_in_a_child_process() -> None:
    """A tiny scale run boots every server and finds no host oversubscribed."""
    progress: list[int] = []
    figures, raw = await run_scale(
        ScaleSpec(hosts=3, servers=12, batch=4, timeout=60), runs=1, advance=progress.append
    )
    assert sum(progress) == 12
    assert figures["not_active"].runs == (0.0,)
    assert figures["peak_rss_mib"].median > 0
    assert figures["rss_per_host_kib"].median >= 0  # a peak: 3 hosts may not raise it
    assert figures["rss_per_server_kib"].median >= 0
    assert raw[0]["checks"] == {
        "oversubscribed_by_claims": 0, "oversubscribed_by_guests": 0,
        "claims_guests_disagree": 0, "guests": 12,
    }  # fmt: skip


def _raw_run(failed: int, failures: dict[str, int], **checks: int) -> dict[str, Any]:
    capacity = {"oversubscribed_by_claims": 0, "oversubscribed_by_guests": 0,
                "claims_guests_disagree": 0, "guests": 10 - failed, **checks}  # fmt: skip
    return {
        "seconds": 1.0, "startup_seconds": 1.0, "active": 10 - failed, "failed": failed,
        "stages_ms": {}, "checks": capacity, "failures": failures, "peak_rss_mib": 1.0,
    }  # fmt: skip


def test_scale_fails_when_any_server_is_not_active_and_prints_its_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bench scale`` exits 1 naming each failed run's faults by message with counts."""
    raw = [
        _raw_run(0, {}),
        _raw_run(3, {"Timed out after 60s waiting for a reply to 'bind_port'": 2, "No host": 1}),
        _raw_run(0, {}, oversubscribed_by_claims=1),
    ]

    async def fake_run_scale(spec: ScaleSpec, *, runs: int, advance: Any) -> Any:
        return {"not_active": Figure("not ACTIVE", "servers", (0.0, 3.0, 0.0))}, raw

    monkeypatch.setattr("benchmarks.scale.run_scale", fake_run_scale)
    result = CliRunner().invoke(
        nova_lite_main, ["bench", "scale", "--runs", "3", "--output", str(tmp_path)]
    )
    assert result.exit_code == 1, result.output
    assert "run 2: 3 of 10 not ACTIVE (2 x Timed out after 60s waiting for a reply to " in (
        result.output
    )
    assert "'bind_port'; 1 x No host)" in result.output
    assert "run 3: 0 of 10 not ACTIVE; oversubscribed_by_claims=1" in result.output
    assert "run 1" not in result.output.split("FAILED")[1]
    assert scale.problems([_raw_run(0, {})]) == []


async def test_restart_scenario_counts_servers_across_a_broker_restart(
    private_rabbitmq: PrivateRabbitMQ,
) -> None:
    """The restart scenario boots across a restart of a private node and counts the outcome.

    (The fixture only proves a node can start here; each run starts a node of its own.)
    """
    spec = RestartSpec(servers=10, hosts=1, outage=0.5, spawn_delay=0.0, bound=60.0)
    run = await restart_run(spec, lambda _: None)
    assert run["stuck"] == 0 and run["hidden_successes"] == 0
    assert run["active"] + run["error"] + run["create_errors"] == 10
    assert run["seconds_to_rest"] >= 0


@pytest.mark.parametrize(
    ("scenario", "results"),
    [
        ("rpc", {"config": {"concurrency": [1, 8]}, "figures": {"x": {
            "calls_per_s@1": {"median": 2, "min": 1, "max": 3},
            "calls_per_s@8": {"median": 5, "min": 4, "max": 6}}}}),
        ("scheduler", {"figures": {"100": {"decisions_per_s": {"median": 9, "min": 8, "max": 9}}}}),
        ("boot", {"figures": {"memory": {"api_ms": {"median": 1.0}, "compute_ms": {"median": 2}}}}),
        ("scale", {"config": {"servers": 10, "hosts": 2}, "figures": {
            "startup_seconds": {"median": 1, "min": 1, "max": 1},
            "boot_seconds": {"median": 2, "min": 2, "max": 3},
            "peak_rss_mib": {"median": 90, "min": 90, "max": 90}}}),
    ],
)  # fmt: skip
def test_every_scenario_plots_to_a_png(
    tmp_path: Path, scenario: str, results: dict[str, Any]
) -> None:
    """Each scenario's results draw to a PNG file."""
    pytest.importorskip("matplotlib")
    path = plot.plot_results({"scenario": scenario, **results}, tmp_path / "chart.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_results_file_holds_figures_configuration_and_machine(tmp_path: Path) -> None:
    """A result file records the figures with their runs, the configuration and the machine."""
    path = write_results(
        "demo", {"config": {"runs": 2}, "figures": {"a": Figure("a", "1/s", (1.0, 3.0))}}, tmp_path
    )
    data = json.loads(path.read_text())
    assert data["figures"]["a"] == {
        "name": "a", "unit": "1/s", "median": 2.0, "min": 1.0, "max": 3.0, "runs": [1.0, 3.0],
    }  # fmt: skip
    assert data["config"] == {"runs": 2}
    assert {"python", "cpus", "versions", "platform"} <= set(data["machine"])


def test_nova_lite_bench_runs_a_scenario_and_writes_results(tmp_path: Path) -> None:
    """``nova-lite bench scheduler`` prints its table and writes a JSON result file."""
    result = CliRunner().invoke(
        nova_lite_main,
        ["bench", "scheduler", "--runs", "1", "--count", "5", "--hosts", "3",
         "--output", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Scheduler" in result.output
    (written,) = tmp_path.glob("scheduler-*.json")
    assert json.loads(written.read_text())["figures"]["3"]["decisions"]["runs"] == [5.0]
