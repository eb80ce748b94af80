"""Versioned notifications: what happened to an instance, for anyone listening.

As oslo.messaging's notifier does, a notification is published to the control
exchange with the routing key ``notifications.<priority>`` (``notifications.info``,
``notifications.error``), so a consumer binds a queue to ``notifications.*`` and gets
every event. The body is an oslo envelope around::

    {"message_id": "<uuid>", "publisher_id": "compute.host1",
     "event_type": "instance.create.end", "priority": "INFO",
     "timestamp": "<iso8601>", "payload": {"nova_object.name": "InstanceActionPayload",
                                           "nova_object.version": "1.0",
                                           "nova_object.data": {...}}}

The payload of ``instance.*`` events (built by
`nova_lite.compute.notification_payloads.instance_payload`) always carries ``uuid``,
``display_name``, ``project_id``, ``user_id``, ``host``, ``vm_state``, ``task_state``,
``power_state``, ``status`` and ``request_id``, plus ``fault`` on ``*.error`` events.
Notifications are fire-and-forget: a missing listener never fails the action.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
import structlog

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.exceptions import TransportError
from nova_lite.transport import ExchangeType, Message, Transport

__all__ = ["Notifier", "decode_notification"]

log = structlog.get_logger(__name__)

TOPIC = "notifications"
PAYLOAD_VERSION = "1.0"


class Notifier:
    """Publishes notifications for one service (its `publisher_id`)."""

    def __init__(self, transport: Transport, exchange: str, publisher_id: str) -> None:
        self.transport = transport
        self.exchange = exchange
        self.publisher_id = publisher_id
        self._declared = False

    def __repr__(self) -> str:
        return f"<Notifier {self.publisher_id} -> {self.exchange}/{TOPIC}.*>"

    async def info(self, ctx: RequestContext, event_type: str, payload: Mapping[str, Any]) -> None:
        """Emit an INFO notification."""
        await self._emit(ctx, "INFO", event_type, payload)

    async def error(self, ctx: RequestContext, event_type: str, payload: Mapping[str, Any]) -> None:
        """Emit an ERROR notification."""
        await self._emit(ctx, "ERROR", event_type, payload)

    async def _emit(
        self, ctx: RequestContext, priority: str, event_type: str, payload: Mapping[str, Any]
    ) -> None:
        body = {
            "message_id": str(uuid.uuid4()),
            "publisher_id": self.publisher_id,
            "event_type": event_type,
            "priority": priority,
            "timestamp": objects.utcnow().isoformat(),
            "payload": {
                "nova_object.name": "InstanceActionPayload",
                "nova_object.namespace": "nova_lite",
                "nova_object.version": PAYLOAD_VERSION,
                "nova_object.data": {**payload, "request_id": ctx.request_id},
            },
        }
        envelope = {"oslo.version": "2.0", "oslo.message": orjson.dumps(body).decode()}
        try:
            if not self._declared:
                await self.transport.declare_exchange(self.exchange, ExchangeType.TOPIC)
                self._declared = True
            await self.transport.publish(
                self.exchange, f"{TOPIC}.{priority.lower()}", Message(orjson.dumps(envelope))
            )
        except TransportError as exc:
            log.warning("notification.lost", event_type=event_type, error=str(exc))


def decode_notification(body: bytes) -> dict[str, Any]:
    """The notification inside a message body (for consumers and tests)."""
    outer = orjson.loads(body)
    inner: dict[str, Any] = orjson.loads(outer["oslo.message"])
    return inner
