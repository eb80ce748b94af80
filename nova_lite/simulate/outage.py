"""A broker that can become unreachable for a window: a simulation's broker outage.

`OutageTransport` wraps the simulated cloud's one connection (any `Transport`; in
a simulation, the in-memory broker's) and, between `go_down()` and `come_up()`,
behaves as a connection to a broker that is not there:

- at `go_down()` the connection-lost callbacks run, as the RabbitMQ transport's do
  when its connection drops: every call waiting for a reply fails at once with
  `ConnectionLost` (its outcome unknown), and the conductor's reconciliation notes
  the outage;
- while down, every publish, declare and delete raises `TransportUnreachable`, as
  a publish on a closed connection does: a cast is not sent, a call is not made;
- no message is delivered while down: deliveries the broker hands out are held and
  given to their handler once the broker is back (the queues keep their messages,
  as a restart with durable queues or a partition does); a reply that arrives for a
  call already failed is dropped as late, as it would be on a new connection;
- at `come_up()` the transport is marked up again (`wait_until_up` returns), so a
  create the API could not finish is sent once more and the reconciliation runs.

Only the simulation uses it (`nova_lite.simulate.runner`), and only when the
scenario has an outage: without one the cloud talks to its transport directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from nova_lite.exceptions import TransportUnreachable
from nova_lite.transport import Consumer, Delivery, ExchangeType, Message, Transport

__all__ = ["OutageTransport"]


class OutageTransport(Transport):
    """`inner` with a switch: `go_down()` makes the broker unreachable until `come_up()`."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner.url)
        self.inner = inner
        self.down = False
        self.outages = 0
        self.refused = 0  # operations refused while down
        self.held = 0  # deliveries held until the broker came back

    def __repr__(self) -> str:
        return f"<OutageTransport {'down' if self.down else 'up'} around {self.inner!r}>"

    def go_down(self) -> None:
        """The broker becomes unreachable: pending calls fail, publishes are refused."""
        if self.down:
            return
        self.down = True
        self.outages += 1
        self._run_connection_lost_callbacks()

    def come_up(self) -> None:
        """The broker is back: held deliveries go to their handlers, sends work again."""
        if not self.down:
            return
        self.down = False
        self._mark_up()

    def _refuse(self, what: str) -> None:
        if self.down:
            self.refused += 1
            raise TransportUnreachable(
                f"Could not {what}: the broker is unreachable (a simulated broker outage)."
            )

    @property
    def is_connected(self) -> bool:
        return self.inner.is_connected

    async def connect(self) -> None:
        await self.inner.connect()
        self._mark_up()

    async def close(self) -> None:
        await self.inner.close()
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
        self._refuse(f"declare exchange {name}")
        await self.inner.declare_exchange(
            name, type, durable=durable, auto_delete=auto_delete, passive=passive
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
        self._refuse(f"declare queue {name}")
        return await self.inner.declare_queue(
            name,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
            passive=passive,
        )

    async def queue_depth(self, name: str) -> int | None:
        self._refuse(f"read the depth of queue {name}")
        return await self.inner.queue_depth(name)

    async def bind_queue(self, queue: str, exchange: str, routing_key: str) -> None:
        self._refuse(f"bind queue {queue}")
        await self.inner.bind_queue(queue, exchange, routing_key)

    async def delete_queue(self, name: str) -> None:
        self._refuse(f"delete queue {name}")
        await self.inner.delete_queue(name)

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        message: Message,
        *,
        mandatory: bool = False,
        confirm: bool = True,
    ) -> None:
        self._refuse(f"publish to {exchange or 'the default exchange'} ({routing_key})")
        await self.inner.publish(
            exchange, routing_key, message, mandatory=mandatory, confirm=confirm
        )

    async def consume(self, queue: str, handler: Any, **options: Any) -> Consumer:
        """Consume through `inner`, holding each delivery that comes while down."""
        self._refuse(f"consume from {queue}")
        if options.get("inline"):
            return await self.inner.consume(queue, self._inline(handler), **options)
        return await self.inner.consume(queue, self._held(handler), **options)

    def _held(self, handler: Any) -> Any:
        async def deliver(delivery: Delivery) -> None:
            if self.down:
                self.held += 1
                await self.wait_until_up()
            await handler(delivery)

        return deliver

    def _inline(self, handler: Any) -> Any:
        """A plain-function handler (replies) cannot wait: while down, its delivery
        is lost with the connection."""

        def deliver(delivery: Delivery) -> None:
            if not self.down:
                handler(delivery)

        return deliver


async def outage_window(transport: OutageTransport, start: float, end: float) -> None:
    """Take the broker down from `start` to `end` (simulated seconds on this loop)."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start - loop.time()))
    transport.go_down()
    await asyncio.sleep(max(0.0, end - loop.time()))
    transport.come_up()
