"""The RPC hooks inline in the Invoker and the Worker: how a hop ends, whatever ends it.

The hooks are no second coroutine: `Invoker.call`/`cast` and the Worker's dispatch
ask the observer for what to end (with tracing alone on, the `Hop` itself) and end
it on every way out. These hold the ways out the happy path does not take: an
endpoint's exception (the spans on both sides an error, the failure counted), and
a caller cancelled while the server still works (its span ended, not an error;
the server's ended once its handler is done). After each, no span is left current.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import NotFound
from nova_lite.rpc import Invoker, Target, Worker, endpoint
from nova_lite.telemetry import Telemetry, install, uninstall
from nova_lite.telemetry import rpc as rpc_hooks
from nova_lite.testing import TransportFactory
from nova_lite.tracing import light
from nova_lite.tracing.exporters import MemoryExporter


class _Endpoint:
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.done = asyncio.Event()
        self.noted = asyncio.Event()
        self.relay_to: Invoker | None = None  # the server's own Invoker, for `relay`

    @endpoint
    async def relay(self, ctx: RequestContext, instance_uuid: str) -> str:
        assert self.relay_to is not None
        await self.relay_to.cast(ctx, "note", instance_uuid=instance_uuid)
        return instance_uuid

    @endpoint
    async def note(self, ctx: RequestContext, instance_uuid: str) -> None:
        self.noted.set()

    @endpoint
    async def lookup(self, ctx: RequestContext, instance_uuid: str) -> None:
        raise NotFound(f"No instance {instance_uuid}.")

    @endpoint
    async def hold(self, ctx: RequestContext, instance_uuid: str) -> str:
        self.entered.set()
        try:
            await self.release.wait()
            return instance_uuid
        finally:
            self.done.set()


@dataclass
class _Pair:
    telemetry: Telemetry
    exporter: MemoryExporter
    invoker: Invoker
    endpoint: _Endpoint

    def spans(self, kind: SpanKind) -> list[object]:
        assert self.telemetry.tracing is not None
        self.telemetry.tracing.flush()
        return [span for span in self.exporter.spans() if span.kind is kind]


@pytest.fixture(params=[False, True], ids=["tracing", "tracing+metrics"])
async def pair(broker: TransportFactory, request: pytest.FixtureRequest) -> AsyncIterator[_Pair]:
    """An Invoker and a Worker over `broker`, tracing on (every trace), metrics as given."""
    exporter = MemoryExporter()
    config = Config.load(environ={}, metrics={"enabled": request.param})
    telemetry = Telemetry.from_config(config, exporter=exporter)
    assert telemetry.tracing is not None
    server, client = await broker.connect(), await broker.connect()
    for transport in (server, client):
        install(transport, telemetry)
    topic = broker.name("hops")
    handlers = _Endpoint()
    worker = Worker(server, Target(topic=topic, server="h1"), [handlers])
    await worker.start()
    invoker = Invoker(client, Target(topic=topic), timeout=10)
    handlers.relay_to = Invoker(server, Target(topic=topic, server="h1"), timeout=10)
    try:
        yield _Pair(telemetry, exporter, invoker, handlers)
    finally:
        await worker.stop()
        for transport in (server, client):
            uninstall(transport)
        telemetry.tracing.shutdown()


async def test_an_endpoints_exception_makes_both_spans_errors_and_is_counted(pair: _Pair) -> None:
    """The caller's CLIENT span and the server's SERVER span: ERROR, one exception event."""
    with pytest.raises(NotFound):
        await pair.invoker.call(RequestContext(), "lookup", instance_uuid="u-1")
    assert light.CURRENT.get() is None
    [client] = pair.spans(SpanKind.CLIENT)
    [server] = pair.spans(SpanKind.SERVER)
    for span in (client, server):
        assert span.status.status_code is StatusCode.ERROR  # type: ignore[attr-defined]
        assert [e.name for e in span.events] == ["exception"]  # type: ignore[attr-defined]
    assert server.parent.span_id == client.context.span_id  # type: ignore[attr-defined]
    metrics = pair.telemetry.metrics
    if metrics is not None:
        topic = pair.invoker.target.topic or ""
        labels = {"topic": topic, "method": "lookup"}
        assert metrics.value("nova_lite_rpc_send_failures_total", **labels, kind="call",
                             exception="NotFound") == 1  # fmt: skip
        assert metrics.value("nova_lite_rpc_handle_failures_total", **labels,
                             exception="NotFound") == 1  # fmt: skip
        assert metrics.value("nova_lite_rpc_in_flight_handlers", topic=topic) == 0


async def test_a_cancelled_call_ends_its_span_and_the_server_ends_its_own(pair: _Pair) -> None:
    """Cancelled while the handler is held: the CLIENT span ends unset at once, the
    SERVER span only when the handler returns, and neither is left current."""
    calling = asyncio.create_task(pair.invoker.call(RequestContext(), "hold", instance_uuid="u-2"))
    await asyncio.wait_for(pair.endpoint.entered.wait(), 10)
    calling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await calling
    [client] = pair.spans(SpanKind.CLIENT)
    assert client.status.status_code is StatusCode.UNSET  # type: ignore[attr-defined]
    assert pair.spans(SpanKind.SERVER) == []  # the handler still runs
    pair.endpoint.release.set()
    await asyncio.wait_for(pair.endpoint.done.wait(), 10)
    for _ in range(100):  # the dispatch ends its hop right after the handler returns
        if pair.spans(SpanKind.SERVER):
            break
        await asyncio.sleep(0.01)
    [server] = pair.spans(SpanKind.SERVER)
    assert server.parent.span_id == client.context.span_id  # type: ignore[attr-defined]
    assert light.CURRENT.get() is None


async def test_a_relayed_call_makes_the_same_tree_on_every_broker(pair: _Pair) -> None:
    """A call whose handler casts: CLIENT → SERVER → PRODUCER → CONSUMER, each the
    child of the one before, in one trace, whatever the broker (the in-memory one
    runs the hops in this process, as one task's context copied into another's) and
    whatever the hooks' path (tracing alone: the sender's hop handed to the encoder,
    not made current; with metrics: current)."""
    ctx = RequestContext()
    assert await pair.invoker.call(ctx, "relay", instance_uuid="u-3") == "u-3"
    await asyncio.wait_for(pair.endpoint.noted.wait(), 10)
    for _ in range(100):  # the CONSUMER hop ends right after its handler returns
        if pair.spans(SpanKind.CONSUMER):
            break
        await asyncio.sleep(0.01)
    assert light.CURRENT.get() is None
    [client] = pair.spans(SpanKind.CLIENT)
    [server] = pair.spans(SpanKind.SERVER)
    [producer] = pair.spans(SpanKind.PRODUCER)
    [consumer] = pair.spans(SpanKind.CONSUMER)
    chain = [client, server, producer, consumer]
    assert client.parent is None  # type: ignore[attr-defined]
    for parent, child in itertools.pairwise(chain):
        assert child.parent.span_id == parent.context.span_id  # type: ignore[attr-defined]
        assert child.context.trace_id == client.context.trace_id  # type: ignore[attr-defined]
    assert server.parent.is_remote and consumer.parent.is_remote  # type: ignore[attr-defined]
    assert not producer.parent.is_remote  # type: ignore[attr-defined]
    topic = pair.invoker.target.topic
    where = [
        (span.attributes["nova_lite.service"], span.attributes["nova_lite.host"])  # type: ignore[attr-defined]
        for span in chain
    ]
    assert where == [("client", ""), (topic, "h1"), (topic, "h1"), (topic, "h1")]
    for span in chain:
        assert span.attributes["nova_lite.instance_uuid"] == "u-3"  # type: ignore[attr-defined]
    assert server.attributes["nova_lite.request_id"] == ctx.request_id  # type: ignore[attr-defined]
    assert consumer.attributes["nova_lite.request_id"] == ctx.request_id  # type: ignore[attr-defined]


async def test_an_in_process_broker_hands_the_senders_hop_over(
    pair: _Pair, broker: TransportFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the in-memory broker, with tracing alone, the handler's hook takes its
    parent from the sender's hop found by the ``traceparent`` (no parsing), the entry
    gone once taken; over RabbitMQ (or with metrics on: the general hooks) nothing is
    handed over and the string is parsed. The spans are the same either way (above)."""
    found: list[object] = []

    def take(parent: str, default: None) -> object:
        hop = light.HANDED_OVER.pop(parent, default)
        found.append(hop)
        return hop

    monkeypatch.setattr(rpc_hooks, "_handed_over", take)
    assert await pair.invoker.call(RequestContext(), "relay", instance_uuid="u-4") == "u-4"
    await asyncio.wait_for(pair.endpoint.noted.wait(), 10)
    for _ in range(100):
        if pair.spans(SpanKind.CONSUMER):
            break
        await asyncio.sleep(0.01)
    [client] = pair.spans(SpanKind.CLIENT)
    [producer] = pair.spans(SpanKind.PRODUCER)
    handed = [hop for hop in found if hop is not None]
    if broker.kind == "memory" and pair.telemetry.metrics is None:
        assert [hop.span_id for hop in handed] == [  # type: ignore[attr-defined]
            f"{client.context.span_id:016x}",  # type: ignore[attr-defined]
            f"{producer.context.span_id:016x}",  # type: ignore[attr-defined]
        ]
    else:
        assert handed == []
    trace_id = f"{client.context.trace_id:032x}"  # type: ignore[attr-defined]
    assert not [hop for hop in light.HANDED_OVER.values() if hop.trace_id == trace_id]
