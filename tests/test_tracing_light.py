"""The light tracer: cheap spans of the OpenTelemetry API, exported in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from nova_lite.tracing import light, propagation, shipping
from nova_lite.tracing.exporters import JsonLinesExporter, MemoryExporter, span_record
from nova_lite.tracing.hops import Row
from nova_lite.tracing.light import LightSpan, LightTracer
from nova_lite.tracing.records import readable


def tracer(ratio: float = 1.0) -> tuple[LightTracer, MemoryExporter]:
    exporter = MemoryExporter()
    return LightTracer(exporter, Resource.create({"service.name": "t"}), ratio=ratio), exporter


def remote(sampled: bool) -> trace.Span:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return NonRecordingSpan(SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=flags))


async def test_finished_spans_wait_for_their_batch() -> None:
    """Spans reach the exporter together, on a flush, with their parents and attributes."""
    light_tracer, exporter = tracer()
    with (
        light_tracer.start_as_current_span("outer", attributes={"a": 1, "none": None}),
        light_tracer.start_as_current_span("inner") as inner,
    ):
        inner.set_attribute("b", "two")
    assert exporter.spans() == []  # waiting, a flush is due shortly
    light_tracer.flush()
    inner_span, outer_span = exporter.spans()
    assert (inner_span.name, outer_span.name) == ("inner", "outer")
    assert inner_span.parent == outer_span.context
    assert outer_span.parent is None
    assert dict(outer_span.attributes or {}) == {"a": 1}
    assert dict(inner_span.attributes or {}) == {"b": "two"}
    assert inner_span.resource.attributes["service.name"] == "t"


async def test_a_full_batch_is_exported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once `BATCH` spans wait, they are exported without waiting for the timer."""
    monkeypatch.setattr(shipping, "BATCH", 3)
    light_tracer, exporter = tracer()
    for name in ("one", "two"):
        light_tracer.start_span(name).end()
    assert exporter.spans() == []
    light_tracer.start_span("three").end()
    assert [span.name for span in exporter.spans()] == ["one", "two", "three"]


async def test_the_delayed_flush_exports_what_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A span waits at most `FLUSH_DELAY`: a timer exports the batch."""
    monkeypatch.setattr(shipping, "FLUSH_DELAY", 0)
    exported = asyncio.Event()

    class Heard(MemoryExporter):
        def export_light(self, spans: Sequence[LightSpan | Row]) -> None:
            exported.set()
            super().export_light(spans)

    exporter = Heard()
    light_tracer = LightTracer(exporter, Resource.create({}))
    light_tracer.start_span("late").end()
    assert exporter.spans() == []
    await asyncio.wait_for(exported.wait(), 5)
    assert [span.name for span in exporter.spans()] == ["late"]


def test_sampling_follows_the_parent_and_the_ratio() -> None:
    """New traces are recorded at the ratio; continued ones as their sender decided."""
    never, exporter = tracer(ratio=0.0)
    root = never.start_span("root")
    assert not root.is_recording()
    assert root.get_span_context().is_valid  # it still carries a trace on
    sampled = never.start_span("child", context=trace.set_span_in_context(remote(True)))
    dropped = never.start_span("child", context=trace.set_span_in_context(remote(False)))
    assert sampled.is_recording() and not dropped.is_recording()
    assert sampled.get_span_context().trace_id == 0xABC
    for span in (root, sampled, dropped):
        span.end()
    never.flush()
    assert [span.name for span in exporter.spans()] == ["child"]


def test_an_exception_marks_the_span() -> None:
    """A span left by an exception has an error status and an exception event."""
    light_tracer, exporter = tracer()
    with pytest.raises(KeyError), light_tracer.start_as_current_span("failing"):
        raise KeyError("missing")
    light_tracer.flush()
    [span] = exporter.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes is not None
    assert span.events[0].attributes["exception.type"] == "KeyError"


def test_shutdown_exports_what_waits_and_then_nothing() -> None:
    """Shutting down flushes the batch; spans ended later are dropped."""
    light_tracer, exporter = tracer()
    light_tracer.start_span("before").end()
    light_tracer.shutdown()
    light_tracer.start_span("after").end()
    light_tracer.flush()
    assert [span.name for span in exporter.spans()] == ["before"]


def test_bridged_spans_nest_with_another_instrumentation_both_ways() -> None:
    """Bridged, an SDK tracer's span inside a light span is its child, and the reverse."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    theirs = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(theirs))
    exporter = MemoryExporter()
    bridged = LightTracer(exporter, Resource.create({}), bridge=True)
    with (
        bridged.start_as_current_span("ours"),
        provider.get_tracer("other").start_as_current_span("theirs"),
        bridged.start_as_current_span("ours inside"),
    ):
        pass
    bridged.flush()
    inner, outer = exporter.spans()
    [foreign] = theirs.get_finished_spans()
    assert foreign.parent is not None and outer.context is not None
    assert foreign.parent.span_id == outer.context.span_id
    assert inner.parent is not None and foreign.context is not None
    assert inner.parent.span_id == foreign.context.span_id
    assert inner.context is not None and inner.context.trace_id == outer.context.trace_id


def test_not_bridged_the_current_span_is_nova_lites_own() -> None:
    """Without a bridge a light span is current in nova_lite's variable, not OpenTelemetry's."""
    light_tracer, _ = tracer()
    assert not light_tracer.bridge  # no global provider set in the tests
    with light_tracer.start_as_current_span("ours") as span:
        assert light.current_span() is span
        assert light.where() == ("", "")
        assert not trace.get_current_span().get_span_context().is_valid
    assert light.CURRENT.get() is None


def test_a_background_exporter_gets_sdk_spans_from_a_thread() -> None:
    """An SDK exporter behind the shipper thread gets ReadableSpans; a failure is survived."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    class FailingOnce(InMemorySpanExporter):
        failed = False

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            if not self.failed:
                self.failed = True
                raise OSError("collector away")
            return super().export(spans)

    exporter = FailingOnce()
    background = LightTracer(exporter, Resource.create({}), background=True)
    background.start_span("lost").end()
    background.force_flush()  # the first batch meets the failure
    with background.start_as_current_span("parent"):
        background.start_span("child").end()
    background.force_flush()
    child, parent = exporter.get_finished_spans()
    assert (child.name, parent.name) == ("child", "parent")
    assert child.parent is not None and parent.context is not None
    assert child.parent.span_id == parent.context.span_id
    background.shutdown()


def test_a_shipper_too_far_behind_drops_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond MAX_WAITING queued spans a new batch is dropped, and counted."""
    monkeypatch.setattr(shipping, "MAX_WAITING", 2)
    shipper = shipping.Shipper(MemoryExporter())
    light_tracer, _ = tracer()
    spans = [light_tracer.start_span(str(i)) for i in range(3)]
    shipper.put(spans)
    assert shipper.dropped == 3
    shipper.shutdown()


def test_the_file_line_is_the_record_of_the_sdk_span(tmp_path: Path) -> None:
    """A span written as it ends has the record `span_record` makes of its SDK span."""
    exporter = JsonLinesExporter(tmp_path / "t.jsonl")
    light_tracer = LightTracer(exporter, Resource.create({"service.name": "svc"}))
    with (
        light_tracer.start_as_current_span("outer", kind=SpanKind.SERVER) as outer,
        light_tracer.start_as_current_span("inner", attributes={"n": 1}) as inner,
    ):
        inner.set_status(StatusCode.OK)
    light_tracer.shutdown()
    written = [orjson.loads(line) for line in (tmp_path / "t.jsonl").read_bytes().splitlines()]
    assert isinstance(inner, LightSpan) and isinstance(outer, LightSpan)
    assert written == [span_record(readable(inner)), span_record(readable(outer))]
    assert written[0]["parent_id"] == written[1]["span_id"]
    assert (written[0]["status"], written[1]["kind"], written[1]["service"]) == (
        "OK",
        "SERVER",
        "svc",
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("00-" + "ab" * 16 + "-" + "cd" * 8 + "-01", ("ab" * 16, "cd" * 8, True)),
        ("00-" + "ab" * 16 + "-" + "cd" * 8 + "-00", ("ab" * 16, "cd" * 8, False)),
        ("00-" + "ab" * 16 + "-" + "cd" * 8 + "-03", ("ab" * 16, "cd" * 8, True)),
        ("00-" + "0" * 32 + "-" + "cd" * 8 + "-01", None),
        ("00-" + "ab" * 16 + "-" + "0" * 16 + "-01", None),
        ("00-" + "AB" * 16 + "-" + "cd" * 8 + "-01", None),
        ("00-zz-yy-01", None),
        ("01-" + "ab" * 16 + "-" + "cd" * 8 + "-01-future", ("ab" * 16, "cd" * 8, True)),
    ],
)
def test_a_traceparent_is_read_as_w3c_says(
    header: str, expected: tuple[str, str, bool] | None
) -> None:
    """Version 00 by the fast path, a later version by the API's propagator, bad ones not at all."""
    found = propagation.remote({"traceparent": header})
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.is_remote
        assert (found.trace_id, found.span_id, found.sampled) == expected


def test_trace_ids_come_from_a_pool_of_their_own_never_all_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`new_trace_id` pops 32 lowercase hex digits from its own pool, refilled when
    empty; an all-zero draw (invalid in W3C) is left out of the pool."""
    light._trace_pool.clear()
    draw = bytes(16) + bytes(range(1, 17)) + bytes(16 * (light._ID_POOL - 3)) + b"\xff" * 16
    monkeypatch.setattr("nova_lite.tracing.light.os.urandom", lambda n: draw[:n])
    first = light.new_trace_id()
    assert first == "f" * 32  # popped from the end
    assert len(light._trace_pool) == 1  # every all-zero id left out
    assert light.new_trace_id() == bytes(range(1, 17)).hex()
    monkeypatch.undo()
    ids = {light.new_trace_id() for _ in range(3 * light._ID_POOL)}  # two refills
    assert len(ids) == 3 * light._ID_POOL
    assert all(len(i) == 32 and int(i, 16) and i == i.lower() for i in ids)
