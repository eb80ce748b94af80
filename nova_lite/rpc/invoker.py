"""The sending side of RPC: Invoker, with its TopicPublisher and DirectConsumer.

An `Invoker` sends rpc.call and rpc.cast messages for one `Target`. Requests go
through a `TopicPublisher` to the target's topic exchange. Replies to calls come back
on one ``reply_<hex>`` queue per transport (declared as oslo's, expiring 30 minutes
after its last use), read by a `DirectConsumer` that resolves pending futures keyed
by message id; it is set up on the first call and released when the transport
closes (which fails every pending call). With a ``call_monitor_timeout`` a call
asks the server for heartbeats and gives up only after that long without one
(`nova_lite.rpc.call_monitor`), or after its overall ``timeout``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
import weakref
from collections.abc import Callable, Collection
from typing import Any

import attrs
import structlog

from nova_lite import telemetry
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    ConnectionLost,
    MessageDecodeError,
    MessageUndeliverable,
    MessagingTimeout,
    TopologyError,
    TransportClosed,
    UnsupportedVersion,
)
from nova_lite.rpc import envelope, topology
from nova_lite.rpc.call_monitor import CallClock, Deadlines
from nova_lite.rpc.failures import DEFAULT_ALLOWED_MODULES, rebuild_exception
from nova_lite.rpc.serializer import ObjectSerializer, Serializer
from nova_lite.rpc.target import Target, version_is_compatible
from nova_lite.transport import Delivery, Message, Transport

__all__ = ["DirectConsumer", "Invoker", "TopicPublisher"]

log = structlog.get_logger(__name__)

_UNSET: Any = object()
_PLAIN = frozenset({str, int, float, bool, type(None)})


class DirectConsumer:
    """Receives the replies to one transport's calls on its exclusive reply queue.

    Replies are read by an inline handler (`Transport.consume`): resolving a future
    needs no task of its own.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.queue = f"reply_{uuid.uuid4().hex}"
        self._pending: dict[str, asyncio.Future[envelope.Reply]] = {}
        self._heard: dict[str, Callable[[], None]] = {}  # calls with a call monitor
        self.started = False
        self.closed = False
        self.deadlines: Deadlines | None = None  # the calls' timers, once started
        # The largest reply read: the services' [rpc] max_message_bytes (`accept_up_to`).
        self.max_bytes = envelope.DEFAULT_MAX_MESSAGE_BYTES
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<DirectConsumer {self.queue} pending={len(self._pending)}>"

    async def ensure_started(self) -> None:
        """Declare and consume the reply queue, once."""
        if self.started:
            return
        async with self._lock:
            if self.started:
                return
            await topology.reply_queue(self.queue).declare(self.transport)
            await self.transport.consume(self.queue, self._on_reply, no_ack=True, inline=True)
            self.transport.add_close_callback(self._on_transport_closed)
            self.transport.add_connection_lost_callback(self._on_connection_lost)
            self.deadlines = Deadlines()
            self.started = True

    def expect(
        self, msg_id: str, heard: Callable[[], None] | None = None
    ) -> asyncio.Future[envelope.Reply]:
        """A future that the reply to `msg_id` will resolve; `heard` hears its heartbeats."""
        future: asyncio.Future[envelope.Reply] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        if heard is not None:
            self._heard[msg_id] = heard
        return future

    def on_heartbeat(self, msg_id: str, heard: Callable[[], None]) -> None:
        """Call `heard` for every call-monitor heartbeat of the pending call `msg_id`."""
        if msg_id in self._pending:
            self._heard[msg_id] = heard

    def forget(self, msg_id: str) -> None:
        """Stop waiting for `msg_id` (timed out or never sent); a late reply is dropped."""
        self._pending.pop(msg_id, None)
        if self._heard:
            self._heard.pop(msg_id, None)

    def _on_reply(self, delivery: Delivery) -> None:
        try:
            reply = envelope.decode_reply(
                delivery.message.body, max_bytes=self.max_bytes, bare=self.transport.in_process
            )
        except MessageDecodeError as exc:
            log.warning("rpc.reply.undecodable", error=str(exc))
            return
        if reply.is_heartbeat:
            heard = self._heard.get(reply.msg_id)
            if heard is not None:
                heard()
            return
        future = self._pending.pop(reply.msg_id, None)
        if future is None:
            log.debug("rpc.reply.late", msg_id=reply.msg_id)
            return
        if self._heard:
            self._heard.pop(reply.msg_id, None)
        if not future.done():
            future.set_result(reply)

    def _on_connection_lost(self) -> None:
        """Replies to calls in flight went with the old connection: fail them now."""
        pending, self._pending = self._pending, {}
        self._heard.clear()
        for msg_id, future in pending.items():
            if not future.done():
                future.set_exception(
                    ConnectionLost(
                        f"The connection to the broker was lost while waiting for the reply "
                        f"to message {msg_id}; the request may or may not have been carried "
                        "out. The transport reconnects by itself: retry if the call is "
                        "idempotent."
                    )
                )

    def _on_transport_closed(self) -> None:
        self.closed = True
        pending, self._pending = self._pending, {}
        self._heard.clear()
        for msg_id, future in pending.items():
            if not future.done():
                future.set_exception(
                    TransportClosed(
                        f"Transport {self.transport.url} closed while waiting for the "
                        f"reply to message {msg_id}."
                    )
                )
        _direct_consumers.pop(self.transport, None)


_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count()


def _new_id() -> str:
    """A message id unique across processes: a random process prefix and a counter."""
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


_direct_consumers: weakref.WeakKeyDictionary[Transport, DirectConsumer] = (
    weakref.WeakKeyDictionary()
)
_declared_exchanges: weakref.WeakKeyDictionary[Transport, set[str]] = weakref.WeakKeyDictionary()


def accept_replies_up_to(transport: Transport, max_bytes: int) -> None:
    """Read replies on `transport` up to `max_bytes` (a service's [rpc] max_message_bytes),
    so that a limit raised for the workers is raised for the callers too."""
    consumer = direct_consumer_for(transport)
    consumer.max_bytes = max(consumer.max_bytes, max_bytes)


def direct_consumer_for(transport: Transport) -> DirectConsumer:
    """The one DirectConsumer shared by every Invoker on `transport`."""
    consumer = _direct_consumers.get(transport)
    if consumer is None:
        consumer = _direct_consumers[transport] = DirectConsumer(transport)
    return consumer


class TopicPublisher:
    """Publishes requests to a target's topic (or fanout) exchange.

    It declares the exchange before its first use, as oslo.messaging's publisher
    does: the control exchange durable when `durable` (``[rpc] durable_queues``),
    the fanout exchange transient and auto-deleted with its last queue.
    """

    def __init__(self, transport: Transport, *, durable: bool = False) -> None:
        self.transport = transport
        self.durable = durable
        self._declared = _declared_exchanges.setdefault(transport, set())

    def route(self, target: Target) -> tuple[topology.ExchangeSpec, str]:
        """The exchange and routing key of `target`'s messages."""
        if target.fanout:
            return topology.fanout_exchange(target.fanout_exchange), target.topic or ""
        spec = topology.topic_exchange(target.exchange, durable=self.durable)
        return spec, target.routing_key

    async def publish(
        self,
        target: Target,
        message: Message,
        route: tuple[topology.ExchangeSpec, str] | None = None,
    ) -> None:
        """Send `message` to `target`; raise `MessageUndeliverable` if no queue takes it.

        `route` is `route(target)`, for a sender that keeps it.
        """
        spec, routing_key = route or self.route(target)
        if spec.name not in self._declared:
            await spec.declare(self.transport)
            self._declared.add(spec.name)
        try:
            await self.transport.publish(spec.name, routing_key, message, mandatory=True)
        except TopologyError:
            if not spec.auto_delete:
                raise
            # The fanout exchange went with its last queue: declare it again, so the
            # message is refused as undeliverable (no queue) rather than misrouted.
            await spec.declare(self.transport)
            await self.transport.publish(spec.name, routing_key, message, mandatory=True)


@attrs.frozen
class _Options:
    timeout: float
    call_monitor_timeout: float | None
    version_cap: str | None
    serializer: Serializer
    allowed_remote_modules: Collection[str]
    persistent_casts: bool = False


class Invoker:
    """Sends rpc.call and rpc.cast to one `Target` (oslo.messaging's RPCClient).

    Usable at once: the reply consumer is set up lazily on the first call. Use
    `prepare()` to aim a copy at one server, the fanout, another version or timeout.
    `durable_queues` must be the deployment's ``[rpc] durable_queues`` (oslo's
    ``amqp_durable_queues``): it says how the control exchange is declared.

    `timeout` is the most a call waits in all. With `call_monitor_timeout` (oslo's
    option of that name), a call also asks the server for heartbeats and gives up
    after that long without hearing from it; a call the server keeps saying it is
    on then waits up to `timeout`, however long the server's queue.
    """

    def __init__(
        self,
        transport: Transport,
        target: Target,
        *,
        timeout: float = 60.0,
        call_monitor_timeout: float | None = None,
        version_cap: str | None = None,
        serializer: Serializer | None = None,
        allowed_remote_modules: Collection[str] = DEFAULT_ALLOWED_MODULES,
        persistent_casts: bool = False,
        durable_queues: bool = False,
    ) -> None:
        self.transport = transport
        self.target = target
        self._options = _Options(
            timeout,
            call_monitor_timeout,
            version_cap,
            serializer or ObjectSerializer(),
            tuple(allowed_remote_modules),
            persistent_casts,
        )
        self._publisher = TopicPublisher(transport, durable=durable_queues)
        self._route: tuple[topology.ExchangeSpec, str] | None = None
        self._replies: DirectConsumer | None = None

    def __repr__(self) -> str:
        monitor = self._options.call_monitor_timeout
        return f"<Invoker {self.target} timeout={self.timeout} call_monitor_timeout={monitor}>"

    @property
    def timeout(self) -> float:
        """The most seconds a call waits for its reply."""
        return self._options.timeout

    @property
    def call_monitor_timeout(self) -> float | None:
        """Seconds a call waits without a heartbeat or reply (None: no call monitor)."""
        return self._options.call_monitor_timeout

    def prepare(
        self,
        *,
        server: str | None = _UNSET,
        fanout: bool = _UNSET,
        timeout: float = _UNSET,
        call_monitor_timeout: float | None = _UNSET,
        version: str | None = _UNSET,
        namespace: str | None = _UNSET,
    ) -> Invoker:
        """A copy of this Invoker with some target fields or the timeouts changed."""
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("server", server),
                ("fanout", fanout),
                ("version", version),
                ("namespace", namespace),
            )
            if value is not _UNSET
        }
        clone = object.__new__(Invoker)
        clone.transport = self.transport
        clone.target = attrs.evolve(self.target, **changes)
        clone._options = self._options
        if timeout is not _UNSET:
            clone._options = attrs.evolve(clone._options, timeout=timeout)
        if call_monitor_timeout is not _UNSET:
            clone._options = attrs.evolve(clone._options, call_monitor_timeout=call_monitor_timeout)
        clone._publisher = self._publisher
        clone._route = None
        clone._replies = self._replies
        return clone

    def can_send_version(self, version: str | None = None) -> bool:
        """Whether `version` (default: the target's) is within the version cap."""
        version = version or self.target.version
        cap = self._options.version_cap
        return cap is None or version is None or version_is_compatible(cap, version)

    def _check_version(self) -> None:
        if not self.can_send_version():
            raise UnsupportedVersion(
                f"Version {self.target.version} is above the version cap "
                f"{self._options.version_cap} of {self}."
            )

    def _encode(
        self,
        ctx: RequestContext,
        method: str,
        kwargs: dict[str, Any],
        sent: object,
        **reply: Any,
    ) -> bytes:
        """The request's body; `sent` is what the RPC hooks gave (its trace context)."""
        serializer = self._options.serializer
        if type(serializer) is ObjectSerializer:  # plain values stay as they are
            serialize = serializer.serialize_entity
            args = {
                key: value if type(value) in _PLAIN else serialize(ctx, value)
                for key, value in kwargs.items()
            }
        else:
            args = {key: serializer.serialize_entity(ctx, value) for key, value in kwargs.items()}
        return envelope.encode_request(
            ctx,
            method,
            args,
            namespace=self.target.namespace,
            version=self.target.version,
            unique_id=_new_id(),
            bare=self.transport.in_process,  # no oslo envelope through an in-process broker
            sent=sent,
            **reply,
        )

    def _routed(self) -> tuple[topology.ExchangeSpec, str]:
        route = self._route
        if route is None:
            route = self._route = self._publisher.route(self.target)
        return route

    def _reply_consumer(self) -> DirectConsumer:
        replies = self._replies
        if replies is None or replies.closed:
            replies = self._replies = direct_consumer_for(self.transport)
        return replies

    async def cast(self, ctx: RequestContext, method: str, **kwargs: Any) -> None:
        """Send `method(**kwargs)` without waiting for it to run (rpc.cast)."""
        # The hooks, inline (`RpcObserver.sending`): the same try/failed/end as in
        # `call` and `Worker._dispatch`, written out in each because a context
        # manager would cost every message two calls with telemetry off.
        found = telemetry.of(self.transport)
        observed = None if found is None else found.rpc.sending("cast", self.target, method, kwargs)
        try:
            if self._options.version_cap is not None:
                self._check_version()
            body = self._encode(ctx, method, kwargs, observed)
            try:
                message = Message(body, persistent=self._options.persistent_casts)
                await self._publisher.publish(self.target, message, self._routed())
            except MessageUndeliverable:
                raise MessageUndeliverable(
                    f"Cannot cast {method!r} to {self.target}: no worker queue is bound for it."
                ) from None
        except BaseException as exc:
            if observed is not None:
                observed.failed(exc)
            raise
        finally:
            if observed is not None:
                observed.end()

    async def call(self, ctx: RequestContext, method: str, **kwargs: Any) -> Any:
        """Run `method(**kwargs)` on a Worker and return its result (rpc.call).

        Raises `MessageUndeliverable` at once when no worker serves the target,
        `MessagingTimeout` when no reply comes within the timeout (or, with a call
        monitor, nothing at all from the server within `call_monitor_timeout`), and
        the endpoint's own exception (allow-listed classes) or `RemoteError` when it
        fails.
        """
        found = telemetry.of(self.transport)  # the hooks, inline (`RpcObserver.sending`)
        observed = None if found is None else found.rpc.sending("call", self.target, method, kwargs)
        try:
            if self.target.fanout:
                raise UnsupportedVersion(
                    f"Cannot call {method!r} on a fanout target {self.target}."
                )
            options = self._options
            if options.version_cap is not None:
                self._check_version()
            replies = self._replies
            if replies is None or replies.closed:
                replies = self._reply_consumer()
            if not replies.started:
                await replies.ensure_started()
            msg_id = _new_id()
            monitor, timeout = options.call_monitor_timeout, options.timeout
            body = self._encode(
                ctx,
                method,
                kwargs,
                observed,
                msg_id=msg_id,
                reply_q=replies.queue,
                client_timeout=monitor,
            )
            # A request nobody has taken once its caller gives up (silence, with a call
            # monitor: no worker holds it to beat for it) expires on the broker then too.
            expiration = min(timeout, monitor) if monitor is not None else timeout
            message = Message(
                body, message_id=msg_id, reply_to=replies.queue, expiration=expiration
            )
            future = replies.expect(msg_id)
            clock = CallClock(future, timeout=timeout, silence=monitor, deadlines=replies.deadlines)
            if monitor is not None:
                replies.on_heartbeat(msg_id, clock.heard)
            spec, routing_key = self._route or self._routed()
            try:
                if spec.name in self._publisher._declared:  # as `TopicPublisher.publish`
                    await self.transport.publish(spec.name, routing_key, message, mandatory=True)
                else:
                    await self._publisher.publish(self.target, message, (spec, routing_key))
                reply = await future
            except MessageUndeliverable:
                raise MessageUndeliverable(
                    f"Cannot call {method!r} on {self.target}: no worker queue is bound for it."
                ) from None
            except TimeoutError:
                raise self._timed_out(method, msg_id, clock) from None
            finally:
                clock.cancel()
                replies.forget(msg_id)
            if reply.failure is not None:
                raise rebuild_exception(reply.failure, self._options.allowed_remote_modules)
            return self._options.serializer.deserialize_entity(ctx, reply.result)
        except BaseException as exc:
            if observed is not None:
                observed.failed(exc)
            raise
        finally:
            if observed is not None:
                observed.end()

    def _timed_out(self, method: str, msg_id: str, clock: CallClock) -> MessagingTimeout:
        if clock.reason == "silence" and self.call_monitor_timeout is not None:
            waited = self.call_monitor_timeout
            text = (
                f"Timed out after {waited:g}s without a reply or heartbeat to {method!r} "
                f"from {self.target} (message {msg_id}): no worker holds the request, or "
                "the one that does is down or cut off."
            )
        else:
            waited = self.timeout
            text = (
                f"Timed out after {waited:g}s waiting for a reply to {method!r} "
                f"from {self.target} (message {msg_id})."
            )
        return MessagingTimeout(text, target=str(self.target), method=method, timeout=waited)
