"""A compute host's housekeeping: power-state sync, recovery, reclaim, build timeouts.

`HostMaintenance` holds what the compute manager's start-up, periodic tasks and
hypervisor events call:

- `sync_power_states` (every ``sync_power_state_interval``) compares each idle
  instance's vm_state with what the hypervisor reports and reconciles them as Nova's
  ``_sync_instance_power_state`` does: an ACTIVE instance whose guest shut down,
  crashed or was suspended from inside is stopped (SHUTOFF); a STOPPED instance
  whose guest runs (or is paused or suspended) is powered off again; a PAUSED one
  whose guest shut down is stopped. Otherwise only the recorded power state changes
  (a guest paused from inside, or missing, is left alone, as in Nova).
- `recover_instances` (at start) finishes or undoes what a crash interrupted:
  instances left mid-build go to ERROR, mid-delete are deleted, mid-resize go to
  ERROR with their unfinished migrations given back (`ResizeActions.abandon`), and
  other transitional task_states are cleared, with the vm_state of a powered
  instance (active, stopped, paused, suspended) taken from the hypervisor.
- `reclaim_queued_deletes` deletes soft-deleted instances older than
  ``reclaim_instance_interval``; `check_build_timeouts` puts builds older than
  ``instance_build_timeout`` in ERROR. Both measure age with `now`, which tests replace.
- `reap_deleted_guests` (at start and before each sync) destroys guests whose
  instance was deleted while the host was down.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Collection

import structlog

from nova_lite import objects
from nova_lite.compute import migration_states, power_state, task_states, vm_states
from nova_lite.compute.build import InstanceBuilder
from nova_lite.compute.guests import power_off, power_state_of
from nova_lite.compute.locks import InstanceLocks
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import InstanceNotFound, NovaLiteError
from nova_lite.virt.driver import ComputeDriver

__all__ = ["HostMaintenance"]

log = structlog.get_logger(__name__)

_VM_STATE_FOR_POWER = {
    power_state.RUNNING: vm_states.ACTIVE,
    power_state.PAUSED: vm_states.PAUSED,
    power_state.SUSPENDED: vm_states.SUSPENDED,
    power_state.SHUTDOWN: vm_states.STOPPED,
    power_state.CRASHED: vm_states.STOPPED,
}
# For each vm_state, the guest power states that make the sync stop the instance.
_STOP_WHEN: dict[str, frozenset[int]] = {
    vm_states.ACTIVE: frozenset({power_state.SHUTDOWN, power_state.CRASHED, power_state.SUSPENDED}),
    vm_states.STOPPED: frozenset({power_state.RUNNING, power_state.PAUSED, power_state.SUSPENDED}),
    vm_states.PAUSED: frozenset({power_state.SHUTDOWN, power_state.CRASHED}),
}
_BUILD_TASKS = {
    task_states.SCHEDULING,
    task_states.NETWORKING,
    task_states.BLOCK_DEVICE_MAPPING,
    task_states.SPAWNING,
}


class HostMaintenance:
    """Periodic and start-up reconciliation of one host's instances."""

    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        tracker: ResourceTracker,
        locks: InstanceLocks,
        builder: InstanceBuilder,
        conductor: ConductorAPI,
        *,
        abandon_resize: Callable[[RequestContext, str, str], Awaitable[None]],
        reclaim_interval: float,
        build_timeout: float,
    ) -> None:
        self.host = host
        self.driver = driver
        self.tracker = tracker
        self.locks = locks
        self.builder = builder
        self.conductor = conductor
        self.abandon_resize = abandon_resize
        self.reclaim_interval = reclaim_interval
        self.build_timeout = build_timeout
        self.now: Callable[[], datetime.datetime] = objects.utcnow
        """The current UTC time, for the age checks (tests replace it to age instances)."""

    def __repr__(self) -> str:
        return f"<HostMaintenance {self.host}>"

    async def _instances_here(self, ctx: RequestContext) -> list[objects.Instance]:
        return await self.conductor.all_instances(ctx, host=self.host)

    async def reap_deleted_guests(
        self, ctx: RequestContext, here: Collection[str] = frozenset()
    ) -> None:
        """Destroy guests whose instance was deleted while this host was down.

        A delete made while the host was down is done locally (without the host), so
        the guest is still on the hypervisor when the host comes back; Nova's
        ``_cleanup_running_deleted_instances`` removes such guests the same way.
        Guests in `here` (instances just listed as this host's, hence not deleted
        then) are not asked about one by one.
        """
        for uuid in await self.driver.list_instances():
            if uuid in here:
                continue
            try:
                instance = await self.conductor.instance_get(ctx, uuid, read_deleted=True)
            except InstanceNotFound:
                continue  # not a guest of this cloud: leave it alone
            if instance.deleted:
                log.warning("compute.reaping_deleted_guest", instance_uuid=uuid)
                await self.driver.destroy(instance)
                self.tracker.drop(uuid)

    async def sync_power_states(self, ctx: RequestContext) -> None:
        """Reconcile every idle instance on this host with the hypervisor.

        As Nova's ``_sync_power_states``: one listing of the host's instances, each
        compared with its guest's power state; only an instance whose record and
        guest disagree is read again under its lock and reconciled
        (`sync_instance_power_state`). An instance that agrees needs nothing: the
        sync would have found the same had it run at that moment. At 10,000 hosts
        the sync was two calls to the conductor per server (a read per guest for the
        reaping, a read per instance under its lock); now one call per host, and a
        call for each guest the listing does not account for.
        """
        listed = await self._instances_here(ctx)
        await self.reap_deleted_guests(ctx, {instance.uuid for instance in listed})
        for instance in listed:
            if instance.task_state is not None:
                continue
            if not await self._disagrees(instance):
                continue
            try:
                await self.sync_instance_power_state(ctx, instance.uuid)
            except NovaLiteError as exc:
                log.warning(
                    "compute.power_sync_failed", instance_uuid=instance.uuid, error=str(exc)
                )

    async def _disagrees(self, instance: objects.Instance) -> bool:
        """Whether the record (as listed) and the guest need reconciling."""
        actual = await power_state_of(self.driver, instance)
        return actual != instance.power_state or actual in _STOP_WHEN.get(instance.vm_state, ())

    async def sync_instance_power_state(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Bring one instance's recorded states in line with its guest's power state.

        Done under the instance's lock on a fresh read, so it never acts on an
        instance an action has just claimed.
        """
        async with self.locks.hold(instance_uuid):
            try:
                instance = await self.conductor.instance_get(ctx, instance_uuid)
            except InstanceNotFound:
                return
            if instance.task_state is not None or instance.host != self.host:
                return
            actual = await power_state_of(self.driver, instance)
            values: dict[str, object] = {}
            if actual in _STOP_WHEN.get(instance.vm_state, ()):
                await power_off(self.driver, instance)
                actual = await power_state_of(self.driver, instance)
                values["vm_state"] = vm_states.STOPPED
            if not values and actual == instance.power_state:
                return
            values["power_state"] = actual
            log.info("compute.power_state_synced", instance_uuid=instance.uuid, **values)
            await self.conductor.instance_update(
                ctx, instance.uuid, values, expected_task_state=[None]
            )

    async def recover_instances(self, ctx: RequestContext) -> None:
        """Deal with instances a crash left in a transitional state (at start-up)."""
        for instance in await self._instances_here(ctx):
            task = instance.task_state
            if task is None:
                continue
            log.warning("compute.recovering", instance_uuid=instance.uuid, task_state=task)
            try:
                await self._recover(ctx, instance)
            except NovaLiteError as exc:
                log.warning("compute.recovery_failed", instance_uuid=instance.uuid, error=str(exc))

    async def _recover(self, ctx: RequestContext, instance: objects.Instance) -> None:
        task = instance.task_state
        if task == task_states.DELETING:
            await self.builder.terminate_instance(ctx, instance.uuid)
        elif instance.vm_state == vm_states.BUILDING or task in _BUILD_TASKS:
            fault = objects.InstanceFault(
                code=500,
                message="The compute service restarted while the instance was building.",
                details="RecoveredAtStartup",
            )
            await self.builder.release_resources(ctx, instance)
            await self.builder.record_error(ctx, instance.uuid, fault)
        elif task and task.startswith("resize"):
            fault = objects.InstanceFault(
                code=500,
                message=f"The compute service restarted during {task}.",
                details="RecoveredAtStartup",
            )
            await self.conductor.instance_set_error(ctx, instance.uuid, fault)
            await self._abandon_resizes(ctx, instance.uuid)
        else:
            actual = await power_state_of(self.driver, instance)
            vm_state = instance.vm_state
            if vm_state in _STOP_WHEN or vm_state == vm_states.SUSPENDED:
                vm_state = _VM_STATE_FOR_POWER.get(actual, vm_state)
            await self.conductor.instance_update(
                ctx,
                instance.uuid,
                {"task_state": None, "power_state": actual, "vm_state": vm_state},
                expected_task_state=[task],
            )

    async def _abandon_resizes(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Give back what the instance's unfinished resizes took, on both of their hosts."""
        live = await self.conductor.migration_list(
            ctx.elevated(),
            instance_uuid=instance_uuid,
            statuses=list(migration_states.IN_PROGRESS),
        )
        for migration in live:
            await self.abandon_resize(ctx, instance_uuid, migration.uuid)

    async def reclaim_queued_deletes(self, ctx: RequestContext) -> None:
        """Delete soft-deleted instances older than ``reclaim_instance_interval``."""
        interval = self.reclaim_interval
        if interval <= 0:
            return
        cutoff = self.now() - datetime.timedelta(seconds=interval)
        for instance in await self._instances_here(ctx):
            if instance.vm_state != vm_states.SOFT_DELETED or instance.task_state is not None:
                continue
            if (instance.updated_at or instance.created_at) > cutoff:
                continue
            log.info("compute.reclaiming", instance_uuid=instance.uuid)
            try:
                await self.conductor.instance_update(
                    ctx,
                    instance.uuid,
                    {"task_state": task_states.DELETING},
                    expected_task_state=[None],
                    expected_vm_state=[vm_states.SOFT_DELETED],
                )
            except NovaLiteError as exc:  # restored or deleted meanwhile
                log.info("compute.reclaim_skipped", instance_uuid=instance.uuid, error=str(exc))
                continue
            await self.builder.terminate_instance(ctx, instance.uuid)

    async def check_build_timeouts(self, ctx: RequestContext) -> None:
        """Put instances building for longer than ``instance_build_timeout`` in ERROR."""
        timeout = self.build_timeout
        if timeout <= 0:
            return
        cutoff = self.now() - datetime.timedelta(seconds=timeout)
        for instance in await self._instances_here(ctx):
            if instance.vm_state == vm_states.BUILDING and instance.created_at <= cutoff:
                log.warning("compute.build_timed_out", instance_uuid=instance.uuid)
                fault = objects.InstanceFault(
                    code=500,
                    message=f"Instance failed to spawn within {timeout:g} seconds "
                    "(instance_build_timeout).",
                    details="BuildTimeout",
                )
                await self.conductor.instance_set_error(ctx, instance.uuid, fault)
