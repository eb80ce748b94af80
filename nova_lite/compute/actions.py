"""Compute-side handling of the lifecycle actions (pause, stop, reboot, rescue, ...).

Every action follows the same walk, written once in `_run_action`: take the
instance's lock, record an instance-action event, emit ``instance.<action>.start``,
make the hypervisor change, then save the final state with a compare-and-swap on the
task_state the API set. A failure puts the instance in ERROR with a fault, records
the event as failed with its traceback, and emits ``instance.<action>.error``.
`LifecycleEndpoints` is mixed into ComputeManager.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import structlog

from nova_lite import objects
from nova_lite.compute import power_state, task_states, vm_states
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    HypervisorError,
    InstanceNotFound,
    NovaError,
    NovaLiteError,
    UnexpectedDeletingTaskStateError,
    UnexpectedTaskStateError,
)
from nova_lite.rpc.endpoint import endpoint

if TYPE_CHECKING:
    from nova_lite.compute.build import InstanceBuilder
    from nova_lite.conductor.rpcapi import ConductorAPI
    from nova_lite.config import Config
    from nova_lite.notifications import Notifier
    from nova_lite.scheduler.rpcapi import SchedulerAPI
    from nova_lite.virt.driver import ComputeDriver

__all__ = ["LifecycleEndpoints"]

log = structlog.get_logger(__name__)

Step = Callable[[RequestContext, objects.Instance], Awaitable[dict[str, Any] | None]]
Undo = Callable[[RequestContext, objects.Instance], Awaitable[None]]

# Actions run without a task_state of their own (beside any other, as in Nova).
_NO_TASK = frozenset({"attach_volume", "detach_volume"})
# Actions whose failure leaves the instance's vm_state alone (as in Nova).
_NO_ERROR_STATE = _NO_TASK | {"set_admin_password"}


class LifecycleEndpoints:
    """The compute manager's endpoints for every action after the build."""

    host: str
    config: Config
    driver: ComputeDriver
    conductor: ConductorAPI
    scheduler: SchedulerAPI
    notifier: Notifier
    builder: InstanceBuilder
    _instance_lock: Callable[[str], AbstractAsyncContextManager[None]]

    async def _run_action(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        action: str,
        expected_task: str | None,
        step: Step,
        final: dict[str, Any] | None = None,
        *,
        undo: Undo | None = None,
    ) -> objects.Instance | None:
        """Run one action's hypervisor step and save its final state (see module doc).

        Returns the saved instance, or None if the action did not complete: the
        instance is gone or being deleted, another action took it over (the save's
        compare-and-swap failed: that action owns the state now), or the step failed
        (then `undo` runs before the instance goes to ERROR).
        """
        event = f"compute_{action}_instance"
        async with self._instance_lock(instance_uuid):
            try:
                instance = await self.conductor.instance_get(ctx, instance_uuid)
            except InstanceNotFound:
                return None
            await self.conductor.action_event_start(ctx, instance_uuid, event, self.host)
            await self.notifier.info(ctx, f"instance.{action}.start", instance_payload(instance))
            try:
                saved = await self._step_and_save(ctx, instance, action, expected_task, step, final)
            except (UnexpectedDeletingTaskStateError, InstanceNotFound):
                await self._event_done(ctx, instance_uuid, event, None)
                return None
            except UnexpectedTaskStateError as exc:
                log.info("compute.action_preempted", action=action, error=str(exc))
                await self._event_done(ctx, instance_uuid, event, exc)
                return None
            except Exception as exc:
                if undo is not None:
                    await _quietly(undo(ctx, instance))
                await self._action_failed(ctx, instance, action, expected_task, exc)
                return None
            await self._event_done(ctx, instance_uuid, event, None)
            await self.notifier.info(ctx, f"instance.{action}.end", instance_payload(saved))
            return saved

    async def _step_and_save(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        action: str,
        expected_task: str | None,
        step: Step,
        final: dict[str, Any] | None,
    ) -> objects.Instance:
        """The step, then the save: clearing the task with a compare-and-swap on it."""
        try:
            extra = await step(ctx, instance) or {}
        except InstanceNotFound as exc:  # the hypervisor lost the guest: a failure, not a delete
            raise HypervisorError(
                f"The hypervisor of {self.host} has no guest for instance {instance.uuid}: {exc}"
            ) from exc
        values = {**(final or {}), **extra}
        if "power_state" not in values:
            values["power_state"] = await self._power_state(instance)
        if action in _NO_TASK:
            return await self.conductor.instance_update(ctx, instance.uuid, values)
        return await self.conductor.instance_update(
            ctx, instance.uuid, {"task_state": None, **values}, expected_task_state=[expected_task]
        )

    async def _power_state(self, instance: objects.Instance) -> int:
        try:
            return (await self.driver.get_info(instance)).state
        except InstanceNotFound:
            return power_state.NOSTATE

    async def _event_done(
        self, ctx: RequestContext, uuid: str, event: str, exc: BaseException | None
    ) -> None:
        result = "Success" if exc is None else "Error"
        tb = "".join(traceback.format_exception(exc)) if exc is not None else None
        try:
            await self.conductor.action_event_finish(ctx, uuid, event, result, tb)
        except NovaLiteError as error:
            log.warning("compute.action_event_lost", event=event, error=str(error))

    async def _action_failed(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        action: str,
        expected_task: str | None,
        exc: Exception,
    ) -> None:
        """Record the failure; ERROR with a fault unless the action is one that never errors."""
        if isinstance(exc, NovaLiteError):
            log.warning("compute.action_failed", action=action, error=str(exc))
        else:
            log.exception("compute.action_crashed", action=action)
        await self._event_done(ctx, instance.uuid, f"compute_{action}_instance", exc)
        try:
            if action in _NO_TASK:
                instance = await self.conductor.instance_get(ctx, instance.uuid)
            elif action in _NO_ERROR_STATE:
                instance = await self.conductor.instance_update(
                    ctx, instance.uuid, {"task_state": None}, expected_task_state=[expected_task]
                )
            else:
                code = exc.code if isinstance(exc, NovaError) else 500
                fault = objects.InstanceFault(
                    code=code, message=str(exc), details=type(exc).__name__
                )
                instance = await self.conductor.instance_set_error(ctx, instance.uuid, fault)
        except (UnexpectedTaskStateError, InstanceNotFound) as error:
            log.info("compute.failure_not_saved", action=action, error=str(error))
        await self.notifier.error(ctx, f"instance.{action}.error", instance_payload(instance))

    async def _move(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        action: str,
        task: str,
        step: Step,
        vm_state: str,
    ) -> None:
        """Run `action` as the API's `task` and leave the instance in `vm_state`."""
        await self._run_action(ctx, instance_uuid, action, task, step, {"vm_state": vm_state})

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

    async def _power_off_step(self, ctx: RequestContext, instance: objects.Instance) -> None:
        """Power off unless the hypervisor already has the guest off.

        A suspended guest is resumed first (its saved memory is then dropped by the
        shutdown): hypervisors only shut down a guest that runs or is paused.
        """
        state = await self._power_state(instance)
        if state == power_state.SUSPENDED:
            await self.driver.resume(instance)
            state = power_state.RUNNING
        if state not in (power_state.SHUTDOWN, power_state.NOSTATE):
            await self.driver.power_off(instance)

    # -- rescue, password --------------------------------------------------------

    @endpoint
    async def rescue_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Boot the guest from a rescue image, its own disk attached: → RESCUED."""

        async def rescue(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            await self.driver.rescue(instance)
            metadata = {**instance.system_metadata, "old_vm_state": instance.vm_state}
            return {"system_metadata": metadata}

        await self._move(
            ctx, instance_uuid, "rescue", task_states.RESCUING, rescue, vm_states.RESCUED
        )

    @endpoint
    async def unrescue_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Boot the guest from its own disk again: RESCUED → ACTIVE."""
        step = _driver_step(self.driver.unrescue)
        task, vm_state = task_states.UNRESCUING, vm_states.ACTIVE
        await self._move(ctx, instance_uuid, "unrescue", task, step, vm_state)

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

        await self._run_action(
            ctx, instance_uuid, "set_admin_password", task_states.UPDATING_PASSWORD, change
        )

    # -- soft delete ------------------------------------------------------------------

    @endpoint
    async def soft_delete_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Power the guest off and keep it until reclaimed or restored: → SOFT_DELETED."""
        task, vm_state = task_states.SOFT_DELETING, vm_states.SOFT_DELETED
        await self._move(ctx, instance_uuid, "soft_delete", task, self._power_off_step, vm_state)

    @endpoint
    async def restore_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Power a soft-deleted guest on again: SOFT_DELETED → ACTIVE."""
        step = _driver_step(self.driver.power_on)
        await self._move(
            ctx, instance_uuid, "restore", task_states.RESTORING, step, vm_states.ACTIVE
        )


def _driver_step(operation: Callable[[objects.Instance], Awaitable[None]]) -> Step:
    async def step(ctx: RequestContext, instance: objects.Instance) -> None:
        await operation(instance)

    return step


async def _quietly(undo: Awaitable[None]) -> None:
    """Run an undo step after a failure; its own failure is logged, never raised."""
    try:
        await undo
    except NovaLiteError as exc:
        log.warning("compute.undo_failed", error=str(exc))
