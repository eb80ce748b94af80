"""Connections to a test's broker, isolated by unique names: `TransportFactory`.

A test that plays several processes opens several connections to one broker: all
connections of one `TransportFactory` reach the same broker (one `MemoryBroker` for
the in-memory kind), and the names it gives (`name`, `rpc_options`) are unique to
it, so tests sharing a RabbitMQ never hear each other. At the end, `aclose` closes
every connection and deletes every queue they declared, keeping a shared broker clean.

The in-memory transport is a plugin (``transports.memory``): it is imported when a
factory of that kind is made, not when this module is.
"""

from __future__ import annotations

import os
import socket
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import urlsplit

from nova_lite.loader import get_transport
from nova_lite.transport import Transport

if TYPE_CHECKING:
    from transports.memory import MemoryBroker

__all__ = ["AMQP_URL_VARIABLE", "BrokerKind", "TransportFactory", "amqp_url", "broker_answers"]

AMQP_URL_VARIABLE = "NOVA_LITE_TEST_AMQP_URL"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"

BrokerKind = Literal["memory", "rabbitmq"]


def amqp_url() -> str:
    """The test RabbitMQ's URL: ``$NOVA_LITE_TEST_AMQP_URL``, or the local guest account."""
    return os.environ.get(AMQP_URL_VARIABLE, DEFAULT_AMQP_URL)


def broker_answers(url: str, *, timeout: float = 2.0) -> bool:
    """Whether anything accepts a TCP connection at the host and port of `url`."""
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 5672)
    try:
        with socket.create_connection(address, timeout):
            return True
    except OSError:
        return False


class TransportFactory:
    """Opens connections to one broker for one test, and tidies up after it.

    `kind` is ``"memory"`` (a private in-memory broker, `url` ``memory://``) or
    ``"rabbitmq"`` (the broker at `url`). It is an async context manager, or call
    `aclose` yourself.
    """

    def __init__(self, kind: BrokerKind, url: str) -> None:
        self.kind = kind
        self.url = url
        self.uid = uuid.uuid4().hex[:10]
        self.memory_broker: MemoryBroker | None = None
        if kind == "memory":
            from transports.memory import MemoryBroker  # a plugin: imported when chosen

            self.memory_broker = MemoryBroker()
        self._opened: list[Transport] = []
        self._queues: set[str] = set()

    @classmethod
    def memory(cls) -> Self:
        """A factory of connections to a new, private in-memory broker."""
        return cls("memory", "memory://")

    @classmethod
    def rabbitmq(cls, url: str | None = None) -> Self:
        """A factory of connections to the RabbitMQ at `url` (default: `amqp_url()`)."""
        return cls("rabbitmq", url or amqp_url())

    def __repr__(self) -> str:
        return f"<TransportFactory {self.kind} {self.uid} open={len(self._opened)}>"

    def name(self, prefix: str) -> str:
        """A name unique to this factory, for exchanges, topics and queues."""
        return f"{prefix}-{self.uid}"

    def rpc_options(self) -> dict[str, str]:
        """``[rpc]`` settings that isolate this factory's exchanges and queues on the broker."""
        return {"exchange": self.name("nova"), "queue_prefix": self.name("t") + "."}

    def build(self) -> Transport:
        """A new, unconnected transport to this factory's broker."""
        if self.memory_broker is not None:
            from transports.memory import MemoryTransport

            transport: Transport = MemoryTransport(self.url, broker=self.memory_broker)
        else:
            transport = get_transport(self.url)
        self._track(transport)
        self._opened.append(transport)
        return transport

    async def connect(self) -> Transport:
        """A new, connected transport to this factory's broker."""
        transport = self.build()
        await transport.connect()
        return transport

    def _track(self, transport: Transport) -> None:
        """Remember every queue `transport` declares, to delete it in `aclose`."""
        declare = transport.declare_queue

        async def declare_and_remember(name: str | None = None, **options: Any) -> str:
            declared = await declare(name, **options)
            self._queues.add(declared)
            return declared

        # The services declare their queues through the transport they are given, so
        # the one place to see every name is the transport's own method.
        transport.declare_queue = declare_and_remember  # type: ignore[method-assign]

    async def aclose(self) -> None:
        """Close every connection, then delete the queues they declared on RabbitMQ."""
        for transport in self._opened:
            await transport.close()
        if self.kind == "rabbitmq" and self._queues:
            async with get_transport(self.url) as cleaner:
                for queue in sorted(self._queues):
                    await cleaner.delete_queue(queue)
        self._queues.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
