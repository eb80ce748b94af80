"""The RPC layer's hooks: every call and cast sent, every request handled.

`Invoker.call` and `Invoker.cast` ask the transport's `Telemetry` (if any) for an
`Observed` first thing (`RpcObserver.sending`), the `Worker`'s dispatch of one
request likewise (`RpcObserver.handling`), and end it on the way out, inline in
their own coroutines: no second coroutine, so nothing when telemetry is off but
one lookup. It counts the message, times it, counts a failure by its exception
class, and (tracing on) runs it inside a span: a CLIENT (call) or PRODUCER (cast)
span around the send, so the message carries its ``traceparent``; a SERVER or
CONSUMER span around the handler, continuing the sender's trace from the message
(`nova_lite.tracing.propagation.remote`; through an in-process broker, from the
sender's hop itself, `nova_lite.tracing.light.HANDED_OVER`). The spans are the
light tracer's, made current in its context variable (but, with tracing alone on,
a sent message's, which the Invoker hands to the encoder instead), with their
attributes left to the export (`LightSpan.defer`) or, for a `Hop`, taken as its
row's values: these hooks run for every message.
"""

from __future__ import annotations

import bisect
import contextvars
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from nova_lite.metrics import Metrics
from nova_lite.tracing.hops import Shape
from nova_lite.tracing.light import (
    CURRENT,
    HANDED_OVER,
    NOWHERE,
    SAMPLED_FLAGS,
    VALID_00,
    Hop,
    LightSpan,
    LightTracer,
    new_id,
    new_trace_id,
    parent_of,
    pop_id,
    pop_trace_id,
)

if TYPE_CHECKING:
    from nova_lite.metrics.families import CounterChild as Counter
    from nova_lite.metrics.families import GaugeChild as Gauge
    from nova_lite.metrics.families import HistogramChild as Histogram
    from nova_lite.rpc.envelope import Request
    from nova_lite.rpc.target import Target

__all__ = ["Metered", "Observed", "RpcObserver", "instance_of"]

SYSTEM = "oslo.messaging"
_new = object.__new__
_now = time.time_ns
_perf = time.perf_counter
_bisect = bisect.bisect_left
_handed_over = HANDED_OVER.pop
#: Span shapes an observer keeps (emptied when full: hosts x methods is unbounded).
SHAPES = 4096


_HOLDERS = ("instance", "spec", "request_spec")  # arguments that may hold an instance's uuid
_HOLDER_KEYS = frozenset(_HOLDERS)


def instance_of(args: Mapping[str, Any]) -> str | None:
    """The instance uuid a request is about, if its arguments name one (for spans).

    Called twice per traced message (sent, handled): arguments with none of the
    keys that could hold one are told by one C-level test, with no look-up per key.
    """
    uuid = args.get("instance_uuid")
    if isinstance(uuid, str):
        return uuid
    if _HOLDER_KEYS.isdisjoint(args):
        return None
    for key in _HOLDERS:
        value = args.get(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            value = value.get("nova_object.data", value)  # a versioned object on the wire
            value = value.get("uuid") or value.get("instance_uuid")
        else:
            value = getattr(value, "uuid", None) or getattr(value, "instance_uuid", None)
        if isinstance(value, str):
            return value
    return None


class RpcObserver:
    """Counts, times and traces RPC messages for one deployment's `Metrics` and tracer.

    The labelled children of the hot metrics are made once per (topic, method, kind)
    and kept: ``labels()`` on every message would cost more than the rest together.

    With tracing alone on (no metrics, no OpenTelemetry bridge), `sending` and
    `handling` are `_send_hop` and `_handle_hop`: the common hop (a new trace, or
    one under a hop of this process; a handled message with nova_lite's own
    ``traceparent``) made right there, its attributes taken inline, with no other
    call; anything else goes the general way. These run twice per message, and
    an in-memory call costs only some 60 µs: every bytecode shows (see
    benchmarks/README.md, "tracing cost on in-memory calls").
    """

    def __init__(self, metrics: Metrics | None, tracer: LightTracer | None) -> None:
        self.metrics = metrics
        self.tracer = tracer
        self._sent: dict[tuple[str, str, str], tuple[Counter, Histogram | None]] = {}
        self._handled: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._in_flight: dict[str, Gauge] = {}
        self._shapes: dict[tuple[Any, ...], Shape] = {}
        # The sampling of a new trace, as `LightTracer.hop` decides it.
        self._every = tracer is not None and tracer._every
        self._bound = tracer._bound if tracer is not None else 0
        self._meters: dict[tuple[str, str, str | bool], Meter] = {}
        if tracer is not None and metrics is None and not tracer.bridge:
            self.sending = self._send_hop  # type: ignore[method-assign]
            self.handling = self._handle_hop  # type: ignore[method-assign]
        elif tracer is None and metrics is not None:
            self.sending = self._send_metered  # type: ignore[method-assign]
            self.handling = self._handle_metered  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"<RpcObserver sent={len(self._sent)} handled={len(self._handled)} kinds>"

    def sending(
        self, kind: str, target: Target, method: str, args: Mapping[str, Any]
    ) -> Observed | Hop | Metered:
        """A call or cast (`kind`) about to be sent: counted, timed, tracing on in a span.

        The Invoker calls it first thing in its own coroutine and ends what it gets
        back on the way out (`failed`, then `end`): no second coroutine around the
        send. With tracing alone on that is the `Hop` itself, current until it ends.
        """
        topic = target.topic or ""
        tracer = self.tracer
        span: Hop | LightSpan | None = None
        token = bridged = None
        if tracer is not None:
            bridge = tracer.bridge
            parent = parent_of(None, bridge=True) if bridge else CURRENT.get()
            key = (kind, topic, method, target.server, NOWHERE if parent is None else parent.where)
            shape = self._shapes.get(key) or self._shape(key, tracer)  # (a Shape is never "")
            if bridge:
                span = tracer.child(shape.name, shape.kind, parent, make=shape, args=(args,))
                bridged = _bridge(span)
            else:
                span = tracer.hop(shape, parent, args)
                if type(span) is Hop and self.metrics is None:  # tracing alone: the hop
                    span.token = CURRENT.set(span)
                    return span
            token = CURRENT.set(span)
        if self.metrics is None:
            return Observed(self, span, token, bridged, None, 0.0, topic, method, kind)
        children = self._sent.get((topic, method, kind)) or self._sent_children(topic, method, kind)
        return Observed(
            self, span, token, bridged, children, time.perf_counter(), topic, method, kind
        )

    def handling(self, target: Target, request: Request) -> Observed | Hop | Metered:
        """A request about to be handled: counted, timed, tracing on in a span (as `sending`)."""
        topic, method = target.topic or "", request.method
        kind = "call" if request.is_call else "cast"
        tracer = self.tracer
        span: Hop | LightSpan | None = None
        token = bridged = None
        if tracer is not None:
            key = (kind, topic, method, target.server)
            shape = self._shapes.get(key) or self._shape(key, tracer)
            if tracer.bridge:
                span = tracer.continued(
                    shape.name, shape.kind, request.trace, shape.where, make=shape,
                    args=(request,),
                )  # fmt: skip
                bridged = _bridge(span)
            else:
                span = tracer.handling(shape, request.trace, request)
                if type(span) is Hop and self.metrics is None:  # tracing alone: the hop
                    span.token = CURRENT.set(span)
                    return span
            token = CURRENT.set(span)
        if self.metrics is None:
            return Observed(self, span, token, bridged, None, 0.0, topic, method, None)
        self._gauge(topic).inc()
        children = self._handled.get((topic, method, kind)) or self._handled_children(
            topic, method, kind
        )
        return Observed(
            self, span, token, bridged, children, time.perf_counter(), topic, method, None
        )

    def _send_metered(
        self, kind: str, target: Target, method: str, args: Mapping[str, Any]
    ) -> Observed | Hop | Metered:
        """`sending` with metrics alone on: one `Metered` (its `Meter` kept per key)."""
        key = (target.topic or "", method, kind)
        meter = self._meters.get(key) or self._meter(key)
        metered = _new(Metered)
        metered.meter = meter
        metered.started = _perf()
        return metered

    def _handle_metered(self, target: Target, request: Request) -> Observed | Hop | Metered:
        """`handling` with metrics alone on: one `Metered`, the in-flight gauge up.

        Its key says a call by True, a cast by False (a sent message's: by name).
        """
        key = (target.topic or "", request.method, request.is_call)
        meter = self._meters.get(key) or self._meter(key)
        meter.in_flight.value += 1  # type: ignore[union-attr]
        metered = _new(Metered)
        metered.meter = meter
        metered.started = _perf()
        return metered

    def _meter(self, key: tuple[str, str, str | bool]) -> Meter:
        """The `Meter` of one `_send_metered` or `_handle_metered` key (made once)."""
        topic, method, kind = key
        if len(self._meters) >= SHAPES:
            self._meters.clear()
        if type(kind) is bool:  # handled
            handled = "call" if kind else "cast"
            counter, seconds = self._handled_children(topic, method, handled)
            meter = Meter(self, counter, seconds, self._gauge(topic), topic, method, None)
        else:
            assert isinstance(kind, str)
            counter, maybe = self._sent_children(topic, method, kind)
            meter = Meter(self, counter, maybe, None, topic, method, kind)
        self._meters[key] = meter
        return meter

    def _send_hop(
        self, kind: str, target: Target, method: str, args: Mapping[str, Any]
    ) -> Observed | Hop | Metered:
        """`sending` with tracing alone on: the hop made here (see the class).

        The hop is not made current: nothing runs inside a send but the publish,
        and the Invoker hands the hop to the encoder, which writes its
        ``traceparent`` (`nova_lite.rpc.envelope.encode_request`'s `sent`). It is
        made as `Hop.__init__` makes one, inline (no second frame per message).
        """
        parent = CURRENT.get()
        if parent is None:
            where = NOWHERE
        elif type(parent) is Hop:
            where = parent.shape.where
        else:  # a full span's child (a tracestate, a foreign parent): the general way
            return RpcObserver.sending(self, kind, target, method, args)
        key = (kind, target.topic or "", method, target.server, where)
        shape = self._shapes.get(key) or self._new_shape(key)
        uuid = args.get("instance_uuid")  # `instance_of`, inline for the common case
        if type(uuid) is not str:
            uuid = instance_of(args)
        hop = _new(Hop)
        hop.shape = shape
        if parent is None:
            try:
                trace_id = pop_trace_id()  # `new_trace_id`, inline
            except IndexError:
                trace_id = new_trace_id()
            hop.trace_id = trace_id
            hop.parent_id = None
            hop.sampled = self._every or int(trace_id[16:], 16) < self._bound
        else:
            hop.trace_id = parent.trace_id
            hop.parent_id = parent.span_id
            hop.sampled = parent.sampled
        try:
            hop.span_id = pop_id()  # `new_id`, inline
        except IndexError:
            hop.span_id = new_id()
        hop.values = (uuid,)
        hop.token = hop.full = None
        hop.start_time = _now()
        return hop

    def _handle_hop(self, target: Target, request: Request) -> Observed | Hop | Metered:
        """`handling` with tracing alone on: the hop made here, and made current.

        No ``traceparent``: a new trace; one this process wrote into a message of
        an in-process broker (`nova_lite.tracing.light.HANDED_OVER`): the sender's
        hop continued, its ids as they are; nova_lite's version-00 one from
        elsewhere (checked whole, as `LightTracer.handling` does): its trace
        continued; anything else (a ``tracestate``, another version, an invalid
        one) goes the general way.
        """
        headers = request.trace
        parent = headers.get("traceparent")
        sender = None
        if parent is not None:
            sender = _handed_over(parent, None)  # this process's own: no parsing
            if sender is None and (VALID_00.fullmatch(parent) is None or "tracestate" in headers):
                return RpcObserver.handling(self, target, request)
        key = (
            request.msg_id is not None and request.reply_q is not None,  # `Request.is_call`
            target.topic or "",
            request.method,
            target.server,
        )
        shape = self._shapes.get(key) or self._new_shape(key)
        args = request.args
        uuid = args.get("instance_uuid")  # `instance_of`, inline for the common case
        if type(uuid) is not str:
            uuid = instance_of(args)
        hop = _new(Hop)
        hop.shape = shape
        if parent is None:
            try:
                trace_id = pop_trace_id()
            except IndexError:
                trace_id = new_trace_id()
            hop.trace_id = trace_id
            hop.parent_id = None
            hop.sampled = self._every or int(trace_id[16:], 16) < self._bound
        elif sender is not None:
            hop.trace_id = sender.trace_id
            hop.parent_id = sender.span_id
            hop.sampled = sender.sampled
        else:
            hop.trace_id = parent[3:35]
            hop.parent_id = parent[36:52]
            hop.sampled = parent[53:] in SAMPLED_FLAGS
        try:
            hop.span_id = pop_id()
        except IndexError:
            hop.span_id = new_id()
        hop.values = (request.context.request_id, uuid)
        hop.full = None
        hop.start_time = _now()
        hop.token = CURRENT.set(hop)
        return hop

    def _new_shape(self, key: tuple[Any, ...]) -> Shape:
        """`_shape` for the hop hooks' keys, whose handler keys say a call by True."""
        tracer = self.tracer
        assert tracer is not None
        if len(key) == 4:
            shape = self._shape(("call" if key[0] else "cast", *key[1:]), tracer)
        else:
            shape = self._shape(key, tracer)
        self._shapes[key] = shape
        return shape

    def _shape(self, key: tuple[Any, ...], tracer: LightTracer) -> Shape:
        """The shape of the spans of one kind of hop: a send (5 keys) or a handler (4)."""
        if len(self._shapes) >= SHAPES:
            self._shapes.clear()
        kind, topic, method, server = key[:4]
        name = f"{topic}/{method}"
        attributes: dict[str, Any] = {"rpc.system": SYSTEM, "rpc.method": method}
        if len(key) == 5:  # sent, from the service and host of the sender's span
            service, host = key[4]
            attributes["nova_lite.service"] = service or "client"
            attributes["nova_lite.host"] = host
            if server:
                attributes["server.address"] = server
            shape = Shape(
                name, _CLIENT_KINDS[kind], tracer, attributes, _SENT, _sent_values,
                remote_parent=False, where=key[4],
            )  # fmt: skip
        else:
            attributes["nova_lite.service"] = topic
            attributes["nova_lite.host"] = server or ""
            shape = Shape(
                name, _SERVER_KINDS[kind], tracer, attributes, _HANDLED, _handled_values,
                remote_parent=True, where=(topic, server or ""),
            )  # fmt: skip
        self._shapes[key] = shape
        return shape

    def _sent_children(
        self, topic: str, method: str, kind: str
    ) -> tuple[Counter, Histogram | None]:
        key = (topic, method, kind)
        found = self._sent.get(key)
        if found is None:
            assert self.metrics is not None
            counter = self.metrics.rpc_sent.labels(topic, method, kind)
            seconds = (
                self.metrics.rpc_call_duration.labels(topic, method) if kind == "call" else None
            )
            found = self._sent[key] = (counter, seconds)
        return found

    def _handled_children(self, topic: str, method: str, kind: str) -> tuple[Counter, Histogram]:
        key = (topic, method, kind)
        found = self._handled.get(key)
        if found is None:
            assert self.metrics is not None
            found = self._handled[key] = (
                self.metrics.rpc_handled.labels(topic, method, kind),
                self.metrics.rpc_handle_duration.labels(topic, method),
            )
        return found

    def _gauge(self, topic: str) -> Gauge:
        found = self._in_flight.get(topic)
        if found is None:
            assert self.metrics is not None
            found = self._in_flight[topic] = self.metrics.rpc_in_flight.labels(topic)
        return found


class Observed:
    """One message's hooks while it is sent or handled (`RpcObserver.sending`, `.handling`).

    The Invoker or Worker calls `failed` if an exception leaves its work, then `end`
    always: the span ended and made no longer current, the message counted and timed.
    `kind` is the sent message's ("call" or "cast"), None for one handled.
    """

    __slots__ = (
        "bridged", "children", "kind", "method", "observer", "span", "started", "token", "topic",
    )  # fmt: skip

    def __init__(
        self,
        observer: RpcObserver,
        span: Hop | LightSpan | None,
        token: contextvars.Token[Any] | None,
        bridged: contextvars.Token[otel_context.Context] | None,
        children: tuple[Counter, Histogram | None] | None,
        started: float,
        topic: str,
        method: str,
        kind: str | None,
    ) -> None:
        self.observer = observer
        self.span = span
        self.token = token
        self.bridged = bridged
        self.children = children
        self.started = started
        self.topic = topic
        self.method = method
        self.kind = kind

    def failed(self, exc: BaseException) -> None:
        """`exc` left the send or the handler: the span keeps it, the failure is counted."""
        if not isinstance(exc, Exception):
            return  # a cancellation: ended as it is, not counted as a failure
        span = self.span
        if span is not None:
            self.span = span.failed(exc)
        metrics = self.observer.metrics
        if metrics is not None:
            _count_failure(metrics, self.topic, self.method, self.kind, exc)

    def end(self) -> None:
        """The send or the handler is over, however it went."""
        span = self.span
        if span is not None:
            CURRENT.reset(self.token)  # type: ignore[arg-type]
            if self.bridged is not None:
                otel_context.detach(self.bridged)
            span.end()
        children = self.children
        if children is not None:
            counter, seconds = children
            counter.inc()
            if seconds is not None:
                seconds.observe(time.perf_counter() - self.started)
            if self.kind is None:
                self.observer._gauge(self.topic).dec()


class Meter:
    """The metric children of one kind of message (topic, method, sent kind or handled).

    Made once per key (`RpcObserver._meter`); each message's `Metered` points at it.
    """

    __slots__ = ("counter", "in_flight", "kind", "method", "observer", "seconds", "topic")

    def __init__(
        self,
        observer: RpcObserver,
        counter: Counter,
        seconds: Histogram | None,
        in_flight: Gauge | None,
        topic: str,
        method: str,
        kind: str | None,
    ) -> None:
        self.observer = observer
        self.counter = counter
        self.seconds = seconds
        self.in_flight = in_flight
        self.topic = topic
        self.method = method
        self.kind = kind


class Metered:
    """One message sent or handled with metrics alone on: its `Meter` and start time.

    As `Observed` (`failed`, then `end`), with the children's numbers moved inline
    (each hook runs twice per call, and a call in memory costs some 60 µs).
    Made without `__init__` (`RpcObserver._send_metered`).
    """

    __slots__ = ("meter", "started")

    meter: Meter
    started: float

    def failed(self, exc: BaseException) -> None:
        """`exc` left the send or the handler: counted by its class (a cancellation not)."""
        if isinstance(exc, Exception):
            meter = self.meter
            metrics = meter.observer.metrics
            assert metrics is not None
            _count_failure(metrics, meter.topic, meter.method, meter.kind, exc)

    def end(self) -> None:
        """The send or the handler is over: counted, timed, the in-flight gauge down."""
        meter = self.meter
        meter.counter.value += 1.0  # `CounterChild.inc`, inline
        seconds = meter.seconds
        if seconds is not None:  # `HistogramChild.observe`, inline
            took = _perf() - self.started
            seconds.counts[_bisect(seconds._bounds, took)] += 1
            seconds.sum += took
        gauge = meter.in_flight
        if gauge is not None:
            gauge.value -= 1.0


def _count_failure(
    metrics: Metrics, topic: str, method: str, kind: str | None, exc: Exception
) -> None:
    """A failed send (`kind` "call" or "cast") or handler (`kind` None), by `exc`'s class."""
    name = type(exc).__name__
    if kind is None:
        metrics.rpc_handle_failures.labels(topic, method, name).inc()
    else:
        metrics.rpc_send_failures.labels(topic, method, kind, name).inc()


_CLIENT_KINDS = {"call": SpanKind.CLIENT, "cast": SpanKind.PRODUCER}
_SERVER_KINDS = {"call": SpanKind.SERVER, "cast": SpanKind.CONSUMER}


def _bridge(span: LightSpan) -> contextvars.Token[otel_context.Context]:
    """`span` made OpenTelemetry's current span too (`LightTracer.bridge`)."""
    return otel_context.attach(trace.set_span_in_context(span))


_SENT = ("nova_lite.instance_uuid",)
_HANDLED = ("nova_lite.request_id", "nova_lite.instance_uuid")


def _sent_values(args: Mapping[str, Any]) -> tuple[Any, ...]:
    """A sent message's own span attributes (`_SENT`): the instance it is about."""
    return (instance_of(args),)


def _handled_values(request: Request) -> tuple[Any, ...]:
    """A handled request's own span attributes (`_HANDLED`): request id, instance."""
    return (request.context.request_id, instance_of(request.args))
