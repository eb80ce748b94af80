"""RPC hops' spans as rows: a `Shape` for what a kind of hop shares, a tuple per span.

Every call and cast sent and every request handled makes a span, and most of
what such a span holds is the same for every message of its kind: its name
(``topic/method``), kind, service and fixed attributes (`rpc.system`, the method,
the service and host, the server addressed). A `Shape` holds those once, and a
finished hop is one tuple, its *row*::

    (shape, trace_id, span_id, parent_id, start_ns, end_ns, *values)

where `values` are the span's own attributes, in the order of ``shape.extra``
(an instance uuid; a handler's request id), None for one it does not have, taken
when the hop starts (`nova_lite.tracing.light.Hop.values`). A row is made by
`nova_lite.tracing.light.Hop.end` with no call, span object, attribute dict or
record made; `record` and `readable` make the span-file record and the SDK's
`ReadableSpan` of a row when an exporter wants them (the memory exporter when read,
OTLP and console in their thread).

The file exporter writes a batch's rows as they are (`encode`): one line, a JSON
array of the rows' arrays, after one *shape line* (``{"shape": id, "name": ...}``)
for each shape the file has not had from this process yet. A shape's id is a hash of its content, so
processes sharing a file agree on it. `nova_lite.tracing.timeline.read_span_file`
turns both back into records. A hop that failed (or continues a trace with a
``tracestate``) is a full `LightSpan` instead and keeps its error status and
exception event.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry.trace import SpanKind, Status, StatusCode

from nova_lite.tracing.light import span_context

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from nova_lite.tracing.light import LightSpan, LightTracer

__all__ = ["Row", "Shape", "encode", "expand", "readable", "record"]

#: A finished hop: (shape, trace_id, span_id, parent_id, start, end, *values).
Row = tuple[Any, ...]
_UNSET = Status(StatusCode.UNSET)
_first = operator.itemgetter(0)
_LINE = orjson.OPT_APPEND_NEWLINE


class Shape(str):
    """What every span of one kind of hop shares; the string itself is the shape's id.

    `values` gives, from the hop's argument, the values of the `extra` attribute
    keys (none of them a fixed key), as a tuple: the tail of the hop's row (the RPC
    hooks make it inline, `nova_lite.telemetry.rpc`). A handler's shape
    (`remote_parent`) has its parent in the sender's process; `where` is the
    (service, host) a hop of the shape runs in.
    """

    name: str
    kind: SpanKind
    service: str | None
    attributes: dict[str, Any]
    extra: tuple[str, ...]
    values: Callable[[Any], tuple[Any, ...]]
    remote_parent: bool
    where: tuple[str, str]
    tracer: LightTracer
    rows: list[Row]  # the tracer's finished rows
    line: bytes  # the shape's own line in a span file

    def __new__(
        cls,
        name: str,
        kind: SpanKind,
        tracer: LightTracer,
        attributes: Mapping[str, Any],
        extra: tuple[str, ...],
        values: Callable[[Any], tuple[Any, ...]],
        *,
        remote_parent: bool,
        where: tuple[str, str],
    ) -> Shape:
        service = tracer.service
        definition: dict[str, Any] = {
            "name": name,
            "kind": kind._name_,
            "service": service if isinstance(service, str) else None,
            "attributes": dict(attributes),
            "extra": list(extra),
        }
        content = orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)
        self = super().__new__(cls, hashlib.blake2b(content, digest_size=8).hexdigest())
        self.name = name
        self.kind = kind
        self.service = definition["service"]  # the tracer's resource's service.name
        self.attributes = dict(attributes)
        self.extra = extra
        self.values = values
        self.remote_parent = remote_parent
        self.where = where  # a handler's (service, host), or the sender's
        self.tracer = tracer
        self.rows = tracer.rows
        self.line = orjson.dumps({"shape": str(self), **definition}, option=_LINE)
        return self

    def __repr__(self) -> str:
        return f"<Shape {self!s} {self.kind._name_} {self.name}>"

    def __call__(self, span: LightSpan, arg: Any) -> dict[str, Any]:
        """The attributes of a full span of this shape (`LightSpan.defer`)."""
        return attributes_of(self, self.values(arg))


def attributes_of(shape: Shape, values: Iterable[Any]) -> dict[str, Any]:
    """The fixed attributes, then the extra ones a span has (None: it has not)."""
    made = dict(shape.attributes)
    for key, value in zip(shape.extra, values, strict=False):
        if value is not None:
            made[key] = value
    return made


def record(row: Row) -> dict[str, Any]:
    """A row as the span-file record (`nova_lite.tracing.records.record` of a span)."""
    shape: Shape = row[0]
    return {
        "trace_id": row[1],
        "span_id": row[2],
        "parent_id": row[3],
        "name": shape.name,
        "kind": shape.kind._name_,
        "start": row[4],
        "end": row[5],
        "status": "UNSET",
        "attributes": attributes_of(shape, row[6:]),
        "service": shape.service,
    }


def readable(row: Row) -> ReadableSpan:
    """A row as the SDK's `ReadableSpan` (for the OTLP and console exporters)."""
    from opentelemetry.sdk.trace import ReadableSpan

    shape: Shape = row[0]
    trace_id, span_id, parent_id = row[1], row[2], row[3]
    parent = None
    if parent_id is not None:
        parent = span_context(trace_id, parent_id, True, None, is_remote=shape.remote_parent)
    tracer = shape.tracer
    return ReadableSpan(
        name=shape.name,
        context=span_context(trace_id, span_id, True, None, is_remote=False),
        parent=parent,
        resource=tracer.resource,
        attributes=attributes_of(shape, row[6:]),
        events=(),
        kind=shape.kind,
        status=_UNSET,
        start_time=row[4],
        end_time=row[5],
        instrumentation_scope=tracer.scope,
    )


def encode(rows: Sequence[Row], written: set[str]) -> bytes:
    """Rows as span-file lines: each new shape's line (`written`: the shapes already
    out), then the rows as one line, a JSON array of arrays (one orjson call)."""
    if not rows:
        return b""
    new = set(map(_first, rows)).difference(written)
    written.update(new)
    return b"".join(shape.line for shape in new) + orjson.dumps(rows, option=_LINE)


def expand(line: Any, shapes: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One decoded span-file line as records: a record as it is, rows through their shapes.

    A shape line is kept in `shapes` and gives nothing, as does a row of an unknown
    shape or anything else.
    """
    if isinstance(line, dict):
        if "shape" in line and "trace_id" not in line:
            shapes[str(line["shape"])] = line
        else:
            yield line
        return
    if not isinstance(line, list):
        return
    for row in line:
        if not isinstance(row, list) or len(row) < 6 or not isinstance(row[0], str):
            continue
        shape = shapes.get(row[0])
        if shape is None:
            continue
        fixed = shape.get("attributes")
        attributes = dict(fixed) if isinstance(fixed, dict) else {}
        for key, value in zip(shape.get("extra") or (), row[6:], strict=False):
            if value is not None:
                attributes[str(key)] = value
        yield {
            "trace_id": row[1],
            "span_id": row[2],
            "parent_id": row[3],
            "name": shape.get("name"),
            "kind": shape.get("kind"),
            "start": row[4],
            "end": row[5],
            "status": "UNSET",
            "attributes": attributes,
            "service": shape.get("service"),
        }
