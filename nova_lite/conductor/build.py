"""The scheduling half of every build: place, record, cast; reschedule; time out.

`schedule_and_build_instances` is step 6-7 of the seed's flow: ask the scheduler for
a host (rpc.call), record it, and cast the build to that host with the alternates;
`reschedule_instance` takes the next alternate when a build fails there. The build
timeout periodic puts builds that never finished (their host died) in ERROR. Each
build first waits for its turn at the `BuildAdmission` (conductor/admission.py), so a
burst of any size keeps at most so many builds under way.

Placing is recorded as Nova records it, as the create action's
``conductor_schedule_and_build_instances`` event: started when the conductor asks the
scheduler, finished when the build is cast to its host (or with the traceback, when
it could not be placed). The conductor writes it in its own database: no message.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import traceback
from collections.abc import Sequence
from typing import ClassVar

import attrs
import structlog

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.actions import ActionStore
from nova_lite.conductor.admission import BuildAdmission
from nova_lite.conductor.aggregates import AggregateStore
from nova_lite.conductor.instances import InstanceRecords
from nova_lite.conductor.placing import PlacementBatches, Ticket
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    BuildAbortException,
    InstanceNotFound,
    NovaError,
    NoValidHost,
    UnexpectedTaskStateError,
)
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.rpcapi import SchedulerAPI

__all__ = ["SCHEDULE_EVENT", "BuildTasks"]

SCHEDULE_EVENT = "conductor_schedule_and_build_instances"

log = structlog.get_logger(__name__)

# A build slot held this long is checked against the instance's record (a build that
# ended through another conductor is not seen here as it ends).
ADMISSION_SWEEP_SECONDS = 10.0


class BuildTasks:
    """The conductor endpoints that place new instances, and the build timeout check."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(
        self,
        records: InstanceRecords,
        *,
        scheduler: SchedulerAPI,
        compute: ComputeAPI,
        network: NetworkAPI,
        notifier: Notifier,
        max_attempts: int,
        build_timeout: float,
        admission: BuildAdmission | None = None,
        conductor: ConductorAPI | None = None,
        zones: AggregateStore | None = None,
        actions: ActionStore | None = None,
        host: str = "",
    ) -> None:
        self.records = records
        self.scheduler = scheduler
        self.compute = compute
        self.network = network
        self.notifier = notifier
        self.max_attempts = max_attempts
        self.build_timeout = build_timeout
        self.admission = admission or BuildAdmission(0, lease=float("inf"))
        self.conductor = conductor  # to hand builds still waiting back at a stop
        self.zones = zones
        self.actions = actions  # where the placing event is recorded
        self.host = host
        self._builds: dict[str, asyncio.Task[None]] = {}  # instance uuid -> its task
        self.placements = PlacementBatches(lambda: self.scheduler)

    def __repr__(self) -> str:
        return f"<BuildTasks scheduling={len(self._builds)} {self.admission!r}>"

    def placing(self, instance_uuid: str) -> bool:
        """Whether this conductor is placing the instance right now."""
        return instance_uuid in self._builds

    async def drain(self) -> None:
        """Wait for every scheduling task started so far (before the database closes).

        Builds still waiting for admission are not waited for: their slots free up
        only as builds end, which this conductor no longer hears of. They go back to
        the conductor topic, for another conductor or this one restarted.
        """
        self.admission.close()
        for task in list(self._builds.values()):
            await asyncio.gather(task, return_exceptions=True)

    async def sweep_admissions(self, ctx: RequestContext) -> None:
        """Free the build slots of builds that ended through another conductor."""

        async def read(uuid: str) -> objects.Instance | None:
            try:
                return await self.records.store.get(uuid, read_deleted=True)
            except InstanceNotFound:
                return None

        await self.admission.sweep(read, older_than=ADMISSION_SWEEP_SECONDS)

    async def check_build_timeouts(self, ctx: RequestContext) -> None:
        """Builds older than ``instance_build_timeout`` go to ERROR (Nova's periodic).

        This runs on the conductor so that a build whose compute host died (and so
        will never report back) still ends, releasing its claim and its ports.
        """
        timeout = self.build_timeout
        cutoff = objects.utcnow() - datetime.timedelta(seconds=timeout)
        for instance in await self.records.instance_get_all(ctx):
            if instance.vm_state != vm_states.BUILDING or instance.created_at > cutoff:
                continue
            if instance.task_state == task_states.DELETING:
                continue
            log.warning("conductor.build_timed_out", instance_uuid=instance.uuid)
            exc = BuildAbortException(
                f"Instance failed to build within {timeout:g} seconds (instance_build_timeout).",
            )
            await self.scheduler.release(ctx, instance.uuid)
            await self.network.deallocate_for_instance(ctx, instance.uuid)
            await self._fail_build(ctx, instance.uuid, exc)

    @endpoint
    async def schedule_and_build_instances(
        self, ctx: RequestContext, request_specs: list[objects.RequestSpec]
    ) -> None:
        """Place each instance and cast its build to the chosen host (one task each).

        A copy of the request (sent again after a broker outage) is dropped for the
        instances being placed here, and for those placed already.
        """
        if self.zones is not None:  # the hosts' zones as the aggregates say now
            zones = await self.zones.host_zones()
            request_specs = [attrs.evolve(s, host_zones=zones) for s in request_specs]
        for spec in request_specs:
            uuid = spec.instance_uuid
            if uuid in self._builds:
                continue
            task = asyncio.get_running_loop().create_task(self._admitted(ctx, spec))
            self._builds[uuid] = task
            task.add_done_callback(functools.partial(self._placed, uuid))

    def _placed(self, uuid: str, _task: asyncio.Task[None]) -> None:
        self._builds.pop(uuid, None)

    async def _admitted(self, ctx: RequestContext, spec: objects.RequestSpec) -> None:
        """Schedule the build once admitted; hand it back if this conductor is stopping."""
        if await self.admission.admit(spec.instance_uuid):
            ticket = self.placements.expect(ctx)
            try:
                await self._schedule(ctx, spec, ticket)
            finally:
                ticket.close()
        elif self.admission.closed and self.conductor is not None:
            log.info("conductor.build_handed_back", instance_uuid=spec.instance_uuid)
            await self.conductor.schedule_and_build_instances(ctx, [spec])
        else:
            log.info("conductor.build_withdrawn", instance_uuid=spec.instance_uuid)

    async def _schedule(
        self, ctx: RequestContext, spec: objects.RequestSpec, ticket: Ticket
    ) -> None:
        if not await self._unplaced(spec.instance_uuid):
            log.info("conductor.schedule_stale", instance_uuid=spec.instance_uuid)
            return
        alternates = self.max_attempts - 1
        log.info("conductor.scheduling", instance_uuid=spec.instance_uuid)
        await self._event_start(ctx, spec.instance_uuid)
        try:
            # With the request's other builds admitted with it: one call for them all.
            selections = await ticket.select(spec, alternates)
        except NoValidHost as exc:
            await self._fail_build(ctx, spec.instance_uuid, exc)
            return
        except Exception as exc:
            log.exception("conductor.schedule_failed", instance_uuid=spec.instance_uuid)
            # A timed-out select_destinations may still have claimed: give it back.
            await self.scheduler.release(ctx, spec.instance_uuid)
            await self._fail_build(ctx, spec.instance_uuid, exc)
            return
        try:
            await self._send_to_host(ctx, spec, selections[0], selections[1:], attempt=1)
        except Exception as exc:  # never leave a build in BUILD for want of a host
            log.exception("conductor.dispatch_failed", instance_uuid=spec.instance_uuid)
            await self.scheduler.release(ctx, spec.instance_uuid)
            await self._fail_build(ctx, spec.instance_uuid, exc)
            return
        await self._event_finish(ctx, spec.instance_uuid, None)

    async def _event_start(self, ctx: RequestContext, uuid: str) -> None:
        if self.actions is not None:
            await self.actions.event_start(ctx, uuid, SCHEDULE_EVENT, self.host)

    async def _event_finish(
        self, ctx: RequestContext, uuid: str, exc: BaseException | None
    ) -> None:
        """End the placing event: Success leaves the action open for the compute host."""
        if self.actions is None:
            return
        result = "Success" if exc is None else "Error"
        tb = None if exc is None else "".join(traceback.format_exception(exc))
        await self.actions.event_finish(
            ctx, uuid, SCHEDULE_EVENT, result, tb, closes_action=exc is not None
        )

    @endpoint
    async def reschedule_instance(
        self,
        ctx: RequestContext,
        request_spec: objects.RequestSpec,
        alternates: list[objects.Selection],
        attempt: int,
        reason: str,
    ) -> None:
        """A build failed on its host: claim the next alternate, or give up in ERROR."""
        uuid = request_spec.instance_uuid
        while alternates and attempt < self.max_attempts:
            selection, alternates = alternates[0], alternates[1:]
            if await self.scheduler.claim(ctx, selection):
                await self._send_to_host(ctx, request_spec, selection, alternates, attempt + 1)
                return
        message = (
            f"Exceeded maximum number of retries. Exhausted all hosts available for "
            f"retrying build failures for instance {uuid}. Last failure: {reason}"
        )
        await self._fail_build(ctx, uuid, NoValidHost(message))

    async def _send_to_host(
        self,
        ctx: RequestContext,
        spec: objects.RequestSpec,
        selection: objects.Selection,
        alternates: Sequence[objects.Selection],
        attempt: int,
    ) -> None:
        uuid = spec.instance_uuid
        try:
            await self.records.instance_update(
                ctx,
                uuid,
                {"host": selection.host, "node": selection.nodename, **_zone(spec, selection)},
                expected_task_state=[task_states.SCHEDULING],
            )
        except (UnexpectedTaskStateError, InstanceNotFound):
            log.info("conductor.build_abandoned", instance_uuid=uuid, reason="deleted")
            await self.scheduler.release(ctx, uuid)
            return
        await self.compute.build_and_run_instance(
            ctx, selection.host, uuid, spec, list(alternates), attempt
        )

    async def _unplaced(self, uuid: str) -> bool:
        """Whether the instance still waits for a host (not deleted, placed or failed)."""
        states = await self.records.store.states(uuid)
        return states == (vm_states.BUILDING, task_states.SCHEDULING, None)

    async def _fail_build(self, ctx: RequestContext, uuid: str, exc: Exception) -> None:
        code = exc.code if isinstance(exc, NovaError) else 500
        fault = objects.InstanceFault(code=code, message=str(exc), details=type(exc).__name__)
        await self._event_finish(ctx, uuid, exc)  # nothing if it ended (or never began)
        try:
            instance = await self.records.instance_set_error(ctx, uuid, fault)
        except InstanceNotFound:
            return
        await self.notifier.error(ctx, "instance.create.error", instance_payload(instance))


def _zone(spec: objects.RequestSpec, selection: objects.Selection) -> dict[str, str]:
    """The zone to record on a placed instance that asked for none: its host's aggregate's."""
    zone = spec.availability_zone or spec.host_zones.get(selection.host)
    return {"availability_zone": zone} if zone else {}
