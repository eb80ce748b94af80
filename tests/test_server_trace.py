"""``nova-lite server trace``'s timeline: actions, events and spans in order, and a PNG."""

from __future__ import annotations

from pathlib import Path

from nova_lite import objects
from nova_lite.testing import CloudFactory, NotificationTap
from nova_lite.tracing.exporters import span_record
from nova_lite.tracing.timeline import build_timeline, read_span_file, rows, swimlanes


async def test_a_build_timeline_has_the_action_and_every_service_in_order(
    memory_clouds: CloudFactory, tmp_path: Path
) -> None:
    """The create action, the scheduler's decision and each build stage, in time order."""
    cloud = await memory_clouds.start(computes=1, tracing={"exporter": "memory"})
    tap = await NotificationTap.attach(cloud)
    session = await cloud.login_admin()
    [server] = await session.servers.create("traced", flavor="m1.tiny", image="cirros")
    await tap.wait_event(server.id, "instance.create.end")
    converter = objects.serializer().converter
    actions = [converter.unstructure(a) for a in await session.servers.actions(server.id)]
    await cloud.stop()
    assert cloud.telemetry.tracing is not None
    spans = [span_record(s) for s in cloud.telemetry.tracing.spans()]

    steps = build_timeline(server.id, actions, spans)
    whats = [s.what for s in steps]
    assert "action create" in whats
    stages = [w for w in whats if w.startswith("build ")]
    assert stages == [  # no block_device_mapping stage: the server has no volume to map
        "build networking (internal)",
        "build spawning (internal)",
        "build active (internal)",
    ]
    assert whats.index("scheduler decision (internal)") < whats.index(stages[0])
    assert {s.lane for s in steps} >= {"api", "scheduler@control1", "compute@compute1"}
    table = rows(steps)
    assert table[0]["at_ms"] == 0.0
    assert all(r["took_ms"] is not None for r in table if r["source"] == "span")
    png = swimlanes(steps, tmp_path / "trace.png", title="traced")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_span_file_with_a_cut_line_is_read_without_it(tmp_path: Path) -> None:
    """A line a writer was cut off in is skipped; whole lines are read."""
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b'{"trace_id": "a", "name": "x"}\n{"trace_id": "b", "na')
    assert read_span_file(path) == [{"trace_id": "a", "name": "x"}]
