"""The receiving side of RPC: Worker, with its TopicConsumers and DirectPublisher.

A `Worker` serves one topic on one server (host). On start it declares, as Nova's
services do, the shared ``topic`` queue (round-robin among every worker of the
topic), its own ``topic.server`` queue, and an exclusive queue on the
``topic_fanout`` exchange, and consumes all three through `TopicConsumer`s. Each
request runs as its own task, at most `max_concurrency` at once; up to `max_waiting`
more wait in the worker for a slot. Replies to calls go back through a
`DirectPublisher` to the caller's reply queue, and so do the call-monitor heartbeats
of calls that ask for them (`nova_lite.rpc.call_monitor`), while they wait and
while they run.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

import structlog

from nova_lite import telemetry
from nova_lite.context import RequestContext
from nova_lite.exceptions import MessageDecodeError, MessageTooLarge, NovaLiteError, TransportError
from nova_lite.lifecycle import AsyncLifecycle
from nova_lite.rpc import envelope, topology
from nova_lite.rpc.admission import RecentIds, Slots
from nova_lite.rpc.call_monitor import Heartbeats
from nova_lite.rpc.dispatcher import Dispatcher
from nova_lite.rpc.serializer import ObjectSerializer, Serializer
from nova_lite.rpc.target import Target
from nova_lite.transport import Consumer, Delivery, ExchangeType, Message, Transport

__all__ = ["DirectPublisher", "TopicConsumer", "Worker"]

log = structlog.get_logger(__name__)

DEAD_LETTER_SUFFIX = "_dlx"
# How many recent message ids a worker remembers to drop duplicate deliveries.
DUPLICATE_WINDOW = 16384
# Requests a worker holds beyond those it runs, waiting for a slot (``[rpc] max_waiting``).
DEFAULT_MAX_WAITING = 1024
_PLAIN = frozenset({str, int, float, bool, type(None)})


class DirectPublisher:
    """Sends the reply to an rpc.call back to the caller's reply queue."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def reply(self, request: envelope.Request, body: bytes) -> None:
        """Publish `body` to the request's reply queue, without awaiting a confirmation.

        A caller that has gone away (its reply queue with it) loses the reply, as in
        oslo.messaging; there is nobody left to tell.
        """
        assert request.reply_q is not None and request.msg_id is not None
        message = Message(body, correlation_id=request.msg_id)
        try:
            await self.transport.publish("", request.reply_q, message, confirm=False)
        except TransportError as exc:
            log.warning("rpc.reply.lost", msg_id=request.msg_id, error=str(exc))

    async def heartbeat(self, request: envelope.Request) -> None:
        """Tell the caller of `request` that its call is still being seen to.

        Raises `TransportError` if it cannot be sent (the caller's beats then stop).
        """
        assert request.reply_q is not None and request.msg_id is not None
        body = envelope.encode_heartbeat(request.msg_id, bare=self.transport.in_process)
        message = Message(body, correlation_id=request.msg_id)
        await self.transport.publish("", request.reply_q, message, confirm=False)


class TopicConsumer:
    """One subscription of a Worker: a queue, how it is bound, and its consumer."""

    def __init__(self, queue: str, exchange: str, routing_key: str) -> None:
        self.queue = queue
        self.exchange = exchange
        self.routing_key = routing_key
        self.consumer: Consumer | None = None

    def __repr__(self) -> str:
        return f"<TopicConsumer {self.exchange}:{self.routing_key} -> {self.queue}>"


class WorkerState(enum.Enum):
    """Where a Worker is in its lifecycle."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Worker(AsyncLifecycle):
    """Serves the endpoints' methods to Invokers of one topic (and one server).

    Acknowledgement: by default a request is acknowledged when its handling starts,
    so a crash mid-handling loses it (at-most-once, as oslo.messaging). With
    ``at_least_once=True`` it is acknowledged after handling, so a crash makes the
    broker redeliver it (the endpoint must then be idempotent).

    Backpressure: the worker runs `max_concurrency` requests at once, and its
    consumers take up to ``max_concurrency + max_waiting`` deliveries not yet
    acknowledged (their prefetch), so that many more wait here, in order, for a
    slot. Calls among them that carry a call-monitor timeout get heartbeats while
    they wait and while they run: their callers wait for a live worker's queue
    instead of timing out on it.
    """

    def __init__(
        self,
        transport: Transport,
        target: Target,
        endpoints: Sequence[object],
        *,
        max_concurrency: int = 64,
        max_waiting: int = DEFAULT_MAX_WAITING,
        serializer: Serializer | None = None,
        at_least_once: bool = False,
        durable_queues: bool = False,
        max_message_bytes: int = envelope.DEFAULT_MAX_MESSAGE_BYTES,
        queue_prefix: str = "",
    ) -> None:
        if not target.topic:
            raise ValueError(f"A Worker needs a target with a topic, not {target!r}.")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}.")
        if max_waiting < 0:
            raise ValueError(f"max_waiting must be 0 or more, not {max_waiting}.")
        self.transport = transport
        self.target = target
        self.dispatcher = Dispatcher(endpoints)
        self.max_concurrency = max_concurrency
        self.max_waiting = max_waiting
        self.serializer = serializer or ObjectSerializer()
        self.at_least_once = at_least_once
        self.durable_queues = durable_queues
        self.max_message_bytes = max_message_bytes
        # Through an in-process broker, messages go without oslo's outer envelope
        # (`nova_lite.rpc.envelope`): the limit is checked as if they had it.
        self._bare = transport.in_process
        self.queue_prefix = queue_prefix
        self.state = WorkerState.NEW
        self._replies = DirectPublisher(transport)
        self.heartbeats = Heartbeats(lambda request: self._replies.heartbeat(request))
        self._subscriptions = self._plan_subscriptions()
        self._slots = Slots(max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # the one it started in
        self._seen = RecentIds(DUPLICATE_WINDOW)
        self._dead_exchange = target.exchange + DEAD_LETTER_SUFFIX

    def __repr__(self) -> str:
        name = self.target.routing_key if self.target.server else self.target.topic
        return f"<Worker {name} {self.state.value} in_flight={len(self._tasks)}>"

    @property
    def in_flight(self) -> int:
        """How many requests are received and not yet finished."""
        return len(self._tasks)

    @property
    def queues(self) -> list[str]:
        """The shared queues this worker consumes (``topic``, ``topic.server``), not fanout."""
        return [sub.queue for sub in self._subscriptions[:-1]]

    def _plan_subscriptions(self) -> list[TopicConsumer]:
        topic, exchange, prefix = self.target.topic, self.target.exchange, self.queue_prefix
        assert topic is not None
        plan = [TopicConsumer(prefix + topic, exchange, topic)]
        if self.target.server:
            key = self.target.routing_key
            plan.append(TopicConsumer(prefix + key, exchange, key))
        fanout_queue = f"{prefix}{topic}_fanout_{uuid.uuid4().hex}"
        plan.append(TopicConsumer(fanout_queue, self.target.fanout_exchange, topic))
        return plan

    async def start(self) -> None:
        """Declare the exchanges and queues and start consuming."""
        if self.state is not WorkerState.NEW:
            raise RuntimeError(f"{self!r} cannot be started again.")
        self.state = WorkerState.STARTING
        self._loop = asyncio.get_running_loop()
        try:
            await self._declare_topology()
            for sub in self._subscriptions:
                sub.consumer = await self.transport.consume(
                    sub.queue, self._on_delivery, prefetch=self.max_concurrency + self.max_waiting
                )
        except BaseException:
            await self._cancel_consumers()
            self.state = WorkerState.STOPPED
            raise
        self.state = WorkerState.RUNNING
        log.info("rpc.worker.started", worker=repr(self))

    async def _declare_topology(self) -> None:
        """The exchanges and queues, as oslo.messaging declares them (see `topology`)."""
        t, target = self.transport, self.target
        await topology.topic_exchange(target.exchange, durable=self.durable_queues).declare(t)
        await topology.fanout_exchange(target.fanout_exchange).declare(t)
        await self._declare_dead_letters()
        for sub in self._subscriptions:
            if sub.exchange == target.fanout_exchange:
                spec = topology.fanout_queue(sub.queue)
            else:
                spec = topology.topic_queue(sub.queue, durable=self.durable_queues)
            await spec.declare(t)
            await t.bind_queue(sub.queue, sub.exchange, sub.routing_key)

    async def _declare_dead_letters(self) -> None:
        """nova_lite's own ``<exchange>_dlx`` exchange and ``<exchange>_dead_letters`` queue.

        oslo.messaging has neither; its queues carry no ``x-dead-letter-exchange``, so
        the worker republishes an undecodable message here itself (`_dead_letter`).
        """
        t = self.transport
        await t.declare_exchange(self._dead_exchange, ExchangeType.FANOUT, durable=True)
        dead_queue = await t.declare_queue(
            f"{self.queue_prefix}{self.target.exchange}_dead_letters", durable=True
        )
        await t.bind_queue(dead_queue, self._dead_exchange, "#")

    async def stop(self) -> None:
        """Stop consuming, let in-flight requests finish, then return.

        Requests received but not yet started (also those waiting for a free slot)
        go back to their queue at once, for another worker or this one restarted;
        running handlers are waited for, whatever the acknowledgement mode, so their
        replies are sent. Cancelling `stop()` cancels them (the urgent path).
        """
        if self.state in (WorkerState.STOPPING, WorkerState.STOPPED, WorkerState.NEW):
            self.state = WorkerState.STOPPED
            return
        self.state = WorkerState.STOPPING
        await self._cancel_consumers()
        self._slots.close()  # deliveries waiting for a slot go back to the queue now
        try:
            while self._tasks:
                await asyncio.wait(set(self._tasks))
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            raise
        finally:
            self.state = WorkerState.STOPPED
        await self._delete_fanout_queue()
        log.info("rpc.worker.stopped", worker=repr(self))

    async def _delete_fanout_queue(self) -> None:
        """This worker's fanout queue is its alone: delete it rather than let it expire."""
        fanout = self._subscriptions[-1]
        try:
            await self.transport.delete_queue(fanout.queue)
        except TransportError as exc:
            log.warning("rpc.worker.fanout_queue_left", queue=fanout.queue, error=str(exc))

    async def _cancel_consumers(self) -> None:
        for sub in self._subscriptions:
            if sub.consumer is not None:
                consumer, sub.consumer = sub.consumer, None
                try:
                    await consumer.cancel()
                except TransportError as exc:
                    log.warning("rpc.worker.cancel_failed", queue=sub.queue, error=str(exc))

    async def _on_delivery(self, delivery: Delivery) -> None:
        # The transport runs each delivery's handler in a task of its own: handle the
        # request right here, and remember the task so that stop() can wait for it.
        # The common case (decoded, new, no heartbeats asked for, a slot free at once)
        # runs in this frame and `_run`'s, with no other coroutine in between.
        task = asyncio.current_task(self._loop)
        assert task is not None
        self._tasks.add(task)
        try:
            if self.state is not WorkerState.RUNNING:
                await _settle(delivery.reject(requeue=True))  # not started: another worker's
                return
            try:
                request = envelope.decode_request(
                    delivery.message.body, max_bytes=self.max_message_bytes, bare=self._bare
                )
            except MessageDecodeError as exc:
                await self._undecodable(delivery, exc)
                return
            if request.unique_id is not None and not self._seen.add(request.unique_id):
                await self._duplicate(delivery, request)
                return
            if request.client_timeout is not None or not self._slots.take():
                await self._handle_held(delivery, request)
                return
            try:
                await self._run(delivery, request)
            finally:
                self._slots.release()
        finally:
            self._tasks.discard(task)

    async def _handle_held(self, delivery: Delivery, request: envelope.Request) -> None:
        """Handle a request that waits for a slot or asks for heartbeats (or both)."""
        with self.heartbeats.keep_alive(request, now=not self._slots.available()):
            if not await self._slots.acquire():
                await _settle(delivery.reject(requeue=True))  # stopping: another worker's
                return
            try:
                await self._run(delivery, request)
            finally:
                self._slots.release()

    async def _undecodable(self, delivery: Delivery, exc: MessageDecodeError) -> None:
        log.error(
            "rpc.message.rejected",
            message_id=delivery.message.message_id,
            routing_key=delivery.routing_key,
            error=str(exc),
        )
        await self._dead_letter(delivery, str(exc))

    async def _duplicate(self, delivery: Delivery, request: envelope.Request) -> None:
        log.warning("rpc.message.duplicate", unique_id=request.unique_id, method=request.method)
        await _settle(delivery.ack())

    async def _dead_letter(self, delivery: Delivery, error: str) -> None:
        """Move an undecodable message to the dead-letter exchange, then ack it.

        Done by the worker rather than by an ``x-dead-letter-exchange`` queue argument,
        which oslo.messaging does not declare: with it, the first of the two to
        declare a shared queue would make the other's declaration fail.
        """
        message = delivery.message
        headers = {
            **message.headers,
            "x-first-death-exchange": delivery.exchange,
            "x-first-death-reason": "rejected",
            "x-nova-lite-error": error[:500],
        }
        dead = message._replace(headers=headers, expiration=None)
        try:
            await self.transport.publish(self._dead_exchange, delivery.routing_key, dead)
        except TransportError as exc:
            log.warning("rpc.message.dead_letter_failed", error=str(exc))
            await _settle(delivery.reject(requeue=False))
            return
        await _settle(delivery.ack())

    async def _run(self, delivery: Delivery, request: envelope.Request) -> None:
        """Settle (at most once: first), run the endpoint, reply to a call, settle."""
        if not self.at_least_once:
            try:
                await delivery.ack()
            except TransportError as exc:
                log.warning("rpc.delivery.settle_failed", error=str(exc))
        ctx = request.context
        # Each request runs in its own task (its own copy of the context variables), so
        # what is bound here is seen by every log line of this request and no other.
        structlog.contextvars.bind_contextvars(
            request_id=ctx.request_id, global_request_id=ctx.global_request_id
        )
        try:
            result = await self._dispatch(ctx, request)
        except Exception as exc:
            self._log_failure(request, exc)
            if request.is_call:
                await self._replies.reply(request, self._failure(request, exc))
        else:
            if request.is_call:
                await self._reply(request, ctx, result)
        if self.at_least_once:
            await _settle(delivery.ack())

    async def _reply(self, request: envelope.Request, ctx: RequestContext, result: Any) -> None:
        try:
            if type(self.serializer) is not ObjectSerializer:
                result = self.serializer.serialize_entity(ctx, result)
            elif type(result) is dict:  # as ObjectSerializer does, plain values as they are
                serialize = self.serializer.serialize_entity
                result = {
                    k if type(k) is str else str(k): v if type(v) in _PLAIN else serialize(ctx, v)
                    for k, v in result.items()
                }
            elif type(result) not in _PLAIN:
                result = self.serializer.serialize_entity(ctx, result)
            body = envelope.encode_reply(request.msg_id or "", result=result, bare=self._bare)
        except TypeError as exc:
            body = self._failure(request, exc)
        if not envelope.fits(body, self.max_message_bytes, bare=self._bare):
            body = self._too_large(request, envelope.wire_size(body, bare=self._bare))
        await self._replies.reply(request, body)

    def _failure(self, request: envelope.Request, exc: BaseException) -> bytes:
        """A failure reply to `request`, carrying `exc` as oslo's failure JSON."""
        failure = envelope.encode_failure(exc)
        return envelope.encode_reply(request.msg_id or "", failure=failure, bare=self._bare)

    def _too_large(self, request: envelope.Request, size: int) -> bytes:
        """A failure reply in place of a result the caller's side would refuse unread."""
        exc = MessageTooLarge(
            f"The reply to {request.method} is {size} bytes, over the [rpc] "
            f"max_message_bytes limit of {self.max_message_bytes}: ask for less (a "
            "filter, a page) or raise the limit on every service."
        )
        log.warning("rpc.reply.too_large", method=request.method, size=size)
        return self._failure(request, exc)

    async def _dispatch(self, ctx: RequestContext, request: envelope.Request) -> Any:
        found = telemetry.of(self.transport)  # the hooks, inline (`RpcObserver.handling`)
        observed = None if found is None else found.rpc.handling(self.target, request)
        try:
            method = self.dispatcher.resolve(request)
            deserialize = self.serializer.deserialize_entity
            if type(self.serializer) is ObjectSerializer:  # plain values stay as they are
                args = {
                    k: v if type(v) in _PLAIN else deserialize(ctx, v)
                    for k, v in request.args.items()
                }
            else:
                args = {k: deserialize(ctx, v) for k, v in request.args.items()}
            return await method(ctx, **self.dispatcher.structure_arguments(method, args))
        except BaseException as exc:
            if observed is not None:
                observed.failed(exc)
            raise
        finally:
            if observed is not None:
                observed.end()

    def _log_failure(self, request: envelope.Request, exc: Exception) -> None:
        if isinstance(exc, NovaLiteError):
            log.info("rpc.endpoint.failed", method=request.method, error=repr(exc))
        else:
            log.exception("rpc.endpoint.crashed", method=request.method)


async def _settle(settling: Awaitable[None]) -> None:
    """Ack or reject, tolerating a connection that went away (the broker requeues)."""
    try:
        await settling
    except TransportError as exc:
        log.warning("rpc.delivery.settle_failed", error=str(exc))
