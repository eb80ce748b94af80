"""The light tracer: cheap spans of the OpenTelemetry API, exported in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags

from nova_lite.tracing import shipping
from nova_lite.tracing.exporters import MemoryExporter
from nova_lite.tracing.light import LightSpan, LightTracer


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
        def export_light(self, spans: Sequence[LightSpan]) -> None:
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
