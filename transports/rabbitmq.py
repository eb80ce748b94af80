"""The RabbitMQ transport: the `Transport` contract over aio-pika.

One robust aio-pika connection per transport, with heartbeats. When the connection
drops (a broker restart) it reconnects every `reconnect_interval` seconds,
re-declares the exchanges, queues and bindings declared through it, and resumes its
consumers; operations started meanwhile wait up to `connect_timeout` for it.

Channels: one for topology, one with publisher confirms for publishing, and one per
consumer, so that each consumer's prefetch (``basic.qos``) is its own, and a channel
error (which closes the channel) spoils nothing else. A cancelled consumer keeps its
channel until the deliveries it handed out are settled, as basic.cancel requires.
Delivery handlers run in tasks of their own, which a lost connection does not
cancel: work under way when the broker restarts carries on (its calls wait for the
reconnection) instead of vanishing.

Every aio-pika, aiormq and pamqp exception is translated at this boundary into
`nova_lite.exceptions`, by `translate_error` and its single table `ERROR_MAP`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Final, cast

import aio_pika
import aiormq
import aiormq.abc
import aiormq.exceptions as amqp
import pamqp.exceptions
import structlog
from aio_pika import abc as pika
from aiormq.connection import TCPTransportFactory, TLSTransportFactory, TransportFactory
from yarl import URL

from nova_lite.exceptions import (
    ConfigError,
    MessageUndeliverable,
    TopologyError,
    TransportClosed,
    TransportError,
    TransportUnreachable,
)
from nova_lite.transport import (
    NO_HEADERS,
    Consumer,
    Delivery,
    DeliveryHandler,
    ExchangeType,
    InlineHandler,
    Message,
    Transport,
    check_inline,
)

__all__ = ["ERROR_MAP", "RabbitMQTransport", "translate_error"]

log = structlog.get_logger(__name__)

_SCHEMES: Final = {"amqp": "amqp", "amqps": "amqps", "rabbit": "amqp"}

#: Foreign exception -> nova_lite exception; the first matching row wins.
ERROR_MAP: Final[tuple[tuple[type[BaseException], type[TransportError]], ...]] = (
    (amqp.PublishError, MessageUndeliverable),  # a mandatory message came back
    (amqp.ChannelNotFoundEntity, TopologyError),  # 404 NOT_FOUND
    (amqp.ChannelLockedResource, TopologyError),  # 405 RESOURCE_LOCKED
    (amqp.ChannelPreconditionFailed, TopologyError),  # 406 PRECONDITION_FAILED
    (amqp.ChannelAccessRefused, TopologyError),  # 403 ACCESS_REFUSED
    (amqp.AMQPConnectionError, TransportUnreachable),
    (amqp.ChannelInvalidStateError, TransportUnreachable),  # channel down, reopening
    (amqp.AMQPError, TransportError),  # other channel errors, nacks, protocol errors
    (pamqp.exceptions.PAMQPException, TransportError),
    (ConnectionError, TransportUnreachable),
    (OSError, TransportUnreachable),
    (TimeoutError, TransportUnreachable),
    (RuntimeError, TransportError),  # aio-pika's "channel/connection closed" states
)


#: aio-pika, aiormq and socket errors that mean the connection went away.
_CONNECTION_LOST: Final = (
    amqp.AMQPConnectionError,
    amqp.ChannelInvalidStateError,
    ConnectionError,
    RuntimeError,  # aio-pika's "connection closed" states
)
#: How long a confirmed publish rides out a lost connection before it fails.
RECONNECT_WAIT: Final = 30.0
#: For how long after a reconnection an unroutable publish is tried again.
RESTORE_GRACE: Final = 5.0
RETRY_PAUSE: Final = 0.2


def _detail(exc: BaseException) -> str:
    if isinstance(exc, amqp.PublishError):
        return f"no queue took the message, the broker returned it ({exc.args[0]})"
    if isinstance(exc, TimeoutError):
        return "the broker did not answer in time"
    return (str(exc) or type(exc).__name__).rstrip(".")


def _lost_connection(exc: BaseException) -> bool:
    """Whether `exc` says the connection (or the channel with it) went away.

    aiormq fails the operations of a connection closed under them with
    ``CancelledError`` too: that one counts unless this task is itself being cancelled.
    """
    if isinstance(exc, asyncio.CancelledError):
        task = asyncio.current_task()
        return task is not None and not task.cancelling()
    return isinstance(exc, _CONNECTION_LOST)


def translate_error(exc: BaseException, action: str) -> TransportError | None:
    """The nova_lite exception for a foreign one raised while doing `action`, if any."""
    for foreign, ours in ERROR_MAP:
        if isinstance(exc, foreign):
            return ours(f"Could not {action}: {_detail(exc)}.")
    return None


@contextlib.contextmanager
def _boundary(transport: RabbitMQTransport, action: str, *args: object) -> Iterator[None]:
    """Re-raise foreign exceptions from the block as nova_lite ones.

    The action is formatted only when something fails, keeping the hot path cheap.
    """
    try:
        yield
    except TransportError:
        raise
    except Exception as exc:
        translated = _translated(transport, exc, action, *args)
        if translated is None:
            raise
        raise translated from exc


def _translated(
    transport: RabbitMQTransport, exc: Exception, action: str, *args: object
) -> TransportError | None:
    """What `_boundary` raises for `exc` (None: `exc` itself)."""
    what = f"{action.format(*args)} on {transport.safe_url}"
    if not transport.is_connected:
        return TransportClosed(f"Could not {what}: the transport is closed.")
    return translate_error(exc, what)


def _amqp_url(url: str) -> URL:
    parsed = URL(url)
    if parsed.scheme not in _SCHEMES:
        raise ConfigError(
            f"RabbitMQ URL {url!r} has scheme {parsed.scheme!r}; "
            f"use one of {', '.join(sorted(_SCHEMES))}."
        )
    return parsed.with_scheme(_SCHEMES[parsed.scheme])


_PERSISTENT: Final = int(aio_pika.DeliveryMode.PERSISTENT)


def _properties(message: Message) -> aiormq.spec.Basic.Properties:
    """The AMQP properties of `message`, as aio-pika's Message would make them."""
    expiration = message.expiration
    return aiormq.spec.Basic.Properties(
        content_type=message.content_type or None,
        headers=dict(message.headers) if message.headers else None,
        delivery_mode=_PERSISTENT if message.persistent else None,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        expiration=None if expiration is None else str(int(expiration * 1000)),
        message_id=message.message_id,
    )


def _incoming(properties: aiormq.spec.Basic.Properties, body: bytes) -> Message:
    expiration = properties.expiration
    return Message(
        body,
        message_id=properties.message_id,
        correlation_id=properties.correlation_id,
        reply_to=properties.reply_to,
        headers=properties.headers or NO_HEADERS,
        expiration=float(expiration) / 1000 if expiration else None,
        content_type=properties.content_type or "",
        persistent=properties.delivery_mode == _PERSISTENT,
    )


class _BatchingWriter:
    """A stream writer that sends what is written in one event-loop turn as one write.

    aiormq writes every frame (a publish, an ack) with a write of its own, each a
    system call: at a few thousand messages a second those calls are the largest
    cost of the whole exchange, on both sides of the socket. Here the frames written
    while the loop runs its ready callbacks are joined and sent once, at the end of
    that turn; `drain`, `write_eof`, `close` and `abort` send what is held first, so
    flow control and the connection's closing frames are as before.
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._held: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        self.transport = writer.transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        """Send what is held now."""
        if not self._held:
            return
        data = b"".join(self._held) if len(self._held) > 1 else self._held[0]
        self._held.clear()
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        self.flush()
        await self._writer.drain()

    def write_eof(self) -> None:
        self.flush()
        self._writer.write_eof()

    def close(self) -> None:
        self.flush()
        self._writer.close()


class _BatchingFactory(TransportFactory):
    """aiormq's own TCP or TLS connection, written through a `_BatchingWriter`."""

    def __init__(self, tls: bool) -> None:
        self._inner = TLSTransportFactory() if tls else TCPTransportFactory()

    async def create(self, url: URL, **kwargs: Any) -> tuple[asyncio.StreamReader, Any]:
        reader, writer = await self._inner.create(url, **kwargs)
        return reader, _BatchingWriter(writer)


class _Connection(aio_pika.RobustConnection):
    """aio-pika's robust connection whose every (re)connection batches its writes."""

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any):
        super().__init__(url, loop, **kwargs)
        self.kwargs["transport_factory"] = _BatchingFactory(URL(url).scheme == "amqps")


class _Channel:
    """A robust aio-pika channel, and a way to wait until it is open again.

    aio-pika reopens a channel by itself after a channel error or a reconnection,
    but an operation started in between would fail; `ready()` waits for the
    reopening. A channel error (a refused declaration) closes the channel only once
    the broker's close frame has been handled, a moment after the failed operation
    returns: `spoil` marks the channel so that the next operation waits for the
    reopening instead of failing with the stale error.
    """

    __slots__ = ("_raw", "_reopened", "_spoiled_at", "_timeout", "channel", "generation")

    def __init__(self, channel: pika.AbstractRobustChannel, timeout: float) -> None:
        self.channel = channel
        self.generation = 0  # how many times it was reopened
        self._spoiled_at = -1
        self._timeout = timeout
        self._reopened = asyncio.Event()
        self._raw: aiormq.Channel | None = None
        channel.reopen_callbacks.add(self._on_reopen)

    def _on_reopen(self, _channel: object) -> None:
        self.generation += 1
        self._raw = None
        reopened, self._reopened = self._reopened, asyncio.Event()
        reopened.set()

    def spoil(self, generation: int) -> None:
        """A channel error happened on `generation`: wait for a newer one before using it."""
        self._spoiled_at = max(self._spoiled_at, generation)

    async def ready(self) -> pika.AbstractRobustChannel:
        if not self.channel.is_closed and self.generation > self._spoiled_at:
            return self.channel  # open and unspoiled, as nearly always: no timer
        async with asyncio.timeout(self._timeout):
            while self.channel.is_closed or self.generation <= self._spoiled_at:
                await self._reopened.wait()
        return self.channel

    async def raw(self) -> aiormq.Channel:
        """aiormq's channel under the robust one, ready (for publishing)."""
        raw = self._raw
        if raw is not None and not raw.is_closed and self.generation > self._spoiled_at:
            return raw
        channel = await self.ready()
        raw = self._raw = cast(aiormq.Channel, await channel.get_underlay_channel())
        return raw

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.channel.close()


class _RabbitDelivery(Delivery):
    """A delivery read from aiormq's channel; settled exactly once, on that channel.

    Settling writes the ack or reject frame without waiting for it to be sent: at
    most once, the request then runs at once instead of after a trip through the
    connection's writer (a lost connection requeues the message anyway, and the
    worker drops a copy it has already seen); at least once, the ack follows the
    handling, and a lost ack means a redelivery, as it always did.
    """

    __slots__ = (
        "_auto_settled",
        "_channel",
        "_consumer",
        "_settled",
        "_tag",
        "exchange",
        "message",
        "redelivered",
        "routing_key",
    )

    def __init__(
        self,
        consumer: _RabbitConsumer,
        channel: aiormq.abc.AbstractChannel,
        tag: int | None,
        message: Message,
        *,
        exchange: str | None,
        routing_key: str | None,
        redelivered: bool | None,
        settled: bool = False,
    ) -> None:
        self._channel = channel
        self._tag = tag or 0
        self._consumer = consumer
        self._settled = settled
        self._auto_settled = settled
        self.message = message
        self.exchange = exchange or ""
        self.routing_key = routing_key or ""
        self.redelivered = bool(redelivered)

    @classmethod
    def of(
        cls, delivered: aiormq.abc.DeliveredMessage, consumer: _RabbitConsumer, settled: bool
    ) -> _RabbitDelivery:
        """The delivery of a message as aiormq hands it over."""
        frame = delivered.delivery
        assert isinstance(frame, aiormq.spec.Basic.Deliver)
        return cls(
            consumer,
            delivered.channel,
            frame.delivery_tag,
            _incoming(delivered.header.properties, delivered.body),
            exchange=frame.exchange,
            routing_key=frame.routing_key,
            redelivered=frame.redelivered,
            settled=settled,
        )

    @classmethod
    def of_incoming(
        cls, incoming: pika.AbstractIncomingMessage, consumer: _RabbitConsumer, settled: bool
    ) -> _RabbitDelivery:
        """The delivery of a message as aio-pika hands it over."""
        return cls(
            consumer,
            incoming.channel,
            incoming.delivery_tag,
            _incoming(incoming.properties, incoming.body),
            exchange=incoming.exchange,
            routing_key=incoming.routing_key,
            redelivered=incoming.redelivered,
            settled=settled,
        )

    async def ack(self) -> None:
        await self._settle(None)

    async def reject(self, *, requeue: bool = False) -> None:
        await self._settle(requeue)

    async def _settle(self, requeue: bool | None) -> None:
        """Ack (``requeue=None``) or reject, once; a closed channel already requeued it."""
        if self._auto_settled:
            return  # consumed with no_ack: the broker settled it on delivery
        if self._settled:
            raise TransportError("This delivery was already acknowledged or rejected.")
        self._settled = True
        try:
            if requeue is None:
                await self._channel.basic_ack(self._tag, wait=False)
            else:
                await self._channel.basic_reject(self._tag, requeue=requeue, wait=False)
        except amqp.ChannelInvalidStateError:
            pass
        except Exception as exc:
            translated = translate_error(exc, "settle a delivery")
            if translated is None:
                raise
            raise translated from exc
        finally:
            self._consumer.settled()


class _RabbitConsumer(Consumer):
    """A subscription to one queue, on a channel of its own.

    `cancel()` sends basic.cancel and keeps the channel open until the deliveries
    already handed to the handler are settled *and* every running handler has
    returned, then closes it; a delivery that arrives after the cancel goes straight
    back to the queue. Each handler runs in a task of the consumer's own (see
    `_start`), so neither this close nor a lost connection cancels it mid-work; an
    inline handler runs in aiormq's delivery task.

    Deliveries come straight from aiormq's channel (`_on_delivered`): aio-pika's
    consumer path would wrap each one in an IncomingMessage and a task of its own
    before this consumer's. aio-pika still owns the subscription (it resumes it
    after a reconnection), and its path (`_on_message`) serves the deliveries that
    come before this consumer takes the resumed subscription over again.
    """

    def __init__(
        self,
        transport: RabbitMQTransport,
        queue: str,
        handler: Any,
        *,
        no_ack: bool = False,
        inline: bool = False,
    ) -> None:
        self.queue = queue
        self.no_ack = no_ack
        self.inline = inline
        self._transport = transport
        self._handler = handler
        self._channel: _Channel | None = None
        self._subscription: pika.AbstractQueue | None = None
        self._tag = ""
        self._receiving = False
        self._unsettled = 0
        self._running = 0
        self._ending: asyncio.Task[None] | None = None
        self._closed = False
        self._closing: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        state = "consuming" if self._receiving else "cancelled"
        return (
            f"<RabbitMQConsumer {self.queue} {state} unsettled={self._unsettled} "
            f"running={self._running}>"
        )

    async def start(self, channel: _Channel, prefetch: int) -> None:
        """Apply `prefetch` and subscribe; on failure, close the channel."""
        self._channel = channel
        try:
            if prefetch > 0:
                await channel.channel.set_qos(prefetch_count=prefetch)
            self._subscription = await channel.channel.declare_queue(self.queue, passive=True)
            self._receiving = True
            self._tag = await self._subscription.consume(self._on_message, no_ack=self.no_ack)
            await self._watch(channel.channel)
            channel.channel.reopen_callbacks.add(self._watch)
        except BaseException:
            self._receiving = False
            await channel.close()
            raise

    async def _watch(self, channel: Any) -> None:
        """Take the deliveries from aiormq; hear when the broker cancels this consumer.

        The broker cancels a consumer whose queue was deleted, for instance.
        """
        raw = await channel.get_underlay_channel()
        raw.on_consumer_cancel_callbacks.add(self._on_broker_cancel)
        if self._tag in raw.consumers:
            raw.consumers[self._tag] = self._on_delivered

    def _on_broker_cancel(self, frame: Any) -> None:
        # Without this, aio-pika would try to resume the consumer forever.
        if frame.consumer_tag == self._tag and self._receiving:
            self._ending = asyncio.get_running_loop().create_task(self.cancel())

    async def _on_delivered(self, delivered: aiormq.abc.DeliveredMessage) -> None:
        if self.no_ack:
            if self._receiving:
                self._dispatch(_RabbitDelivery.of(delivered, self, True))
            return
        if not self._receiving:
            with contextlib.suppress(Exception):
                tag = getattr(delivered.delivery, "delivery_tag", None) or 0
                await delivered.channel.basic_reject(tag, requeue=True)
            return
        self._unsettled += 1
        self._dispatch(_RabbitDelivery.of(delivered, self, False))

    async def _on_message(self, incoming: pika.AbstractIncomingMessage) -> None:
        if self.no_ack:
            if self._receiving:
                self._dispatch(_RabbitDelivery.of_incoming(incoming, self, True))
            return
        if not self._receiving:
            with contextlib.suppress(Exception):
                await incoming.reject(requeue=True)
            return
        self._unsettled += 1
        self._dispatch(_RabbitDelivery.of_incoming(incoming, self, False))

    def _dispatch(self, delivery: _RabbitDelivery) -> None:
        if not self.inline:
            self._start(delivery)
            return
        try:
            self._handler(delivery)
        except Exception:
            log.exception("transport.handler_failed", queue=self.queue)

    def _start(self, delivery: _RabbitDelivery) -> None:
        """Run the handler in a task of the consumer's own, not in aiormq's.

        aiormq runs this callback in a task owned by the channel, and cancels it when
        the channel closes: a broker restart would cut every running handler short
        where it stands (a build half done, its clean-up never run, nothing logged).
        The consumer's own task outlives the channel: the handler's RPC calls wait for
        the reconnection, and settling a delivery of the lost channel is a no-op (the
        broker requeued it if it was unsettled).
        """
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._handle(delivery))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, delivery: _RabbitDelivery) -> None:
        try:
            await self._handler(delivery)
        except Exception:
            log.exception("transport.handler_failed", queue=self.queue)
        finally:
            self._running -= 1
            self._close_when_idle()

    def settled(self) -> None:
        """Count one delivery settled; after `cancel()`, the channel closes once idle."""
        self._unsettled -= 1
        self._close_when_idle()

    def _idle(self) -> bool:
        return not self._receiving and self._unsettled == 0 and self._running == 0

    def _close_when_idle(self) -> None:
        """After `cancel()`, close the channel once nothing uses it any more.

        The close runs in a task of the consumer's own, not in the handler's task:
        that one belongs to the channel, and closing the channel cancels it.
        """
        if self._idle() and self._channel is not None and not self._closed:
            self._closed = True
            self._closing = asyncio.get_running_loop().create_task(self._channel.close())

    def stop(self) -> None:
        """Stop handling deliveries: the connection is closing and requeues them."""
        self._receiving = False

    async def cancel(self) -> None:
        if not self._receiving:
            return
        self._receiving = False
        self._transport.forget(self)
        assert self._channel is not None and self._subscription is not None
        try:
            await self._subscription.cancel(self._tag)
        except Exception:
            self._unsettled = 0  # the channel is gone, and its deliveries went back
        if self._idle() and not self._closed:
            self._closed = True
            await self._channel.close()


class RabbitMQTransport(Transport):
    """A connection to RabbitMQ through aio-pika (``amqp://``, ``amqps://``, ``rabbit://``).

    ``rabbit://`` is an alias of ``amqp://``. `safe_url` is the URL with its password
    masked; every message and ``repr`` uses it instead of `url`.
    """

    def __init__(
        self,
        url: str,
        *,
        heartbeat: int = 30,
        connect_timeout: float = 10.0,
        reconnect_interval: float = 1.0,
    ) -> None:
        super().__init__(url)
        self._amqp_url = _amqp_url(url)
        password = self._amqp_url.password
        self.safe_url = str(self._amqp_url.with_password("****") if password else self._amqp_url)
        self._options: dict[str, Any] = {
            "timeout": connect_timeout,
            "heartbeat": heartbeat,
            "reconnect_interval": reconnect_interval,
        }
        self._timeout = connect_timeout
        self._state = "unconnected"
        self._connection: pika.AbstractRobustConnection | None = None
        self._topology: _Channel | None = None
        self._probe: _Channel | None = None  # declarations that may be refused
        self._probing = asyncio.Lock()
        self._publisher: _Channel | None = None
        self._unconfirmed: _Channel | None = None
        self._queues: dict[str, pika.AbstractRobustQueue] = {}
        self._consumers: list[_RabbitConsumer] = []
        self._reconnected_at: float | None = None

    def __repr__(self) -> str:
        reconnecting = self._connection is not None and not self._connection.connected.is_set()
        return (
            f"<RabbitMQTransport {self.safe_url} {'reconnecting' if reconnecting else self._state}>"
        )

    @property
    def is_connected(self) -> bool:
        return self._state == "connected"

    async def connect(self) -> None:
        if self.is_connected:
            return
        try:  # aio-pika's own timeout: an outer one could leave its reconnect task behind
            connection = await aio_pika.connect_robust(
                self._amqp_url, connection_class=_Connection, **self._options
            )
        except Exception as exc:
            detail = _detail(exc).replace(self._amqp_url.password or "\0", "****")
            raise TransportUnreachable(
                f"Cannot connect to the broker at {self.safe_url}: {detail}."
            ) from None
        self._connection, self._state = connection, "connected"
        connection.close_callbacks.add(self._on_connection_closed)
        connection.reconnect_callbacks.add(self._on_reconnected)
        self._queues = {}
        try:
            with _boundary(self, "open channels"):
                self._topology = await self._channel(publisher_confirms=False)
                self._probe = await self._channel(publisher_confirms=False)
                self._publisher = await self._channel(on_return_raises=True)
                self._unconfirmed = await self._channel(publisher_confirms=False)
        except BaseException:
            await self.close()
            raise
        self._mark_up()

    async def _channel(
        self, *, publisher_confirms: bool = True, on_return_raises: bool = False
    ) -> _Channel:
        self._check()
        assert self._connection is not None
        channel = self._connection.channel(
            publisher_confirms=publisher_confirms, on_return_raises=on_return_raises
        )
        await channel
        return _Channel(channel, self._timeout)

    async def close(self) -> None:
        if self._state != "connected":
            return
        self._state = "closed"
        for consumer in self._consumers:
            consumer.stop()
        self._consumers.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
        self._run_close_callbacks()

    def _on_reconnected(self, _connection: object) -> None:
        """aio-pika restored the channels (topology and consumers): usable again."""
        self._reconnected_at = asyncio.get_running_loop().time()
        if self._state == "connected":
            log.info("transport.reconnected", url=self.safe_url)
            self._mark_up()

    def _on_connection_closed(self, _connection: object, _exc: object) -> None:
        if self._state == "connected":  # not our own close(): the broker went away
            log.warning("transport.connection_lost", url=self.safe_url)
            self._run_connection_lost_callbacks()

    def forget(self, consumer: _RabbitConsumer) -> None:
        """Drop a cancelled consumer from the ones `close()` stops."""
        with contextlib.suppress(ValueError):
            self._consumers.remove(consumer)

    def _check(self) -> None:
        if self._state != "connected":
            raise TransportClosed(f"Transport {self.safe_url} is not connected.")

    @contextlib.asynccontextmanager
    async def _on_topology(
        self, action: str, *args: object
    ) -> AsyncIterator[pika.AbstractRobustChannel]:
        """The topology channel, ready, for one operation; foreign errors translated.

        A channel error closes the channel under the operation: it is marked so that
        the next operation waits until aio-pika has reopened it.
        """
        with _boundary(self, action, *args):
            self._check()
            assert self._topology is not None
            channel = await self._topology.ready()
            generation = self._topology.generation
            try:
                yield channel
            except amqp.ChannelClosed:
                self._topology.spoil(generation)
                raise

    async def declare_exchange(
        self,
        name: str,
        type: ExchangeType,
        *,
        durable: bool | None = None,
        auto_delete: bool = False,
        passive: bool = False,
    ) -> None:
        if not name:
            raise TopologyError("The default exchange '' cannot be declared.")
        if passive:  # not re-declared after a reconnection: it is someone else's
            async with self._on_topology("find exchange {!r}", name) as channel:
                await channel.declare_exchange(name, passive=True, robust=False)
            return
        if durable is None:  # taken as it is, durable or not, whoever made it
            durable = await self._durability_of(name, type, auto_delete)
        await self._declare_exchange(name, type, durable, auto_delete)

    async def _durability_of(self, name: str, type: ExchangeType, auto_delete: bool) -> bool:
        """Whether exchange `name` is durable: false if it is missing.

        Asked by declaring it transient, then durable, on a channel kept for such
        probes: the refusal of the wrong one is a channel error, which would close the
        shared topology channel under every concurrent declaration.
        """
        for durable in (False, True):
            if await self._accepted(name, type, durable=durable, auto_delete=auto_delete):
                return durable
        raise TopologyError(
            f"Could not declare exchange {name!r} as {type} on {self.safe_url}: it exists "
            "with another type or auto-delete setting."
        )

    async def _accepted(
        self, name: str, type: ExchangeType, *, durable: bool, auto_delete: bool
    ) -> bool:
        """Whether the broker takes this declaration, asked on the probe channel.

        A refusal closes the probe channel (aio-pika reopens it), so probes go one at a
        time, and none is remembered for re-declaration after a reconnection.
        """
        with _boundary(self, "declare exchange {!r} as {}", name, type):
            self._check()
            assert self._probe is not None
            async with self._probing:
                channel = await self._probe.ready()
                generation = self._probe.generation
                try:
                    await channel.declare_exchange(
                        name,
                        aio_pika.ExchangeType(type),
                        durable=durable,
                        auto_delete=auto_delete,
                        robust=False,
                    )
                except amqp.ChannelPreconditionFailed:
                    self._probe.spoil(generation)
                    return False
            return True

    async def _declare_exchange(
        self, name: str, type: ExchangeType, durable: bool, auto_delete: bool
    ) -> None:
        async with self._on_topology("declare exchange {!r} as {}", name, type) as channel:
            await channel.declare_exchange(
                name, aio_pika.ExchangeType(type), durable=durable, auto_delete=auto_delete
            )

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
        """Declare a queue; with ``name=None`` aio-pika picks a unique ``amq_…`` name.

        The name is chosen on the client so that a reconnect re-declares the same queue.
        """
        if passive:
            async with self._on_topology("find queue {!r}", name) as channel:
                found = await channel.declare_queue(name, passive=True, robust=False)
            self._queues[found.name] = found
            return found.name
        async with self._on_topology("declare queue {!r}", name) as channel:
            queue = await channel.declare_queue(
                name,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
                arguments=dict(arguments) if arguments else None,
            )
        self._queues[queue.name] = queue
        return queue.name

    async def queue_depth(self, name: str) -> int | None:
        """The message count RabbitMQ gives when the queue is declared again.

        A queue this connection declared is declared again as it was (idempotent: the
        same properties); RabbitMQ 3.10 answers a passive declare with a count of 0
        whatever the queue holds, so only a queue of someone else's is read passively.
        """
        known = self._queues.get(name)
        if known is not None:
            with _boundary(self, "read the depth of queue {!r}", name):
                result = await known.declare()
        else:
            async with self._on_topology("read the depth of queue {!r}", name) as channel:
                found = await channel.declare_queue(name, passive=True, robust=False)
                result = found.declaration_result
        count = None if result is None else result.message_count
        return None if count is None else int(count)

    async def bind_queue(self, queue: str, exchange: str, routing_key: str) -> None:
        async with self._on_topology(
            "bind queue {!r} to exchange {!r}", queue, exchange
        ) as channel:
            # A queue declared here remembers its bindings, so a reconnect rebinds them.
            target = self._queues.get(queue) or await channel.get_queue(queue, ensure=False)
            await target.bind(exchange, routing_key)

    async def delete_queue(self, name: str) -> None:
        for consumer in [c for c in self._consumers if c.queue == name]:
            await consumer.cancel()
        self._queues.pop(name, None)
        async with self._on_topology("delete queue {!r}", name) as channel:
            await channel.queue_delete(name)

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        message: Message,
        *,
        mandatory: bool = False,
        confirm: bool = True,
    ) -> None:
        if mandatory and not confirm:
            raise ValueError("A mandatory message must be published with confirm=True.")
        try:  # as `_boundary`, without a context manager per message
            outgoing = _properties(message), message.body
            if not confirm:  # replies: worthless once the connection they answer is gone
                await self._publish_once(exchange, routing_key, outgoing, False, confirm=False)
                return
            await self._publish_confirmed(exchange, routing_key, outgoing, mandatory, message)
        except TransportError:
            raise
        except Exception as exc:
            what = "publish to exchange {!r} with key {!r}"
            translated = _translated(self, exc, what, exchange, routing_key)
            if translated is None:
                raise
            raise translated from exc

    async def _publish_confirmed(
        self,
        exchange: str,
        routing_key: str,
        outgoing: tuple[aiormq.spec.Basic.Properties, bytes],
        mandatory: bool,
        message: Message,
    ) -> None:
        deadline = asyncio.get_running_loop().time() + min(
            RECONNECT_WAIT, message.expiration or RECONNECT_WAIT
        )
        if not self._up.is_set():  # reconnecting: the exchanges are not all back yet
            await self._back_up(deadline)
        while True:
            try:
                await self._publish_once(exchange, routing_key, outgoing, mandatory)
                return
            except BaseException as exc:
                if not self._worth_retrying(exc, deadline):
                    if isinstance(exc, asyncio.CancelledError) and _lost_connection(exc):
                        raise TransportUnreachable(f"the connection was lost ({exc})") from exc
                    raise
            await self._back_up(deadline)

    async def _publish_once(
        self,
        exchange: str,
        routing_key: str,
        outgoing: tuple[aiormq.spec.Basic.Properties, bytes],
        mandatory: bool,
        *,
        confirm: bool = True,
    ) -> None:
        """Publish on aiormq's channel, not waiting for the frames to be written.

        With publisher confirms (``confirm``) it returns once the broker confirmed the
        message; raises aiormq's PublishError if it came back (mandatory), and
        DeliveryError if the broker refused it, TimeoutError if no confirmation came
        within ``connect_timeout`` (a dead connection can hang a publish).
        """
        self._check()
        channel = self._publisher if confirm else self._unconfirmed
        assert channel is not None
        raw = await channel.raw()
        generation = channel.generation
        properties, body = outgoing
        try:
            await raw.basic_publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                properties=properties,
                mandatory=mandatory,
                timeout=self._timeout if confirm else None,
                wait=False,
            )
        except amqp.ChannelClosed:  # e.g. a missing exchange: the channel closes under us
            channel.spoil(generation)
            raise

    def _worth_retrying(self, exc: BaseException, deadline: float) -> bool:
        """Whether a confirmed publish that failed with `exc` should be sent again.

        It is, until `deadline`, when the connection was lost under it (the broker is
        restarting) or it got no confirm within ``connect_timeout`` (a publish can hang
        on a connection that died under it), and when it was unroutable or its
        exchange missing just after a reconnection (a transient exchange and the
        queues of other parties come back only as each connection restores what it
        declared). Sending it again is safe: the message keeps its ``_unique_id``, by
        which a worker drops the copy it has already seen.
        """
        if not self.is_connected or asyncio.get_running_loop().time() >= deadline:
            return False
        if isinstance(exc, amqp.PublishError | amqp.ChannelNotFoundEntity):
            return self._restoring()
        return isinstance(exc, TimeoutError) or _lost_connection(exc)

    def _restoring(self) -> bool:
        """Whether this connection came back so lately that others may still be restoring."""
        since = self._reconnected_at
        return since is not None and asyncio.get_running_loop().time() - since < RESTORE_GRACE

    async def _back_up(self, deadline: float) -> None:
        """Wait (until `deadline`) for the connection to be restored again, after a pause."""
        async with asyncio.timeout_at(deadline):
            await asyncio.sleep(RETRY_PAUSE)
            await self.wait_until_up()

    async def consume(
        self,
        queue: str,
        handler: DeliveryHandler | InlineHandler,
        *,
        prefetch: int = 0,
        no_ack: bool = False,
        inline: bool = False,
    ) -> Consumer:
        check_inline(inline=inline, no_ack=no_ack)
        consumer = _RabbitConsumer(self, queue, handler, no_ack=no_ack, inline=inline)
        with _boundary(self, "consume from queue {!r}", queue):
            await consumer.start(await self._channel(), prefetch)
        self._consumers.append(consumer)
        return consumer
