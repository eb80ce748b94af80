"""The depth of a service's queues, read on a slow timer where the transport can tell.

A message waiting in a service's queue is a request no worker has taken yet: a long
queue is the first sign of a service that cannot keep up (and of reply timeouts to
come). Reading it costs a broker round trip on RabbitMQ (a passive declare), so it
is read every ``[metrics] queue_depth_interval`` seconds, never per message. A
transport that cannot tell (`Transport.queue_depth` returns None) is not asked again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog

from nova_lite.exceptions import NovaLiteError
from nova_lite.lifecycle import AsyncLifecycle
from nova_lite.metrics.registry import Metrics
from nova_lite.transport import Transport

__all__ = ["QueueDepths"]

log = structlog.get_logger(__name__)


class QueueDepths(AsyncLifecycle):
    """Sets ``nova_lite_rpc_queue_messages`` for `queues` every `interval` seconds."""

    def __init__(
        self, transport: Transport, queues: Sequence[str], metrics: Metrics, *, interval: float
    ) -> None:
        self.transport = transport
        self.queues = tuple(queues)
        self.metrics = metrics
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<QueueDepths {', '.join(self.queues)} every {self.interval:g}s>"

    async def read(self) -> bool:
        """Read every queue's depth once; False if the transport cannot tell."""
        for queue in self.queues:
            try:
                depth = await self.transport.queue_depth(queue)
            except NovaLiteError as exc:
                log.debug("metrics.queue_depth_failed", queue=queue, error=str(exc))
                continue
            if depth is None:
                return False
            self.metrics.queue_messages.labels(queue).set(depth)
        return True

    async def _run(self) -> None:
        while True:
            if not await self.read():
                return
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        """Read now, then every `interval` seconds in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
