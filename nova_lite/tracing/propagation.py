"""The trace context on the wire: W3C ``traceparent`` (and ``tracestate``) in each message.

A message sent inside a span carries ``_context_traceparent`` beside
``_context_request_id`` (`nova_lite.rpc.envelope`), as oslo's own profiler carries
its ``trace_info`` as one more context key: oslo.messaging peers ignore the key, and
a handler's span continues the sender's trace from it.

While no `Tracing` is alive in the process, `carrier()` returns at once without
looking at OpenTelemetry's context at all: tracing off costs one integer test per
message sent.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["KEYS", "carrier", "parent_context", "tracing_active"]

# The carrier's keys, as W3C Trace Context names its headers.
KEYS = ("traceparent", "tracestate")

_EMPTY: Mapping[str, str] = {}
_PROPAGATOR = TraceContextTextMapPropagator()
_alive = 0  # Tracing objects alive in this process (see `tracing_active`)


def tracing_active(delta: int) -> None:
    """A `Tracing` started (+1) or shut down (-1): while none is alive, nothing is read."""
    global _alive
    _alive = max(0, _alive + delta)


def carrier() -> Mapping[str, str]:
    """The current span's context as W3C headers, or nothing outside a recording span."""
    if not _alive:
        return _EMPTY
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return _EMPTY
    parent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    if context.trace_state:
        return {"traceparent": parent, "tracestate": context.trace_state.to_header()}
    return {"traceparent": parent}


def parent_context(headers: Mapping[str, str]) -> Context:
    """The context a handler's span starts from: the sender's span, or a new trace.

    Never the handler's own current context: an in-process broker may run a handler
    in a copy of the sender's context variables, and the trace must come from the
    message itself, as it does across processes.
    """
    parent = headers.get("traceparent")
    if parent is None:
        return Context()
    found = _parse(parent, headers.get("tracestate"))
    if found is None:
        return _PROPAGATOR.extract(headers, context=Context())  # a form we do not write
    return trace.set_span_in_context(trace.NonRecordingSpan(found), Context())


def _parse(parent: str, state: str | None) -> trace.SpanContext | None:
    """A ``00-<32 hex>-<16 hex>-<2 hex>`` traceparent (what nova_lite sends), or None."""
    parts = parent.split("-")
    if len(parts) != 4 or parts[0] != "00" or state:
        return None
    _, trace_id, span_id, flags = parts
    if len(trace_id) != 32 or len(span_id) != 16 or len(flags) != 2:
        return None
    try:
        context = trace.SpanContext(
            int(trace_id, 16),
            int(span_id, 16),
            is_remote=True,
            trace_flags=trace.TraceFlags(int(flags, 16)),
        )
    except ValueError:
        return None
    return context if context.is_valid else None
