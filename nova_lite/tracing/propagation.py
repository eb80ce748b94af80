"""The trace context on the wire: W3C ``traceparent`` (and ``tracestate``) in each message.

A message sent inside a span carries ``_context_traceparent`` beside
``_context_request_id`` (`nova_lite.rpc.envelope`), as oslo's own profiler carries
its ``trace_info`` as one more context key: oslo.messaging peers ignore the key, and
a handler's span continues the sender's trace from it.

Both ways are written for nova_lite's own spans: `carrier` puts the current light
span's hex ids into the header as they are, and `remote` reads a version-00
``traceparent`` with one regular expression into a `Remote` parent, with no
OpenTelemetry object made. Anything else (a ``tracestate``, another version, a
foreign span current in OpenTelemetry's context) goes through the API's own
propagator. While no `Tracing` is alive in the process, `carrier()` returns at once
without looking at any context: tracing off costs one integer test per message sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from nova_lite.tracing.light import (
    CURRENT,
    VERSION_00,
    ZERO_SPAN_ID,
    ZERO_TRACE_ID,
    Hop,
    Remote,
    remote_of,
    span_context,
)

__all__ = ["KEYS", "carrier", "parent_context", "remote", "tracing_active", "write"]

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
    """The current span's context as W3C headers, or nothing outside any span."""
    if not _alive:
        return _EMPTY
    span = CURRENT.get()
    if span is not None:
        return span.headers()
    current = otel_context.get_current()
    if not current:  # OpenTelemetry's context is empty: no caller's span either
        return _EMPTY
    context = trace.get_current_span(current).get_span_context()  # a caller's own span
    if not context.is_valid:
        return _EMPTY
    found: dict[str, str] = {}
    _PROPAGATOR.inject(found, context=trace.set_span_in_context(trace.NonRecordingSpan(context)))
    return found


def write(message: dict[str, Any], prefix: str) -> None:
    """The current span's context into `message`, as `carrier`'s keys with `prefix`.

    An RPC hop's span (a `Hop`, the common case) writes its one ``traceparent``
    string straight in: no header dict is made per message.
    """
    if not _alive:
        return
    span = CURRENT.get()
    if type(span) is Hop:  # `Hop.traceparent`, inline
        flags = "01" if span.sampled else "00"
        message[prefix + "traceparent"] = f"00-{span.trace_id}-{span.span_id}-{flags}"
        return
    for key, value in carrier().items():
        message[prefix + key] = value


def remote(headers: Mapping[str, str]) -> Remote | None:
    """The sender's span a handler's span continues, or None: a new trace.

    Never the handler's own current span: an in-process broker may run a handler in
    a copy of the sender's context variables, and the trace must come from the
    message itself, as it does across processes.
    """
    parent = headers.get("traceparent")
    if parent is None:
        return None
    found = VERSION_00.fullmatch(parent)
    if found is None or "tracestate" in headers:
        return _extracted(headers)
    trace_id, span_id, flags = found.groups()
    if trace_id == ZERO_TRACE_ID or span_id == ZERO_SPAN_ID:
        return None
    return Remote(trace_id, span_id, flags[1] in "13579bdf")


def parent_context(headers: Mapping[str, str]) -> Context:
    """`remote` as an OpenTelemetry `Context` (for spans of OpenTelemetry's own tracers)."""
    found = remote(headers)
    if found is None:
        return Context()
    context = span_context(
        found.trace_id, found.span_id, found.sampled, found.trace_state, is_remote=True
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(context), Context())


def _extracted(headers: Mapping[str, str]) -> Remote | None:
    """A form nova_lite does not write, read by the API's propagator."""
    context = _PROPAGATOR.extract(headers, context=Context())
    return remote_of(trace.get_current_span(context).get_span_context())
