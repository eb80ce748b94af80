"""Work a broker outage or a conductor restart stranded: found and ended, never left half done.

A build is a chain of messages: the API's cast to the conductor, the conductor's
call to the scheduler and cast to the chosen host, the host's calls while it builds.
When the broker restarts, any of them can be lost: a cast in a transient queue, a
reply to a call in flight, a handler whose error path failed because the broker was
still away. Deletes and power actions are chains too (the API sets the task, then
casts to the host). With the default ``instance_build_timeout = 0`` nothing would
ever end such work. `BuildReconciler` ends it instead, as the conductor knows every
instance and its task from its records:

- when the conductor's connection comes back (and at start-up, for the work a
  conductor that died left behind), it waits `grace` seconds for what was merely
  delayed (queued casts, calls waiting for the broker) to arrive, then looks at
  every instance with a task whose record has not moved for `grace` seconds since
  before the reconnection;
- an instance this conductor is placing right now, or whose host is working on it
  (its instance lock is held there), is left alone and looked at again; a host
  that does not answer is asked again at the next pass;
- a build nobody placed (no host) lost its request before it reached the
  scheduler: it goes to ERROR with a fault (placing it here could place it twice,
  should another conductor hold it);
- a build whose host never started it (task ``scheduling``) lost its cast: the cast
  is sent again, once per outage (the host drops a copy that finds the build moved
  on: `compute.build._stale`);
- a build whose host started it and no longer works on it lost its handler: it goes
  to ERROR with a fault, its claim, ports and the host's guest and tracker entry
  given back;
- a delete nothing works on is sent to its host again, once per outage, or done
  here for an instance with no host (ports, claim, record);
- a power action (reboot, stop, start, pause, unpause, suspend, resume) nothing
  works on lost its cast or its handler: its task is cleared (the power-state sync
  makes the record follow the guest if the action got that far);
- any other task is left to the audit, which reports it.

Passes repeat every `interval` seconds until no task older than the outage is left,
or for `window` seconds; at the end of the window, a build whose cast was sent again
and never started goes to ERROR too. So every build in flight at an outage ends
ACTIVE or ERROR: the stranded ones within ``grace + interval`` seconds of the
reconnection, or ``window`` for a re-sent cast that is lost again.

Every write is a compare-and-swap on the record's task_state, so a delete, the
host finishing meanwhile, or another conductor's reconciliation wins cleanly.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable
from typing import Final

import structlog

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.build import BuildTasks
from nova_lite.conductor.instances import InstanceRecords
from nova_lite.context import RequestContext
from nova_lite.exceptions import BuildAbortException, NovaLiteError
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.notifications import Notifier
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.transport import Transport

__all__ = ["RECONCILE_GRACE", "RECONCILE_INTERVAL", "RECONCILE_WINDOW", "BuildReconciler"]

log = structlog.get_logger(__name__)

#: Seconds after a reconnection (or start-up) before builds are judged stranded.
RECONCILE_GRACE: Final = 5.0
#: Seconds between passes while stranded builds may remain.
RECONCILE_INTERVAL: Final = 2.5
#: Seconds after a reconnection during which passes repeat.
RECONCILE_WINDOW: Final = 60.0

#: The tasks of actions that change only the guest's power: clearing one is safe.
_POWER_TASKS = frozenset(
    {
        task_states.REBOOTING,
        task_states.REBOOT_PENDING,
        task_states.REBOOT_STARTED,
        task_states.REBOOTING_HARD,
        task_states.REBOOT_PENDING_HARD,
        task_states.REBOOT_STARTED_HARD,
        task_states.POWERING_OFF,
        task_states.POWERING_ON,
        task_states.PAUSING,
        task_states.UNPAUSING,
        task_states.SUSPENDING,
        task_states.RESUMING,
    }
)


class BuildReconciler:
    """Ends the builds an outage stranded (see the module docstring); a periodic task."""

    def __init__(
        self,
        records: InstanceRecords,
        builds: BuildTasks,
        transport: Transport,
        *,
        compute: ComputeAPI,
        scheduler: SchedulerAPI,
        network: NetworkAPI,
        notifier: Notifier,
        grace: float = RECONCILE_GRACE,
        window: float = RECONCILE_WINDOW,
    ) -> None:
        self.records = records
        self.builds = builds
        self.transport = transport
        self.compute = compute
        self.scheduler = scheduler
        self.network = network
        self.notifier = notifier
        self.grace = grace
        self.window = window
        self._up_since: datetime.datetime | None = None
        self._due = True  # start-up counts as an outage: the conductor before may have died
        self._resent: dict[str, datetime.datetime] = {}
        self.passes = 0
        transport.add_connection_lost_callback(self._on_connection_lost)

    def __repr__(self) -> str:
        return f"<BuildReconciler due={self._due} passes={self.passes}>"

    def _on_connection_lost(self) -> None:
        self._up_since = None
        self._resent.clear()  # the casts sent again may be lost too
        self._due = True

    async def run(self, ctx: RequestContext) -> None:
        """One tick of the periodic: a pass, if an outage asks for one and its grace is over."""
        if not self._due:
            return
        await self.transport.wait_until_up()
        now = objects.utcnow()
        if self._up_since is None:
            self._up_since = now
        if _seconds(now - self._up_since) < self.grace:
            return
        closing = _seconds(now - self._up_since) >= self.window
        left = await self.reconcile(ctx, created_before=self._up_since, closing=closing)
        if not left or closing:
            self._due = False
            self._resent.clear()

    async def reconcile(
        self,
        ctx: RequestContext,
        *,
        created_before: datetime.datetime | None = None,
        closing: bool = False,
    ) -> int:
        """One pass over the tasks of instances made before `created_before` (the
        reconnection; by default, any); how many are left to watch. `closing` ends
        the window."""
        self.passes += 1
        cutoff = objects.utcnow() - datetime.timedelta(seconds=self.grace)
        before = created_before or objects.utcnow()
        tasks = await self.records.store.with_tasks(created_before=before)
        ledgers: dict[str, objects.HostLedger | None] = {}
        left = 0
        for instance in tasks:
            if self.builds.placing(instance.uuid) or _last_change(instance) > cutoff:
                left += 1  # being placed here, or moving: not stranded (yet)
            elif not await self._settle(ctx, instance, ledgers, closing=closing):
                left += 1
        if tasks:
            log.info("conductor.reconciled", tasks=len(tasks), unresolved=left)
        return left

    async def _settle(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        ledgers: dict[str, objects.HostLedger | None],
        *,
        closing: bool,
    ) -> bool:
        """End or re-send one instance's task; whether it is resolved (no longer watched)."""
        host = instance.host
        if host is None:
            return await self._hostless(ctx, instance)
        if host not in ledgers:
            ledgers[host] = await self._ledger(ctx, host)
        ledger = ledgers[host]
        if ledger is None or instance.uuid in ledger.busy:
            return False  # the host is away, or works on it: ask again next pass
        if instance.task_state == task_states.DELETING:
            return await self._redelete(ctx, instance, host)
        if instance.task_state in _POWER_TASKS:
            await self._clear(ctx, instance)
            return True
        if instance.vm_state != vm_states.BUILDING:
            return True  # another action's: the audit reports it if it stays
        if instance.task_state == task_states.SCHEDULING:
            if instance.uuid not in self._resent:
                await self._resend(ctx, instance, host)
                return False
            if not closing:
                return False
            await self._fail(ctx, instance, f"its build request to {host} was lost twice")
            return True
        await self._fail(ctx, instance, f"{host} stopped building it")
        return True

    async def _hostless(self, ctx: RequestContext, instance: objects.Instance) -> bool:
        """A task of an instance on no host: a build nobody placed, or a delete."""
        if instance.task_state == task_states.DELETING:
            log.warning("conductor.delete_stranded", instance_uuid=instance.uuid)
            await _quietly(self.network.deallocate_for_instance(ctx, instance.uuid))
            await _quietly(self.scheduler.release(ctx, instance.uuid))
            await _quietly(self.records.instance_destroy(ctx, instance.uuid))
        elif instance.vm_state == vm_states.BUILDING:
            await self._fail(ctx, instance, "its request was lost before it was placed")
        return True

    async def _redelete(self, ctx: RequestContext, instance: objects.Instance, host: str) -> bool:
        """Send a stranded delete to its host again (once per outage; it is idempotent)."""
        if instance.uuid in self._resent:
            return False
        self._resent[instance.uuid] = objects.utcnow()
        log.warning("conductor.delete_resent", instance_uuid=instance.uuid, host=host)
        await _quietly(self.compute.terminate_instance(ctx, host, instance.uuid))
        return False

    async def _clear(self, ctx: RequestContext, instance: objects.Instance) -> None:
        """Clear a power action's task that nothing works on (compare-and-swap)."""
        log.warning(
            "conductor.task_stranded", instance_uuid=instance.uuid, task_state=instance.task_state
        )
        await _quietly(
            self.records.instance_update(
                ctx, instance.uuid, {"task_state": None}, expected_task_state=[instance.task_state]
            )
        )

    async def _ledger(self, ctx: RequestContext, host: str) -> objects.HostLedger | None:
        try:
            return await self.compute.host_ledger(ctx, host)
        except NovaLiteError as exc:
            log.info("conductor.reconcile_host_away", host=host, error=str(exc))
            return None

    async def _resend(self, ctx: RequestContext, instance: objects.Instance, host: str) -> None:
        """Cast the build to its host again; the host ignores it if the build moved on."""
        self._resent[instance.uuid] = objects.utcnow()
        log.warning("conductor.build_resent", instance_uuid=instance.uuid, host=host)
        try:
            await self.compute.build_and_run_instance(
                ctx, host, instance.uuid, request_spec_for(instance), [], 1
            )
        except NovaLiteError as exc:
            log.info("conductor.build_resend_failed", instance_uuid=instance.uuid, error=str(exc))

    async def _fail(self, ctx: RequestContext, instance: objects.Instance, why: str) -> None:
        """ERROR with a fault, and everything the build took given back (each step may fail)."""
        uuid = instance.uuid
        log.warning("conductor.build_stranded", instance_uuid=uuid, reason=why)
        fault = objects.InstanceFault(
            code=BuildAbortException.code,
            message=f"The build was interrupted: {why} (a broker outage or a service restart).",
            details=BuildAbortException.__name__,
        )
        try:
            # The host comes off the record in the same save: what it held is given
            # back below, and the record must not name a host that holds nothing.
            failed = await self.records.instance_update(
                ctx,
                uuid,
                {
                    "vm_state": vm_states.ERROR,
                    "task_state": None,
                    "fault": fault,
                    "host": None,
                    "node": None,
                },
                expected_task_state=[instance.task_state],
                expected_vm_state=[vm_states.BUILDING],
                expected_host=instance.host,
            )
        except NovaLiteError:
            return  # it moved on meanwhile (finished, deleted, or another pass got it)
        await self.notifier.error(ctx, "instance.create.error", instance_payload(failed))
        await _quietly(self.scheduler.release(ctx, uuid))
        await _quietly(self.network.deallocate_for_instance(ctx, uuid))
        if instance.host is not None:
            await _quietly(self.compute.settle_instance(ctx, instance.host, uuid))


def request_spec_for(instance: objects.Instance) -> objects.RequestSpec:
    """The request spec of a recorded build, to send it again (no image: the host reads it)."""
    hints = dict(instance.scheduler_hints)
    group, policy = hints.pop("group", None), hints.pop("group_policy", None)
    return objects.RequestSpec(
        instance_uuid=instance.uuid,
        project_id=instance.project_id,
        flavor=instance.flavor,
        availability_zone=instance.availability_zone,
        scheduler_hints=hints,
        instance_group=str(group) if group is not None else None,
        group_policy=policy,
    )


def _last_change(instance: objects.Instance) -> datetime.datetime:
    return instance.updated_at or instance.created_at


def _seconds(delta: datetime.timedelta) -> float:
    return delta.total_seconds()


async def _quietly(step: Awaitable[object]) -> None:
    """Run one giving-back step; a failure is logged (the audit finds what stays)."""
    try:
        await step
    except NovaLiteError as exc:
        log.info("conductor.reconcile_step_failed", error=str(exc))
