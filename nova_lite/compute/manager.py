"""The compute service of one host: builds, runs and deletes its instances.

Steps 8-13 of the seed's flow happen here: read the instance through the conductor
(never a database), get ports from the network service, volumes from the volume
service and the image from the image service, then ask the hypervisor driver to
spawn the guest. Each step saves the instance's new task_state with a
compare-and-swap, so a delete issued mid-build wins: the next save fails with
`UnexpectedDeletingTaskStateError` and the build cleans up after itself.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

import structlog

from nova_lite import loader, objects
from nova_lite.compute.build import InstanceBuilder
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.periodic import HostMaintenance
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    InstanceNotFound,
    MessageUndeliverable,
    MessagingTimeout,
    NovaLiteError,
)
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport
from nova_lite.virt.driver import ComputeDriver

__all__ = ["ComputeManager"]

log = structlog.get_logger(__name__)


class ComputeManager(HostMaintenance, Manager):
    """Manages the instances of one host through its hypervisor driver."""

    topic: ClassVar[str] = "compute"
    target: ClassVar[Target] = Target(version="1.0")

    def __init__(
        self,
        config: Config,
        transport: Transport,
        host: str,
        *,
        driver: ComputeDriver | None = None,
    ) -> None:
        super().__init__(config, transport, host)
        self.driver = driver or loader.load_driver_for_host(config, host)
        self.conductor = ConductorAPI(transport, config)
        self.scheduler = SchedulerAPI(transport, config)
        self.compute_rpcapi = ComputeAPI(transport, config)
        self.notifier = Notifier(transport, config.rpc.exchange, f"compute.{host}")
        self.tracker = ResourceTracker(host, config.compute)
        self.builder = InstanceBuilder(self)
        self._locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )
        self._event_tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<ComputeManager {self.host} driver={type(self.driver).__name__}>"

    async def init_host(self) -> None:
        await self.driver.init_host(self.host)
        set_handler = getattr(self.driver, "set_event_handler", None)
        if set_handler is not None:
            set_handler(self._on_power_event)
        self.tracker.resources = await self.driver.get_available_resource()
        ctx = RequestContext.admin()
        for instance in await self._wait_for_conductor(ctx):
            self.tracker.instances[instance.uuid] = instance.flavor
        await self._report(ctx)
        await self._recover_instances(ctx)
        await self._reap_deleted_guests(ctx)

    async def _wait_for_conductor(self, ctx: RequestContext) -> list[objects.Instance]:
        """This host's instances, waiting (as Nova's compute does) for a conductor."""
        delay = 0.5
        while True:
            try:
                return await self.conductor.instance_get_all(ctx, host=self.host)
            except (MessageUndeliverable, MessagingTimeout) as exc:
                log.warning("compute.waiting_for_conductor", host=self.host, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def cleanup_host(self) -> None:
        set_handler = getattr(self.driver, "set_event_handler", None)
        if set_handler is not None:
            set_handler(None)
        for task in list(self._event_tasks):
            task.cancel()
        await asyncio.gather(*self._event_tasks, return_exceptions=True)
        await self.driver.cleanup_host(self.host)

    def _on_power_event(self, instance_uuid: str, state: int) -> None:
        """A hypervisor lifecycle event (a guest stopped, started, paused ...).

        As Nova's ``handle_lifecycle_event``: the event only says where to look; the
        power-state sync then reads the real state and reconciles the database.
        """
        task = asyncio.get_running_loop().create_task(self._sync_after_event(instance_uuid))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def _sync_after_event(self, instance_uuid: str) -> None:
        ctx = RequestContext.admin()
        try:  # the sync takes the instance's lock and skips busy or moved instances
            await self._sync_instance_power_state(ctx, instance_uuid)
        except NovaLiteError as exc:
            log.info("compute.event_sync_skipped", instance_uuid=instance_uuid, error=str(exc))

    def periodic_tasks(self) -> list[PeriodicTask]:
        c = self.config.compute
        tasks = [
            PeriodicTask("report_state", c.report_interval, self._report, c.report_interval),
            PeriodicTask(
                "sync_power_states",
                c.sync_power_state_interval,
                self._sync_power_states,
                c.sync_power_state_interval,
            ),
        ]
        if c.reclaim_instance_interval > 0:
            interval = c.reclaim_instance_interval
            tasks.append(PeriodicTask("reclaim", interval, self._reclaim_queued_deletes, interval))
        if c.instance_build_timeout > 0:
            interval = c.instance_build_timeout / 2
            tasks.append(
                PeriodicTask("build_timeouts", interval, self._check_build_timeouts, interval)
            )
        return tasks

    async def _report(self, ctx: RequestContext) -> None:
        """Send this host's capacity and usage to the schedulers (the heartbeat)."""
        self.tracker.resources = await self.driver.get_available_resource()
        try:
            await self.scheduler.update_compute_node(ctx, self.tracker.compute_node())
        except MessageUndeliverable:
            log.warning("compute.report_unheard", host=self.host, reason="no scheduler")

    @asynccontextmanager
    async def _instance_lock(self, instance_uuid: str) -> AsyncIterator[None]:
        """Serialise every operation on one instance (Nova's per-uuid lock)."""
        lock = self._locks[instance_uuid]
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(instance_uuid, None)

    # -- endpoints -----------------------------------------------------------

    @endpoint
    async def build_and_run_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        request_spec: objects.RequestSpec,
        alternates: list[objects.Selection],
        attempt: int,
    ) -> None:
        """Build the instance here (cast by the conductor)."""
        async with self._instance_lock(instance_uuid):
            await self.builder.build(ctx, instance_uuid, request_spec, alternates, attempt)

    @endpoint
    async def terminate_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Destroy the guest, release its ports, volumes and claims, mark it deleted."""
        async with self._instance_lock(instance_uuid):
            try:
                instance = await self.conductor.instance_get(ctx, instance_uuid)
            except InstanceNotFound:
                return
            await self.notifier.info(ctx, "instance.delete.start", instance_payload(instance))
            await self.builder.release_resources(ctx, instance)
            instance = await self.conductor.instance_destroy(ctx, instance_uuid)
            await self.notifier.info(ctx, "instance.delete.end", instance_payload(instance))

    @endpoint
    async def get_console_output(self, ctx: RequestContext, instance_uuid: str) -> str:
        """The tail of the guest's serial console."""
        instance = await self.conductor.instance_get(ctx, instance_uuid)
        return await self.driver.get_console_output(instance)
