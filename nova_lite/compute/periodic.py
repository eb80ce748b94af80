"""A compute host's housekeeping: power-state sync, recovery, reclaim, build timeouts.

- `_sync_power_states` (every ``sync_power_state_interval``) compares each idle
  instance's vm_state with what the hypervisor reports and reconciles them as Nova's
  ``_sync_instance_power_state`` does: an ACTIVE instance whose guest shut down (or
  crashed, or was suspended) from inside is stopped (SHUTOFF); a STOPPED instance
  whose guest runs is powered off again.
- `_recover_instances` (at start) finishes or undoes what a crash interrupted:
  instances left mid-build go to ERROR, mid-delete are deleted, and other
  transitional task_states are cleared with the vm_state taken from the hypervisor.
- `_reclaim_queued_deletes` deletes soft-deleted instances older than
  ``reclaim_instance_interval``; `_check_build_timeouts` puts builds older than
  ``instance_build_timeout`` in ERROR.
"""

from __future__ import annotations

import datetime

import structlog

from nova_lite import objects
from nova_lite.compute import power_state, task_states, vm_states
from nova_lite.compute.resize import ResizeEndpoints
from nova_lite.context import RequestContext
from nova_lite.exceptions import NovaLiteError

__all__ = ["HostMaintenance"]

log = structlog.get_logger(__name__)

_OFF = (power_state.SHUTDOWN, power_state.CRASHED)
_VM_STATE_FOR_POWER = {
    power_state.RUNNING: vm_states.ACTIVE,
    power_state.PAUSED: vm_states.PAUSED,
    power_state.SUSPENDED: vm_states.SUSPENDED,
    power_state.SHUTDOWN: vm_states.STOPPED,
    power_state.CRASHED: vm_states.STOPPED,
}
_BUILD_TASKS = {
    task_states.SCHEDULING,
    task_states.NETWORKING,
    task_states.BLOCK_DEVICE_MAPPING,
    task_states.SPAWNING,
}


class HostMaintenance(ResizeEndpoints):
    """Periodic and start-up reconciliation of one host's instances."""

    async def _instances_here(self, ctx: RequestContext) -> list[objects.Instance]:
        return await self.conductor.instance_get_all(ctx, host=self.host)

    async def _sync_power_states(self, ctx: RequestContext) -> None:
        """Reconcile every idle instance on this host with the hypervisor."""
        for instance in await self._instances_here(ctx):
            if instance.task_state is None:
                await self.sync_instance_power_state(ctx, instance)

    async def sync_instance_power_state(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> None:
        """Bring one instance's recorded states in line with its guest's power state."""
        actual = await self._power_state(instance)
        vm_state = instance.vm_state
        if actual == instance.power_state and not (vm_state == vm_states.ACTIVE and actual in _OFF):
            return
        values: dict[str, object] = {"power_state": actual}
        if vm_state == vm_states.ACTIVE and actual in (*_OFF, power_state.SUSPENDED):
            if actual == power_state.SUSPENDED:
                await self.driver.power_off(instance)
                values["power_state"] = power_state.SHUTDOWN
            values["vm_state"] = vm_states.STOPPED
        elif vm_state in (vm_states.STOPPED, vm_states.PAUSED) and actual not in (
            power_state.NOSTATE, *_OFF, power_state.PAUSED
        ):
            await self.driver.power_off(instance)
            values.update(power_state=power_state.SHUTDOWN, vm_state=vm_states.STOPPED)
        log.info(
            "compute.power_state_synced",
            instance_uuid=instance.uuid,
            vm_state=values.get("vm_state", vm_state),
            power_state=values["power_state"],
        )
        try:
            await self.conductor.instance_update(
                ctx, instance.uuid, values, expected_task_state=[None]
            )
        except NovaLiteError as exc:
            log.info("compute.power_sync_skipped", instance_uuid=instance.uuid, error=str(exc))

    async def _recover_instances(self, ctx: RequestContext) -> None:
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
            await self.terminate_instance(ctx, instance.uuid)  # type: ignore[attr-defined]
        elif instance.vm_state == vm_states.BUILDING or task in _BUILD_TASKS:
            fault = objects.InstanceFault(
                code=500,
                message="The compute service restarted while the instance was building.",
                details="RecoveredAtStartup",
            )
            await self.builder.release_resources(ctx, instance)
            await self.conductor.instance_set_error(ctx, instance.uuid, fault)
        elif task and task.startswith("resize"):
            fault = objects.InstanceFault(
                code=500,
                message=f"The compute service restarted during {task}.",
                details="RecoveredAtStartup",
            )
            await self.conductor.instance_set_error(ctx, instance.uuid, fault)
        else:
            actual = await self._power_state(instance)
            vm_state = _VM_STATE_FOR_POWER.get(actual, instance.vm_state)
            if instance.vm_state in (vm_states.RESCUED, vm_states.SOFT_DELETED):
                vm_state = instance.vm_state
            await self.conductor.instance_update(
                ctx,
                instance.uuid,
                {"task_state": None, "power_state": actual, "vm_state": vm_state},
                expected_task_state=[task],
            )

    async def _reclaim_queued_deletes(self, ctx: RequestContext) -> None:
        """Delete soft-deleted instances older than ``reclaim_instance_interval``."""
        interval = self.config.compute.reclaim_instance_interval
        if interval <= 0:
            return
        cutoff = objects.utcnow() - datetime.timedelta(seconds=interval)
        for instance in await self._instances_here(ctx):
            stamp = instance.updated_at or instance.created_at
            if instance.vm_state == vm_states.SOFT_DELETED and instance.task_state is None:
                if stamp <= cutoff:
                    log.info("compute.reclaiming", instance_uuid=instance.uuid)
                    await self.conductor.instance_update(
                        ctx, instance.uuid, {"task_state": task_states.DELETING},
                        expected_task_state=[None],
                    )
                    await self.terminate_instance(ctx, instance.uuid)  # type: ignore[attr-defined]

    async def _check_build_timeouts(self, ctx: RequestContext) -> None:
        """Put instances building for longer than ``instance_build_timeout`` in ERROR."""
        timeout = self.config.compute.instance_build_timeout
        if timeout <= 0:
            return
        cutoff = objects.utcnow() - datetime.timedelta(seconds=timeout)
        for instance in await self._instances_here(ctx):
            if instance.vm_state == vm_states.BUILDING and instance.created_at <= cutoff:
                fault = objects.InstanceFault(
                    code=500,
                    message=f"Instance failed to spawn within {timeout:g} seconds "
                    "(instance_build_timeout).",
                    details="BuildTimeout",
                )
                await self.conductor.instance_set_error(ctx, instance.uuid, fault)
