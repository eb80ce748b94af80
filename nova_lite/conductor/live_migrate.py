"""The conductor's half of a live migration: record it, pick and claim the destination.

The API has claimed the instance (task ``migrating``) and checked a named host
exists. `LiveMigrationTasks.live_migrate_instance` records the migration
(``accepted``, type ``live-migration``), moves the source's claim to the
migration's uuid, has the scheduler claim the destination under the instance's
uuid (the named host only, else any host but the source, within the server's zone
and group policy, as for a cold migration), marks the migration ``preparing`` and
casts the hand-over to the source (`compute.live_migrate`). With no destination
the claim returns to the instance, the migration ends ``error`` and the instance
keeps running where it is, its task cleared and the reason in a fault.
"""

from __future__ import annotations

import traceback
from typing import ClassVar

import attrs
import structlog

from nova_lite import objects
from nova_lite.compute import migration_states, task_states
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
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.rpcapi import SchedulerAPI

__all__ = ["LiveMigrationTasks"]

log = structlog.get_logger(__name__)
EVENT = "conductor_live_migrate_instance"


class LiveMigrationTasks:
    """The conductor endpoint that starts a live migration (module doc)."""

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
    ) -> None:
        self.host = host
        self.records = records
        self.actions = actions
        self.groups = groups
        self.zones = zones
        self.scheduler = scheduler
        self.compute = compute

    def __repr__(self) -> str:
        return f"<LiveMigrationTasks {self.host}>"

    @endpoint
    async def live_migrate_instance(
        self, ctx: RequestContext, instance_uuid: str, host: str | None = None
    ) -> None:
        """Claim a destination (`host`, or the scheduler's pick) and start the hand-over."""
        await self.actions.action_event_start(ctx, instance_uuid, EVENT, self.host)
        instance = await self._still_ours(ctx, instance_uuid)
        if instance is None or instance.host is None:
            await self.actions.action_event_finish(ctx, instance_uuid, EVENT, "Error", None)
            return
        migration = await self.actions.migration_create(
            ctx, instance_uuid, instance.host, instance.flavor, instance.flavor,
            instance.vm_state, live=True,
        )  # fmt: skip
        spec = await self._spec(ctx, instance, host)
        await self.scheduler.move_allocation(ctx, instance_uuid, migration.uuid)
        try:
            selection = (await self.scheduler.select_destinations(ctx, spec, 0))[0]
            await self.actions.migration_update(
                ctx, migration.uuid, status=migration_states.PREPARING, dest_host=selection.host
            )
            await self.compute.live_migration(
                ctx, instance.host, instance_uuid, migration.uuid, selection.host,
                selection.nodename,
            )  # fmt: skip
        except NovaLiteError as exc:
            await self._give_back(ctx, instance_uuid, migration.uuid)
            await self._failed(ctx, instance_uuid, exc)
            return
        await self.actions.action_event_finish(ctx, instance_uuid, EVENT, "Success", None)

    async def _still_ours(self, ctx: RequestContext, instance_uuid: str) -> objects.Instance | None:
        try:
            instance = await self.records.instance_get(ctx, instance_uuid)
        except InstanceNotFound:
            return None
        return instance if instance.task_state == task_states.MIGRATING else None

    async def _spec(
        self, ctx: RequestContext, instance: objects.Instance, host: str | None
    ) -> objects.RequestSpec:
        """Never the source; only `host` if one is named; the zone and group kept."""
        group = await self.groups.group_of(instance.uuid)
        avoid = {instance.host or ""}
        if host is not None:
            avoid |= {h["host"] for h in await self.scheduler.all_hosts(ctx) if h["host"] != host}
        spec = objects.RequestSpec(
            instance_uuid=instance.uuid,
            project_id=instance.project_id,
            flavor=instance.flavor,
            availability_zone=instance.availability_zone,
            instance_group=group.uuid if group else None,
            group_policy=group.policy if group else None,
            group_rules=dict(group.rules) if group else {},
            host_zones=await self.zones.host_zones() if instance.availability_zone else {},
        )
        return attrs.evolve(spec, ignore_hosts=tuple(sorted(avoid)))

    async def _give_back(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """The source's claim returns to the instance (a deleted one's go: both)."""
        await self.actions.migration_update(ctx, migration_uuid, status=migration_states.ERROR)
        try:
            gone = (await self.records.instance_get(ctx, instance_uuid)).task_state == (
                task_states.DELETING
            )
        except InstanceNotFound:
            gone = True
        if gone:
            await self.scheduler.release(ctx, migration_uuid)
            await self.scheduler.release(ctx, instance_uuid)
        else:
            await self.scheduler.move_allocation(ctx, migration_uuid, instance_uuid)

    async def _failed(self, ctx: RequestContext, instance_uuid: str, exc: Exception) -> None:
        """No destination (or none reachable): the instance stays, with a fault saying why."""
        log.info("conductor.live_migration_failed", instance_uuid=instance_uuid, error=str(exc))
        code = exc.code if isinstance(exc, NovaError) else 500
        fault = objects.InstanceFault(code=code, message=str(exc), details=type(exc).__name__)
        await self.actions.action_event_finish(
            ctx, instance_uuid, EVENT, "Error", "".join(traceback.format_exception(exc))
        )
        try:
            await self.records.instance_update(
                ctx, instance_uuid, {"task_state": None, "fault": fault},
                expected_task_state=[task_states.MIGRATING],
            )  # fmt: skip
        except (UnexpectedTaskStateError, InstanceNotFound) as exc2:
            log.info("conductor.save_skipped", instance_uuid=instance_uuid, error=str(exc2))
