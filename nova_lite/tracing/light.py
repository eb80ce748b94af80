"""A cheap OpenTelemetry tracer: spans as small records, exported in batches.

The SDK's tracer costs tens of microseconds a span (a sampler call, a span object
with its own lock and bounded attributes, a processor on start and on end, and with
the simple processor an export per span): more than an in-memory RPC call costs
whole. `LightTracer` implements the OpenTelemetry API's `Tracer` (so every hook,
``trace.use_span`` and the W3C propagation work unchanged): a span is a slotted
record, its ids come from `random.getrandbits`, and a finished span joins a buffer
that is turned into the SDK's `ReadableSpan`\\s and handed to the exporter in one
batch, at most `FLUSH_DELAY` seconds later (or once `BATCH` spans wait, or on
`flush`); a slow or remote exporter (``background``) gets them through the SDK's
`BatchSpanProcessor`, which exports from a thread of its own.

Sampling is the SDK's ``ParentBased(TraceIdRatioBased(ratio))``: a trace continued
from a sender is recorded when the sender recorded it, a new one with probability
`ratio` (decided by its trace id, as the SDK does); a span not recorded is a
`NonRecordingSpan` that still carries the trace on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
    from opentelemetry.util.types import Attributes

__all__ = ["BATCH", "FLUSH_DELAY", "LightSpan", "LightTracer"]

#: Seconds a finished span may wait in the buffer before it is exported.
FLUSH_DELAY = 0.05
#: Spans waiting that make the buffer export at once.
BATCH = 512

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_UNSET = Status(StatusCode.UNSET)
_ID_BOUND = 1 << 64


class LightSpan(trace.Span):
    """A recording span of a `LightTracer`: what the exporter needs, nothing more."""

    __slots__ = (
        "_tracer",
        "attributes",
        "context",
        "end_time",
        "events",
        "kind",
        "name",
        "parent",
        "start_time",
        "status",
    )

    def __init__(
        self,
        tracer: LightTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: Attributes,
        start_time: int | None,
    ) -> None:
        self._tracer = tracer
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self.attributes: dict[str, Any] = {}
        self.events: list[Any] = []
        self.status = _UNSET
        self.start_time = start_time if start_time is not None else time.time_ns()
        self.end_time: int | None = None
        if attributes:
            self.set_attributes(attributes)

    def __repr__(self) -> str:
        return f"<LightSpan {self.name} {self.context.span_id:016x}>"

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attribute(self, key: str, value: Any) -> None:
        if value is not None and self.end_time is None:
            self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self.end_time is None:
            for key, value in attributes.items():
                if value is not None:
                    self.attributes[key] = value

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        from opentelemetry.sdk.trace import Event

        if self.end_time is None:
            self.events.append(Event(name, attributes, timestamp or time.time_ns()))

    def update_name(self, name: str) -> None:
        self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if self.end_time is None and self.status.status_code is not StatusCode.OK:
            self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        details = {
            "exception.type": type(exception).__qualname__,
            "exception.message": str(exception),
            "exception.escaped": str(escaped),
        }
        self.add_event("exception", {**details, **(attributes or {})}, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is None:
            self.end_time = end_time if end_time is not None else time.time_ns()
            self._tracer.finished(self)


class LightTracer(trace.Tracer):
    """Makes `LightSpan`\\s and exports them in batches to one SDK exporter."""

    def __init__(
        self,
        exporter: SpanExporter,
        resource: Resource,
        *,
        ratio: float = 1.0,
        background: bool = False,
        name: str = "nova_lite",
    ) -> None:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.exporter = exporter
        self._background: BatchSpanProcessor | None = (
            BatchSpanProcessor(exporter) if background else None
        )
        self.resource = resource
        self.ratio = ratio
        self._bound = int(ratio * _ID_BOUND)  # as the SDK's TraceIdRatioBased
        self._scope = InstrumentationScope(name)
        self._done: list[LightSpan] = []
        self._flushing: asyncio.TimerHandle | None = None
        self._open = True

    def __repr__(self) -> str:
        return f"<LightTracer ratio={self.ratio} waiting={len(self._done)}>"

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Any = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        found = trace.get_current_span(context).get_span_context()
        parent: SpanContext | None = found
        if found.is_valid:
            trace_id = found.trace_id
            sampled = found.trace_flags.sampled
        else:
            parent = None
            trace_id = random.getrandbits(128) or 1
            sampled = self._bound >= _ID_BOUND or (trace_id & (_ID_BOUND - 1)) < self._bound
        span_id = random.getrandbits(64) or 1
        if not sampled:
            return NonRecordingSpan(SpanContext(trace_id, span_id, False, _NOT_SAMPLED))
        span_context = SpanContext(trace_id, span_id, False, _SAMPLED)
        return LightSpan(self, name, span_context, parent, kind, attributes, start_time)

    # The API declares its own (private) context manager type; any one will do.
    @contextlib.contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Any = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current

    def finished(self, span: LightSpan) -> None:
        """`span` ended: export it with the others of its batch."""
        if not self._open:
            return
        self._done.append(span)
        if len(self._done) >= BATCH:
            self.flush()
        elif self._flushing is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # outside an event loop: nothing would flush later
                self.flush()
            else:
                self._flushing = loop.call_later(FLUSH_DELAY, self.flush)

    def flush(self) -> None:
        """Export every finished span now."""
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        done, self._done = self._done, []
        if not done:
            return
        readable = [self._readable(span) for span in done]
        if self._background is None:
            self.exporter.export(readable)
            return
        for span in readable:
            self._background.on_end(span)

    def force_flush(self) -> None:
        """Export every finished span, and (background) wait until the exporter has them."""
        self.flush()
        if self._background is not None:
            self._background.force_flush()

    def shutdown(self) -> None:
        """Export what waits, then release the exporter (idempotent)."""
        if self._open:
            self.flush()
            self._open = False
            if self._background is not None:
                self._background.shutdown()  # type: ignore[no-untyped-call]
            else:
                self.exporter.shutdown()

    def _readable(self, span: LightSpan) -> ReadableSpan:
        from opentelemetry.sdk.trace import ReadableSpan

        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=self.resource,
            attributes=span.attributes,
            events=span.events,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=self._scope,
        )
