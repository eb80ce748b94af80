"""A service: one manager's endpoints on the bus, with its periodic tasks.

Every nova_lite service (identity, conductor, scheduler, compute, image, network,
volume) is a `Manager` subclass run by a `Service`: the service starts the manager
(`init_host`: open its database, recover state), serves its `@endpoint`
methods through a `Worker` on ``topic`` and ``topic.host``, runs its periodic tasks,
and on `stop()` drains in-flight requests before closing the manager.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

import attrs
import structlog

from nova_lite import telemetry
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.lifecycle import AsyncLifecycle
from nova_lite.metrics.queues import QueueDepths
from nova_lite.rpc import ObjectSerializer, Target, Worker
from nova_lite.rpc.invoker import accept_replies_up_to
from nova_lite.transport import Transport

__all__ = ["Manager", "PeriodicTask", "Service"]

log = structlog.get_logger(__name__)


@attrs.frozen
class PeriodicTask:
    """A manager coroutine run every `interval` seconds (first run after `initial_delay`)."""

    name: str
    interval: float
    run: Callable[[RequestContext], Awaitable[None]]
    initial_delay: float = 0.0


class Manager:
    """The base of every service's manager: its RPC endpoints and its lifecycle hooks.

    Its `@endpoint` methods are served over RPC; `target` carries the RPC API version
    the manager implements. `init_host`, `cleanup_host` and `periodic_tasks` are the
    hooks `Service` calls; they are never on the bus. Managers do no I/O in
    ``__init__``.
    """

    target: ClassVar[Target] = Target(version="1.0")
    topic: ClassVar[str] = ""

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        self.config = config
        self.transport = transport
        self.host = host

    async def init_host(self) -> None:
        """Open resources and recover state before the service takes requests."""

    async def cleanup_host(self) -> None:
        """Release resources after the service has stopped taking requests."""

    def periodic_tasks(self) -> list[PeriodicTask]:
        """The periodic tasks this manager wants run (none by default)."""
        return []

    def endpoints(self) -> list[object]:
        """The objects whose `@endpoint` methods the service serves (the manager itself).

        A manager composed of parts may list them; each part's own ``target`` then
        says which namespace and version it serves.
        """
        return [self]


class Service(AsyncLifecycle):
    """Runs one `Manager` as a service on the bus, with start/stop and periodic tasks."""

    def __init__(
        self,
        manager: Manager,
        *,
        serializer: ObjectSerializer,
        max_concurrency: int | None = None,
    ) -> None:
        self.manager = manager
        config = manager.config
        target = Target(topic=manager.topic, server=manager.host, exchange=config.rpc.exchange)
        self.worker = Worker(
            manager.transport,
            target,
            manager.endpoints(),
            max_concurrency=max_concurrency or config.rpc.max_concurrency,
            max_waiting=config.rpc.max_waiting,
            serializer=serializer,
            at_least_once=config.rpc.at_least_once,
            durable_queues=config.rpc.durable_queues,
            max_message_bytes=config.rpc.max_message_bytes,
            queue_prefix=config.rpc.queue_prefix,
        )
        accept_replies_up_to(manager.transport, config.rpc.max_message_bytes)
        self._periodic: list[asyncio.Task[None]] = []
        self._depths: QueueDepths | None = None
        self.running = False

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Service {self.manager.topic}@{self.manager.host} {state}>"

    async def start(self) -> None:
        """Initialise the manager, start serving, then start the periodic tasks."""
        await self.manager.init_host()
        try:
            await self.worker.start()
        except BaseException:
            await self.manager.cleanup_host()
            raise
        await self._watch_queues()
        loop = asyncio.get_running_loop()
        for task in self.manager.periodic_tasks():
            self._periodic.append(loop.create_task(self._run_periodic(task)))
        self.running = True
        log.info("service.started", service=repr(self))

    async def stop(self) -> None:
        """Stop periodic tasks, drain in-flight requests, then clean the manager up."""
        if not self.running:
            return
        self.running = False
        for task in self._periodic:
            task.cancel()
        await asyncio.gather(*self._periodic, return_exceptions=True)
        self._periodic.clear()
        if self._depths is not None:
            await self._depths.stop()
        await self.worker.stop()
        await self.manager.cleanup_host()
        log.info("service.stopped", service=repr(self))

    async def _watch_queues(self) -> None:
        """With metrics on, read the depth of this service's queues on a slow timer."""
        found = telemetry.of(self.manager.transport)
        if found is not None and found.metrics is not None:
            interval = self.manager.config.metrics.queue_depth_interval
            self._depths = QueueDepths(
                self.manager.transport, self.worker.queues, found.metrics, interval=interval
            )
            await self._depths.start()

    async def _run_periodic(self, task: PeriodicTask) -> None:
        await asyncio.sleep(task.initial_delay)
        while True:
            ctx = RequestContext.admin()
            with structlog.contextvars.bound_contextvars(request_id=ctx.request_id):
                try:
                    await task.run(ctx)
                except Exception:
                    log.exception("service.periodic_task_failed", task=task.name)
            await asyncio.sleep(task.interval)
