"""Where finished spans go: the exporters ``[tracing] exporter`` names, beyond the SDK's.

`JsonLinesExporter` appends one JSON object per span to a file (every process of a
deployment may append to the same one: each line is written whole, with
``O_APPEND``), and `MemoryExporter` keeps the latest spans in the process; both are
what ``nova-lite server trace`` reads (`nova_lite.tracing.timeline`). The record of
one span is `span_record`. Both take the light tracer's spans and hops' rows as they
are (`export_light`, the `nova_lite.tracing.shipping.LightExporter` protocol): the
file writes their records (`nova_lite.tracing.records`) and rows
(`nova_lite.tracing.hops`) with no SDK span made, the memory keeps them and makes
the SDK's `ReadableSpan` objects only when they are read.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from nova_lite.tracing import hops
from nova_lite.tracing.hops import Row
from nova_lite.tracing.light import LightSpan
from nova_lite.tracing.records import encode_lines, readable

__all__ = ["JsonLinesExporter", "MemoryExporter", "span_record"]

# Spans a MemoryExporter keeps (the oldest are dropped first).
MEMORY_SPANS = 100_000


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One finished span as plain JSON values (ids in hex, times in ns since the epoch)."""
    context = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": f"{context.trace_id:032x}" if context else "",
        "span_id": f"{context.span_id:016x}" if context else "",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "service": span.resource.attributes.get("service.name"),
    }


class MemoryExporter(SpanExporter):
    """Keeps the latest `limit` finished spans in memory (tests, ``server trace``)."""

    def __init__(self, limit: int = MEMORY_SPANS) -> None:
        self._spans: collections.deque[ReadableSpan | LightSpan | Row] = collections.deque(
            maxlen=limit
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryExporter spans={len(self._spans)}>"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def export_light(self, spans: Sequence[LightSpan | Row]) -> None:
        """Keep light spans and rows as they are (made SDK spans when read)."""
        with self._lock:
            self._spans.extend(spans)

    def spans(self) -> list[ReadableSpan]:
        """The spans kept, oldest first."""
        with self._lock:
            kept = list(self._spans)
        return [
            hops.readable(s)
            if isinstance(s, tuple)
            else readable(s)
            if isinstance(s, LightSpan)
            else s
            for s in kept
        ]

    def clear(self) -> None:
        """Forget every span kept."""
        with self._lock:
            self._spans.clear()

    def shutdown(self) -> None:
        """Nothing to release."""


class JsonLinesExporter(SpanExporter):
    """Appends every span to `path` as one JSON line (`span_record`)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()
        self._shapes: set[str] = set()  # the hop shapes this exporter has written
        self._size = 0  # the file's size after our last write (a smaller one: truncated)

    def __repr__(self) -> str:
        return f"<JsonLinesExporter {self.path}>"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = b"".join(orjson.dumps(span_record(s)) + b"\n" for s in spans)
        return SpanExportResult.SUCCESS if self._write(lines) else SpanExportResult.FAILURE

    def export_light(self, spans: Sequence[LightSpan | Row]) -> None:
        """Write light spans' records and hops' rows (no SDK span made)."""
        rows = [span for span in spans if type(span) is tuple]
        lines = encode_lines([span for span in spans if isinstance(span, LightSpan)])
        self.write_lines(lines, rows)

    def write_lines(self, lines: bytes, rows: Sequence[Row] = ()) -> None:
        """Write span records already encoded (`nova_lite.tracing.records.line`) and rows.

        One write: a hop shape's line is in the same write as the first row of it.
        """
        with self._lock:
            if rows:
                if self._fd >= 0 and os.fstat(self._fd).st_size < self._size:
                    self._shapes.clear()  # truncated (copytruncate): the shapes again
                lines += hops.encode(rows, self._shapes)
            self._write_locked(lines)

    def _write(self, lines: bytes) -> bool:
        with self._lock:
            return self._write_locked(lines)

    def _write_locked(self, lines: bytes) -> bool:
        if self._fd < 0:
            return False
        if lines:
            os.write(self._fd, lines)
            self._size = os.fstat(self._fd).st_size
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
