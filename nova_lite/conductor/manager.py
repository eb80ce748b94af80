"""The conductor: instance records, and the scheduling half of every build.

Compute hosts never touch a database; they read and save instances through these
endpoints. `schedule_and_build_instances` is step 6-7 of the seed's flow: ask the
scheduler for a host (rpc.call), record it, and cast the build to that host with the
alternates; `reschedule_instance` takes the next alternate when a build fails there.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from typing import Any, ClassVar

import structlog

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.actions import ActionEndpoints, ActionStore
from nova_lite.conductor.instance_store import ANY, InstanceStore
from nova_lite.conductor.migrate import MigrationTasks
from nova_lite.conductor.schema import MIGRATIONS
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import (
    BuildAbortException,
    Forbidden,
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
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport

__all__ = ["ConductorManager"]

log = structlog.get_logger(__name__)


class ConductorManager(ActionEndpoints, MigrationTasks, Manager):
    """Owns the instance database and orchestrates scheduling."""

    topic: ClassVar[str] = "conductor"
    target: ClassVar[Target] = Target(version="1.0")

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("conductor"), MIGRATIONS, name="conductor")
        self.store = InstanceStore(self.db, config.quota)
        self.actions = ActionStore(self.db)
        self.scheduler = SchedulerAPI(transport, config)
        self.compute = ComputeAPI(transport, config)
        self.network = NetworkAPI(transport, config)
        self.notifier = Notifier(transport, config.rpc.exchange, f"conductor.{host}")
        self._builds: set[asyncio.Task[None]] = set()

    async def init_host(self) -> None:
        await self.db.open()

    def periodic_tasks(self) -> list[PeriodicTask]:
        timeout = self.config.compute.instance_build_timeout
        if timeout <= 0:
            return []
        return [PeriodicTask("build_timeouts", timeout / 2, self._check_build_timeouts)]

    async def _check_build_timeouts(self, ctx: RequestContext) -> None:
        """Builds older than ``instance_build_timeout`` go to ERROR (Nova's periodic).

        This runs on the conductor so that a build whose compute host died (and so
        will never report back) still ends, releasing its claim and its ports.
        """
        timeout = self.config.compute.instance_build_timeout
        cutoff = objects.utcnow() - datetime.timedelta(seconds=timeout)
        for instance in await self.store.list():
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

    async def cleanup_host(self) -> None:
        for task in list(self._builds):
            await asyncio.gather(task, return_exceptions=True)
        await self.db.close()

    # -- flavors and quotas ------------------------------------------------

    @endpoint
    async def flavor_create(self, ctx: RequestContext, flavor: objects.Flavor) -> objects.Flavor:
        _require_admin(ctx, "create flavors")
        return await self.store.flavor_create(flavor)

    @endpoint
    async def flavor_get(self, ctx: RequestContext, flavor_ref: str) -> objects.Flavor:
        return await self.store.flavor_get(flavor_ref)

    @endpoint
    async def flavor_list(self, ctx: RequestContext) -> list[objects.Flavor]:
        return await self.store.flavor_list()

    @endpoint
    async def quota_get(self, ctx: RequestContext, project_id: str) -> dict[str, Any]:
        return {
            "limits": await self.store.quota_limits(project_id),
            "usage": await self.store.quota_usage(project_id),
        }

    @endpoint
    async def quota_set(
        self, ctx: RequestContext, project_id: str, resource: str, limit: int
    ) -> None:
        _require_admin(ctx, "set quotas")
        await self.store.set_quota(project_id, resource, limit)

    # -- instance records --------------------------------------------------

    @endpoint
    async def create_instances(
        self, ctx: RequestContext, instances: list[objects.Instance]
    ) -> list[objects.Instance]:
        """Record new instances in BUILD, all or none, within the project's quota."""
        await self.store.create(instances)
        for instance in instances:
            await self.notifier.info(ctx, "instance.update", instance_payload(instance))
        return instances

    @endpoint
    async def instance_get(
        self, ctx: RequestContext, instance_uuid: str, read_deleted: bool = False
    ) -> objects.Instance:
        return await self.store.get(instance_uuid, read_deleted=read_deleted)

    @endpoint
    async def instance_get_all(
        self,
        ctx: RequestContext,
        project_id: str | None = None,
        host: str | None = None,
        read_deleted: bool = False,
    ) -> list[objects.Instance]:
        return await self.store.list(project_id=project_id, host=host, read_deleted=read_deleted)

    @endpoint
    async def instance_update(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        values: dict[str, Any],
        expected_task_state: list[str | None] | None = None,
        expected_vm_state: list[str] | None = None,
    ) -> objects.Instance:
        """Save `values`, if the instance is in one of the expected states."""
        instance = await self.store.update(
            instance_uuid,
            values,
            expected_task_state=ANY if expected_task_state is None else expected_task_state,
            expected_vm_state=ANY if expected_vm_state is None else expected_vm_state,
        )
        await self.notifier.info(ctx, "instance.update", instance_payload(instance))
        return instance

    @endpoint
    async def instance_set_error(
        self, ctx: RequestContext, instance_uuid: str, fault: objects.InstanceFault
    ) -> objects.Instance:
        """Put the instance in ERROR with `fault`, unless it is being deleted."""
        current = await self.store.get(instance_uuid)
        if current.task_state == task_states.DELETING:
            return current
        try:
            instance = await self.store.update(
                instance_uuid,
                {"vm_state": vm_states.ERROR, "task_state": None, "fault": fault},
                expected_task_state=[current.task_state],
            )
        except UnexpectedTaskStateError:
            return await self.store.get(instance_uuid)
        await self.notifier.info(ctx, "instance.update", instance_payload(instance))
        return instance

    @endpoint
    async def instance_destroy(self, ctx: RequestContext, instance_uuid: str) -> objects.Instance:
        """Mark the instance deleted (its quota is released with it)."""
        instance = await self.store.destroy(instance_uuid)
        await self.notifier.info(ctx, "instance.update", instance_payload(instance))
        return instance

    # -- scheduling ----------------------------------------------------------

    @endpoint
    async def schedule_and_build_instances(
        self, ctx: RequestContext, request_specs: list[objects.RequestSpec]
    ) -> None:
        """Place each instance and cast its build to the chosen host (one task each)."""
        for spec in request_specs:
            task = asyncio.get_running_loop().create_task(self._schedule(ctx, spec))
            self._builds.add(task)
            task.add_done_callback(self._builds.discard)

    async def _schedule(self, ctx: RequestContext, spec: objects.RequestSpec) -> None:
        alternates = self.config.scheduler.max_attempts - 1
        log.info("conductor.scheduling", instance_uuid=spec.instance_uuid)
        try:
            selections = await self.scheduler.select_destinations(ctx, spec, alternates)
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
        max_attempts = self.config.scheduler.max_attempts
        while alternates and attempt < max_attempts:
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
            await self.instance_update(
                ctx,
                uuid,
                {"host": selection.host, "node": selection.nodename},
                expected_task_state=[task_states.SCHEDULING],
            )
        except (UnexpectedTaskStateError, InstanceNotFound):
            log.info("conductor.build_abandoned", instance_uuid=uuid, reason="deleted")
            await self.scheduler.release(ctx, uuid)
            return
        await self.compute.build_and_run_instance(
            ctx, selection.host, uuid, spec, list(alternates), attempt
        )

    async def _fail_build(self, ctx: RequestContext, uuid: str, exc: Exception) -> None:
        code = exc.code if isinstance(exc, NovaError) else 500
        fault = objects.InstanceFault(code=code, message=str(exc), details=type(exc).__name__)
        try:
            instance = await self.instance_set_error(ctx, uuid, fault)
        except InstanceNotFound:
            return
        await self.notifier.error(ctx, "instance.create.error", instance_payload(instance))


def _require_admin(ctx: RequestContext, what: str) -> None:
    if not ctx.is_admin:
        raise Forbidden(f"Only administrators may {what}.")
