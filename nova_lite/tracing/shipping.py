"""Where finished light spans wait, and how they reach their exporter: in batches.

A `SpanBuffer` keeps the spans a `nova_lite.tracing.light.LightTracer` finished (its
`LightSpan`\\s, and its RPC hops' rows, `nova_lite.tracing.hops`) and exports them
together, at most `FLUSH_DELAY` seconds after the first of them ended
(or once `BATCH` wait, or on `SpanBuffer.flush`). A `LineExporter` (the file) has
each span encoded as one JSON line the moment it ends, while its fields are still
in the CPU's caches, and the batch's lines written at once: measured on the RPC
benchmark, that costs less than keeping the spans and encoding them all at the
flush (see benchmarks/README.md). Hops' rows are tuples of strings and ints, kept
as they are and encoded at the flush in one pass of orjson (`LineExporter.write_lines`).
A `LightExporter` (the memory exporter) takes the light spans and rows as they are;
any other (the SDK's OTLP and console exporters, a user's)
gets the SDK's `ReadableSpan`\\s made from them (`nova_lite.tracing.records`). A
slow or remote exporter (``background``) is called from a `Shipper` thread, with
the conversion, so the event loop only hands the batch over.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import structlog

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from nova_lite.tracing.hops import Row
    from nova_lite.tracing.light import LightSpan

__all__ = [
    "BATCH",
    "FLUSH_DELAY",
    "MAX_WAITING",
    "LightExporter",
    "LineExporter",
    "Shipper",
    "SpanBuffer",
]

log = structlog.get_logger(__name__)

#: Seconds a finished span may wait in the buffer before it is exported.
FLUSH_DELAY = 0.05
#: Spans waiting that make the buffer export at once.
BATCH = 512
#: Spans a `Shipper` holds for a slow exporter before it drops new batches.
MAX_WAITING = 16 * BATCH
#: Seconds `Shipper.force_flush` and `Shipper.shutdown` wait for the thread.
SHIP_TIMEOUT = 30.0


@runtime_checkable
class LightExporter(Protocol):
    """An exporter that takes light spans and hops' rows as they are (no `ReadableSpan`)."""

    def export_light(self, spans: Sequence[LightSpan | Row]) -> None: ...


@runtime_checkable
class LineExporter(Protocol):
    """An exporter of JSON lines (`nova_lite.tracing.records.line`), written in batches."""

    def write_lines(self, lines: bytes, rows: Sequence[Row] = ()) -> None: ...


def export(exporter: SpanExporter, spans: Sequence[LightSpan | Row]) -> None:
    """Hand `spans` to `exporter`: as they are if it takes them, else as `ReadableSpan`s."""
    if isinstance(exporter, LightExporter):
        exporter.export_light(spans)
        return
    from nova_lite.tracing import hops, records

    exporter.export(
        [
            hops.readable(span) if isinstance(span, tuple) else records.readable(span)
            for span in spans
        ]
    )


class SpanBuffer:
    """The finished spans of one tracer, exported in batches.

    `rows` is the list finished hops' rows are appended to, by `Hop.end` itself
    (the hot path: no call into the buffer but `rows_waiting` for the first row of
    a batch and for a full one).
    """

    def __init__(self, exporter: SpanExporter, *, background: bool = False) -> None:
        self.exporter = exporter
        self.rows: list[Row] = []
        self._done: list[LightSpan] = []
        self._flushing: asyncio.TimerHandle | None = None
        self._open = True
        self._shipper = Shipper(exporter) if background else None
        self._lines: bytearray | None = None
        self._waiting = 0  # spans encoded into `_lines`
        if isinstance(exporter, LineExporter) and not background:
            from nova_lite.tracing.records import line

            self._lines = bytearray()
            self._line = line
            self.add = self._add_line  # type: ignore[method-assign]

    def __repr__(self) -> str:
        waiting = len(self._done) + self._waiting + len(self.rows)
        return f"<SpanBuffer waiting={waiting} {'open' if self._open else 'shut'}>"

    def add(self, span: LightSpan) -> None:
        """`span` ended: export it with the others of its batch."""
        if not self._open:
            return
        done = self._done
        done.append(span)
        if len(done) >= BATCH:
            self.flush()
        elif self._flushing is None:
            self._schedule()

    def rows_waiting(self) -> None:
        """A row joined `rows`: the first of a batch (flush it later) or a full batch (now)."""
        if len(self.rows) >= BATCH or not self._open:
            self.flush()
        else:
            self._schedule()

    def _add_line(self, span: LightSpan) -> None:
        """`span` ended: its JSON line joins the batch's (a `LineExporter`)."""
        if not self._open:
            return
        assert self._lines is not None
        self._lines += self._line(span)
        self._waiting += 1
        if self._waiting >= BATCH:
            self.flush()
        elif self._flushing is None:
            self._schedule()

    def _schedule(self) -> None:
        if self._flushing is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside an event loop: nothing would flush later
            self.flush()
        else:
            self._flushing = loop.call_later(FLUSH_DELAY, self.flush)

    def flush(self) -> None:
        """Export every finished span now (a background exporter: hand them to its thread)."""
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        waiting = self.rows  # the list itself stays: `Hop.end` appends to it
        count = len(waiting)
        rows = waiting[:count]
        del waiting[:count]  # (a row another thread appends meanwhile stays for the next)
        if not self._open:  # shut: what still ends is dropped
            return
        if self._lines is not None:
            if self._lines or rows:
                lines = bytes(self._lines)
                self._lines.clear()
                self._waiting = 0
                cast(LineExporter, self.exporter).write_lines(lines, rows)
            rows = []
        done: list[LightSpan | Row] = [*self._done, *rows]
        self._done = []
        if not done:
            return
        if self._shipper is not None:
            self._shipper.put(done)
        else:
            export(self.exporter, done)

    def force_flush(self) -> None:
        """Export every finished span, and (background) wait until the exporter has them."""
        self.flush()
        if self._shipper is not None:
            self._shipper.force_flush()

    def shutdown(self) -> None:
        """Export what waits, then release the exporter (idempotent)."""
        if not self._open:
            return
        self.flush()
        self._open = False
        if self._shipper is not None:
            self._shipper.shutdown()
        else:
            self.exporter.shutdown()


class Shipper:
    """A thread that converts and exports batches of light spans (slow exporters)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.dropped = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiting = 0  # spans queued, not yet exported
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<Shipper waiting={self._waiting} dropped={self.dropped}>"

    def put(self, spans: Sequence[LightSpan | Row]) -> None:
        """Queue a batch (dropped, and counted, when the exporter is too far behind)."""
        with self._lock:
            if self._waiting + len(spans) > MAX_WAITING:
                self.dropped += len(spans)
                return
            self._waiting += len(spans)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="nova-lite-spans", daemon=True
                )
                self._thread.start()
        self._queue.put(spans)

    def force_flush(self) -> None:
        """Wait until every batch queued so far is exported."""
        if self._thread is None:
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(SHIP_TIMEOUT)

    def shutdown(self) -> None:
        """Export what is queued, stop the thread, release the exporter."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(SHIP_TIMEOUT)
        self.exporter.shutdown()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                export(self.exporter, item)
            except Exception as exc:  # an exporter's failure must not end the thread
                log.warning("tracing.export_failed", spans=len(item), error=repr(exc))
            with self._lock:
                self._waiting -= len(item)
