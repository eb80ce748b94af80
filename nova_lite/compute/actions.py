"""The compute endpoints of the lifecycle actions: power, rescue, password, soft delete.

Each action is one hypervisor step run through the host's `ActionRunner` (lock,
event, notifications, compare-and-swap save, ERROR with a fault on failure), ending
in the vm_state the action promises. The console output, a read of the running
guest, is served here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.action_runner import ActionRunner, Preempted, Step
from nova_lite.compute.guests import power_off
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.compute.settle import Settler
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import NovaError
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.virt.driver import ComputeDriver

__all__ = ["LifecycleActions"]


class LifecycleActions:
    """The compute endpoints for the power, rescue, password and soft-delete actions."""

    target: ClassVar[Target] = Target(version=ComputeAPI.served_version)

    def __init__(
        self,
        runner: ActionRunner,
        driver: ComputeDriver,
        conductor: ConductorAPI,
        settler: Settler,
    ) -> None:
        self.runner = runner
        self.driver = driver
        self.conductor = conductor
        self.settler = settler

    def __repr__(self) -> str:
        return f"<LifecycleActions driver={type(self.driver).__name__}>"

    async def _move(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        action: str,
        task: str,
        step: Step,
        vm_state: str,
        *,
        preempted: Preempted | None = None,
    ) -> None:
        """Run `action` as the API's `task` and leave the instance in `vm_state`."""
        final = {"vm_state": vm_state}
        await self.runner.run(ctx, instance_uuid, action, task, step, final, preempted=preempted)

    async def _power_off_step(self, ctx: RequestContext, instance: objects.Instance) -> None:
        await power_off(self.driver, instance)

    # -- power -----------------------------------------------------------------

    @endpoint
    async def pause_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Freeze the guest in memory: ACTIVE → PAUSED."""
        step = _driver_step(self.driver.pause)
        await self._move(ctx, instance_uuid, "pause", task_states.PAUSING, step, vm_states.PAUSED)

    @endpoint
    async def unpause_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Let a paused guest run again: PAUSED → ACTIVE."""
        step = _driver_step(self.driver.unpause)
        await self._move(
            ctx, instance_uuid, "unpause", task_states.UNPAUSING, step, vm_states.ACTIVE
        )

    @endpoint
    async def suspend_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Save the guest's memory and stop it: ACTIVE → SUSPENDED."""
        step = _driver_step(self.driver.suspend)
        task, vm_state = task_states.SUSPENDING, vm_states.SUSPENDED
        await self._move(ctx, instance_uuid, "suspend", task, step, vm_state)

    @endpoint
    async def resume_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Restore a suspended guest: SUSPENDED → ACTIVE."""
        step = _driver_step(self.driver.resume)
        await self._move(ctx, instance_uuid, "resume", task_states.RESUMING, step, vm_states.ACTIVE)

    @endpoint
    async def stop_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Power the guest off: → STOPPED (status SHUTOFF)."""
        task, vm_state = task_states.POWERING_OFF, vm_states.STOPPED
        await self._move(ctx, instance_uuid, "power_off", task, self._power_off_step, vm_state)

    @endpoint
    async def start_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Power a stopped guest on: STOPPED → ACTIVE."""
        step = _driver_step(self.driver.power_on)
        task, vm_state = task_states.POWERING_ON, vm_states.ACTIVE
        await self._move(ctx, instance_uuid, "power_on", task, step, vm_state)

    @endpoint
    async def reboot_instance(self, ctx: RequestContext, instance_uuid: str, hard: bool) -> None:
        """Reboot the guest, softly (through its OS) or hard (a reset): → ACTIVE."""

        async def reboot(ctx: RequestContext, instance: objects.Instance) -> None:
            await self.driver.reboot(instance, hard=hard)

        task = task_states.REBOOTING_HARD if hard else task_states.REBOOTING
        await self._move(ctx, instance_uuid, "reboot", task, reboot, vm_states.ACTIVE)

    # -- rescue, password --------------------------------------------------------

    @endpoint
    async def rescue_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Boot the guest from a rescue image, its own disk attached: → RESCUED."""

        async def rescue(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            await self.driver.rescue(instance)
            metadata = {**instance.system_metadata, "old_vm_state": instance.vm_state}
            return {"system_metadata": metadata}

        async def leave_rescue(
            ctx: RequestContext, instance: objects.Instance | None, stepped: bool
        ) -> None:
            # Preempted: the winner (a soft delete) expects the guest on its own disk.
            if instance is not None and stepped:
                await self.driver.unrescue(instance)

        await self._move(
            ctx,
            instance_uuid,
            "rescue",
            task_states.RESCUING,
            rescue,
            vm_states.RESCUED,
            preempted=leave_rescue,
        )

    @endpoint
    async def unrescue_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Boot the guest from its own disk again: RESCUED → ACTIVE."""
        step = _driver_step(self.driver.unrescue)

        async def back_to_rescue(
            ctx: RequestContext, instance: objects.Instance | None, stepped: bool
        ) -> None:
            # Preempted: the record still says RESCUED, and the winner (a soft delete)
            # expects the guest as that record says; a delete destroys it anyway.
            if instance is not None and stepped:
                await self.driver.rescue(instance)

        task, vm_state = task_states.UNRESCUING, vm_states.ACTIVE
        await self._move(
            ctx, instance_uuid, "unrescue", task, step, vm_state, preempted=back_to_rescue
        )

    @endpoint
    async def set_admin_password(
        self, ctx: RequestContext, instance_uuid: str, new_pass: str
    ) -> None:
        """Set the guest's administrator password (a failure leaves the server ACTIVE)."""

        async def change(ctx: RequestContext, instance: objects.Instance) -> None:
            if not self.driver.capabilities.get("supports_set_admin_password"):
                raise NovaError(
                    f"The {type(self.driver).__name__} hypervisor does not support setting "
                    "the admin password.",
                )
            await self.driver.set_admin_password(instance, new_pass)

        await self.runner.run(
            ctx, instance_uuid, "set_admin_password", task_states.UPDATING_PASSWORD, change
        )

    # -- soft delete ------------------------------------------------------------------

    @endpoint
    async def soft_delete_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Power the guest off and keep it until reclaimed or restored: → SOFT_DELETED.

        A rescued guest leaves rescue first, so that a restore brings the server back
        ACTIVE on its own disk.
        """

        async def soft_delete(ctx: RequestContext, instance: objects.Instance) -> None:
            if instance.vm_state == vm_states.RESCUED:
                await self.driver.unrescue(instance)
            await power_off(self.driver, instance)

        task, vm_state = task_states.SOFT_DELETING, vm_states.SOFT_DELETED
        await self._move(ctx, instance_uuid, "soft_delete", task, soft_delete, vm_state)

    @endpoint
    async def restore_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Power a soft-deleted guest on again: SOFT_DELETED → ACTIVE.

        A guest that left this host while the soft delete won a race with another
        action (a resize, an offload) is spawned here again first (`Settler`).
        """

        async def restore(ctx: RequestContext, instance: objects.Instance) -> None:
            await self.settler.settle(ctx, instance.uuid)
            await self.driver.power_on(instance)

        await self._move(
            ctx, instance_uuid, "restore", task_states.RESTORING, restore, vm_states.ACTIVE
        )

    # -- console -------------------------------------------------------------------

    @endpoint
    async def get_console_output(self, ctx: RequestContext, instance_uuid: str) -> str:
        """The tail of the guest's serial console."""
        instance = await self.conductor.instance_get(ctx, instance_uuid)
        return await self.driver.get_console_output(instance)


def _driver_step(operation: Callable[[objects.Instance], Awaitable[None]]) -> Step:
    async def step(ctx: RequestContext, instance: objects.Instance) -> None:
        await operation(instance)

    return step
