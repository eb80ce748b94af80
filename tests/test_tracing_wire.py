"""The trace context on the wire, tracing off costing nothing, and the small parts.

The W3C ``traceparent`` rides as one more ``_context_`` key beside the request id
(oslo's profiler's way), only inside a span of a live `Tracing`; with tracing off no
span object is made anywhere, which a counting tracer provider installed as
OpenTelemetry's global one, and counters on both span classes, check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import TracerProvider

from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.launcher import serve_metrics
from nova_lite.metrics import Metrics
from nova_lite.metrics.queues import QueueDepths
from nova_lite.rpc import envelope
from nova_lite.rpc.target import Target
from nova_lite.scheduler.explain import FilterTally
from nova_lite.telemetry import Telemetry
from nova_lite.telemetry.rpc import RpcObserver, instance_of
from nova_lite.testing import CloudFactory, NotificationTap, TransportFactory
from nova_lite.tracing import light, propagation, tracing_from_config
from nova_lite.tracing.exporters import MemoryExporter
from nova_lite.tracing.light import Hop
from nova_lite.transport import Message
from tests.http_fixtures import boot_one_then_stop


def _encode(ctx: RequestContext) -> dict[str, Any]:
    body = envelope.encode_request(
        ctx, "ping", {}, namespace=None, version="1.0", unique_id="u1", msg_id="m1", reply_q="r"
    )
    inner: dict[str, Any] = orjson.loads(orjson.loads(body)["oslo.message"])
    return inner


def test_a_message_sent_in_a_span_carries_its_traceparent_beside_the_request_id() -> None:
    """Inside a span of a live Tracing the request has ``_context_traceparent``; it decodes."""
    tracing = tracing_from_config(Config.load(environ={}), exporter=MemoryExporter())
    assert tracing is not None
    ctx = RequestContext()
    try:
        with tracing.tracer.start_as_current_span("send") as span:
            inner = _encode(ctx)
            context = span.get_span_context()
    finally:
        tracing.shutdown()
    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert inner["_context_traceparent"] == expected
    assert inner["_context_request_id"] == ctx.request_id
    body = orjson.dumps({"oslo.version": "2.0", "oslo.message": orjson.dumps(inner).decode()})
    assert envelope.decode_request(body).trace == {"traceparent": expected}


def test_without_a_live_tracing_no_message_carries_a_trace_context() -> None:
    """A span of someone else's provider is not nova_lite's: nothing is read or sent."""
    provider = TracerProvider(shutdown_on_exit=False)
    with provider.get_tracer("other").start_as_current_span("theirs"):
        inner = _encode(RequestContext())
    assert not [key for key in inner if "trace" in key]
    body = orjson.dumps({"oslo.version": "2.0", "oslo.message": orjson.dumps(inner).decode()})
    assert envelope.decode_request(body).trace == {}


class _Counting(sdk_trace.SpanProcessor):
    """Counts every span any tracer of its provider starts."""

    def __init__(self) -> None:
        self.started = 0

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started += 1


@pytest.fixture
def span_counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """A counting provider as OpenTelemetry's global one, and counts of span objects made."""
    counts = {"sdk": 0, "non_recording": 0}
    processor = _Counting()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    for cls, key in ((sdk_trace.Span, "sdk"), (trace.NonRecordingSpan, "non_recording")):
        original = cls.__init__

        def counted(self: Any, *args: Any, __o: Any = original, __k: str = key, **kw: Any) -> None:
            counts[__k] += 1
            __o(self, *args, **kw)

        monkeypatch.setattr(cls, "__init__", counted)
    yield counts
    counts["global"] = processor.started


async def test_tracing_off_makes_no_span_object_at_all(
    clouds: CloudFactory, span_counts: dict[str, int]
) -> None:
    """A boot through HTTP with ``exporter = "none"``: no span started, none even made."""
    cloud = await clouds.start(computes=1)
    assert cloud.telemetry.tracing is None and cloud.telemetry.metrics is not None
    await boot_one_then_stop(cloud)
    assert span_counts == {"sdk": 0, "non_recording": 0}
    assert trace.get_tracer_provider().get_tracer("probe") is not None  # the counter is live


def test_a_tally_adds_batches_up_and_keeps_the_filters_order() -> None:
    """Filters run over several batches are reported once each, in the order they ran."""
    tally = FilterTally()
    for given, kept in ((4, 3), (4, 1)):
        tally.began(given)
        tally.record("ComputeFilter", given, given)
        tally.record("ResourceFilter", given, kept)
    assert tally.start == 8
    assert tally.removed() == [("ComputeFilter", 0), ("ResourceFilter", 4)]
    assert tally.results() == [
        "ComputeFilter: (start: 8, end: 8)",
        "ResourceFilter: (start: 8, end: 4)",
    ]


async def test_queue_depth_counts_the_waiting_messages(broker: TransportFactory) -> None:
    """Both transports tell a queue's depth; the poller sets the gauge from it."""
    transport = await broker.connect()
    queue = await transport.declare_queue(broker.name("depth"))
    for _ in range(2):
        await transport.publish("", queue, Message(b"x"))
    assert await transport.queue_depth(queue) == 2
    metrics = Metrics()
    assert await QueueDepths(transport, [queue], metrics, interval=60).read()
    assert metrics.value("nova_lite_rpc_queue_messages", queue=queue) == 2


async def test_metrics_listen_serves_the_process_registry() -> None:
    """``[metrics] listen`` serves /metrics in Prometheus's text format."""
    config = Config.load(environ={}, metrics={"listen": "127.0.0.1:0"})
    observed = Telemetry.from_config(config)
    assert observed.metrics is not None
    observed.metrics.builds.labels("active").inc()
    async with serve_metrics(config, observed) as server, aiohttp.ClientSession() as http:
        assert server is not None
        async with http.get(server.url) as response:
            text = await response.text()
            assert response.status == 200
            assert response.content_type == "text/plain"
    assert 'nova_lite_builds_total{outcome="active"} 1.0' in text


async def test_a_sample_ratio_of_zero_records_no_span(memory_clouds: CloudFactory) -> None:
    """``sample_ratio = 0``: traces are sampled out at their root, and so on every hop."""
    cloud = await memory_clouds.start(
        computes=1, tracing={"exporter": "memory", "sample_ratio": 0.0}
    )
    tap = await NotificationTap.attach(cloud)
    session = await cloud.login_admin()
    [server] = await session.servers.create("unsampled", flavor="m1.tiny", image="cirros")
    await tap.wait_event(server.id, "instance.create.end")
    await cloud.stop()
    assert cloud.telemetry.tracing is not None
    assert cloud.telemetry.tracing.spans() == []


def test_a_traceparent_is_continued_as_the_remote_parent() -> None:
    """The handler's parent is the sender's span; a malformed header starts a new trace."""
    sent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    parent = trace.get_current_span(propagation.parent_context({"traceparent": sent}))
    context = parent.get_span_context()
    assert (context.trace_id, context.span_id, context.is_remote) == (
        int("ab" * 16, 16),
        int("cd" * 8, 16),
        True,
    )
    broken = propagation.parent_context({"traceparent": "00-zz-yy-01"})
    assert not trace.get_current_span(broken).get_span_context().is_valid


def test_a_message_gets_the_same_trace_keys_as_the_carrier_gives() -> None:
    """`propagation.write` puts a hop's one ``traceparent`` string straight into the
    message, and any other span's carrier keys: what `carrier()` would have given."""
    tracing = tracing_from_config(Config.load(environ={}), exporter=MemoryExporter())
    assert tracing is not None
    observer = RpcObserver(None, tracing.tracer)
    try:
        request = envelope.Request("ping", {}, RequestContext(), msg_id="m1", reply_q="r")
        hop = observer.handling(Target(topic="calc", server="h1"), request)
        assert isinstance(hop, Hop) and light.CURRENT.get() is hop
        written: dict[str, Any] = {}
        propagation.write(written, "_context_")
        expected = {"_context_" + key: value for key, value in propagation.carrier().items()}
        assert written == expected == {"_context_traceparent": hop.traceparent()}
        hop.end()
        with tracing.tracer.start_as_current_span("send"):
            written = {}
            propagation.write(written, "_context_")
            expected = {"_context_" + key: value for key, value in propagation.carrier().items()}
            assert written == expected and "_context_traceparent" in written
        written = {}
        propagation.write(written, "_context_")  # outside any span: nothing
        assert written == {}
    finally:
        tracing.shutdown()


def test_a_sent_hop_is_not_current_and_its_message_carries_it() -> None:
    """Tracing alone, the hop of a message sent is not made current (nothing runs in a
    send but the publish): the encoder writes the hop's ``traceparent`` it is handed,
    the one `write` would write were it current, and the handler's hop continues it."""
    exporter = MemoryExporter()
    tracing = tracing_from_config(Config.load(environ={}), exporter=exporter)
    assert tracing is not None
    observer = RpcObserver(None, tracing.tracer)
    ctx = RequestContext()
    try:
        sent = observer.sending("call", Target(topic="calc", server="h1"), "ping", {})
        assert isinstance(sent, Hop) and light.CURRENT.get() is None
        body = envelope.encode_request(
            ctx, "ping", {}, namespace=None, version=None, unique_id="u1", msg_id="m1",
            reply_q="r", bare=True, sent=sent,
        )  # fmt: skip
        assert orjson.loads(body)["_context_traceparent"] == sent.traceparent()
        token = light.CURRENT.set(sent)  # were it current: the same key
        written: dict[str, Any] = {}
        propagation.write(written, "_context_")
        light.CURRENT.reset(token)
        assert written == {"_context_traceparent": sent.traceparent()}
        request = envelope.decode_request(body, bare=True)
        handled = observer.handling(Target(topic="calc", server="h1"), request)
        assert isinstance(handled, Hop) and light.CURRENT.get() is handled
        assert (handled.trace_id, handled.parent_id) == (sent.trace_id, sent.span_id)
        inner = observer.sending("cast", Target(topic="calc"), "note", {"instance_uuid": "u"})
        assert isinstance(inner, Hop) and inner.parent_id == handled.span_id
        assert inner.where == handled.where == ("calc", "h1")  # the handler's, inherited
        inner.end()
        handled.end()
        sent.end()
        assert light.CURRENT.get() is None
        tracing.tracer.flush()
        spans = {span.name: span for span in exporter.spans()}
        assert spans["calc/ping"].context is not None and spans["calc/note"].parent is not None
        assert spans["calc/note"].parent.span_id == int(handled.span_id, 16)
    finally:
        tracing.shutdown()


@pytest.mark.parametrize(
    ("args", "uuid"),
    [
        ({"instance_uuid": "u1", "instance": {"uuid": "u2"}}, "u1"),
        ({"instance": {"nova_object.data": {"uuid": "u2"}}}, "u2"),
        ({"spec": {"instance_uuid": "u3"}}, "u3"),
        ({"request_spec": {"nova_object.data": {"instance_uuid": "u4"}}}, "u4"),
        ({"value": {"instance_uuid": "u5"}, "n": 1}, None),
        ({}, None),
        ({"instance_uuid": 7}, None),
    ],
)
def test_a_span_names_the_instance_its_arguments_hold(
    args: dict[str, Any], uuid: str | None
) -> None:
    """`instance_of` finds the uuid where a request's arguments can hold it, and no other."""
    assert instance_of(args) == uuid
