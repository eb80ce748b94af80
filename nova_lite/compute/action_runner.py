"""The one walk every compute-side action after the build follows.

`ActionRunner.run`: take the instance's lock, record an instance-action event, emit
``instance.<action>.start``, make the hypervisor change (the action's `Step`), then
save the final state with a compare-and-swap on the task_state the API set. A
failure runs the action's `Undo`, puts the instance in ERROR with a fault, records
the event as failed with its traceback, and emits ``instance.<action>.error``.

Another action may win the instance meanwhile (a delete, a soft delete or a hard
reboot may start while a task runs). If it did before the step began, the step is
skipped; if it did while the step ran (the final compare-and-swap is refused), the
action's ``preempted`` undo gives back what the step did, still under the lock, so
the winner's own work on this host finds the guest as the winner expects. The
`ActionResult` says which happened, so a multi-hop action (a resize) can give back
what its earlier hops took.

The lifecycle, image and resize parts of the compute manager each hold the host's
one runner (composition: they call it, none inherits it), as Nova's actions share
``wrap_instance_event``, ``wrap_instance_fault`` and ``reverts_task_state``.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import structlog

from nova_lite import objects
from nova_lite.compute import task_states
from nova_lite.compute.guests import power_state_of
from nova_lite.compute.locks import InstanceLocks
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    HypervisorError,
    InstanceNotFound,
    NovaError,
    NovaLiteError,
    UnexpectedDeletingTaskStateError,
    UnexpectedTaskStateError,
)
from nova_lite.notifications import Notifier
from nova_lite.virt.driver import ComputeDriver

__all__ = [
    "DONE",
    "FAILED",
    "GONE",
    "PREEMPTED",
    "ActionResult",
    "ActionRunner",
    "Preempted",
    "Step",
    "Undo",
]

log = structlog.get_logger(__name__)

Step = Callable[[RequestContext, objects.Instance], Awaitable[dict[str, Any] | None]]
"""An action's hypervisor change; it returns extra values to save (or None)."""
Undo = Callable[[RequestContext, objects.Instance], Awaitable[None]]
"""What to give back when an action's step failed (before the instance goes to ERROR)."""
Preempted = Callable[[RequestContext, objects.Instance | None, bool], Awaitable[None]]
"""What to give back when the action lost: called with the instance as read (None if it
was gone) and whether the step had run, under the instance's lock."""

DONE = "done"  # the step ran and the final state was saved
FAILED = "failed"  # the step failed: undone, the instance in ERROR (or as the action wants)
PREEMPTED = "preempted"  # another action took the instance over (before the step, or at the save)
GONE = "gone"  # the instance was deleted, or is being deleted


@attrs.frozen
class ActionResult:
    """How one run of an action ended (`DONE`, `FAILED`, `PREEMPTED` or `GONE`)."""

    outcome: str
    instance: objects.Instance | None = None  # the saved instance when DONE, else as read
    stepped: bool = False  # whether the hypervisor step ran

    @property
    def done(self) -> bool:
        return self.outcome == DONE

    @property
    def lost(self) -> bool:
        """Whether another action or a delete won the instance from this one."""
        return self.outcome in (PREEMPTED, GONE)


# Actions run without a task_state of their own (beside any other, as in Nova).
_NO_TASK = frozenset({"attach_volume", "detach_volume"})
# Actions whose failure leaves the instance's vm_state alone (as in Nova).
_NO_ERROR_STATE = _NO_TASK | {"set_admin_password"}


class ActionRunner:
    """Runs one host's actions through the common walk (see the module docstring)."""

    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        conductor: ConductorAPI,
        notifier: Notifier,
        locks: InstanceLocks,
    ) -> None:
        self.host = host
        self.driver = driver
        self.conductor = conductor
        self.notifier = notifier
        self.locks = locks

    def __repr__(self) -> str:
        return f"<ActionRunner {self.host}>"

    async def run(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        action: str,
        expected_task: str | None,
        step: Step,
        final: dict[str, Any] | None = None,
        *,
        undo: Undo | None = None,
        preempted: Preempted | None = None,
    ) -> ActionResult:
        """Run one action's hypervisor step and save its final state (see module doc).

        The result says whether the action completed (with the saved instance), or
        why not: the instance is gone or being deleted, another action took it over
        before the step or at the final save (that action owns the state now), or the
        step failed (`undo` runs before the instance goes to ERROR). When it lost,
        `preempted` gives back what it took, under the lock, before the winner's own
        work runs here; then ``instance.<action>.preempted`` is emitted.
        """
        async with self.locks.hold(instance_uuid):
            result = await self._walk(
                ctx, instance_uuid, action, expected_task, step, final, undo, preempted
            )
            if result.lost:
                await self._announce_lost(ctx, instance_uuid, action, result)
            return result

    async def _walk(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        action: str,
        expected_task: str | None,
        step: Step,
        final: dict[str, Any] | None,
        undo: Undo | None,
        preempted: Preempted | None,
    ) -> ActionResult:
        """`run`'s walk, under the instance's lock."""
        event = f"compute_{action}_instance"
        try:
            instance = await self.conductor.instance_get(ctx, instance_uuid)
        except InstanceNotFound:
            if preempted is not None:
                await _quietly(preempted(ctx, None, False))
            return ActionResult(GONE)
        await self.conductor.action_event_start(ctx, instance_uuid, event, self.host)
        await self.notifier.info(ctx, f"instance.{action}.start", instance_payload(instance))
        if action not in _NO_TASK and instance.task_state != expected_task:
            result = await self._taken_over(ctx, instance, event, expected_task)
        else:
            result = await self._step_and_save(
                ctx, instance, action, expected_task, step, final, undo
            )
        if result.lost and preempted is not None:
            await _quietly(preempted(ctx, instance, result.stepped))
        return result

    async def _step_and_save(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        action: str,
        expected_task: str | None,
        step: Step,
        final: dict[str, Any] | None,
        undo: Undo | None,
    ) -> ActionResult:
        event = f"compute_{action}_instance"
        try:
            extra = await self._step(ctx, instance, step)
        except Exception as exc:
            if undo is not None:
                await _quietly(undo(ctx, instance))
            await self._action_failed(ctx, instance, action, expected_task, exc)
            return ActionResult(FAILED, instance, stepped=True)
        try:
            saved = await self._save(ctx, instance, action, expected_task, final, extra)
        except (UnexpectedTaskStateError, InstanceNotFound) as exc:
            log.info("compute.action_preempted", action=action, error=str(exc))
            return await self._lost(ctx, instance.uuid, event, exc)
        await self._event_done(ctx, instance.uuid, event, None)
        await self.notifier.info(ctx, f"instance.{action}.end", instance_payload(saved))
        return ActionResult(DONE, saved, stepped=True)

    async def _announce_lost(
        self, ctx: RequestContext, instance_uuid: str, action: str, result: ActionResult
    ) -> None:
        """``instance.<action>.preempted``: the action lost, and gave back what it took."""
        log.info(
            "compute.action_lost",
            instance_uuid=instance_uuid,
            action=action,
            outcome=result.outcome,
            stepped=result.stepped,
        )
        try:
            record = await self.conductor.instance_get(ctx, instance_uuid, read_deleted=True)
        except InstanceNotFound:
            return
        await self.notifier.info(ctx, f"instance.{action}.preempted", instance_payload(record))

    async def _taken_over(
        self, ctx: RequestContext, instance: objects.Instance, event: str, expected: str | None
    ) -> ActionResult:
        """Another action (or a delete) set its task before this one's step began."""
        log.info(
            "compute.action_preempted_before_step",
            instance_uuid=instance.uuid,
            expected=expected,
            actual=instance.task_state,
        )
        if instance.task_state == task_states.DELETING:
            await self._event_done(ctx, instance.uuid, event, None)
            return ActionResult(GONE, instance)
        lost = UnexpectedTaskStateError(
            f"Instance {instance.uuid} has task_state {instance.task_state}, expected "
            f"{expected}: another action took it over.",
            instance_uuid=instance.uuid,
            actual=instance.task_state,
        )
        await self._event_done(ctx, instance.uuid, event, lost)
        return ActionResult(PREEMPTED, instance)

    async def _lost(
        self, ctx: RequestContext, instance_uuid: str, event: str, exc: Exception
    ) -> ActionResult:
        """The final save was refused: deleted (a success of sorts) or preempted."""
        if isinstance(exc, UnexpectedDeletingTaskStateError | InstanceNotFound):
            await self._event_done(ctx, instance_uuid, event, None)
            return ActionResult(GONE, stepped=True)
        await self._event_done(ctx, instance_uuid, event, exc)
        return ActionResult(PREEMPTED, stepped=True)

    async def _step(
        self, ctx: RequestContext, instance: objects.Instance, step: Step
    ) -> dict[str, Any]:
        """The action's hypervisor change; a guest the hypervisor lost is a failure."""
        try:
            return await step(ctx, instance) or {}
        except InstanceNotFound as exc:  # the hypervisor lost the guest: a failure, not a delete
            raise HypervisorError(
                f"The hypervisor of {self.host} has no guest for instance {instance.uuid}: {exc}"
            ) from exc

    async def _save(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        action: str,
        expected_task: str | None,
        final: dict[str, Any] | None,
        extra: dict[str, Any],
    ) -> objects.Instance:
        """The final save: clearing the task with a compare-and-swap on it."""
        values = {**(final or {}), **extra}
        if "power_state" not in values:
            values["power_state"] = await power_state_of(self.driver, instance)
        if action in _NO_TASK:
            return await self.conductor.instance_update(ctx, instance.uuid, values)
        return await self.conductor.instance_update(
            ctx, instance.uuid, {"task_state": None, **values}, expected_task_state=[expected_task]
        )

    async def _event_done(
        self, ctx: RequestContext, uuid: str, event: str, exc: BaseException | None
    ) -> None:
        result = "Success" if exc is None else "Error"
        tb = "".join(traceback.format_exception(exc)) if exc is not None else None
        try:
            await self.conductor.action_event_finish(ctx, uuid, event, result, tb)
        except NovaLiteError as error:
            log.warning("compute.action_event_lost", action_event=event, error=str(error))

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
            instance = await self._save_failure(ctx, instance, action, expected_task, exc)
        except (UnexpectedTaskStateError, InstanceNotFound) as error:
            log.info("compute.failure_not_saved", action=action, error=str(error))
        await self.notifier.error(ctx, f"instance.{action}.error", instance_payload(instance))

    async def _save_failure(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        action: str,
        expected_task: str | None,
        exc: Exception,
    ) -> objects.Instance:
        """The instance after a failed action: unchanged, task cleared, or ERROR."""
        if action in _NO_TASK:
            return await self.conductor.instance_get(ctx, instance.uuid)
        if action in _NO_ERROR_STATE:
            return await self.conductor.instance_update(
                ctx, instance.uuid, {"task_state": None}, expected_task_state=[expected_task]
            )
        code = exc.code if isinstance(exc, NovaError) else 500
        fault = objects.InstanceFault(code=code, message=str(exc), details=type(exc).__name__)
        return await self.conductor.instance_set_error(ctx, instance.uuid, fault)


async def _quietly(undo: Awaitable[None]) -> None:
    """Run an undo step after a failure; its own failure is logged, never raised."""
    try:
        await undo
    except NovaLiteError as exc:
        log.warning("compute.undo_failed", error=str(exc))
