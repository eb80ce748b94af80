"""The transport contract: moving bytes between exchanges and queues.

A transport is one connection to a broker. It knows exchanges, queues, bindings,
publishing and consuming, and nothing of calls, casts, message ids or timeouts: the
RPC layer (`nova_lite.rpc`) is written once above it. Implementations live in the
top-level `transports` package and are chosen by URL through `nova_lite.loader`.

Semantics every implementation follows (the contract tests in
`tests/test_transport_contract.py` pin them on every transport):

- The exchange named ``""`` is the default direct exchange: every queue is bound to
  it under its own name.
- `publish(..., mandatory=True)` raises `MessageUndeliverable` when no queue takes
  the message, instead of dropping it silently.
- A consumer gets at most `prefetch` unacknowledged deliveries at a time; each one
  must be settled with `ack()` or `reject(requeue=...)`. As with AMQP's
  basic.cancel, cancelling a consumer stops new deliveries but leaves those already
  handed to the handler to be settled, and handlers already running run to their
  end, whether or not they have settled their delivery yet (a graceful stop relies
  on it); deliveries still unsettled when the connection closes are requeued, and
  come back with ``redelivered=True``.
- Exclusive queues belong to the connection that declared them and vanish with it;
  auto-delete queues vanish when their last consumer goes; a queue declared with
  ``x-expires`` (ms) vanishes once it has had no consumer that long. An auto-delete
  exchange vanishes when its last binding goes.
- Redeclaring an exchange or queue with other properties (durable, auto-delete,
  exclusive, arguments) raises `TopologyError`, as RabbitMQ's PRECONDITION_FAILED.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import types
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, NamedTuple

from nova_lite.lifecycle import AsyncLifecycle

__all__ = [
    "Consumer",
    "Delivery",
    "DeliveryHandler",
    "ExchangeType",
    "InlineHandler",
    "Message",
    "Transport",
    "check_inline",
]


class ExchangeType(enum.StrEnum):
    """The AMQP exchange types nova_lite uses."""

    TOPIC = "topic"
    DIRECT = "direct"
    FANOUT = "fanout"


#: The headers of a message that has none (read-only, shared).
NO_HEADERS: Mapping[str, Any] = types.MappingProxyType({})


class Message(NamedTuple):
    """A message as published: the body plus the AMQP properties nova_lite uses.

    `expiration` is in seconds; a message older than that is dropped by the broker
    instead of being delivered. Immutable (a broker may hand the same one to several
    queues); ``message._replace(...)`` makes a changed copy. A named tuple rather
    than a frozen attrs class: one or two are made for every RPC message, and a
    tuple is made in a third of the time.
    """

    body: bytes
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    headers: Mapping[str, Any] = NO_HEADERS
    expiration: float | None = None
    content_type: str = "application/json"
    persistent: bool = False


class Delivery(abc.ABC):
    """A message handed to a consumer, to be settled exactly once."""

    message: Message
    exchange: str
    routing_key: str
    redelivered: bool

    @abc.abstractmethod
    async def ack(self) -> None:
        """Tell the broker the message was handled; it is forgotten."""

    @abc.abstractmethod
    async def reject(self, *, requeue: bool = False) -> None:
        """Refuse the message: requeue it, or drop (dead-letter) it."""


DeliveryHandler = Callable[[Delivery], Awaitable[None]]
#: A plain function taking a no-ack delivery, called without a task of its own.
InlineHandler = Callable[[Delivery], None]


class Consumer(abc.ABC):
    """A running subscription to one queue."""

    queue: str

    @abc.abstractmethod
    async def cancel(self) -> None:
        """Stop new deliveries; those already handed out may still be settled.

        Handlers already running are left to finish; `cancel()` does not wait for
        them. Deliveries that are still unsettled when the connection closes are
        requeued.
        """


class Transport(AsyncLifecycle):
    """One connection to a message broker.

    Doing no I/O in ``__init__``: `connect()` (or ``async with``) opens it, `close()`
    releases it and everything declared as exclusive to it.
    """

    #: Whether the broker lives in this process, so that no other program ever reads
    #: what is published through it: the bytes are no wire. The RPC layer then leaves
    #: out oslo's outer envelope (`nova_lite.rpc.envelope`, ``bare``), which only a
    #: foreign reader needs, and checks the size limits as if it were there. False
    #: for any transport to a real broker, whose bytes stay oslo's.
    in_process: ClassVar[bool] = False

    def __init__(self, url: str) -> None:
        self.url = url
        self._close_callbacks: list[Callable[[], None]] = []
        self._lost_callbacks: list[Callable[[], None]] = []
        self._up = asyncio.Event()

    def add_close_callback(self, callback: Callable[[], None]) -> None:
        """Call `callback` once when this transport closes (e.g. to fail pending calls)."""
        self._close_callbacks.append(callback)

    def _run_close_callbacks(self) -> None:
        """Implementations call this from `close()`, after the connection is gone."""
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            callback()

    def add_connection_lost_callback(self, callback: Callable[[], None]) -> None:
        """Call `callback` each time the connection drops unexpectedly.

        The transport reconnects by itself; what was in flight on the old connection
        (replies to calls, unacked deliveries) may be gone.
        """
        self._lost_callbacks.append(callback)

    def _run_connection_lost_callbacks(self) -> None:
        """Implementations call this when the connection drops without `close()`."""
        self._up.clear()
        for callback in list(self._lost_callbacks):
            callback()

    def _mark_up(self) -> None:
        """Implementations call this once connected, and again once reconnected with
        their exchanges, queues, bindings and consumers restored."""
        self._up.set()

    async def wait_until_up(self) -> None:
        """Return once the transport is connected (again, after a broker outage)."""
        await self._up.wait()

    async def start(self) -> None:
        """`connect()`, under the name every lifecycle shares (``async with`` uses it)."""
        await self.connect()

    async def stop(self) -> None:
        """`close()`, under the name every lifecycle shares."""
        await self.close()

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Whether `connect()` succeeded and `close()` has not been called."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection; raise `TransportUnreachable` if the broker is not there."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection; never raises. Exclusive queues are deleted."""

    @abc.abstractmethod
    async def declare_exchange(
        self,
        name: str,
        type: ExchangeType,
        *,
        durable: bool | None = None,
        auto_delete: bool = False,
        passive: bool = False,
    ) -> None:
        """Create the exchange if it does not exist (idempotent).

        With ``passive=True`` nothing is created or compared: it only checks that the
        exchange exists (`TopologyError` if not), and takes it as it is.

        Redeclaring an existing exchange with another type, durability or
        auto-delete setting raises `TopologyError`, as RabbitMQ does
        (PRECONDITION_FAILED). With ``durable=None`` the declarer takes the exchange
        as it is, durable or not, and creates it transient if it is missing: for
        those who only publish or listen on a control exchange whose durability is
        the deployment's choice (``[rpc] durable_queues``), such as notifiers.
        """

    @abc.abstractmethod
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
        """Create the queue if it does not exist and return its name.

        With ``passive=True`` nothing is created or compared: it only checks that the
        queue exists (`TopologyError` if not), and takes it as it is.

        With ``name=None`` the broker picks a unique name. `arguments` carries broker
        options such as ``x-dead-letter-exchange`` and ``x-message-ttl``.
        """

    async def queue_depth(self, name: str) -> int | None:
        """How many messages wait in queue `name`, if this transport can tell (else None).

        Not for every message: on a real broker it is a round trip (RabbitMQ: a
        passive declare's message count). A missing queue raises `TopologyError`.
        """
        return None

    @abc.abstractmethod
    async def bind_queue(self, queue: str, exchange: str, routing_key: str) -> None:
        """Route messages published to `exchange` with a matching key into `queue`."""

    @abc.abstractmethod
    async def delete_queue(self, name: str) -> None:
        """Delete the queue and drop what it holds (no error if it does not exist)."""

    @abc.abstractmethod
    async def publish(
        self,
        exchange: str,
        routing_key: str,
        message: Message,
        *,
        mandatory: bool = False,
        confirm: bool = True,
    ) -> None:
        """Publish a message; once this returns, the broker has taken it.

        With ``mandatory=True`` a message that no queue takes raises
        `MessageUndeliverable` rather than being silently dropped. With
        ``confirm=False`` (only for non-mandatory messages) the call returns as soon
        as the message is written, without waiting for the broker's confirmation: for
        messages whose loss the sender could not act on anyway, such as RPC replies.
        """

    @abc.abstractmethod
    async def consume(
        self,
        queue: str,
        handler: DeliveryHandler | InlineHandler,
        *,
        prefetch: int = 0,
        no_ack: bool = False,
        inline: bool = False,
    ) -> Consumer:
        """Start delivering messages from `queue` to `handler`.

        `prefetch` bounds the unsettled deliveries (0: unbounded). The handler is
        called once per delivery, each call started in delivery order in a task of its
        own, so a handler may take its time; it settles the delivery when it likes.
        With ``no_ack=True`` (AMQP's no-ack mode, for reply queues) each message
        counts as settled once delivered: `ack` and `reject` do nothing, and nothing
        is ever redelivered.

        With ``inline=True`` (only with ``no_ack=True``: it cannot await a
        settlement) the handler is an `InlineHandler`, a plain function called from
        the event loop for each delivery, in order, with no task of its own, and
        never from inside `publish`: for work that is quick and never waits, such as
        resolving the future of a call's reply. What it raises is logged, and the
        subscription goes on. ValueError if `inline` is asked without `no_ack`.
        """


def check_inline(*, inline: bool, no_ack: bool) -> None:
    """Refuse an inline handler on a consumer that must settle its deliveries.

    Implementations of `Transport.consume` call it first.
    """
    if inline and not no_ack:
        raise ValueError(
            "An inline handler cannot await ack() or reject(): consume with no_ack=True, "
            "or give a coroutine function without inline."
        )
