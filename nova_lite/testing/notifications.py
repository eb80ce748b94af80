"""Notifications made assertable: a tap on a cloud's ``notifications.*`` topics.

Every service announces what it did as a versioned notification (Nova's
``instance.pause.start``, ``instance.pause.end``, ``instance.update``, ...). A
`NotificationTap` consumes all of them from the control exchange into `received`,
and lets a test await the one it needs instead of sleeping or polling::

    async with capture_notifications(cloud) as tap:
        await session.servers.pause(server_id)
        note = await tap.wait_event(server_id, "instance.pause.end")
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Self

import attrs

from nova_lite.notifications import decode_notification
from nova_lite.testing.limits import WAIT
from nova_lite.transport import Consumer, Delivery, ExchangeType, Transport

if TYPE_CHECKING:
    from nova_lite.cloud import Cloud

__all__ = ["Notification", "NotificationTap", "capture_notifications"]


@attrs.frozen
class Notification:
    """One received notification: its event type, priority, publisher and payload."""

    event_type: str
    priority: str
    publisher_id: str
    payload: dict[str, Any]


class NotificationTap:
    """A consumer of every ``notifications.*`` message on one control exchange.

    Make one with `attach` (a cloud's exchange) or `listen` (any transport and
    exchange); it consumes until `detach` or until its transport closes. Its queue is
    exclusive and auto-deleted, so it leaves nothing on the broker.
    """

    def __init__(self, transport: Transport, exchange: str, *, timeout: float = WAIT) -> None:
        self.transport = transport
        self.exchange = exchange
        self.timeout = timeout
        self.queue = f"test_tap_{uuid.uuid4().hex}"
        self.received: list[Notification] = []
        self._changed = asyncio.Condition()
        self._consumer: Consumer | None = None

    def __repr__(self) -> str:
        state = "listening" if self._consumer is not None else "detached"
        return f"<NotificationTap {self.exchange} received={len(self.received)} {state}>"

    @classmethod
    async def attach(cls, cloud: Cloud) -> Self:
        """A tap on `cloud`'s control exchange, already consuming."""
        return await cls.listen(cloud.transport, cloud.config.rpc.exchange)

    @classmethod
    async def listen(cls, transport: Transport, exchange: str) -> Self:
        """A tap on `exchange` through `transport`, already consuming."""
        tap = cls(transport, exchange)
        await transport.declare_exchange(exchange, ExchangeType.TOPIC, durable=None)
        await transport.declare_queue(tap.queue, exclusive=True, auto_delete=True)
        await transport.bind_queue(tap.queue, exchange, "notifications.*")
        tap._consumer = await transport.consume(tap.queue, tap._on_message)
        return tap

    async def detach(self) -> None:
        """Stop consuming (what was received stays in `received`)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None and self.transport.is_connected:
            await consumer.cancel()

    async def _on_message(self, delivery: Delivery) -> None:
        await delivery.ack()
        body = decode_notification(delivery.message.body)
        note = Notification(
            event_type=body["event_type"],
            priority=body["priority"],
            publisher_id=body["publisher_id"],
            payload=body["payload"]["nova_object.data"],
        )
        async with self._changed:
            self.received.append(note)
            self._changed.notify_all()

    def about(self, instance_uuid: str, event_type: str | None = None) -> list[Notification]:
        """The notifications received so far about one instance (of one type)."""
        return [
            n
            for n in self.received
            if n.payload.get("uuid") == instance_uuid
            and (event_type is None or n.event_type == event_type)
        ]

    def event_types(self, instance_uuid: str) -> list[str]:
        """The event types received so far about one instance, in order."""
        return [n.event_type for n in self.about(instance_uuid)]

    async def wait_for(self, match: Callable[[Notification], bool]) -> Notification:
        """The first notification (received before or after the call) that `match`es."""

        def found() -> Notification | None:
            return next((n for n in self.received if match(n)), None)

        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: found() is not None), self.timeout
            )
        note = found()
        assert note is not None
        return note

    async def wait_count(self, instance_uuid: str, event_type: str, count: int) -> None:
        """Until `count` notifications of `event_type` about `instance_uuid` have come."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.about(instance_uuid, event_type)) >= count),
                self.timeout,
            )

    async def wait_event(self, instance_uuid: str, event_type: str) -> Notification:
        """The first `event_type` notification about `instance_uuid`."""
        return await self.wait_for(
            lambda n: n.event_type == event_type and n.payload.get("uuid") == instance_uuid
        )


@contextlib.asynccontextmanager
async def capture_notifications(cloud: Cloud) -> AsyncIterator[NotificationTap]:
    """A tap on `cloud`'s notifications for the block, detached at its end."""
    tap = await NotificationTap.attach(cloud)
    try:
        yield tap
    finally:
        await tap.detach()
