"""An in-process AMQP broker emulation, and the transport that connects to it.

`MemoryBroker` is a real (small) broker, not a mock: topic, direct and fanout
exchanges with AMQP topic matching (``*`` one word, ``#`` zero or more), bindings,
the default exchange, round-robin delivery among the consumers of a queue, prefetch,
ack and reject with requeue or dead-lettering, message expiry, exclusive,
auto-delete and expiring (``x-expires``) queues, auto-delete exchanges, redelivery of
unsettled messages when a consumer or connection goes away, and RabbitMQ's refusal
(PRECONDITION_FAILED) to redeclare an exchange or queue with other properties. It is
an explicit object: nothing is global, and two `MemoryTransport` connections talk to
each other only when given the same broker.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import structlog

from nova_lite import clock
from nova_lite.exceptions import (
    MessageUndeliverable,
    TopologyError,
    TransportClosed,
    TransportError,
)
from nova_lite.transport import (
    Consumer,
    Delivery,
    DeliveryHandler,
    ExchangeType,
    InlineHandler,
    Message,
    Transport,
    check_inline,
)

__all__ = ["MemoryBroker", "MemoryTransport", "topic_matches"]

log = structlog.get_logger(__name__)


def _words(key: str) -> tuple[str, ...]:
    return tuple(key.split(".")) if key else ()


@functools.lru_cache(maxsize=8192)
def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether an AMQP topic binding `pattern` matches `routing_key`."""
    return _match(_words(pattern), _words(routing_key))


def _match(pattern: tuple[str, ...], key: tuple[str, ...]) -> bool:
    if not pattern:
        return not key
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, key[i:]) for i in range(len(key) + 1))
    if not key:
        return False
    return (head == "*" or head == key[0]) and _match(rest, key[1:])


@attrs.define
class _Exchange:
    name: str
    type: ExchangeType
    durable: bool
    auto_delete: bool
    bindings: set[tuple[str, str]] = attrs.field(factory=set)  # (queue, routing key)
    # For routing: queues by exact binding key, and the topic wildcard patterns.
    exact: dict[str, set[str]] = attrs.field(factory=dict)
    patterns: set[tuple[str, str]] = attrs.field(factory=set)
    # Each queue's binding keys, so that unbinding one queue does not scan them all
    # (a simulated cloud of 10,000 hosts has as many compute bindings).
    keys_of: dict[str, set[str]] = attrs.field(factory=dict)

    def bind(self, queue: str, routing_key: str) -> None:
        self.bindings.add((queue, routing_key))
        self.exact.setdefault(routing_key, set()).add(queue)
        self.keys_of.setdefault(queue, set()).add(routing_key)
        if "*" in routing_key or "#" in routing_key:
            self.patterns.add((queue, routing_key))

    def unbind_queue(self, queue: str) -> bool:
        """Remove every binding of `queue`; whether there was any."""
        keys = self.keys_of.pop(queue, set())
        for key in keys:
            self.bindings.discard((queue, key))
            self.patterns.discard((queue, key))
            queues = self.exact.get(key)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self.exact[key]
        return bool(keys)


class _Envelope:
    """A message in (or handed out from) one queue."""

    __slots__ = ("exchange", "expires_at", "message", "redelivered", "routing_key")

    def __init__(
        self, message: Message, exchange: str, routing_key: str, expires_at: float | None
    ) -> None:
        self.message = message
        self.exchange = exchange
        self.routing_key = routing_key
        self.expires_at = expires_at
        self.redelivered = False

    def __repr__(self) -> str:
        return f"<_Envelope {self.exchange}:{self.routing_key} redelivered={self.redelivered}>"


@attrs.define(eq=False)
class _Queue:
    name: str
    durable: bool
    exclusive_owner: MemoryTransport | None
    auto_delete: bool
    arguments: Mapping[str, Any]
    messages: deque[_Envelope] = attrs.field(factory=deque)
    consumers: list[_MemoryConsumer] = attrs.field(factory=list)
    next_consumer: int = 0
    had_consumer: bool = False
    generation: int = 0  # bumped on each use, so a pending x-expires check is stale


class MemoryBroker:
    """The in-process broker that `MemoryTransport` connections share."""

    def __init__(self) -> None:
        self._exchanges: dict[str, _Exchange] = {}
        self._queues: dict[str, _Queue] = {}
        self._names = itertools.count(1)
        # (exchange, routing key) -> the queues it reaches, until the topology changes.
        self._routes: dict[tuple[str, str], tuple[_Queue, ...]] = {}

    def __repr__(self) -> str:
        return f"<MemoryBroker exchanges={len(self._exchanges)} queues={len(self._queues)}>"

    # -- inspection, for tests and operators --------------------------------

    def queue_depth(self, name: str) -> int:
        """How many messages wait in queue `name` (not counting unsettled ones)."""
        return len(self._require_queue(name).messages)

    def has_queue(self, name: str) -> bool:
        """Whether queue `name` exists."""
        return name in self._queues

    # -- topology ----------------------------------------------------------

    def declare_exchange(
        self, name: str, type: ExchangeType, *, durable: bool | None, auto_delete: bool
    ) -> None:
        if not name:
            raise TopologyError("The default exchange '' cannot be declared.")
        existing = self._exchanges.get(name)
        if existing is None:
            self._exchanges[name] = _Exchange(name, ExchangeType(type), bool(durable), auto_delete)
            self._routes.clear()
            return
        if (
            existing.type != type
            or existing.auto_delete != auto_delete
            or (durable is not None and existing.durable != durable)
        ):
            raise TopologyError(
                f"Exchange {name!r} exists as type={existing.type.value} "
                f"durable={existing.durable} auto_delete={existing.auto_delete}; cannot "
                f"redeclare it as type={type} durable={durable} auto_delete={auto_delete} "
                "(PRECONDITION_FAILED)."
            )

    def declare_queue(
        self,
        name: str | None,
        owner: MemoryTransport,
        *,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        arguments: Mapping[str, Any],
    ) -> str:
        name = name or f"amq.gen-{next(self._names)}"
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = _Queue(
                name, durable, owner if exclusive else None, auto_delete, dict(arguments)
            )
            self._expire_later(queue)
            return name
        if queue.exclusive_owner is not None and queue.exclusive_owner is not owner:
            raise TopologyError(f"Queue {name!r} is exclusive to another connection.")
        if (
            queue.durable != durable
            or (queue.exclusive_owner is not None) != exclusive
            or queue.auto_delete != auto_delete
            or queue.arguments != dict(arguments)
        ):
            raise TopologyError(
                f"Queue {name!r} exists with durable={queue.durable} "
                f"exclusive={queue.exclusive_owner is not None} "
                f"auto_delete={queue.auto_delete} arguments={queue.arguments}; cannot "
                f"redeclare it with durable={durable} exclusive={exclusive} "
                f"auto_delete={auto_delete} arguments={dict(arguments)} (PRECONDITION_FAILED)."
            )
        self._expire_later(queue)  # a redeclaration counts as use
        return name

    def bind_queue(self, queue: str, exchange: str, routing_key: str) -> None:
        self._require_queue(queue)
        self._require_exchange(exchange).bind(queue, routing_key)
        self._routes.clear()

    def delete_queue(self, name: str) -> None:
        queue = self._queues.pop(name, None)
        if queue is None:
            return
        self._routes.clear()
        for exchange in list(self._exchanges.values()):
            if exchange.unbind_queue(name) and exchange.auto_delete and not exchange.bindings:
                del self._exchanges[exchange.name]  # an auto-delete exchange's last binding
        for consumer in list(queue.consumers):
            consumer.release()

    def _expire_later(self, queue: _Queue) -> None:
        """Honour ``x-expires``: delete the queue once unused (no consumer) that long."""
        expires_ms = queue.arguments.get("x-expires")
        if not isinstance(expires_ms, int) or expires_ms <= 0 or queue.consumers:
            return
        queue.generation += 1
        generation = queue.generation
        asyncio.get_running_loop().call_later(
            expires_ms / 1000, self._expire, queue.name, generation
        )

    def _expire(self, name: str, generation: int) -> None:
        queue = self._queues.get(name)
        if queue is not None and queue.generation == generation and not queue.consumers:
            self.delete_queue(name)

    def _require_queue(self, name: str) -> _Queue:
        try:
            return self._queues[name]
        except KeyError:
            raise TopologyError(f"Queue {name!r} does not exist.") from None

    def _require_exchange(self, name: str) -> _Exchange:
        try:
            return self._exchanges[name]
        except KeyError:
            raise TopologyError(f"Exchange {name!r} does not exist.") from None

    # -- routing -----------------------------------------------------------

    def route(self, exchange: str, routing_key: str) -> tuple[_Queue, ...]:
        """The queues a message published to `exchange` with `routing_key` reaches."""
        if not exchange:
            queue = self._queues.get(routing_key)
            return (queue,) if queue is not None else ()
        key = (exchange, routing_key)
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = self._route(exchange, routing_key)
        return found

    def _route(self, exchange: str, routing_key: str) -> tuple[_Queue, ...]:
        ex = self._require_exchange(exchange)
        if ex.type is ExchangeType.FANOUT:
            names = {q for q, _ in ex.bindings}
        elif ex.type is ExchangeType.DIRECT:
            names = set(ex.exact.get(routing_key, ()))
        else:
            names = set(ex.exact.get(routing_key, ()))
            names.update(q for q, key in ex.patterns if topic_matches(key, routing_key))
        return tuple(self._queues[n] for n in sorted(names))

    def publish(
        self, exchange: str, routing_key: str, message: Message, *, mandatory: bool
    ) -> None:
        queues = self.route(exchange, routing_key)
        if not queues:
            if mandatory:
                raise MessageUndeliverable(
                    f"No queue is bound to exchange {exchange!r} for routing key "
                    f"{routing_key!r}; the message was returned."
                )
            return
        now = clock.monotonic() if message.expiration else None
        for queue in queues:
            ttl = _ttl(message, queue) if queue.arguments else message.expiration
            expires_at = None
            if ttl:
                expires_at = (now if now is not None else clock.monotonic()) + ttl
            envelope = _Envelope(message, exchange, routing_key, expires_at)
            if not queue.messages and queue.consumers:
                consumer = self._next_ready_consumer(queue)
                if consumer is not None:  # nothing waits before it: straight to a consumer
                    consumer.deliver(envelope)
                    continue
            queue.messages.append(envelope)
            self._dispatch(queue)

    def _dispatch(self, queue: _Queue) -> None:
        """Hand waiting messages to consumers with room, round-robin."""
        while queue.messages and queue.consumers:
            consumer = self._next_ready_consumer(queue)
            if consumer is None:
                return
            envelope = queue.messages.popleft()
            if envelope.expires_at is not None and envelope.expires_at <= clock.monotonic():
                self._dead_letter(queue, envelope)
                continue
            consumer.deliver(envelope)

    def _next_ready_consumer(self, queue: _Queue) -> _MemoryConsumer | None:
        count = len(queue.consumers)
        if count == 1:  # a reply queue, a worker's own queue: no turn to keep
            only = queue.consumers[0]
            if not only.has_room():
                return None
            queue.next_consumer = 0  # as the turn below leaves it with one consumer
            return only
        for offset in range(count):
            consumer = queue.consumers[(queue.next_consumer + offset) % count]
            if consumer.has_room():
                queue.next_consumer = (queue.next_consumer + offset + 1) % count
                return consumer
        return None

    def _dead_letter(self, queue: _Queue, envelope: _Envelope) -> None:
        target = queue.arguments.get("x-dead-letter-exchange")
        if target is None:
            return
        key = queue.arguments.get("x-dead-letter-routing-key", envelope.routing_key)
        headers = dict(envelope.message.headers)
        headers["x-first-death-queue"] = queue.name
        dead = envelope.message._replace(headers=headers, expiration=None)
        if target == "" or target in self._exchanges:
            self.publish(target, key, dead, mandatory=False)

    # -- consumers ---------------------------------------------------------

    def attach(self, consumer: _MemoryConsumer) -> None:
        queue = self._require_queue(consumer.queue)
        if queue.exclusive_owner is not None and queue.exclusive_owner is not consumer.owner:
            raise TopologyError(f"Queue {queue.name!r} is exclusive to another connection.")
        queue.consumers.append(consumer)
        queue.had_consumer = True
        queue.generation += 1
        self._dispatch(queue)

    def detach(self, consumer: _MemoryConsumer, returned: list[_Envelope]) -> None:
        """Remove a consumer from its queue and put `returned` back at the queue's head."""
        queue = self._queues.get(consumer.queue)
        if queue is None:
            return
        if consumer in queue.consumers:
            queue.consumers.remove(consumer)
        for envelope in reversed(returned):
            envelope.redelivered = True
            queue.messages.appendleft(envelope)
        if queue.auto_delete and queue.had_consumer and not queue.consumers:
            self.delete_queue(queue.name)
        else:
            self._expire_later(queue)
            self._dispatch(queue)

    def settle(
        self, consumer: _MemoryConsumer, envelope: _Envelope, *, requeue: bool | None
    ) -> None:
        """Ack (``requeue=None``), requeue, or dead-letter one delivery."""
        queue = self._queues.get(consumer.queue)
        if queue is None:
            return
        if requeue is True:
            envelope.redelivered = True
            queue.messages.appendleft(envelope)
        elif requeue is False:
            self._dead_letter(queue, envelope)
        if queue.messages:  # a slot came free for what waits
            self._dispatch(queue)

    def drop_connection(self, owner: MemoryTransport) -> None:
        """Delete what an closing connection owned exclusively."""
        for queue in list(self._queues.values()):
            if queue.exclusive_owner is owner:
                self.delete_queue(queue.name)


def _ttl(message: Message, queue: _Queue) -> float | None:
    queue_ttl_ms = queue.arguments.get("x-message-ttl") if queue.arguments else None
    if not queue_ttl_ms:
        return message.expiration or None
    queue_ttl: float = queue_ttl_ms / 1000
    return min(message.expiration, queue_ttl) if message.expiration else queue_ttl


class _MemoryDelivery(Delivery):
    __slots__ = ("_consumer", "_envelope", "exchange", "message", "redelivered", "routing_key")

    def __init__(self, consumer: _MemoryConsumer, envelope: _Envelope) -> None:
        self._consumer = consumer
        self._envelope = envelope
        self.message = envelope.message
        self.exchange = envelope.exchange
        self.routing_key = envelope.routing_key
        self.redelivered = envelope.redelivered

    async def ack(self) -> None:
        self._consumer.settle(self._envelope, requeue=None)

    async def reject(self, *, requeue: bool = False) -> None:
        self._consumer.settle(self._envelope, requeue=requeue)


class _MemoryConsumer(Consumer):
    """One subscription: each delivery handed to the handler in a task of its own.

    A delivery is scheduled as it arrives (its task started in delivery order) and
    counts as seen once its task starts. As with AMQP's basic.cancel, cancelling
    stops new deliveries and sends the unseen ones back to the queue, but leaves
    those already handed to the handler with it, to be settled; whatever is still
    unsettled when the connection closes goes back to the queue. A plain-function
    handler (`inline`, for no-ack reply queues) is called from the event loop in
    delivery order, without a task.
    """

    def __init__(
        self,
        owner: MemoryTransport,
        queue: str,
        handler: Callable[[Delivery], Any],
        prefetch: int,
        no_ack: bool = False,
        inline: bool = False,
    ) -> None:
        self.owner = owner
        self.queue = queue
        self.no_ack = no_ack
        self._handler = handler
        self._inline = inline
        self._prefetch = prefetch
        self._unsettled: dict[int, _Envelope] = {}
        self._unseen: dict[int, _Envelope] = {}  # scheduled, not yet started, in order
        self._receiving = False
        self._released = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # The running handlers' tasks, by delivery (asyncio holds tasks only weakly);
        # each leaves at its own end, with no done callback to schedule.
        self._handlers: dict[int, asyncio.Task[None]] = {}
        self._handler_ids = itertools.count()

    def __repr__(self) -> str:
        state = "consuming" if self._receiving else "cancelled"
        return f"<MemoryConsumer {self.queue} {state} unsettled={len(self._unsettled)}>"

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._receiving = True
        try:
            self.owner.broker.attach(self)
        except BaseException:
            self._receiving = False
            raise

    def has_room(self) -> bool:
        return self._prefetch <= 0 or len(self._unsettled) < self._prefetch

    def deliver(self, envelope: _Envelope) -> None:
        key = id(envelope)
        if not self.no_ack:
            self._unsettled[key] = envelope
        self._unseen[key] = envelope
        assert self._loop is not None
        if self._inline:
            self._loop.call_soon(self._call, envelope)
            return
        handler_id = next(self._handler_ids)
        self._handlers[handler_id] = self._loop.create_task(self._handle(envelope, handler_id))

    def settle(self, envelope: _Envelope, *, requeue: bool | None) -> None:
        if self.no_ack:
            return  # settled by the broker when it was delivered
        if self._unsettled.pop(id(envelope), None) is None:
            if self._released:
                return  # already requeued when the connection closed
            raise TransportError("This delivery was already acknowledged or rejected.")
        self.owner.broker.settle(self, envelope, requeue=requeue)

    def _call(self, envelope: _Envelope) -> None:
        if self._unseen.pop(id(envelope), None) is None:
            return  # cancelled before its turn: it went back to the queue
        try:
            self._handler(_MemoryDelivery(self, envelope))
        except Exception:  # one bad delivery must not end the subscription
            log.exception("transport.handler_failed", queue=self.queue)

    async def _handle(self, envelope: _Envelope, handler_id: int) -> None:
        try:
            if self._unseen.pop(id(envelope), None) is None:
                return  # cancelled before its turn: it went back to the queue
            await self._handler(_MemoryDelivery(self, envelope))
        except Exception:  # one bad delivery must not end the subscription
            log.exception("transport.handler_failed", queue=self.queue)
        finally:
            self._handlers.pop(handler_id, None)

    def stop_receiving(self) -> None:
        """Leave the queue; deliveries the handler has not seen yet go back to it."""
        if not self._receiving:
            return
        self._receiving = False
        unseen = list(self._unseen.values())
        self._unseen.clear()
        for envelope in unseen:
            self._unsettled.pop(id(envelope), None)
        self.owner.broker.detach(self, unseen)

    def release(self) -> None:
        """The connection is going: return every unsettled delivery to the queue."""
        self.stop_receiving()
        self._released = True
        unsettled = list(self._unsettled.values())
        self._unsettled.clear()
        self.owner.broker.detach(self, unsettled)

    async def cancel(self) -> None:
        self.stop_receiving()


class MemoryTransport(Transport):
    """A connection to a `MemoryBroker` (its own private one unless one is given)."""

    in_process = True  # a MemoryBroker is an object of this process: nothing foreign reads it

    def __init__(self, url: str = "memory://", *, broker: MemoryBroker | None = None) -> None:
        super().__init__(url)
        self.broker = broker if broker is not None else MemoryBroker()
        self._connected = False
        self._consumers: list[_MemoryConsumer] = []

    def __repr__(self) -> str:
        state = "connected" if self._connected else "closed"
        return f"<MemoryTransport {self.url} {state}>"

    @property
    def is_connected(self) -> bool:
        return self._connected

    def _check(self) -> None:
        if not self._connected:
            raise TransportClosed(f"Transport {self.url} is not connected.")

    async def connect(self) -> None:
        self._connected = True
        self._mark_up()

    async def close(self) -> None:
        if not self._connected:
            return
        self._connected = False
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            await consumer.cancel()
        for consumer in consumers:
            consumer.release()
        self.broker.drop_connection(self)
        self._run_close_callbacks()

    async def declare_exchange(
        self,
        name: str,
        type: ExchangeType,
        *,
        durable: bool | None = None,
        auto_delete: bool = False,
        passive: bool = False,
    ) -> None:
        self._check()
        if passive:
            self.broker._require_exchange(name)
            return
        self.broker.declare_exchange(name, type, durable=durable, auto_delete=auto_delete)

    async def declare_queue(
        self,
        name: str | None = None,
        *,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: Mapping[str, Any] | None = None,
        passive: bool = False,
    ) -> str:
        self._check()
        if passive:
            return self.broker._require_queue(name or "").name
        return self.broker.declare_queue(
            name,
            self,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments or {},
        )

    async def queue_depth(self, name: str) -> int | None:
        """The messages the broker holds for queue `name` and has not delivered."""
        self._check()
        return self.broker.queue_depth(name)

    async def bind_queue(self, queue: str, exchange: str, routing_key: str) -> None:
        self._check()
        self.broker.bind_queue(queue, exchange, routing_key)

    async def delete_queue(self, name: str) -> None:
        self._check()
        self.broker.delete_queue(name)

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        message: Message,
        *,
        mandatory: bool = False,
        confirm: bool = True,
    ) -> None:
        if not self._connected:
            self._check()  # raises
        if mandatory and not confirm:
            raise ValueError("A mandatory message must be published with confirm=True.")
        self.broker.publish(exchange, routing_key, message, mandatory=mandatory)

    async def consume(
        self,
        queue: str,
        handler: DeliveryHandler | InlineHandler,
        *,
        prefetch: int = 0,
        no_ack: bool = False,
        inline: bool = False,
    ) -> Consumer:
        self._check()
        check_inline(inline=inline, no_ack=no_ack)
        consumer = _MemoryConsumer(self, queue, handler, prefetch, no_ack, inline)
        consumer.start()
        self._consumers.append(consumer)
        return consumer
