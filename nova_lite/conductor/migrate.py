"""The conductor's placement work after the build: resize and unshelve.

Both need a new host chosen by the scheduler, as a build does. A resize also
records a migration and keeps the source host's claim under the migration's id (as
Nova keeps it under the migration's placement consumer) until it is confirmed or
reverted. `MigrationTasks` saves instances through the conductor's `InstanceRecords`
and records events and migrations through its `ActionRecords`.
"""

from __future__ import annotations

import traceback
from typing import Any, ClassVar

import attrs
import structlog

from nova_lite import objects
from nova_lite.compute import migration_states, task_states
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.actions import ActionRecords
from nova_lite.conductor.aggregates import AggregateStore
from nova_lite.conductor.instances import InstanceRecords
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.conductor.server_groups import ServerGroupStore
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    InstanceNotFound,
    NovaError,
    NovaLiteError,
    UnexpectedTaskStateError,
)
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.rpcapi import SchedulerAPI

__all__ = ["MigrationTasks"]

log = structlog.get_logger(__name__)


class MigrationTasks:
    """Conductor endpoints that place an existing instance on a (new) host."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(
        self,
        host: str,
        records: InstanceRecords,
        actions: ActionRecords,
        *,
        groups: ServerGroupStore,
        zones: AggregateStore,
        scheduler: SchedulerAPI,
        compute: ComputeAPI,
        notifier: Notifier,
        allow_resize_to_same_host: bool,
    ) -> None:
        self.host = host
        self.records = records
        self.actions = actions
        self.groups = groups
        self.zones = zones
        self.scheduler = scheduler
        self.compute = compute
        self.notifier = notifier
        self.allow_resize_to_same_host = allow_resize_to_same_host

    def __repr__(self) -> str:
        return f"<MigrationTasks {self.host}>"

    @endpoint
    async def migrate_server(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        flavor: objects.Flavor,
        host: str | None = None,
    ) -> None:
        """Start a resize to `flavor`, or a cold migration (the same flavor, to `host` if
        given): pick a destination, then hand over to computes."""
        event = "conductor_migrate_server"
        await self.actions.action_event_start(ctx, instance_uuid, event, self.host)
        instance = await self._still_ours(ctx, instance_uuid, task_states.RESIZE_PREP, event)
        if instance is None or instance.host is None:
            return
        migration = await self.actions.migration_create(
            ctx, instance_uuid, instance.host, instance.flavor, flavor, instance.vm_state
        )
        spec = await self._placement(ctx, instance, flavor, host)
        await self.scheduler.move_allocation(ctx, instance_uuid, migration.uuid)
        try:
            selection = (await self.scheduler.select_destinations(ctx, spec, 0))[0]
            await self.actions.migration_update(
                ctx, migration.uuid, status=migration_states.MIGRATING, dest_host=selection.host
            )
            await self.compute.prep_resize(ctx, selection.host, instance_uuid, migration.uuid)
        except NovaLiteError as exc:
            await self._give_back(ctx, instance_uuid, migration.uuid)
            await self._placement_failed(ctx, instance_uuid, task_states.RESIZE_PREP, event, exc)
            return
        # A delete or soft delete that won meanwhile is settled by prep_resize's host.
        await self.actions.action_event_finish(ctx, instance_uuid, event, "Success", None)

    async def _give_back(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """A resize that found no destination ends; its claims go back (or go, if deleted).

        The source claim the migration held returns to the instance, replacing any new
        one; if the instance was deleted meanwhile, both are released instead.
        """
        await self.actions.migration_update(ctx, migration_uuid, status=migration_states.ERROR)
        if await self._gone(ctx, instance_uuid):
            await self.scheduler.release(ctx, migration_uuid)
            await self.scheduler.release(ctx, instance_uuid)
        else:
            await self.scheduler.move_allocation(ctx, migration_uuid, instance_uuid)

    async def _gone(self, ctx: RequestContext, instance_uuid: str) -> bool:
        """Whether the instance is deleted or being deleted."""
        try:
            instance = await self.records.instance_get(ctx, instance_uuid)
        except InstanceNotFound:
            return True
        return instance.task_state == task_states.DELETING

    async def _placement_failed(
        self, ctx: RequestContext, instance_uuid: str, task: str, event: str, exc: Exception
    ) -> None:
        """No host (or none reachable): the instance stays as it was, with a fault."""
        log.info("conductor.placement_failed", instance_uuid=instance_uuid, error=str(exc))
        code = exc.code if isinstance(exc, NovaError) else 500
        fault = objects.InstanceFault(code=code, message=str(exc), details=type(exc).__name__)
        await self.actions.action_event_finish(
            ctx, instance_uuid, event, "Error", "".join(traceback.format_exception(exc))
        )
        await self._save(ctx, instance_uuid, {"task_state": None, "fault": fault}, task)

    async def _save(
        self, ctx: RequestContext, instance_uuid: str, values: dict[str, Any], task: str
    ) -> bool:
        """Save with a compare-and-swap on `task` (announced: waiters wake on it).

        False if another action or a delete took the instance meanwhile: it wins.
        """
        try:
            await self.records.instance_update(
                ctx, instance_uuid, values, expected_task_state=[task]
            )
        except (UnexpectedTaskStateError, InstanceNotFound) as exc:
            log.info("conductor.save_skipped", instance_uuid=instance_uuid, error=str(exc))
            return False
        return True

    async def _still_ours(
        self, ctx: RequestContext, instance_uuid: str, task: str, event: str
    ) -> objects.Instance | None:
        """The instance, unless a delete or another action took it before this task began."""
        try:
            instance = await self.records.instance_get(ctx, instance_uuid)
        except InstanceNotFound:
            instance = None
        if instance is not None and instance.task_state == task:
            return instance
        action = "resize" if task == task_states.RESIZE_PREP else "unshelve"
        await self._lost(ctx, instance_uuid, action, event)
        return None

    async def _lost(self, ctx: RequestContext, instance_uuid: str, action: str, event: str) -> None:
        """Record that the task lost its instance, and say so (``instance.<action>.preempted``)."""
        log.info("conductor.task_preempted", instance_uuid=instance_uuid, action=action)
        await self.actions.action_event_finish(ctx, instance_uuid, event, "Error", None)
        record = await self.records.instance_get(ctx, instance_uuid, read_deleted=True)
        await self.notifier.info(ctx, f"instance.{action}.preempted", instance_payload(record))

    async def _placement(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        flavor: objects.Flavor,
        host: str | None,
    ) -> objects.RequestSpec:
        """The spec of a resize or migration: never the same host for a cold migration (as
        Nova), nor for a resize unless ``allow_resize_to_same_host``; only `host` if given."""
        spec = await self._spec(instance, flavor)
        cold = flavor.flavorid == instance.flavor.flavorid
        if (cold or not self.allow_resize_to_same_host) and instance.host is not None:
            spec = _without(spec, instance.host)
        if host is not None:
            others = [h["host"] for h in await self.scheduler.all_hosts(ctx) if h["host"] != host]
            spec = attrs.evolve(spec, ignore_hosts=(*spec.ignore_hosts, *others))
        return spec

    async def _spec(
        self, instance: objects.Instance, flavor: objects.Flavor
    ) -> objects.RequestSpec:
        """The request spec placing an existing instance: its zone, and its group's policy.

        A server stays in the zone it was created in (or placed in), as in Nova.
        """
        group = await self.groups.group_of(instance.uuid)
        return objects.RequestSpec(
            instance_uuid=instance.uuid,
            project_id=instance.project_id,
            flavor=flavor,
            availability_zone=instance.availability_zone,
            instance_group=group.uuid if group else None,
            group_policy=group.policy if group else None,
            group_rules=dict(group.rules) if group else {},
            host_zones=await self.zones.host_zones() if instance.availability_zone else {},
        )

    @endpoint
    async def unshelve_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Pick a host for an offloaded instance and cast the unshelve to it."""
        event = "conductor_unshelve_instance"
        await self.actions.action_event_start(ctx, instance_uuid, event, self.host)
        instance = await self._still_ours(ctx, instance_uuid, task_states.UNSHELVING, event)
        if instance is None:
            return
        spec = await self._spec(instance, instance.flavor)
        try:
            selection = (await self.scheduler.select_destinations(ctx, spec, 0))[0]
        except NovaLiteError as exc:
            await self._placement_failed(ctx, instance_uuid, task_states.UNSHELVING, event, exc)
            return
        values = {"host": selection.host, "node": selection.nodename}
        if not await self._save(ctx, instance_uuid, values, task_states.UNSHELVING):
            # A delete (or another action) won before the host was recorded: the
            # claim just made is not the instance's.
            await self.scheduler.release(ctx, instance_uuid)
            await self._lost(ctx, instance_uuid, "unshelve", event)
            return
        await self.actions.action_event_finish(ctx, instance_uuid, event, "Success", None)
        await self.compute.unshelve_instance(ctx, selection.host, instance_uuid)


def _without(spec: objects.RequestSpec, host: str) -> objects.RequestSpec:
    return attrs.evolve(spec, ignore_hosts=(*spec.ignore_hosts, host))
