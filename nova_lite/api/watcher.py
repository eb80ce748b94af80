"""Waiting for servers to change, driven by notifications rather than polling.

The watcher binds one exclusive queue to ``notifications.*`` on the control exchange
and wakes whoever waits on an instance each time a notification about it arrives;
waiters then re-read the instance through the conductor, so the answer always comes
from the database, never from the notification alone.
"""

from __future__ import annotations

import asyncio
import collections
import uuid

import orjson
import structlog

from nova_lite.transport import Delivery, ExchangeType, Transport

__all__ = ["InstanceWatcher"]

log = structlog.get_logger(__name__)


class InstanceWatcher:
    """Wakes coroutines waiting on an instance when a notification names it."""

    def __init__(self, transport: Transport, exchange: str) -> None:
        self.transport = transport
        self.exchange = exchange
        self.queue = f"nova_lite_watcher_{uuid.uuid4().hex}"
        self._waiters: collections.defaultdict[str, set[asyncio.Event]] = collections.defaultdict(
            set
        )
        self._started = False
        self._lock = asyncio.Lock()

    async def ensure_started(self) -> None:
        """Declare and consume the watcher's queue, once."""
        if self._started:
            return
        async with self._lock:
            if self._started:
                return
            await self.transport.declare_exchange(self.exchange, ExchangeType.TOPIC)
            await self.transport.declare_queue(self.queue, exclusive=True, auto_delete=True)
            await self.transport.bind_queue(self.queue, self.exchange, "notifications.*")
            await self.transport.consume(self.queue, self._on_notification)
            self._started = True

    def register(self, instance_uuid: str) -> asyncio.Event:
        """An event set at the next notification about `instance_uuid`."""
        event = asyncio.Event()
        self._waiters[instance_uuid].add(event)
        return event

    def unregister(self, instance_uuid: str, event: asyncio.Event) -> None:
        """Stop waking `event`."""
        waiters = self._waiters.get(instance_uuid)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[instance_uuid]

    async def _on_notification(self, delivery: Delivery) -> None:
        await delivery.ack()
        try:
            outer = orjson.loads(delivery.message.body)
            payload = orjson.loads(outer["oslo.message"])["payload"]["nova_object.data"]
            instance_uuid = payload["uuid"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.debug("watcher.unreadable_notification")
            return
        for event in self._waiters.get(instance_uuid, ()):
            event.set()
