"""Exchanges and queues, declared exactly as oslo.messaging's rabbit driver declares them.

RabbitMQ refuses to redeclare an exchange or queue with other properties
(PRECONDITION_FAILED), so nova_lite and oslo.messaging services can share a broker
only if both declare every name alike, whichever comes first. This module is the one
place that says how; the values are those of oslo.messaging 18's ``impl_rabbit``
with its default options (``amqp_durable_queues = False``, ``amqp_auto_delete =
False``, ``rabbit_transient_queues_ttl = 1800``, no HA, quorum or stream queues):

============================  =======  ===========  =========  ==============================
name                          durable  auto_delete  exclusive  arguments
============================  =======  ===========  =========  ==============================
``<exchange>`` (topic)        D        no           -          -
``<topic>_fanout`` (fanout)   no       yes          -          -
``<topic>``                   D        no           no         none
``<topic>.<server>``          D        no           no         none
``<topic>_fanout_<uuid>``     no       no           no         ``x-expires: 1800000``
``reply_<uuid>``              no       no           no         ``x-expires: 1800000``
============================  =======  ===========  =========  ==============================

D is ``[rpc] durable_queues``, nova_lite's name for oslo's ``amqp_durable_queues``.
Replies go through the default exchange ``""``, as oslo's ``direct_send``. A name
that already exists with other properties (declared by an earlier nova_lite) is
taken as it is, with a warning, so that a rolling upgrade can go on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import attrs
import structlog

from nova_lite.exceptions import TopologyError
from nova_lite.transport import ExchangeType, Transport

__all__ = [
    "TRANSIENT_QUEUE_EXPIRES_MS",
    "ExchangeSpec",
    "QueueSpec",
    "fanout_exchange",
    "fanout_queue",
    "reply_queue",
    "topic_exchange",
    "topic_queue",
]

log = structlog.get_logger(__name__)

#: oslo's ``rabbit_transient_queues_ttl`` default (30 minutes), as ``x-expires``: a
#: fanout or reply queue nobody has consumed from that long is deleted by the broker.
TRANSIENT_QUEUE_EXPIRES_MS = 1800 * 1000


@attrs.frozen
class ExchangeSpec:
    """An exchange and the properties it is declared with."""

    name: str
    type: ExchangeType
    durable: bool
    auto_delete: bool

    async def declare(self, transport: Transport) -> None:
        """Declare it on `transport`; one that exists otherwise is taken as it is."""
        try:
            await transport.declare_exchange(
                self.name, self.type, durable=self.durable, auto_delete=self.auto_delete
            )
        except TopologyError as exc:
            await _take_as_it_is(
                exc, transport.declare_exchange(self.name, self.type, passive=True)
            )


@attrs.frozen
class QueueSpec:
    """A queue and the properties it is declared with."""

    name: str
    durable: bool = False
    auto_delete: bool = False
    exclusive: bool = False
    arguments: Mapping[str, Any] = attrs.field(factory=dict)

    async def declare(self, transport: Transport) -> str:
        """Declare it on `transport`, or take one that exists otherwise; returns its name."""
        try:
            return await transport.declare_queue(
                self.name,
                durable=self.durable,
                auto_delete=self.auto_delete,
                exclusive=self.exclusive,
                arguments=self.arguments,
            )
        except TopologyError as exc:
            await _take_as_it_is(exc, transport.declare_queue(self.name, passive=True))
            return self.name


async def _take_as_it_is(refusal: TopologyError, find: Awaitable[object]) -> None:
    """Use an exchange or queue that exists with other properties, saying so.

    It was declared by an earlier nova_lite (or a peer configured otherwise): taking
    it lets old and new services share it during a rolling upgrade, where refusing
    would stop the new one from starting. oslo.messaging peers would still refuse
    it: redeclare such names once the old services are gone (see the README).
    """
    try:
        await find
    except TopologyError:
        raise refusal from None
    log.warning("rpc.topology.taken_as_it_is", reason=str(refusal))


def topic_exchange(name: str, *, durable: bool) -> ExchangeSpec:
    """The control exchange (oslo's ``topic_send`` and ``declare_topic_consumer``)."""
    return ExchangeSpec(name, ExchangeType.TOPIC, durable=durable, auto_delete=False)


def fanout_exchange(name: str) -> ExchangeSpec:
    """A topic's fanout exchange (oslo's ``fanout_send`` and ``declare_fanout_consumer``)."""
    return ExchangeSpec(name, ExchangeType.FANOUT, durable=False, auto_delete=True)


def topic_queue(name: str, *, durable: bool) -> QueueSpec:
    """A ``topic`` or ``topic.server`` queue (oslo's ``declare_topic_consumer``)."""
    return QueueSpec(name, durable=durable)


def fanout_queue(name: str) -> QueueSpec:
    """One server's queue on a fanout exchange (oslo's ``declare_fanout_consumer``)."""
    return QueueSpec(name, arguments={"x-expires": TRANSIENT_QUEUE_EXPIRES_MS})


def reply_queue(name: str) -> QueueSpec:
    """A caller's reply queue (oslo's ``declare_direct_consumer``)."""
    return QueueSpec(name, arguments={"x-expires": TRANSIENT_QUEUE_EXPIRES_MS})
