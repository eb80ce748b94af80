"""A finished light span as the exporters want it: a JSON record, or the SDK's `ReadableSpan`.

`record` is the span-file record (`nova_lite.tracing.exporters.span_record` makes
the same from an SDK span), built straight from the light span's fields: its ids are
already the hex the file holds. `line` is one span's JSON line, `encode_lines` a
batch's in one buffer (orjson's outputs kept alive one by one cost several times
their encoding).
`readable` makes the SDK's `ReadableSpan`, for every exporter that is not
nova_lite's own (OTLP, console).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry.trace import SpanKind, StatusCode

from nova_lite.tracing.light import LightSpan, span_context

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["KIND_NAMES", "STATUS_NAMES", "encode_lines", "line", "readable", "record"]

KIND_NAMES: Mapping[SpanKind, str] = {kind: kind.name for kind in SpanKind}
STATUS_NAMES: Mapping[StatusCode, str] = {code: code.name for code in StatusCode}
_LINE = orjson.OPT_APPEND_NEWLINE


def record(span: LightSpan) -> dict[str, Any]:
    """One finished span as plain JSON values (ids in hex, times in ns since the epoch)."""
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "name": span.name,
        "kind": span.kind._name_,
        "start": span.start_time,
        "end": span.end_time,
        "status": STATUS_NAMES[span.status.status_code],
        "attributes": span.attributes,
        "service": span._tracer.service,
    }


def line(span: LightSpan) -> bytes:
    """One finished span's record as a JSON line."""
    return orjson.dumps(record(span), option=_LINE)


def encode_lines(spans: Iterable[LightSpan]) -> bytes:
    """The spans' records as JSON lines, in one buffer."""
    out = bytearray()
    add = out.extend
    dumps = orjson.dumps
    for span in spans:
        add(dumps(record(span), option=_LINE))
    return bytes(out)


def readable(span: LightSpan) -> ReadableSpan:
    """The SDK's `ReadableSpan` of a finished light span."""
    from opentelemetry.sdk.trace import ReadableSpan

    parent = None
    if span.parent_id is not None:
        parent = span_context(
            span.trace_id,
            span.parent_id,
            span.sampled,
            span.trace_state,
            is_remote=span.parent_remote,
        )
    tracer = span._tracer
    return ReadableSpan(
        name=span.name,
        context=span.get_span_context(),
        parent=parent,
        resource=tracer.resource,
        attributes=dict(span.attributes),
        events=tuple(span.events or ()),
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=tracer.scope,
    )
