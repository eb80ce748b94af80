"""A cheap OpenTelemetry tracer: spans as small records, kept current in a context variable.

The SDK's tracer costs tens of microseconds a span (a sampler call, a span object
with its own lock and bounded attributes, a processor on start and on end, a
`SpanContext` validated per span, OpenTelemetry's context attached and detached):
more than an in-memory RPC call costs whole. `LightTracer` implements the
OpenTelemetry API's `Tracer`, and its `LightSpan` the API's `Span`, so exporters,
OTLP and the W3C propagation are OpenTelemetry's; but a span is a slotted record
whose ids are hex strings (what ``traceparent`` and the span files carry, cut from
batches of `os.urandom`: `new_id`), its `SpanContext` is made only when asked for, its
attributes may be left to a function run at export (`LightSpan.defer`), and the
current span is `CURRENT`, a context variable of nova_lite's own, set and reset in
well under a microsecond. Finished spans wait in a `nova_lite.tracing.shipping`
buffer and leave in batches.

The RPC hooks, which run for every message, make no `LightSpan` at all: a `Hop`
(`LightTracer.hop` for a message sent, `LightTracer.handling` for one handled) holds
its ids, its start and its `nova_lite.tracing.hops.Shape` (name, kind and fixed
attributes, made once per kind of hop), is the current span while the hop runs, and
ends as one tuple appended to the buffer's rows. A hop that fails, or that continues
a trace with a ``tracestate`` or a foreign parent, is a full `LightSpan` instead.

OpenTelemetry's own context is read only when the process had set OpenTelemetry's
global tracer provider before the tracer was made (`LightTracer.bridge`: someone
else traces in this process too): then every span nova_lite makes current is
OpenTelemetry's current span as well, and a span's parent is OpenTelemetry's
current span, so nova_lite's spans and the other instrumentation's nest in each
other (a few µs a span more). A context passed explicitly (``start_span(context=
...)``) is always read.

Sampling is the SDK's ``ParentBased(TraceIdRatioBased(ratio))``: a trace continued
from a sender is recorded when the sender recorded it, a new one with probability
`ratio` (decided by the low 64 bits of its trace id, as the SDK does); a span not
recorded is a `LightSpan` (or `Hop`) with ``sampled`` false that still carries the
trace on.
"""

from __future__ import annotations

import contextvars
import os
import re
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from nova_lite.tracing.shipping import BATCH, SpanBuffer

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.util.types import Attributes

    from nova_lite.tracing.hops import Shape

__all__ = [
    "CURRENT",
    "HANDED_MAX",
    "HANDED_OVER",
    "NOWHERE",
    "SAMPLED_FLAGS",
    "VALID_00",
    "Current",
    "Hop",
    "LightSpan",
    "LightTracer",
    "Parent",
    "Remote",
    "current_span",
    "new_trace_id",
    "parent_of",
    "pop_id",
    "pop_trace_id",
    "remote_of",
    "where",
]

#: nova_lite's current span (None outside any).
CURRENT: contextvars.ContextVar[LightSpan | Hop | None] = contextvars.ContextVar(
    "nova_lite_span", default=None
)

_UNSET = Status(StatusCode.UNSET)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_ID_BOUND = 1 << 64
ZERO_SPAN_ID = "0" * 16
ZERO_TRACE_ID = "0" * 32
NOWHERE = ("", "")  # (service, host) of work outside any service
#: A version-00 ``traceparent``: trace id, span id, flags (lowercase hex, W3C).
VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# The same with neither id all zeros (a valid parent, by the regular expression alone).
VALID_00 = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
# The flags bytes with the sampled bit set.
SAMPLED_FLAGS = frozenset(f"{flags:02x}" for flags in range(256) if flags & 1)
_now = time.time_ns

# Span ids, 16 hex digits each, cut from one `os.urandom` draw a refill: `new_id`
# pops one (a list's pop is atomic, so threads never share one). Trace ids, 32 hex
# digits, have a pool of their own cut the same way (`new_trace_id`: one pop, no
# concatenation of two span ids). An all-zero id (invalid in W3C) is left out when a
# pool is filled. A forked child empties its copies: it must not hand out its
# parent's ids.
_ID_POOL = 1024
_pool: list[str] = []
_pop = _pool.pop
#: The pool's own pop, for hooks that inline `new_id` (IndexError: call `new_id`).
pop_id = _pop
_trace_pool: list[str] = []
#: The trace-id pool's pop, for hooks that inline `new_trace_id` (IndexError: call it).
pop_trace_id = _trace_pool.pop


_SIXTEEN = re.compile(".{16}", re.DOTALL)
_THIRTY_TWO = re.compile(".{32}", re.DOTALL)


def _refill() -> str:
    ids = _SIXTEEN.findall(os.urandom(8 * _ID_POOL).hex())  # no bytecode per id
    while ZERO_SPAN_ID in ids:
        ids.remove(ZERO_SPAN_ID)
    _pool.extend(ids)
    return _pop()


def _refill_traces() -> str:
    ids = _THIRTY_TWO.findall(os.urandom(16 * _ID_POOL).hex())
    while ZERO_TRACE_ID in ids:
        ids.remove(ZERO_TRACE_ID)
    _trace_pool.extend(ids)
    return pop_trace_id()


def new_id() -> str:
    """A new span id: 16 lowercase hex digits, never all zero."""
    try:
        return _pop()
    except IndexError:
        return _refill()


def new_trace_id() -> str:
    """A new trace id: 32 lowercase hex digits, never all zero."""
    try:
        return pop_trace_id()
    except IndexError:
        return _refill_traces()


os.register_at_fork(after_in_child=_pool.clear)
os.register_at_fork(after_in_child=_trace_pool.clear)

#: Hops whose ``traceparent`` this process wrote into a message of an in-process
#: broker, by that string: the handler's hook takes its parent's ids from the hop
#: (popping it) instead of parsing and checking the string, which it knows to be
#: valid since this process wrote it. The wire form is the same either way. A
#: message nobody handles leaves its entry: emptied when `HANDED_MAX` wait.
HANDED_OVER: dict[str, Hop] = {}
HANDED_MAX = 4096
os.register_at_fork(after_in_child=HANDED_OVER.clear)


class Parent(Protocol):
    """What a span takes from its parent: the trace, the parent's id, the sampling."""

    @property
    def trace_id(self) -> str: ...  # 32 lowercase hex digits
    @property
    def span_id(self) -> str: ...  # 16 lowercase hex digits
    @property
    def sampled(self) -> bool: ...
    @property
    def trace_state(self) -> str | None: ...  # a W3C tracestate header, validated
    @property
    def is_remote(self) -> bool: ...
    @property
    def where(self) -> tuple[str, str]: ...  # (service, host) its children inherit


class Remote:
    """A parent nova_lite did not make: a sender's ``traceparent``, or a foreign span."""

    __slots__ = ("is_remote", "sampled", "span_id", "trace_id", "trace_state")
    where = NOWHERE

    def __init__(
        self,
        trace_id: str,
        span_id: str,
        sampled: bool,
        trace_state: str | None = None,
        *,
        is_remote: bool = True,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled
        self.trace_state = trace_state
        self.is_remote = is_remote

    def __repr__(self) -> str:
        return f"<Remote {self.trace_id}-{self.span_id} sampled={self.sampled}>"


class LightSpan(trace.Span):
    """A span of a `LightTracer`: what the exporters need, nothing more, made lazily."""

    __slots__ = (
        "_args",
        "_attributes",
        "_context",
        "_make",
        "_tracer",
        "end_time",
        "events",
        "kind",
        "name",
        "parent_id",
        "parent_remote",
        "sampled",
        "span_id",
        "start_time",
        "status",
        "trace_id",
        "trace_state",
        "where",
    )
    is_remote = False  # as a parent (`Parent`)

    def __init__(
        self,
        tracer: LightTracer,
        name: str,
        kind: SpanKind,
        trace_id: str,
        parent_id: str | None,
        parent_remote: bool,
        trace_state: str | None,
        sampled: bool,
        where: tuple[str, str],
        start_time: int | None = None,
        make: Callable[..., dict[str, Any]] | None = None,
        args: tuple[Any, ...] = (),
    ) -> None:
        self._tracer = tracer
        self.name = name
        self.kind = kind
        self.trace_id = trace_id
        try:
            self.span_id = _pop()  # `new_id`, inline: this runs for every span
        except IndexError:
            self.span_id = _refill()
        self.parent_id = parent_id
        self.parent_remote = parent_remote
        self.trace_state = trace_state
        self.sampled = sampled
        self.where = where
        self.start_time = start_time if start_time is not None else _now()
        self.end_time: int | None = None
        self.status = _UNSET
        self._attributes: dict[str, Any] | None = None
        self._make = make
        self._args = args
        self._context: SpanContext | None = None
        self.events: list[Event] | None = None

    def __repr__(self) -> str:
        return f"<LightSpan {self.name} {self.trace_id}-{self.span_id}>"

    @property
    def attributes(self) -> Mapping[str, Any]:
        """The span's attributes (those left to ``make(span, *args)`` are made now, once)."""
        make = self._make
        if make is not None:
            self._make = None
            made = make(self, *self._args)
            self._args = ()
            if self._attributes:
                made.update(self._attributes)
            self._attributes = made
        return self._attributes if self._attributes is not None else {}

    def defer(self, make: Callable[..., dict[str, Any]], *args: Any) -> None:
        """Leave the attributes to ``make(span, *args)``, called when they are first read."""
        self._make = make
        self._args = args

    def headers(self) -> dict[str, str]:
        """The span as W3C Trace Context headers (``traceparent``, and any ``tracestate``)."""
        parent = f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"
        if self.trace_state:
            return {"traceparent": parent, "tracestate": self.trace_state}
        return {"traceparent": parent}

    def get_span_context(self) -> SpanContext:
        if self._context is None:
            self._context = span_context(
                self.trace_id, self.span_id, self.sampled, self.trace_state, is_remote=False
            )
        return self._context

    def is_recording(self) -> bool:
        return self.sampled and self.end_time is None

    def set_attribute(self, key: str, value: Any) -> None:
        if value is not None and self.sampled and self.end_time is None:
            if self._attributes is None:
                self._attributes = {}
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        from opentelemetry.sdk.trace import Event

        if self.is_recording():
            if self.events is None:
                self.events = []
            self.events.append(Event(name, attributes, timestamp or _now()))

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

    def failed(self, exc: BaseException) -> LightSpan:
        """`exc` left the span's work: an exception event and an error status (if recording).

        Gives the span to end (itself; a `Hop` gives a full span instead).
        """
        if self.is_recording() and isinstance(exc, Exception):
            self.record_exception(exc)
            self.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        return self

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is None:
            self.end_time = end_time if end_time is not None else _now()
            if self.sampled:
                self._tracer.finished(self)


class Hop:
    """An RPC hop's span while it runs: its ids, and what its children and messages need.

    The RPC hooks make one per message sent or handled instead of a `LightSpan`
    (`nova_lite.telemetry.rpc.RpcObserver`, or `LightTracer.hop` and
    `LightTracer.handling`): it is current while the hop runs (a `Parent`, and
    `nova_lite.tracing.propagation.write` writes its ``traceparent``), and `end`
    hands its tracer one row (`nova_lite.tracing.hops`): no span object outlives it.
    `values` are the span's own attributes (its shape's ``extra``), taken when the
    hop starts, so that the row is made at the end with no call. `failed` gives a
    full `LightSpan` with the same ids instead, which keeps the error (and which
    `end` then ends). With tracing alone on, the RPC hooks hand the Invoker or
    Worker the hop itself, with the `token` that made it current: `end` resets it,
    so no other object per message.
    """

    __slots__ = (
        "full", "parent_id", "sampled", "shape", "span_id", "start_time", "token", "trace_id",
        "values",
    )  # fmt: skip
    is_remote = False  # as a parent (`Parent`)
    trace_state = None  # a trace with a tracestate gets full spans

    def __init__(
        self,
        shape: Shape,
        trace_id: str,
        parent_id: str | None,
        sampled: bool,
        values: tuple[Any, ...],
    ) -> None:
        self.shape = shape
        self.trace_id = trace_id
        try:
            self.span_id = _pop()  # `new_id`, inline
        except IndexError:
            self.span_id = _refill()
        self.parent_id = parent_id
        self.sampled = sampled
        self.values = values
        self.token: contextvars.Token[Any] | None = None
        self.full: LightSpan | None = None
        self.start_time = _now()

    @property
    def where(self) -> tuple[str, str]:
        """The (service, host) the hop runs in (its shape's: a handler's, or the sender's)."""
        return self.shape.where

    def __repr__(self) -> str:
        return f"<Hop {self.shape.name} {self.trace_id}-{self.span_id}>"

    def traceparent(self) -> str:
        """The hop's W3C ``traceparent`` (version 00), the one header it has."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def headers(self) -> dict[str, str]:
        """The hop as W3C Trace Context headers (``traceparent``)."""
        return {"traceparent": self.traceparent()}

    def failed(self, exc: BaseException) -> Hop | LightSpan:
        """`exc` left the hop's work: the span to end instead, a full one with the error."""
        if not self.sampled or not isinstance(exc, Exception):
            return self
        shape = self.shape
        full = LightSpan(
            shape.tracer,
            shape.name,
            shape.kind,
            self.trace_id,
            self.parent_id,
            shape.remote_parent and self.parent_id is not None,
            None,
            True,
            shape.where,
            self.start_time,
            _attributes_of_values,
            (shape, self.values),
        )
        full.span_id = self.span_id
        full.failed(exc)
        self.full = full
        return full

    def end(self) -> None:
        """The hop is over: no longer current (`token`), its row to the tracer's buffer
        (if sampled), or its full span ended if it `failed`."""
        token = self.token
        if token is not None:
            CURRENT.reset(token)
        if self.full is not None:
            self.full.end()
        elif self.sampled:
            shape = self.shape
            rows = shape.rows
            head = (shape, self.trace_id, self.span_id, self.parent_id, self.start_time, _now())
            rows.append(head + self.values)  # (a concatenation: no list made)
            waiting = len(rows)
            if waiting == 1 or waiting >= BATCH:
                shape.tracer.rows_waiting()


def _attributes_of_values(span: LightSpan, shape: Shape, values: tuple[Any, ...]) -> dict[str, Any]:
    """A failed hop's attributes (`LightSpan.defer`): its shape's, and its own `values`."""
    from nova_lite.tracing.hops import attributes_of

    return attributes_of(shape, values)


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
        bridge: bool | None = None,
    ) -> None:
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.exporter = exporter
        self.resource = resource
        self.service = resource.attributes.get("service.name")
        self.scope = InstrumentationScope(name)
        self.ratio = ratio
        self._bound = int(ratio * _ID_BOUND)  # as the SDK's TraceIdRatioBased
        self._every = self._bound >= _ID_BOUND
        self.bridge = _global_provider_set() if bridge is None else bridge
        self.buffer = SpanBuffer(exporter, background=background)
        self.finished = self.buffer.add
        self.rows = self.buffer.rows  # finished hops' rows (`Hop.end` appends)
        self.rows_waiting = self.buffer.rows_waiting

    def __repr__(self) -> str:
        return f"<LightTracer ratio={self.ratio} {self.buffer!r}>"

    def child(
        self,
        name: str,
        kind: SpanKind,
        parent: Parent | None,
        start_time: int | None = None,
        *,
        where: tuple[str, str] | None = None,
        make: Callable[..., dict[str, Any]] | None = None,
        args: tuple[Any, ...] = (),
    ) -> LightSpan:
        """A span of `parent`'s trace (a new trace when None), as the sampling decides.

        `where` (service, host) defaults to the parent's; `make` and `args` leave
        the attributes to ``make(span, *args)`` at export (never called for a span
        sampled out).
        """
        if parent is not None:
            return LightSpan(
                self,
                name,
                kind,
                parent.trace_id,
                parent.span_id,
                parent.is_remote,
                parent.trace_state,
                parent.sampled,
                parent.where if where is None else where,
                start_time,
                make,
                args,
            )
        trace_id = new_trace_id()
        sampled = self._bound >= _ID_BOUND or int(trace_id[16:], 16) < self._bound
        return LightSpan(
            self,
            name,
            kind,
            trace_id,
            None,
            False,
            None,
            sampled,
            where or NOWHERE,
            start_time,
            make,
            args,
        )

    def continued(
        self,
        name: str,
        kind: SpanKind,
        headers: Mapping[str, str],
        where: tuple[str, str],
        make: Callable[..., dict[str, Any]] | None = None,
        args: tuple[Any, ...] = (),
    ) -> LightSpan:
        """A span continuing the trace W3C `headers` carry (a new trace without a valid one).

        What `nova_lite.tracing.propagation.remote` reads, with no parent record made
        for the version-00 ``traceparent`` nova_lite writes; any other form goes
        through `remote`.
        """
        parent = headers.get("traceparent")
        if parent is not None:
            found = VERSION_00.fullmatch(parent)
            if found is not None and "tracestate" not in headers:
                trace_id, span_id, flags = found.groups()
                if trace_id != ZERO_TRACE_ID and span_id != ZERO_SPAN_ID:  # else: a new trace
                    return LightSpan(
                        self,
                        name,
                        kind,
                        trace_id,
                        span_id,
                        True,
                        None,
                        flags[1] in "13579bdf",
                        where,
                        None,
                        make,
                        args,
                    )
            else:
                from nova_lite.tracing.propagation import remote

                return self.child(name, kind, remote(headers), where=where, make=make, args=args)
        return self.child(name, kind, None, where=where, make=make, args=args)

    def hop(self, shape: Shape, parent: Parent | None, arg: Any) -> Hop | LightSpan:
        """The span of a message sent inside `parent` (a new trace when None).

        A `Hop` (`arg`: what its shape's values are read from) but in a trace with
        a ``tracestate`` or under a foreign parent, which get a full `LightSpan`.
        """
        if parent is None:
            try:
                trace_id = pop_trace_id()  # `new_trace_id`, inline
            except IndexError:
                trace_id = new_trace_id()
            sampled = self._every or int(trace_id[16:], 16) < self._bound
            return Hop(shape, trace_id, None, sampled, shape.values(arg))
        if parent.trace_state is None and not parent.is_remote:
            return Hop(shape, parent.trace_id, parent.span_id, parent.sampled, shape.values(arg))
        return self.child(shape.name, shape.kind, parent, make=shape, args=(arg,))

    def handling(self, shape: Shape, headers: Mapping[str, str], arg: Any) -> Hop | LightSpan:
        """The span of a message handled where `shape` says, continuing `headers`' trace.

        A `Hop` for no ``traceparent`` or the version-00 one nova_lite writes; any
        other form (a ``tracestate``, a later version, an invalid one) goes through
        `continued` and gets a full `LightSpan`.
        """
        parent = headers.get("traceparent")
        if parent is None:
            try:
                trace_id = _pop() + _pop()
            except IndexError:
                trace_id = new_trace_id()
            sampled = self._every or int(trace_id[16:], 16) < self._bound
            return Hop(shape, trace_id, None, sampled, shape.values(arg))
        if VALID_00.fullmatch(parent) is None or "tracestate" in headers:
            return self.continued(
                shape.name, shape.kind, headers, shape.where, make=shape, args=(arg,)
            )
        sampled = parent[53:] in SAMPLED_FLAGS
        return Hop(shape, parent[3:35], parent[36:52], sampled, shape.values(arg))

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
    ) -> LightSpan:
        span = self.child(name, kind, parent_of(context, bridge=self.bridge), start_time)
        if attributes:
            span.set_attributes(attributes)
        return span

    # The API declares its own (private) context manager type; any one will do.
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
    ) -> Current:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        return Current(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        )

    def flush(self) -> None:
        """Export every finished span now."""
        self.buffer.flush()

    def force_flush(self) -> None:
        """Export every finished span, and (background) wait until the exporter has them."""
        self.buffer.force_flush()

    def shutdown(self) -> None:
        """Export what waits, then release the exporter (idempotent)."""
        self.buffer.shutdown()


class Current:
    """`span` as the current span while a with-block runs; ended on the way out."""

    __slots__ = ("_bridged", "_end", "_record", "_status", "_token", "span")

    def __init__(
        self,
        span: LightSpan,
        *,
        end_on_exit: bool = True,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> None:
        self.span = span
        self._end = end_on_exit
        self._record = record_exception
        self._status = set_status_on_exception
        self._token: contextvars.Token[LightSpan | Hop | None] | None = None
        self._bridged: object = None

    def __repr__(self) -> str:
        return f"<Current {self.span!r}>"

    def __enter__(self) -> LightSpan:
        self._token = CURRENT.set(self.span)
        if self.span._tracer.bridge:
            self._bridged = otel_context.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bridged is not None:
            otel_context.detach(self._bridged)  # type: ignore[arg-type]
        if self._token is not None:
            CURRENT.reset(self._token)
        span = self.span
        if isinstance(exc, Exception) and span.is_recording():
            if self._record:
                span.record_exception(exc)
            if self._status:
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        if self._end:
            span.end()


def where() -> tuple[str, str]:
    """The (service, host) whose work runs now, as the current span says (or ``("", "")``)."""
    found = CURRENT.get()
    return found.where if found is not None else NOWHERE


def current_span() -> trace.Span:
    """nova_lite's current span, else OpenTelemetry's (`trace.INVALID_SPAN` outside any).

    Inside an RPC hop, a non-recording span of the hop's context: a hop's
    attributes are its shape's (`nova_lite.tracing.hops`).
    """
    found = CURRENT.get()
    if found is None:
        return trace.get_current_span()
    if isinstance(found, Hop):
        context = span_context(found.trace_id, found.span_id, found.sampled, None, is_remote=False)
        return trace.NonRecordingSpan(context)
    return found


def parent_of(context: otel_context.Context | None, *, bridge: bool = False) -> Parent | None:
    """The parent of a span started in `context` (None: the current span, if any).

    nova_lite's current span; bridged, OpenTelemetry's current span (nova_lite's
    own or another instrumentation's, whichever is innermost).
    """
    if context is None:
        if not bridge:
            return CURRENT.get()
        span = trace.get_current_span()
    else:
        span = trace.get_current_span(context)
    if isinstance(span, LightSpan):
        return span
    return remote_of(span.get_span_context())


def remote_of(context: SpanContext) -> Remote | None:
    """An OpenTelemetry `SpanContext` as a parent, or None when it is not valid."""
    if not context.is_valid:
        return None
    state = context.trace_state.to_header() if context.trace_state else None
    return Remote(
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
        context.trace_flags.sampled,
        state or None,
        is_remote=context.is_remote,
    )


def span_context(
    trace_id: str, span_id: str, sampled: bool, trace_state: str | None, *, is_remote: bool
) -> SpanContext:
    """The OpenTelemetry `SpanContext` of hex ids (what the SDK's exporters read)."""
    from opentelemetry.trace import TraceState

    return SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote,
        _SAMPLED if sampled else _NOT_SAMPLED,
        TraceState.from_header([trace_state]) if trace_state else None,
    )


def _global_provider_set() -> bool:
    """Whether OpenTelemetry's global tracer provider was set (someone else traces too)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
