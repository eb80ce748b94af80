"""The transport contract, pinned on every transport (in-memory and RabbitMQ).

Each test gets the parametrized `broker` fixture, so one test body runs against both
backends. Tests await events (deliveries, markers) with a generous timeout as a
safety net; they never sleep. To show that a message was *not* delivered, a test
publishes a marker behind it to the same queue and awaits the marker: queues are
FIFO, so anything routed there earlier would have arrived first.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import socket
from typing import Any

import pytest

from nova_lite.exceptions import (
    MessageUndeliverable,
    TopologyError,
    TransportClosed,
    TransportError,
    TransportUnreachable,
)
from nova_lite.loader import get_transport
from nova_lite.testing import TransportFactory
from nova_lite.transport import (
    Consumer,
    Delivery,
    DeliveryHandler,
    ExchangeType,
    Message,
    Transport,
)
from transports.memory import topic_matches

TIMEOUT = 10.0
MARKER = b"--marker--"


class Inbox:
    """A delivery handler that keeps what it receives, for a test to await."""

    def __init__(self) -> None:
        self._deliveries: asyncio.Queue[Delivery] = asyncio.Queue()

    async def __call__(self, delivery: Delivery) -> None:
        self._deliveries.put_nowait(delivery)

    async def next(self) -> Delivery:
        """The next delivery, waiting for it (a timeout fails the test)."""
        return await asyncio.wait_for(self._deliveries.get(), TIMEOUT)

    def empty(self) -> bool:
        """Whether every delivery received so far has been taken with `next()`."""
        return self._deliveries.empty()


async def subscribe(
    transport: Transport, queue: str, *, prefetch: int = 0
) -> tuple[Inbox, Consumer]:
    """Consume `queue` into a new `Inbox`."""
    inbox = Inbox()
    consumer = await transport.consume(queue, inbox, prefetch=prefetch)
    return inbox, consumer


async def drain(transport: Transport, queue: str, inbox: Inbox) -> list[bytes]:
    """The bodies `inbox` receives from `queue` before a marker published now (all acked)."""
    await transport.publish("", queue, Message(MARKER))
    bodies = []
    while (delivery := await inbox.next()).message.body != MARKER:
        bodies.append(delivery.message.body)
        await delivery.ack()
    await delivery.ack()
    return bodies


async def new_exchange(
    broker: TransportFactory, transport: Transport, prefix: str, type: ExchangeType
) -> str:
    """Declare a uniquely named, auto-deleted exchange of `type`."""
    name = broker.name(prefix)
    await transport.declare_exchange(name, type, auto_delete=True)
    return name


async def bound_queues(
    broker: TransportFactory, transport: Transport, exchange: str, keys: list[str]
) -> list[tuple[str, Inbox]]:
    """One consumed queue per binding key, each bound to `exchange` with its key."""
    queues = []
    for number, key in enumerate(keys):
        queue = await transport.declare_queue(broker.name(f"q{number}"))
        await transport.bind_queue(queue, exchange, key)
        inbox, _ = await subscribe(transport, queue)
        queues.append((queue, inbox))
    return queues


# -- routing ------------------------------------------------------------------

TOPIC_CASES = [
    ("a.b.c", "a.b.c", True),
    ("a.b.c", "a.b", False),
    ("a.b", "a.b.c", False),
    ("a.*.c", "a.b.c", True),
    ("a.*.c", "a.c", False),
    ("a.*.c", "a.b.b.c", False),
    ("a.*", "a.b.c", False),
    ("*", "a", True),
    ("*", "", False),
    ("*", "a.b", False),
    ("*.*", "a.b", True),
    ("#", "", True),
    ("#", "a", True),
    ("#", "a.b.c", True),
    ("#.c", "c", True),
    ("#.c", "a.b.c", True),
    ("#.c", "a.b", False),
    ("a.#", "a", True),
    ("a.#", "a.b.c", True),
    ("a.#", "b.a", False),
    ("a.#.c", "a.c", True),
    ("a.#.c", "a.b.b.c", True),
    ("a.#.c", "a.b", False),
    ("#.b.#", "b", True),
    ("#.b.#", "a.b.c", True),
    ("#.b.#", "a.c", False),
    ("#.#", "", True),
    ("#.*", "", False),
    ("#.*", "a.b", True),
    ("a.*.#", "a", False),
    ("a.*.#", "a.b", True),
    ("a.*.b", "a..b", True),
    ("", "", True),
    ("", "a", False),
    ("a", "", False),
    ("compute.*", "compute.host1", True),
    ("compute.host1", "compute.host2", False),
]


@pytest.mark.parametrize(("pattern", "key", "expected"), TOPIC_CASES)
def test_topic_matches(pattern: str, key: str, expected: bool) -> None:
    """`topic_matches` follows AMQP: `*` is one word, `#` is zero or more words."""
    assert topic_matches(pattern, key) is expected


async def test_topic_exchange_routes_like_the_table(broker: TransportFactory) -> None:
    """A topic exchange routes every case of the `topic_matches` table the same way."""
    transport = await broker.connect()
    topic = await new_exchange(broker, transport, "topic", ExchangeType.TOPIC)
    patterns = sorted({pattern for pattern, _, _ in TOPIC_CASES})
    queues = await bound_queues(broker, transport, topic, patterns)
    for key in sorted({key for _, key, _ in TOPIC_CASES}):
        await transport.publish(topic, key, Message(key.encode()))
    for pattern, (queue, inbox) in zip(patterns, queues, strict=True):
        received = {body.decode() for body in await drain(transport, queue, inbox)}
        for case_pattern, key, expected in TOPIC_CASES:
            if case_pattern == pattern:
                assert (key in received) is expected, (pattern, key)


async def test_direct_exchange_routes_on_the_exact_key(broker: TransportFactory) -> None:
    """A direct exchange delivers to every queue bound with exactly the routing key."""
    transport = await broker.connect()
    direct = await new_exchange(broker, transport, "direct", ExchangeType.DIRECT)
    (qa, inbox_a), (qb, inbox_b), (qa2, inbox_a2) = await bound_queues(
        broker, transport, direct, ["a", "b", "a"]
    )
    for key in ("a", "b", "c", "a.b"):
        await transport.publish(direct, key, Message(key.encode()))
    assert await drain(transport, qa, inbox_a) == [b"a"]
    assert await drain(transport, qb, inbox_b) == [b"b"]
    assert await drain(transport, qa2, inbox_a2) == [b"a"]


async def test_fanout_exchange_ignores_the_key(broker: TransportFactory) -> None:
    """A fanout exchange delivers every message to every bound queue, whatever the key."""
    transport = await broker.connect()
    fanout = await new_exchange(broker, transport, "fanout", ExchangeType.FANOUT)
    queues = await bound_queues(broker, transport, fanout, ["", "ignored"])
    await transport.publish(fanout, "any.key", Message(b"one"))
    await transport.publish(fanout, "", Message(b"two"))
    for queue, inbox in queues:
        assert await drain(transport, queue, inbox) == [b"one", b"two"]


async def test_default_exchange_routes_to_the_queue_named_by_the_key(
    transport: Transport, broker: TransportFactory
) -> None:
    """Exchange "" delivers to the queue whose name is the routing key."""
    queue = await transport.declare_queue(broker.name("default"))
    inbox, _ = await subscribe(transport, queue)
    await transport.publish("", queue, Message(b"hello"), mandatory=True)
    delivery = await inbox.next()
    assert (delivery.message.body, delivery.exchange, delivery.routing_key) == (
        b"hello",
        "",
        queue,
    )


async def test_mandatory_unroutable_message_raises(
    transport: Transport, broker: TransportFactory
) -> None:
    """A mandatory message that no queue takes raises MessageUndeliverable."""
    topic = await new_exchange(broker, transport, "topic", ExchangeType.TOPIC)
    queue = await transport.declare_queue(broker.name("bound"))
    await transport.bind_queue(queue, topic, "a.*")
    with pytest.raises(MessageUndeliverable):
        await transport.publish(topic, "b.c", Message(b"lost"), mandatory=True)
    with pytest.raises(MessageUndeliverable):
        await transport.publish("", broker.name("nobody"), Message(b"lost"), mandatory=True)
    await transport.publish(topic, "a.b", Message(b"kept"), mandatory=True)


async def test_unroutable_message_is_dropped_silently(
    transport: Transport, broker: TransportFactory
) -> None:
    """A non-mandatory message that no queue takes is dropped without an error."""
    topic = await new_exchange(broker, transport, "topic", ExchangeType.TOPIC)
    queue = await transport.declare_queue(broker.name("bound"))
    await transport.bind_queue(queue, topic, "a.*")
    await transport.publish(topic, "b.c", Message(b"lost"))
    await transport.publish("", broker.name("nobody"), Message(b"lost"))
    inbox, _ = await subscribe(transport, queue)
    assert await drain(transport, queue, inbox) == []


async def test_publish_to_a_missing_exchange_is_a_topology_error(
    transport: Transport, broker: TransportFactory
) -> None:
    """Publishing to an exchange that does not exist raises TopologyError."""
    with pytest.raises(TopologyError):
        await transport.publish(broker.name("missing"), "key", Message(b"x"))
    queue = await transport.declare_queue(broker.name("after"))
    await transport.publish("", queue, Message(b"still works"), mandatory=True)


# -- consumers, prefetch, settling -------------------------------------------


def record_as(name: str, received: asyncio.Queue[tuple[str, bytes]]) -> DeliveryHandler:
    """A handler that acks each delivery and records (name, body) in `received`."""

    async def record(delivery: Delivery) -> None:
        received.put_nowait((name, delivery.message.body))
        await delivery.ack()

    return record


async def test_consumers_of_one_queue_take_turns(
    transport: Transport, broker: TransportFactory
) -> None:
    """Two consumers of one queue receive its messages round-robin."""
    queue = await transport.declare_queue(broker.name("shared"))
    received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    await transport.consume(queue, record_as("a", received))
    await transport.consume(queue, record_as("b", received))
    for number in range(4):
        await transport.publish("", queue, Message(str(number).encode()))
    got = [await asyncio.wait_for(received.get(), TIMEOUT) for _ in range(4)]
    assert sorted(name for name, _ in got) == ["a", "a", "b", "b"]
    assert sorted(body for _, body in got) == [b"0", b"1", b"2", b"3"]


async def test_prefetch_bounds_unsettled_deliveries(
    transport: Transport, broker: TransportFactory
) -> None:
    """With prefetch=1 a consumer gets no second message until it settles the first."""
    queue = await transport.declare_queue(broker.name("prefetch"))
    slow, _ = await subscribe(transport, queue, prefetch=1)
    for body in (b"m1", b"m2"):
        await transport.publish("", queue, Message(body))
    first = await slow.next()
    other, other_consumer = await subscribe(transport, queue)
    second = await other.next()  # m2 waited in the queue, so a newcomer gets it
    assert (first.message.body, second.message.body) == (b"m1", b"m2")
    assert slow.empty()
    await second.ack()
    await other_consumer.cancel()
    await first.ack()
    await transport.publish("", queue, Message(b"m3"))
    assert (await slow.next()).message.body == b"m3"


async def test_reject_with_requeue_redelivers(
    transport: Transport, broker: TransportFactory
) -> None:
    """reject(requeue=True) puts the message back; it comes again with redelivered=True."""
    queue = await transport.declare_queue(broker.name("requeue"))
    inbox, _ = await subscribe(transport, queue)
    await transport.publish("", queue, Message(b"again"))
    first = await inbox.next()
    assert not first.redelivered
    await first.reject(requeue=True)
    second = await inbox.next()
    assert (second.message.body, second.redelivered) == (b"again", True)
    await second.ack()


async def test_reject_without_requeue_dead_letters(
    transport: Transport, broker: TransportFactory
) -> None:
    """reject(requeue=False) sends the message to the queue's x-dead-letter-exchange."""
    dlx = await new_exchange(broker, transport, "dlx", ExchangeType.FANOUT)
    dead = await transport.declare_queue(broker.name("dead"))
    await transport.bind_queue(dead, dlx, "")
    work = await transport.declare_queue(
        broker.name("work"), arguments={"x-dead-letter-exchange": dlx}
    )
    work_inbox, _ = await subscribe(transport, work)
    dead_inbox, _ = await subscribe(transport, dead)
    await transport.publish("", work, Message(b"poison"))
    await (await work_inbox.next()).reject(requeue=False)
    dead_letter = await dead_inbox.next()
    assert dead_letter.message.body == b"poison"
    assert dead_letter.message.headers["x-first-death-queue"] == work


async def test_a_failing_handler_does_not_stop_its_consumer(
    transport: Transport, broker: TransportFactory
) -> None:
    """An exception from the handler is logged; the next message is still delivered."""
    queue = await transport.declare_queue(broker.name("failing"))
    inbox = Inbox()

    async def explode_once(delivery: Delivery) -> None:
        await inbox(delivery)
        if delivery.message.body == b"boom":
            raise RuntimeError("handler bug")

    await transport.consume(queue, explode_once)
    await transport.publish("", queue, Message(b"boom"))
    await (await inbox.next()).ack()
    await transport.publish("", queue, Message(b"fine"))
    assert (await inbox.next()).message.body == b"fine"


async def test_settling_twice_is_an_error(transport: Transport, broker: TransportFactory) -> None:
    """A delivery can be settled once; a second ack or reject raises TransportError."""
    queue = await transport.declare_queue(broker.name("twice"))
    inbox, _ = await subscribe(transport, queue)
    await transport.publish("", queue, Message(b"once"))
    delivery = await inbox.next()
    await delivery.ack()
    with pytest.raises(TransportError, match="already"):
        await delivery.ack()
    with pytest.raises(TransportError, match="already"):
        await delivery.reject(requeue=True)


async def test_cancel_stops_new_deliveries_but_keeps_handed_out_ones(
    broker: TransportFactory,
) -> None:
    """After cancel() new messages go elsewhere, and a handed-out delivery can still be acked."""
    first_transport, second_transport = await broker.connect(), await broker.connect()
    queue = await first_transport.declare_queue(broker.name("cancel"))
    first_inbox, first_consumer = await subscribe(first_transport, queue)
    await first_transport.publish("", queue, Message(b"handed out"))
    handed_out = await first_inbox.next()
    await first_consumer.cancel()
    await first_transport.publish("", queue, Message(b"after"))
    second_inbox, _ = await subscribe(second_transport, queue)
    assert await drain(second_transport, queue, second_inbox) == [b"after"]
    await handed_out.ack()
    await first_transport.close()  # would requeue the delivery, had the ack not counted
    assert await drain(second_transport, queue, second_inbox) == []
    assert first_inbox.empty()


class HeldHandler:
    """A handler that settles when told (before or after its work) and holds its work.

    It records its own task, waits on `release`, then publishes b"done" to the
    `results` queue from inside the handler: the test sees the work finish only if
    the handler was left to run to its end.
    """

    def __init__(self, transport: Transport, results: str, *, ack_first: bool) -> None:
        self.transport = transport
        self.results = results
        self.ack_first = ack_first
        self.release = asyncio.Event()
        self.started: asyncio.Queue[asyncio.Task[object]] = asyncio.Queue()

    async def __call__(self, delivery: Delivery) -> None:
        if self.ack_first:
            await delivery.ack()  # at-most-once: settled as soon as handling starts
        task = asyncio.current_task()
        assert task is not None
        self.started.put_nowait(task)
        await self.release.wait()
        await self.transport.publish("", self.results, Message(b"done"))
        if not self.ack_first:
            await delivery.ack()  # at-least-once: settled once the work is done


@pytest.mark.parametrize("ack_first", [True, False], ids=["ack-first", "ack-last"])
async def test_cancel_leaves_a_running_handler_running(
    broker: TransportFactory, ack_first: bool
) -> None:
    """A handler still at work when its consumer is cancelled runs to its end.

    The handler is held until the cancel has returned and a message published after
    it has gone to another consumer; only then is it released.
    """
    first_transport, second_transport = await broker.connect(), await broker.connect()
    queue = await first_transport.declare_queue(broker.name("held"))
    results = await second_transport.declare_queue(broker.name("results"))
    results_inbox, _ = await subscribe(second_transport, results)
    held = HeldHandler(first_transport, results, ack_first=ack_first)
    consumer = await first_transport.consume(queue, held)
    await first_transport.publish("", queue, Message(b"job"))
    handler_task = await asyncio.wait_for(held.started.get(), TIMEOUT)
    await consumer.cancel()
    second_inbox, _ = await subscribe(second_transport, queue)
    await first_transport.publish("", queue, Message(b"after the cancel"))
    assert (await second_inbox.next()).message.body == b"after the cancel"
    assert not handler_task.done()  # past the cancel, the handler is still at work
    held.release.set()
    assert (await results_inbox.next()).message.body == b"done"
    await asyncio.wait_for(handler_task, TIMEOUT)
    assert not handler_task.cancelled()
    await first_transport.close()  # would requeue the job had the ack not counted
    assert await drain(second_transport, queue, second_inbox) == []


async def test_cancelled_consumer_can_requeue_what_it_holds(broker: TransportFactory) -> None:
    """A delivery rejected with requeue after cancel() goes to another consumer."""
    first_transport, second_transport = await broker.connect(), await broker.connect()
    queue = await first_transport.declare_queue(broker.name("handback"))
    first_inbox, first_consumer = await subscribe(first_transport, queue)
    await first_transport.publish("", queue, Message(b"handed back"))
    handed_out = await first_inbox.next()
    await first_consumer.cancel()
    second_inbox, _ = await subscribe(second_transport, queue)
    await handed_out.reject(requeue=True)
    redelivered = await second_inbox.next()
    assert (redelivered.message.body, redelivered.redelivered) == (b"handed back", True)


async def test_closing_the_connection_requeues_unsettled_deliveries(
    broker: TransportFactory,
) -> None:
    """Closing a transport requeues the unsettled deliveries of all its consumers."""
    first_transport, second_transport = await broker.connect(), await broker.connect()
    queue = await second_transport.declare_queue(broker.name("closing"))
    active_inbox, _ = await subscribe(first_transport, queue, prefetch=1)  # full after one
    await second_transport.publish("", queue, Message(b"active"))
    active = await active_inbox.next()
    cancelled_inbox, cancelled_consumer = await subscribe(first_transport, queue, prefetch=1)
    await second_transport.publish("", queue, Message(b"cancelled"))
    cancelled = await cancelled_inbox.next()
    await cancelled_consumer.cancel()
    await first_transport.close()
    second_inbox, _ = await subscribe(second_transport, queue)
    redelivered = {(await second_inbox.next()).message.body for _ in range(2)}
    assert redelivered == {b"active", b"cancelled"}
    await active.ack()  # too late, and harmless: the message was already requeued
    await cancelled.reject(requeue=False)


async def test_no_ack_deliveries_are_settled_on_delivery(broker: TransportFactory) -> None:
    """A no-ack consumer's deliveries need no settling and are never redelivered."""
    first_transport, second_transport = await broker.connect(), await broker.connect()
    queue = await second_transport.declare_queue(broker.name("no-ack"))
    inbox = Inbox()
    await first_transport.consume(queue, inbox, no_ack=True)
    for body in (b"one", b"two"):
        await second_transport.publish("", queue, Message(body))
    first, second = await inbox.next(), await inbox.next()
    assert (first.message.body, second.message.body) == (b"one", b"two")
    await first.ack()
    await first.ack()  # settling a no-ack delivery does nothing, however often
    await first_transport.close()  # with `second` never settled
    later_inbox, _ = await subscribe(second_transport, queue)
    assert await drain(second_transport, queue, later_inbox) == []


async def test_inline_handlers_get_no_ack_deliveries_in_order(broker: TransportFactory) -> None:
    """An inline handler is called for each delivery in order, never inside publish()."""
    first_transport, second_transport = await broker.connect(), await broker.connect()
    queue = await second_transport.declare_queue(broker.name("inline"))
    seen: list[bytes] = []
    tasks: list[asyncio.Task[Any] | None] = []
    done = asyncio.Event()

    def keep(delivery: Delivery) -> None:
        seen.append(delivery.message.body)
        tasks.append(asyncio.current_task())
        if delivery.message.body == b"boom":
            raise RuntimeError("an inline handler failed")
        if delivery.message.body == MARKER:
            done.set()

    await first_transport.consume(queue, keep, no_ack=True, inline=True)
    for body in (b"one", b"boom", b"two", MARKER):
        await second_transport.publish("", queue, Message(body))
    await asyncio.wait_for(done.wait(), TIMEOUT)
    assert seen == [b"one", b"boom", b"two", MARKER]  # a failure does not end it
    publisher = asyncio.current_task()
    assert publisher not in tasks  # never called from inside publish()


async def test_an_inline_handler_needs_no_ack(broker: TransportFactory) -> None:
    """A consumer that must settle its deliveries cannot have an inline handler."""
    transport = await broker.connect()
    queue = await transport.declare_queue(broker.name("inline-ack"))
    with pytest.raises(ValueError, match="no_ack=True"):
        await transport.consume(queue, lambda delivery: None, inline=True)


# -- queue kinds ----------------------------------------------------------------


async def test_exclusive_queue_belongs_to_its_connection(broker: TransportFactory) -> None:
    """An exclusive queue refuses other connections and vanishes when its own closes."""
    owner, other = await broker.connect(), await broker.connect()
    queue = await owner.declare_queue(broker.name("exclusive"), exclusive=True)
    with pytest.raises(TopologyError):
        await other.consume(queue, Inbox())
    await other.publish("", queue, Message(b"allowed"), mandatory=True)
    await owner.close()
    with pytest.raises(MessageUndeliverable):
        await other.publish("", queue, Message(b"gone"), mandatory=True)
    with pytest.raises(TopologyError):
        await other.consume(queue, Inbox())


async def test_auto_delete_queue_vanishes_after_its_last_consumer(
    transport: Transport, broker: TransportFactory
) -> None:
    """An auto-delete queue is deleted when its last consumer is cancelled."""
    queue = await transport.declare_queue(broker.name("auto"), auto_delete=True)
    _, first = await subscribe(transport, queue)
    _, second = await subscribe(transport, queue)
    await first.cancel()
    await transport.publish("", queue, Message(b"still there"), mandatory=True)
    await second.cancel()
    with pytest.raises(MessageUndeliverable):
        await transport.publish("", queue, Message(b"gone"), mandatory=True)


async def test_server_named_queues_are_unique_and_usable(transport: Transport) -> None:
    """declare_queue(None) returns a fresh, non-empty name that routes like any other."""
    first, second = await transport.declare_queue(), await transport.declare_queue()
    assert first and second and first != second
    inbox, _ = await subscribe(transport, first)
    await transport.publish("", first, Message(b"named"), mandatory=True)
    assert (await inbox.next()).routing_key == first


async def test_deleting_a_missing_queue_is_fine(
    transport: Transport, broker: TransportFactory
) -> None:
    """delete_queue of a queue that does not exist does nothing and raises nothing."""
    await transport.delete_queue(broker.name("never-declared"))
    queue = await transport.declare_queue(broker.name("deleted"))
    await transport.delete_queue(queue)
    await transport.delete_queue(queue)
    with pytest.raises(MessageUndeliverable):
        await transport.publish("", queue, Message(b"gone"), mandatory=True)


async def test_missing_queue_or_exchange_is_a_topology_error(
    transport: Transport, broker: TransportFactory
) -> None:
    """Consuming or binding what does not exist raises TopologyError, then all still works."""
    queue = await transport.declare_queue(broker.name("real"))
    with pytest.raises(TopologyError):
        await transport.consume(broker.name("missing"), Inbox())
    with pytest.raises(TopologyError):
        await transport.bind_queue(queue, broker.name("missing"), "key")
    inbox, _ = await subscribe(transport, queue)
    assert await drain(transport, queue, inbox) == []


# -- messages -------------------------------------------------------------------


async def test_message_properties_round_trip(
    transport: Transport, broker: TransportFactory
) -> None:
    """Every Message field a publisher sets arrives unchanged at the consumer."""
    queue = await transport.declare_queue(broker.name("props"))
    inbox, _ = await subscribe(transport, queue)
    sent = Message(
        b'{"ping": 1}',
        message_id="msg-1",
        correlation_id="corr-1",
        reply_to="reply-queue",
        headers={"x-request-id": "req-1", "attempt": 2},
        expiration=60.0,
        content_type="text/plain",
        persistent=True,
    )
    await transport.publish("", queue, sent)
    assert (await inbox.next()).message == sent


async def test_expired_message_is_dead_lettered_not_delivered(
    transport: Transport, broker: TransportFactory
) -> None:
    """A message whose expiration passes before anyone consumes it is never delivered."""
    dlx = await new_exchange(broker, transport, "dlx", ExchangeType.FANOUT)
    dead = await transport.declare_queue(broker.name("dead"))
    await transport.bind_queue(dead, dlx, "")
    work = await transport.declare_queue(
        broker.name("work"), arguments={"x-dead-letter-exchange": dlx}
    )
    # One microsecond: RabbitMQ rounds it down to 0 ms (expire now unless a consumer
    # waits), and any in-memory clock has moved on by the time the consumer comes.
    await transport.publish("", work, Message(b"stale", expiration=1e-6))
    work_inbox, _ = await subscribe(transport, work)
    dead_inbox, _ = await subscribe(transport, dead)
    assert await drain(transport, work, work_inbox) == []
    assert (await dead_inbox.next()).message.body == b"stale"


# -- errors and lifecycle -------------------------------------------------------------


async def test_redeclaring_an_exchange_as_another_type_fails_harmlessly(
    transport: Transport, broker: TransportFactory
) -> None:
    """Redeclaring an exchange with another type raises TopologyError; the transport lives on."""
    name = await new_exchange(broker, transport, "typed", ExchangeType.TOPIC)
    await transport.declare_exchange(name, ExchangeType.TOPIC, auto_delete=True)
    with pytest.raises(TopologyError):
        await transport.declare_exchange(name, ExchangeType.FANOUT, auto_delete=True)
    [(queue, inbox)] = await bound_queues(broker, transport, name, ["a.*"])
    await transport.publish(name, "a.b", Message(b"works"), mandatory=True)
    assert await drain(transport, queue, inbox) == [b"works"]


@pytest.mark.parametrize(
    "other",
    [{"durable": True}, {"auto_delete": False}],
    ids=["durable", "auto_delete"],
)
async def test_redeclaring_an_exchange_with_other_properties_fails(
    transport: Transport, broker: TransportFactory, other: dict[str, bool]
) -> None:
    """An exchange redeclared with another durability or auto-delete is refused."""
    name = await new_exchange(broker, transport, "props", ExchangeType.FANOUT)
    await transport.declare_exchange(name, ExchangeType.FANOUT, durable=False, auto_delete=True)
    options = {"durable": False, "auto_delete": True, **other}
    with pytest.raises(TopologyError):
        await transport.declare_exchange(name, ExchangeType.FANOUT, **options)


async def test_an_exchange_of_unspecified_durability_is_taken_as_it_is(
    transport: Transport, broker: TransportFactory
) -> None:
    """declare_exchange(durable=None) accepts a durable exchange and creates a transient one."""
    durable = broker.name("durable-x")
    await transport.declare_exchange(durable, ExchangeType.TOPIC, durable=True, auto_delete=True)
    await transport.declare_exchange(durable, ExchangeType.TOPIC, auto_delete=True)
    transient = broker.name("transient-x")
    await transport.declare_exchange(transient, ExchangeType.TOPIC, auto_delete=True)
    await transport.declare_exchange(transient, ExchangeType.TOPIC, durable=False, auto_delete=True)
    with pytest.raises(TopologyError):
        await transport.declare_exchange(
            transient, ExchangeType.TOPIC, durable=True, auto_delete=True
        )
    [(queue, inbox)] = await bound_queues(broker, transport, durable, ["k"])
    await transport.publish(durable, "k", Message(b"through"), mandatory=True)
    assert await drain(transport, queue, inbox) == [b"through"]


async def test_taking_a_durable_exchange_as_it_is_spoils_no_concurrent_declaration(
    transport: Transport, broker: TransportFactory
) -> None:
    """durable=None on a durable exchange, beside other declarations at once: all succeed.

    A notifier and a watcher of a cloud with ``durable_queues`` do this while its
    services declare their queues on the same connection.
    """
    name = broker.name("durable-busy")
    await transport.declare_exchange(name, ExchangeType.TOPIC, durable=True, auto_delete=True)
    queues = [broker.name(f"busy-q{i}") for i in range(4)]
    declarations = [
        *(transport.declare_exchange(name, ExchangeType.TOPIC, auto_delete=True) for _ in queues),
        *(transport.declare_queue(queue, auto_delete=True) for queue in queues),
    ]
    await asyncio.gather(*declarations)
    for queue in queues:  # and the connection keeps serving
        await transport.bind_queue(queue, name, queue)
    [(queue, inbox)] = await bound_queues(broker, transport, name, ["k"])
    await transport.publish(name, "k", Message(b"after"), mandatory=True)
    assert await drain(transport, queue, inbox) == [b"after"]


@pytest.mark.parametrize(
    "other",
    [
        {"durable": True},
        {"auto_delete": True},
        {"arguments": {"x-dead-letter-exchange": "elsewhere"}},
        {"arguments": {"x-expires": 60000}},
    ],
    ids=["durable", "auto_delete", "dead-letter", "expires"],
)
async def test_redeclaring_a_queue_with_other_properties_fails(
    broker: TransportFactory, other: dict[str, object]
) -> None:
    """A queue redeclared with another durability, auto-delete or x-argument is refused."""
    first, second = await broker.connect(), await broker.connect()
    name = broker.name("props-q")
    await first.declare_queue(name, arguments={"x-expires": 30000})
    options: dict[str, Any] = {"arguments": {"x-expires": 30000}, **other}
    with pytest.raises(TopologyError):
        await second.declare_queue(name, **options)
    assert await second.declare_queue(name, arguments={"x-expires": 30000}) == name


async def test_auto_delete_exchange_vanishes_with_its_last_binding(
    transport: Transport, broker: TransportFactory
) -> None:
    """An auto-delete exchange is deleted when its last bound queue is deleted."""
    name = await new_exchange(broker, transport, "fleeting", ExchangeType.FANOUT)
    queue = await transport.declare_queue(broker.name("fleeting-q"))
    await transport.bind_queue(queue, name, "")
    await transport.delete_queue(queue)
    with pytest.raises(TopologyError):
        await transport.publish(name, "", Message(b"nowhere"), mandatory=True)


async def test_operations_after_close_raise_transport_closed(broker: TransportFactory) -> None:
    """Every operation on a closed transport raises TransportClosed; closing again is fine."""
    transport = await broker.connect()
    queue = await transport.declare_queue(broker.name("closed"))
    await transport.close()
    await transport.close()
    assert not transport.is_connected
    operations = [
        transport.declare_exchange(broker.name("x"), ExchangeType.TOPIC),
        transport.declare_queue(broker.name("y")),
        transport.bind_queue(queue, "amq.topic", "key"),
        transport.delete_queue(queue),
        transport.publish("", queue, Message(b"x")),
        transport.consume(queue, Inbox()),
    ]
    for operation in operations:
        with pytest.raises(TransportClosed):
            await operation


async def test_transport_is_an_async_context_manager(broker: TransportFactory) -> None:
    """`async with` connects the transport and closes it on the way out."""
    async with broker.build() as transport:
        assert transport.is_connected
        await transport.declare_queue(broker.name("ctx"))
    assert not transport.is_connected


# -- RabbitMQ specifics (no broker needed) --------------------------------------------


def test_rabbit_url_builds_an_unconnected_rabbitmq_transport() -> None:
    """get_transport('rabbit://…') builds a RabbitMQTransport without connecting or leaking."""
    pytest.importorskip("aio_pika")
    from transports.rabbitmq import RabbitMQTransport

    transport = get_transport("rabbit://nova:s3cret@broker.invalid:5672/nova")
    assert isinstance(transport, RabbitMQTransport)
    assert not transport.is_connected
    assert "s3cret" not in repr(transport)
    assert "amqp://nova:****@broker.invalid:5672/nova" in repr(transport)


async def test_unreachable_broker_raises_without_the_password() -> None:
    """Connecting to a closed port raises TransportUnreachable naming the URL, not the password."""
    pytest.importorskip("aio_pika")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = get_transport(f"amqp://nova:s3cret@127.0.0.1:{port}/", connect_timeout=5)
    with pytest.raises(TransportUnreachable) as raised:
        await transport.connect()
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert "s3cret" not in str(raised.value)
    assert not transport.is_connected


def test_every_backend_exception_has_a_translation() -> None:
    """Each exception class aio-pika, aiormq and pamqp define maps to a TransportError."""
    pytest.importorskip("aio_pika")
    from transports.rabbitmq import ERROR_MAP

    backends = ("aio_pika", "aiormq", "pamqp")
    classes = {
        cls
        for backend in backends
        for _, cls in inspect.getmembers(importlib.import_module(f"{backend}.exceptions"))
        if inspect.isclass(cls)
        and issubclass(cls, BaseException)
        and cls.__module__.split(".")[0] in backends
    }
    assert len(classes) > 30
    unmapped = [cls for cls in classes if not any(issubclass(cls, f) for f, _ in ERROR_MAP)]
    assert unmapped == []
