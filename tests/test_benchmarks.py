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

from benchmarks import plot, spans
from benchmarks.boot import BootSpec, boot_run
from benchmarks.common import Figure, write_results
from benchmarks.contenders import BareAioPika, BareAsyncio, Contender, NovaLite, Workload
from benchmarks.oslo import OsloMessaging, oslo_missing
from benchmarks.restart import RestartSpec, restart_run
from benchmarks.rpc import run_rpc
from benchmarks.scale import ScaleSpec, run_scale
from benchmarks.scheduler import SchedulerSpec, run_scheduler
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
    """The scheduler scenario gives decisions/s, latency and memory per host count."""
    spec = SchedulerSpec(hosts=(5, 20), decisions=15, duration=5.0)
    results = await run_scheduler(spec, runs=2)
    assert set(results) == {5, 20}
    for figures in results.values():
        _positive(figures)
        assert figures["decisions"].runs == (15.0, 15.0)


async def test_scale_scenario_checks_capacity_in_a_child_process() -> None:
    """A tiny scale run boots every server and finds no host oversubscribed."""
    progress: list[int] = []
    figures, raw = await run_scale(
        ScaleSpec(hosts=3, servers=12, batch=4, timeout=60), runs=1, advance=progress.append
    )
    assert sum(progress) == 12
    assert figures["not_active"].runs == (0.0,)
    assert figures["peak_rss_mib"].median > 0
    assert raw[0]["checks"] == {
        "oversubscribed_by_claims": 0, "oversubscribed_by_guests": 0,
        "claims_guests_disagree": 0, "guests": 12,
    }  # fmt: skip


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
