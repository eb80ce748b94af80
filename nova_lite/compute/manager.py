"""The compute service of one host: builds, runs and deletes its instances.

Steps 8-13 of the seed's flow happen here: read the instance through the conductor
(never a database), get ports from the network service, volumes from the volume
service and the image from the image service, then ask the hypervisor driver to
spawn the guest. Each step saves the instance's new task_state with a
compare-and-swap, so a delete issued mid-build wins: the next save fails with
`UnexpectedDeletingTaskStateError` and the build cleans up after itself.

`ComputeManager` is composed, not inherited: it creates the host's shared pieces
(driver, resource tracker, `InstanceLocks`, `ImageCache`, `GuestSpawner`,
`ActionRunner`, `Settler`, the RPC clients, the notifier) and hands each part
exactly the ones it uses:

- `InstanceBuilder` (build.py): build, reschedule, abort, terminate, release;
- `LifecycleActions` (actions.py): power, rescue, password, soft delete, console;
- `ImageActions` (image_actions.py): rebuild, snapshot, backup, shelve, volumes;
- `ResizeActions` (resize.py): the resize hops, and giving back a preempted one;
- `HostBooks` (books.py): this host's tracker and guests for the audit;
- `GuestDiagnostics` (diagnostics.py): a guest's diagnostics, for administrators;
- `HostMaintenance` (periodic.py): power-state sync, recovery, reclaim, build
  timeouts, reaping deleted guests (no endpoints: start-up and periodic work).

RPC endpoints are served by the parts themselves: `endpoints()` returns the five
parts that carry ``@endpoint`` methods, each with the manager's ``target``. Each
endpoint is thus written once, beside the code it runs, as oslo.messaging serves a
list of endpoint objects (Nova's conductor serves two); thin delegating methods on
the manager would repeat some thirty signatures that must stay equal to the
rpcapi's. The manager keeps the service hooks (`init_host`, `cleanup_host`,
`periodic_tasks`), the heartbeat and the hypervisor events.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import structlog

from nova_lite import clock, loader, objects
from nova_lite.compute.action_runner import ActionRunner
from nova_lite.compute.actions import LifecycleActions
from nova_lite.compute.books import HostBooks
from nova_lite.compute.build import InstanceBuilder
from nova_lite.compute.diagnostics import GuestDiagnostics
from nova_lite.compute.guests import GuestSpawner
from nova_lite.compute.image_actions import ImageActions
from nova_lite.compute.image_cache import ImageCache
from nova_lite.compute.live_migrate import LiveMigration
from nova_lite.compute.locks import InstanceLocks
from nova_lite.compute.periodic import HostMaintenance
from nova_lite.compute.resize import ResizeActions
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.compute.settle import Settler
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import MessageUndeliverable, MessagingTimeout, NovaLiteError
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport
from nova_lite.virt.driver import ComputeDriver
from nova_lite.volume.rpcapi import VolumeAPI

__all__ = ["ComputeManager"]

log = structlog.get_logger(__name__)


class ComputeManager(Manager):
    """Manages the instances of one host through its hypervisor driver."""

    topic: ClassVar[str] = "compute"
    target: ClassVar[Target] = Target(version=ComputeAPI.served_version)

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
        self.notifier = Notifier(transport, config.rpc.exchange, f"compute.{host}")
        self.tracker = ResourceTracker(host, config.compute)
        self.locks = InstanceLocks()
        image, network = ImageAPI(transport, config), NetworkAPI(transport, config)
        volume = VolumeAPI(transport, config)
        cache_dir = config.service_path("compute", host, "images")  # made on first fetch
        self.images = ImageCache(image, self.driver, cache_dir)
        spawner = GuestSpawner(host, self.driver, self.images, network, volume)
        runner = ActionRunner(host, self.driver, self.conductor, self.notifier, self.locks)
        settler = Settler(
            host,
            self.driver,
            self.tracker,
            spawner,
            conductor=self.conductor,
            scheduler=self.scheduler,
        )
        self.builder = self._new_builder(network, volume)
        self.lifecycle = LifecycleActions(runner, self.driver, self.conductor, settler)
        self.image_actions = self._new_image_actions(runner, spawner, settler, image, volume)
        compute_rpcapi = ComputeAPI(transport, config)
        self.resize_actions = self._new_resize_actions(runner, spawner, settler, compute_rpcapi)
        self.books = HostBooks(host, self.driver, self.tracker, self.locks, settler)
        self.diagnostics = GuestDiagnostics(host, self.driver, self.conductor)
        self.live_migration = LiveMigration(
            host, self.driver, self.tracker, self.locks, conductor=self.conductor,
            scheduler=self.scheduler, compute=compute_rpcapi, network=network,
            notifier=self.notifier,
        )  # fmt: skip
        self.maintenance = self._new_maintenance()
        self._event_tasks: set[asyncio.Task[None]] = set()

    def _new_builder(self, network: NetworkAPI, volume: VolumeAPI) -> InstanceBuilder:
        return InstanceBuilder(
            self.host,
            self.driver,
            self.tracker,
            self.locks,
            self.images,
            conductor=self.conductor,
            scheduler=self.scheduler,
            network=network,
            volume=volume,
            notifier=self.notifier,
        )

    def _new_image_actions(
        self,
        runner: ActionRunner,
        spawner: GuestSpawner,
        settler: Settler,
        image: ImageAPI,
        volume: VolumeAPI,
    ) -> ImageActions:
        return ImageActions(
            runner,
            self.driver,
            spawner,
            self.tracker,
            settler,
            conductor=self.conductor,
            scheduler=self.scheduler,
            image=image,
            volume=volume,
            shelved_offload_time=self.config.compute.shelved_offload_time,
        )

    def _new_resize_actions(
        self,
        runner: ActionRunner,
        spawner: GuestSpawner,
        settler: Settler,
        compute_rpcapi: ComputeAPI,
    ) -> ResizeActions:
        return ResizeActions(
            self.host,
            runner,
            self.driver,
            spawner,
            self.tracker,
            settler,
            locks=self.locks,
            conductor=self.conductor,
            scheduler=self.scheduler,
            compute_rpcapi=compute_rpcapi,
            notifier=self.notifier,
        )

    def _new_maintenance(self) -> HostMaintenance:
        return HostMaintenance(
            self.host,
            self.driver,
            self.tracker,
            self.locks,
            self.builder,
            self.conductor,
            abandon_resize=self.resize_actions.abandon,
            reclaim_interval=self.config.compute.reclaim_instance_interval,
            build_timeout=self.config.compute.instance_build_timeout,
        )

    def __repr__(self) -> str:
        return f"<ComputeManager {self.host} driver={type(self.driver).__name__}>"

    def endpoints(self) -> list[object]:
        """The parts that serve this host's RPC endpoints (see the module docstring)."""
        return [
            self.builder,
            self.lifecycle,
            self.image_actions,
            self.resize_actions,
            self.books,
            self.diagnostics,
            self.live_migration,
        ]

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
        await self.maintenance.recover_instances(ctx)
        await self.maintenance.reap_deleted_guests(ctx)

    async def _wait_for_conductor(self, ctx: RequestContext) -> list[objects.Instance]:
        """This host's instances, waiting (as Nova's compute does) for a conductor."""
        delay = 0.5
        while True:
            try:
                return await self.conductor.all_instances(ctx, host=self.host)
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
            await self.maintenance.sync_instance_power_state(ctx, instance_uuid)
        except NovaLiteError as exc:
            log.info("compute.event_sync_skipped", instance_uuid=instance_uuid, error=str(exc))

    def periodic_tasks(self) -> list[PeriodicTask]:
        c, m = self.config.compute, self.maintenance
        tasks = [
            PeriodicTask("report_state", c.report_interval, self._report, c.report_interval),
            PeriodicTask(
                "sync_power_states",
                c.sync_power_state_interval,
                m.sync_power_states,
                c.sync_power_state_interval,
            ),
        ]
        if c.reclaim_instance_interval > 0:
            interval = c.reclaim_instance_interval
            tasks.append(PeriodicTask("reclaim", interval, m.reclaim_queued_deletes, interval))
        if c.instance_build_timeout > 0:
            interval = c.instance_build_timeout / 2
            tasks.append(PeriodicTask("build_timeouts", interval, m.check_build_timeouts, interval))
        return tasks

    async def _report(self, ctx: RequestContext) -> None:
        """Tell the schedulers this host is alive: a heartbeat, or the full report of
        its capacity and usage when it changed or is due (`ResourceTracker.full_report_due`)."""
        tracker = self.tracker
        tracker.resources = await self.driver.get_available_resource()
        now = clock.monotonic()
        try:
            if tracker.full_report_due(now, self.config.compute.resource_report_interval) or (
                not await self.scheduler.service_heartbeat(ctx, self.host)
            ):
                fields = tracker.scheduled_fields()
                await self.scheduler.update_compute_node(ctx, tracker.compute_node())
                tracker.reported(fields, now)
        except MessageUndeliverable:
            log.warning("compute.report_unheard", host=self.host, reason="no scheduler")
