"""RPC behaviour (call, cast, routing, errors, lifecycle), on every transport."""

from __future__ import annotations

import asyncio
import datetime
import enum
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs
import pytest
import structlog

from nova_lite import Invoker, ObjectSerializer, RequestContext, Target, Worker
from nova_lite.exceptions import (
    InvalidRpcArguments,
    MessageTooLarge,
    MessageUndeliverable,
    MessagingTimeout,
    NoSuchMethod,
    NotFound,
    RemoteError,
    TransportClosed,
    UnsupportedVersion,
)
from nova_lite.rpc import endpoint, envelope
from nova_lite.rpc.invoker import accept_replies_up_to
from nova_lite.testing import TransportFactory
from nova_lite.transport import (
    Consumer,
    Delivery,
    ExchangeType,
    Message,
    Transport,
)
from transports.memory import MemoryTransport

log = structlog.get_logger("tests.endpoint")
WAIT = 10.0


class Recorder:
    """An endpoint that records which host served what, and can be told to block."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.seen: list[str] = []
        self.casts: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.release = asyncio.Event()
        self.entered: asyncio.Queue[int] = asyncio.Queue()
        self.tasks: list[asyncio.Task[object]] = []
        self.cancelled = asyncio.Event()
        self.kept: list[dict[str, Any]] = []

    @endpoint
    async def echo(self, ctx: RequestContext, value: object) -> object:
        self.seen.append("echo")
        return value

    @endpoint
    async def repeat(self, ctx: RequestContext, text: str, times: int) -> str:
        return text * times

    @endpoint
    async def keep(self, ctx: RequestContext, value: dict[str, Any]) -> dict[str, Any]:
        self.kept.append(value)
        return value

    @endpoint
    async def whoami(self, ctx: RequestContext) -> str:
        return self.host

    @endpoint
    async def note(self, ctx: RequestContext, n: int) -> None:
        await self.casts.put((self.host, n))

    @endpoint
    async def block(self, ctx: RequestContext, n: int) -> int:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        await self.entered.put(n)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return n

    @endpoint
    async def context_of(self, ctx: RequestContext) -> dict[str, object]:
        log.info("endpoint.handling", user_id=ctx.user_id)
        return {"request_id": ctx.request_id, "user_id": ctx.user_id, "roles": list(ctx.roles)}

    @endpoint
    async def not_found(self, ctx: RequestContext) -> None:
        raise NotFound("Instance abc could not be found.", instance_id="abc")

    @endpoint
    async def crash(self, ctx: RequestContext) -> None:
        raise KeyError("boom")


@attrs.define
class Fleet:
    """Workers serving one unique topic on one broker, and an Invoker aimed at it."""

    broker: TransportFactory
    target: Target
    invoker: Invoker
    transport: Transport
    workers: list[Worker] = attrs.field(factory=list)
    endpoints: list[Recorder] = attrs.field(factory=list)

    async def add_worker(
        self, host: str, *, transport: Transport | None = None, **options: object
    ) -> Recorder:
        endpoint = Recorder(host)
        worker = Worker(
            transport or self.transport,
            attrs.evolve(self.target, server=host),
            [endpoint],
            **options,  # type: ignore[arg-type]
        )
        await worker.start()
        self.workers.append(worker)
        self.endpoints.append(endpoint)
        return endpoint


@pytest.fixture
async def fleet(broker: TransportFactory) -> AsyncIterator[Fleet]:
    """One connected transport, a unique topic and exchange, and no workers yet."""
    transport = await broker.connect()
    target = Target(topic=broker.name("calc"), exchange=broker.name("nova"))
    invoker = Invoker(transport, target, timeout=WAIT)
    fleet = Fleet(broker, target, invoker, transport)
    yield fleet
    for served in fleet.endpoints:
        served.release.set()
    for worker in fleet.workers:
        await asyncio.wait_for(worker.stop(), WAIT)


CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",), auth_token="s3cret")


async def test_call_returns_the_endpoint_result(fleet: Fleet) -> None:
    """rpc.call runs the method on a worker and returns its JSON result."""
    await fleet.add_worker("h1")
    value = {"a": [1, 2.5, "x", None, True], "nested": {"k": "v"}}
    assert await fleet.invoker.call(CTX, "echo", value=value) == value


async def test_cast_runs_the_method_without_waiting(fleet: Fleet) -> None:
    """rpc.cast returns once sent, and the worker runs the method."""
    endpoint = await fleet.add_worker("h1")
    await fleet.invoker.cast(CTX, "note", n=7)
    assert await asyncio.wait_for(endpoint.casts.get(), WAIT) == ("h1", 7)


async def test_server_targeted_call_reaches_only_that_server(fleet: Fleet) -> None:
    """A call prepared with server=H goes to the ``topic.H`` queue of that worker."""
    await fleet.add_worker("h1")
    await fleet.add_worker("h2")
    to_h2 = fleet.invoker.prepare(server="h2")
    assert [await to_h2.call(CTX, "whoami") for _ in range(4)] == ["h2"] * 4


async def test_calls_to_the_topic_are_shared_round_robin(fleet: Fleet) -> None:
    """Calls to the bare topic are balanced across the workers of that topic."""
    await fleet.add_worker("h1")
    await fleet.add_worker("h2")
    served = Counter([await fleet.invoker.call(CTX, "whoami") for _ in range(6)])
    assert served == {"h1": 3, "h2": 3}


async def test_fanout_cast_reaches_every_worker(fleet: Fleet) -> None:
    """A fanout cast is delivered once to each worker of the topic."""
    endpoints = [await fleet.add_worker(h) for h in ("h1", "h2", "h3")]
    await fleet.invoker.prepare(fanout=True).cast(CTX, "note", n=1)
    got = [await asyncio.wait_for(e.casts.get(), WAIT) for e in endpoints]
    assert sorted(got) == [("h1", 1), ("h2", 1), ("h3", 1)]


async def test_fanout_cast_after_the_last_worker_left_is_undeliverable(fleet: Fleet) -> None:
    """The fanout exchange goes with its last queue (oslo's auto-delete); a cast then is
    refused as undeliverable, not as a missing exchange."""
    endpoint = await fleet.add_worker("h1")
    fanout = fleet.invoker.prepare(fanout=True)
    await fanout.cast(CTX, "note", n=1)
    assert await asyncio.wait_for(endpoint.casts.get(), WAIT) == ("h1", 1)
    await fleet.workers.pop().stop()  # deletes its fanout queue, the exchange's last
    with pytest.raises(MessageUndeliverable, match="Cannot cast"):
        await fanout.cast(CTX, "note", n=2)


async def test_call_with_no_worker_fails_at_once(fleet: Fleet) -> None:
    """A call to a topic that no queue is bound for raises MessageUndeliverable, not a timeout."""
    slow = fleet.invoker.prepare(timeout=600)
    with pytest.raises(MessageUndeliverable, match="no worker queue"):
        await asyncio.wait_for(slow.call(CTX, "echo", value=1), WAIT)


async def test_call_to_unknown_server_fails_at_once(fleet: Fleet) -> None:
    """A call aimed at a host that has no worker is undeliverable even if others exist."""
    await fleet.add_worker("h1")
    with pytest.raises(MessageUndeliverable):
        await fleet.invoker.prepare(server="nowhere", timeout=600).call(CTX, "whoami")


async def test_cast_with_no_worker_is_undeliverable(fleet: Fleet) -> None:
    """A cast nobody's queue can take is reported, not silently dropped."""
    with pytest.raises(MessageUndeliverable, match="Cannot cast"):
        await fleet.invoker.cast(CTX, "note", n=1)


async def test_call_times_out_naming_target_method_and_timeout(fleet: Fleet) -> None:
    """A call with no reply within the timeout raises MessagingTimeout saying what and where."""
    await fleet.add_worker("h1")
    quick = fleet.invoker.prepare(timeout=0.3)
    with pytest.raises(MessagingTimeout) as caught:
        await quick.call(CTX, "block", n=1)
    text = str(caught.value)
    assert "'block'" in text and f"{fleet.target.topic}" in text and "0.3s" in text
    assert isinstance(caught.value, TimeoutError)


async def test_allow_listed_remote_error_is_reraised_as_its_class(fleet: Fleet) -> None:
    """An endpoint's nova_lite exception comes back as the same class with its kwargs."""
    await fleet.add_worker("h1")
    with pytest.raises(NotFound, match="Instance abc could not be found") as caught:
        await fleet.invoker.call(CTX, "not_found")
    assert caught.value.kwargs == {"instance_id": "abc"}


async def test_other_remote_errors_arrive_as_remote_error(fleet: Fleet) -> None:
    """A non allow-listed exception arrives as RemoteError with class, value and traceback."""
    await fleet.add_worker("h1")
    with pytest.raises(RemoteError) as caught:
        await fleet.invoker.call(CTX, "crash")
    assert caught.value.exc_type == "KeyError"
    assert "boom" in caught.value.value
    assert "in crash" in caught.value.traceback


async def test_unknown_method_raises_no_such_method(fleet: Fleet) -> None:
    """Calling a method no endpoint has raises NoSuchMethod; private methods are hidden."""
    await fleet.add_worker("h1")
    with pytest.raises(NoSuchMethod):
        await fleet.invoker.call(CTX, "no_such_thing")
    with pytest.raises(NoSuchMethod):
        await fleet.invoker.call(CTX, "__init__")


async def test_bad_arguments_raise_invalid_rpc_arguments(fleet: Fleet) -> None:
    """Arguments that do not fit the method's signature are refused with a clear error."""
    await fleet.add_worker("h1")
    with pytest.raises(InvalidRpcArguments, match="echo"):
        await fleet.invoker.call(CTX, "echo", wrong=1)


class Versioned:
    """An endpoint serving namespace 'calc' at version 1.3."""

    target = Target(namespace="calc", version="1.3")

    @endpoint
    async def ping(self, ctx: RequestContext) -> str:
        return "pong"


@pytest.mark.parametrize(
    ("namespace", "version", "outcome"),
    [
        ("calc", "1.0", "pong"),
        ("calc", "1.3", "pong"),
        ("calc", "1.4", UnsupportedVersion),
        ("calc", "2.0", UnsupportedVersion),
        (None, "1.0", UnsupportedVersion),
        ("other", "1.0", UnsupportedVersion),
    ],
)
async def test_version_negotiation(
    fleet: Fleet, namespace: str | None, version: str, outcome: object
) -> None:
    """Same major and an endpoint minor at least the requested one is served; else refused."""
    async with Worker(fleet.transport, attrs.evolve(fleet.target, server="h1"), [Versioned()]):
        invoker = fleet.invoker.prepare(namespace=namespace, version=version)
        if outcome == "pong":
            assert await invoker.call(CTX, "ping") == "pong"
        else:
            with pytest.raises(UnsupportedVersion):
                await invoker.call(CTX, "ping")


def test_version_cap_limits_what_can_be_sent(fleet: Fleet) -> None:
    """can_send_version honours the cap: same major, minor no higher than the cap's."""
    capped = Invoker(fleet.transport, fleet.target, version_cap="5.2")
    assert capped.can_send_version("5.0") and capped.can_send_version("5.2")
    assert not capped.can_send_version("5.3") and not capped.can_send_version("6.0")
    assert Invoker(fleet.transport, fleet.target).can_send_version("99.0")


async def test_call_above_version_cap_is_refused_locally(fleet: Fleet) -> None:
    """A call whose version exceeds the cap is refused before anything is sent."""
    capped = Invoker(fleet.transport, attrs.evolve(fleet.target, version="1.5"), version_cap="1.2")
    with pytest.raises(UnsupportedVersion, match="version cap"):
        await capped.call(CTX, "ping")


async def test_context_and_request_id_reach_the_endpoint_and_its_logs(fleet: Fleet) -> None:
    """The caller's context rides the message; the worker binds its request_id into logs."""
    await fleet.add_worker("h1")
    ctx = RequestContext(request_id="req-1234", user_id="alice", roles=("admin",), auth_token="tok")
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        seen = await fleet.invoker.call(ctx, "context_of")
    assert seen == {"request_id": "req-1234", "user_id": "alice", "roles": ["admin"]}
    lines = [line for line in logs if line["event"] == "endpoint.handling"]
    assert lines and lines[0]["request_id"] == "req-1234"
    assert "tok" not in repr(logs)


async def test_requests_are_dispatched_concurrently_up_to_the_limit(fleet: Fleet) -> None:
    """A worker runs several requests at once, but never more than max_concurrency."""
    endpoint = await fleet.add_worker("h1", max_concurrency=3)
    calls = [asyncio.create_task(fleet.invoker.call(CTX, "block", n=n)) for n in range(5)]
    first = {await asyncio.wait_for(endpoint.entered.get(), WAIT) for _ in range(3)}
    assert len(first) == 3 and endpoint.entered.empty()
    assert fleet.workers[0].in_flight >= 3
    endpoint.release.set()
    assert sorted(await asyncio.wait_for(asyncio.gather(*calls), WAIT)) == [0, 1, 2, 3, 4]


class ConsumerSpy:
    """Watches the consumers a transport makes: their deliveries, and their cancels.

    It wraps the transport's `consume()`, so a test can await "every consumer of the
    Worker has been cancelled" (stop() is past the cancel) and "a delivery reached
    the Worker" without sleeping.
    """

    def __init__(self, transport: Transport) -> None:
        self.delivered: asyncio.Queue[str] = asyncio.Queue()
        self.all_cancelled = asyncio.Event()
        self._consumers = 0
        self._cancelled = 0
        real_consume = transport.consume

        async def consume(queue: str, handler: Any, **options: Any) -> Consumer:
            async def spy(delivery: Delivery) -> None:
                self.delivered.put_nowait(delivery.routing_key)
                await handler(delivery)

            def spy_inline(delivery: Delivery) -> None:  # a reply queue's plain handler
                self.delivered.put_nowait(delivery.routing_key)
                handler(delivery)

            spying = spy_inline if options.get("inline") else spy
            consumer = await real_consume(queue, spying, **options)
            self._watch(consumer)
            return consumer

        transport.consume = consume  # type: ignore[method-assign]

    def _watch(self, consumer: Consumer) -> None:
        self._consumers += 1
        real_cancel = consumer.cancel

        async def cancel() -> None:
            await real_cancel()
            self._cancelled += 1
            if self._cancelled == self._consumers:
                self.all_cancelled.set()

        consumer.cancel = cancel  # type: ignore[method-assign]


async def _spied_worker(
    fleet: Fleet, host: str, **options: Any
) -> tuple[Worker, Recorder, ConsumerSpy]:
    """A started worker for `host` on a transport of its own, with its consumers spied on."""
    server = await fleet.broker.connect()
    spy = ConsumerSpy(server)
    endpoint = Recorder(host)
    worker = Worker(server, attrs.evolve(fleet.target, server=host), [endpoint], **options)
    await worker.start()
    fleet.workers.append(worker)
    fleet.endpoints.append(endpoint)
    return worker, endpoint, spy


@pytest.mark.parametrize("at_least_once", [False, True], ids=["at-most-once", "at-least-once"])
async def test_graceful_stop_finishes_in_flight_work(fleet: Fleet, at_least_once: bool) -> None:
    """stop() stops consuming, waits for the handler in flight, and its reply arrives.

    The handler is held until stop() has cancelled every consumer and a cast sent
    after that has been left in the queue; it is still running then, and only then
    released.
    """
    worker, endpoint, spy = await _spied_worker(fleet, "h1", at_least_once=at_least_once)
    call = asyncio.create_task(fleet.invoker.call(CTX, "block", n=42))
    await asyncio.wait_for(endpoint.entered.get(), WAIT)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.wait_for(spy.all_cancelled.wait(), WAIT)
    await fleet.invoker.prepare(server="h1").cast(CTX, "note", n=1)  # a broker round trip
    assert not endpoint.tasks[0].done() and not stopping.done()
    assert "stopping" in repr(worker)
    endpoint.release.set()
    assert await asyncio.wait_for(call, WAIT) == 42
    await asyncio.wait_for(stopping, WAIT)
    assert "stopped" in repr(worker) and endpoint.casts.empty()
    successor = await fleet.add_worker("h1")  # the cast waited in h1's queue for it
    assert await asyncio.wait_for(successor.casts.get(), WAIT) == ("h1", 1)


async def test_stop_returns_waiting_deliveries_at_once(fleet: Fleet) -> None:
    """A delivery waiting for a free slot goes back to the queue when stop() begins.

    It is served by another worker while the stopping worker's one request in flight
    is still held, not after it.
    """
    worker, endpoint, spy = await _spied_worker(fleet, "h1", max_concurrency=1)
    first = asyncio.create_task(fleet.invoker.call(CTX, "block", n=1))
    assert await asyncio.wait_for(endpoint.entered.get(), WAIT) == 1
    second = asyncio.create_task(fleet.invoker.call(CTX, "block", n=2))
    for _ in range(2):  # the first request, then the second, waiting for the slot
        await asyncio.wait_for(spy.delivered.get(), WAIT)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.wait_for(spy.all_cancelled.wait(), WAIT)
    other = await fleet.add_worker("h2")
    other.release.set()
    assert await asyncio.wait_for(second, WAIT) == 2
    assert not first.done() and not endpoint.tasks[0].done()
    endpoint.release.set()
    assert await asyncio.wait_for(first, WAIT) == 1
    await asyncio.wait_for(stopping, WAIT)


async def test_cancelling_stop_cancels_the_handlers_in_flight(fleet: Fleet) -> None:
    """Cancelling stop() is the urgent path: the handler in flight is cancelled."""
    worker, endpoint, spy = await _spied_worker(fleet, "h1")
    call = asyncio.create_task(fleet.invoker.call(CTX, "block", n=7))
    await asyncio.wait_for(endpoint.entered.get(), WAIT)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.wait_for(spy.all_cancelled.wait(), WAIT)
    assert not endpoint.tasks[0].done()
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    await asyncio.wait_for(endpoint.cancelled.wait(), WAIT)
    assert "stopped" in repr(worker)
    call.cancel()


async def test_undecodable_message_is_dead_lettered_and_worker_keeps_serving(
    fleet: Fleet,
) -> None:
    """Garbage on a worker's queue is rejected to the dead-letter queue; calls still work."""
    await fleet.add_worker("h1")
    dead: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_dead(delivery):  # type: ignore[no-untyped-def]
        await dead.put(delivery.message.body)
        await delivery.ack()

    await fleet.transport.consume(f"{fleet.target.exchange}_dead_letters", on_dead)
    assert fleet.target.topic is not None
    for garbage in (b"not json", b'{"oslo.version": "2.0", "oslo.message": "[1]"}', b"{}"):
        await fleet.transport.publish(
            fleet.target.exchange, fleet.target.topic, Message(garbage, message_id="m-1")
        )
        assert await asyncio.wait_for(dead.get(), WAIT) == garbage
    assert await fleet.invoker.call(CTX, "echo", value="still here") == "still here"


async def test_closing_the_transport_fails_pending_calls(broker: TransportFactory) -> None:
    """Pending calls fail with TransportClosed when the caller's transport closes."""
    server, client = await broker.connect(), await broker.connect()
    target = Target(topic=broker.name("calc"), exchange=broker.name("nova"), server="h1")
    endpoint = Recorder("h1")
    async with Worker(server, target, [endpoint]):
        call = asyncio.create_task(Invoker(client, target, timeout=WAIT).call(CTX, "block", n=1))
        await asyncio.wait_for(endpoint.entered.get(), WAIT)
        await client.close()
        with pytest.raises(TransportClosed):
            await asyncio.wait_for(call, WAIT)
        endpoint.release.set()


async def test_at_least_once_worker_crash_redelivers_to_another(broker: TransportFactory) -> None:
    """With at_least_once, a request in flight on a worker whose connection dies is redone."""
    client, doomed_conn, spare_conn = [await broker.connect() for _ in range(3)]
    target = Target(topic=broker.name("calc"), exchange=broker.name("nova"))
    doomed, spare = Recorder("doomed"), Recorder("spare")
    spare.release.set()
    doomed_worker = Worker(
        doomed_conn, attrs.evolve(target, server="a"), [doomed], at_least_once=True
    )
    await doomed_worker.start()
    await Invoker(client, target).cast(CTX, "block", n=5)
    assert await asyncio.wait_for(doomed.entered.get(), WAIT) == 5
    async with Worker(spare_conn, attrs.evolve(target, server="b"), [spare], at_least_once=True):
        await doomed_conn.close()  # the crash: the unacked request goes back to the queue
        assert await asyncio.wait_for(spare.entered.get(), WAIT) == 5
    doomed.release.set()


class Flavor(enum.Enum):
    SMALL = "m1.small"
    LARGE = "m1.large"


@attrs.frozen
class Server:
    VERSION = "1.1"
    id: uuid.UUID
    name: str
    flavor: Flavor
    created_at: datetime.datetime
    tags: tuple[str, ...] = ()


class Objects:
    @endpoint
    async def rename(self, ctx: RequestContext, server: Server, name: str) -> Server:
        assert isinstance(server, Server) and isinstance(server.created_at, datetime.datetime)
        return attrs.evolve(server, name=name)


async def test_registered_objects_round_trip_with_their_field_types(fleet: Fleet) -> None:
    """attrs objects travel as versioned primitives; UUIDs, enums and datetimes survive."""
    serializer = ObjectSerializer([Server])
    target = attrs.evolve(fleet.target, server="h1")
    async with Worker(fleet.transport, target, [Objects()], serializer=serializer):
        invoker = Invoker(fleet.transport, fleet.target, serializer=serializer)
        server = Server(
            uuid.uuid4(),
            "a",
            Flavor.LARGE,
            datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
            ("x",),
        )
        renamed = await invoker.call(CTX, "rename", server=server, name="b")
    assert renamed == attrs.evolve(server, name="b")


class Results:
    """An endpoint whose results need the serializer, or cannot be sent at all."""

    @endpoint
    async def keyed(self, ctx: RequestContext) -> dict[Any, Any]:
        return {
            1: "one",
            "server": Server(
                uuid.UUID(int=1),
                "s",
                Flavor.SMALL,
                datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                (),
            ),
            "n": None,
        }

    @endpoint
    async def unsendable(self, ctx: RequestContext) -> object:
        return {"fine": 1, "not": object()}


async def test_results_go_through_the_serializer_or_fail_the_call(fleet: Fleet) -> None:
    """A result dict's keys become strings and its objects primitives, as the serializer
    makes them; a result that cannot be sent fails the call (TypeError, as a RemoteError)
    and the worker goes on serving."""
    serializer = ObjectSerializer([Server])
    target = attrs.evolve(fleet.target, server="h1")
    async with Worker(fleet.transport, target, [Results()], serializer=serializer):
        invoker = Invoker(fleet.transport, fleet.target, serializer=serializer, timeout=WAIT)
        result = await invoker.call(CTX, "keyed")
        assert set(result) == {"1", "server", "n"}
        assert result["1"] == "one" and result["n"] is None
        assert isinstance(result["server"], Server) and result["server"].name == "s"
        with pytest.raises(RemoteError, match="TypeError"):
            await invoker.call(CTX, "unsendable")
        assert (await invoker.call(CTX, "keyed"))["1"] == "one"


async def _declare_as_oslo_does(transport: Transport, target: Target, fanout_queue: str) -> None:
    """Every name a Worker of `target` uses, declared as oslo.messaging 18 declares it.

    Written out here from oslo's ``impl_rabbit`` (default options), independently of
    `nova_lite.rpc.topology`, so that this test checks that table.
    """
    assert target.topic is not None and target.server is not None
    await transport.declare_exchange(
        target.exchange, ExchangeType.TOPIC, durable=False, auto_delete=False
    )
    await transport.declare_exchange(
        f"{target.topic}_fanout", ExchangeType.FANOUT, durable=False, auto_delete=True
    )
    for queue in (target.topic, f"{target.topic}.{target.server}"):
        await transport.declare_queue(queue, durable=False, auto_delete=False, exclusive=False)
    await transport.declare_queue(fanout_queue, arguments={"x-expires": 1800000})
    await transport.bind_queue(fanout_queue, f"{target.topic}_fanout", target.topic)


@pytest.mark.parametrize("first", ["oslo-style", "worker"])
async def test_worker_declares_every_name_as_oslo_does(
    broker: TransportFactory, first: str
) -> None:
    """A Worker and oslo-style declarations of the same names agree, whichever comes first."""
    transport = await broker.connect()
    target = Target(topic=broker.name("compat"), server="h1")  # exchange "nova", as oslo's
    recorder = Recorder("h1")
    worker = Worker(transport, target, [recorder])
    fanout_queue = f"{target.topic}_fanout_{uuid.uuid4().hex}"
    with structlog.testing.capture_logs() as logs:
        if first == "worker":
            await worker.start()
        await _declare_as_oslo_does(transport, target, fanout_queue)
        await _declare_as_oslo_does(transport, target, fanout_queue)  # idempotent, too
        if first == "oslo-style":
            await worker.start()
        try:
            invoker = Invoker(transport, target, timeout=WAIT)
            assert await invoker.call(CTX, "whoami") == "h1"
            await invoker.prepare(fanout=True).cast(CTX, "note", n=3)
            assert await asyncio.wait_for(recorder.casts.get(), WAIT) == ("h1", 3)
        finally:
            await worker.stop()
            await transport.delete_queue(fanout_queue)
    assert not [line for line in logs if line["event"] == "rpc.topology.taken_as_it_is"]


async def test_worker_takes_names_an_earlier_nova_lite_declared(broker: TransportFactory) -> None:
    """Queues and exchanges declared otherwise (as before oslo compatibility) are used
    as they are, with a warning, so that old and new services can share them."""
    transport = await broker.connect()
    target = Target(topic=broker.name("old"), server="h1", exchange=broker.name("nova"))
    assert target.topic is not None
    old_dlx = {"x-dead-letter-exchange": f"{target.exchange}_dlx"}
    await transport.declare_exchange(target.exchange, ExchangeType.TOPIC, durable=False)
    await transport.declare_exchange(target.fanout_exchange, ExchangeType.FANOUT, durable=False)
    for queue in (target.topic, target.routing_key):
        await transport.declare_queue(queue, arguments=old_dlx)
    recorder = Recorder("h1")
    with structlog.testing.capture_logs() as logs:
        async with Worker(transport, target, [recorder]):
            invoker = Invoker(transport, target, timeout=WAIT)
            assert await invoker.call(CTX, "whoami") == "h1"
            await invoker.prepare(fanout=True).cast(CTX, "note", n=4)
            assert await asyncio.wait_for(recorder.casts.get(), WAIT) == ("h1", 4)
    taken = [line for line in logs if line["event"] == "rpc.topology.taken_as_it_is"]
    assert len(taken) == 4  # the two topic queues; the fanout exchange, by worker and invoker


def _names(workers: Sequence[Worker]) -> list[str]:
    return [repr(w) for w in workers]


async def test_worker_repr_shows_identity_and_state(fleet: Fleet) -> None:
    """A worker's repr names its topic.host and its lifecycle state."""
    await fleet.add_worker("h9")
    assert _names(fleet.workers) == [f"<Worker {fleet.target.topic}.h9 running in_flight=0>"]


async def test_a_reply_over_the_limit_fails_the_call_at_once(fleet: Fleet) -> None:
    """A result too large to send is a MessageTooLarge to the caller well before its
    timeout (not a reply the caller's side drops unread while it waits 60 s), the worker
    keeps serving, and a raised limit is raised for replies too."""
    await fleet.add_worker("w1", max_message_bytes=64 * 1024)
    started = asyncio.get_running_loop().time()
    with pytest.raises(MessageTooLarge, match=r"reply to repeat is \d+ bytes, over the \[rpc\]"):
        await fleet.invoker.call(CTX, "repeat", text="x", times=100_000)
    assert asyncio.get_running_loop().time() - started < WAIT / 2
    assert await fleet.invoker.call(CTX, "echo", value="small") == "small"

    # A reply over the 4 MiB default reaches a caller whose services allow more.
    accept_replies_up_to(fleet.transport, 8 * 1024 * 1024)
    await fleet.add_worker("w2", max_message_bytes=8 * 1024 * 1024)
    to_w2 = Invoker(fleet.transport, attrs.evolve(fleet.target, server="w2"), timeout=WAIT * 3)
    big = await to_w2.call(CTX, "repeat", text="y", times=5 * 1024 * 1024)
    assert big == "y" * (5 * 1024 * 1024)


async def test_the_reply_limit_is_met_at_the_same_byte_on_every_broker(fleet: Fleet) -> None:
    """A reply exactly at ``max_message_bytes`` (as oslo's wrapped message counts it)
    is sent, one byte more is a MessageTooLarge: on the in-process broker too, whose
    messages go without the envelope (`Transport.in_process`)."""
    times = 3000
    limit = len(envelope.encode_reply("0" * 32, result="x" * times))  # a message id's 32 digits
    await fleet.add_worker("w1", max_message_bytes=limit)
    assert await fleet.invoker.call(CTX, "repeat", text="x", times=times) == "x" * times
    with pytest.raises(MessageTooLarge, match=rf"is {limit + 1} bytes, over"):
        await fleet.invoker.call(CTX, "repeat", text="x", times=times + 1)
    quotes = times // 2  # a quote takes two bytes in the envelope, one in the bare text
    limit = len(envelope.encode_reply("0" * 32, result='"' * quotes))
    await fleet.add_worker("w2", max_message_bytes=limit)
    to_w2 = Invoker(fleet.transport, attrs.evolve(fleet.target, server="w2"), timeout=WAIT)
    assert await to_w2.call(CTX, "repeat", text='"', times=quotes) == '"' * quotes
    with pytest.raises(MessageTooLarge):
        await to_w2.call(CTX, "repeat", text='"', times=quotes + 1)


async def test_requests_go_bare_in_process_and_wrapped_as_oslos_over_a_broker(
    fleet: Fleet,
) -> None:
    """The in-process broker carries a request as its inner JSON text (oslo's 1.0 form,
    which any decoder reads); a real broker's is oslo's 2.0 envelope, byte for byte."""
    await fleet.add_worker("w1")
    tap = await fleet.transport.declare_queue(exclusive=True)
    await fleet.transport.bind_queue(tap, fleet.target.exchange, f"{fleet.target.topic}.w1")
    bodies: asyncio.Queue[bytes] = asyncio.Queue()

    async def take(delivery: Delivery) -> None:
        await bodies.put(delivery.message.body)

    consumer = await fleet.transport.consume(tap, take, no_ack=True)
    try:
        to_w1 = fleet.invoker.prepare(server="w1")
        await to_w1.cast(CTX, "note", n=1)
        body = await asyncio.wait_for(bodies.get(), WAIT)
    finally:
        await consumer.cancel()
    request = envelope.decode_request(body)  # as a RabbitMQ-wire (or oslo 1.0) reader does
    assert (request.method, request.args, request.context) == ("note", {"n": 1}, CTX)
    wrapped = body.startswith(b'{"oslo.version":"2.0","oslo.message":"')
    assert wrapped is not fleet.transport.in_process
    assert fleet.transport.in_process is isinstance(fleet.transport, MemoryTransport)


async def test_caller_and_worker_never_share_a_mutable_object(fleet: Fleet) -> None:
    """Arguments and results are copies on every broker (the in-process one included):
    what either side changes afterwards, the other never sees."""
    served = await fleet.add_worker("w1")
    sent = {"items": [1, 2], "nested": {"k": "v"}}
    got = await fleet.invoker.call(CTX, "keep", value=sent)
    assert got == sent and got is not sent
    kept = served.kept[0]
    assert kept is not sent and kept is not got
    sent["items"].append(3)  # type: ignore[attr-defined]
    got["nested"]["k"] = "changed"
    assert kept == {"items": [1, 2], "nested": {"k": "v"}}
    kept["items"].append(9)
    assert got["items"] == [1, 2]
