"""A live migration's two ends on the compute hosts: the source and the destination.

The conductor has recorded the migration (``preparing``), claimed the destination
under the instance's uuid and moved the source's claim to the migration's uuid,
then cast `LiveMigration.live_migration` to the source. The source, holding the
instance's lock:

1. checks the instance is still its own and still ``migrating`` (else a delete or
   soft delete won before the work began: it gives the claims back and stops);
2. marks the migration ``running`` and has its driver hand the guest over
   (``live_migration``: the guest's state), then calls the destination's
   `receive_live_migration`, which tracks the flavor there, has its driver take the
   guest in, and binds the server's ports to it;
3. saves the instance on the destination (host, node, no task) with a
   compare-and-swap on ``migrating``; then destroys its own guest, drops its tracker
   entry, releases the migration's (source) claim and marks it ``completed``.

A failure before the save (the driver cannot live-migrate, the destination refuses)
leaves the guest running on the source: the destination's share is settled away,
the source's claim goes back to the instance, the task is cleared and the migration
ends ``error``. A save that loses to a delete or soft delete does the same, except
that a deleted instance's claims are released (the delete tears the source down).
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog

from nova_lite import objects
from nova_lite.compute import migration_states, task_states
from nova_lite.compute.locks import InstanceLocks
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    HypervisorError,
    InstanceNotFound,
    NovaLiteError,
    UnexpectedTaskStateError,
)
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.virt.driver import ComputeDriver

__all__ = ["LiveMigration"]

log = structlog.get_logger(__name__)
EVENT = "compute_live_migration"


class LiveMigration:
    """The endpoints of a live migration's source and destination (module doc)."""

    target: ClassVar[Target] = Target(version=ComputeAPI.served_version)

    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        tracker: ResourceTracker,
        locks: InstanceLocks,
        *,
        conductor: ConductorAPI,
        scheduler: SchedulerAPI,
        compute: ComputeAPI,
        network: NetworkAPI,
        notifier: Notifier,
    ) -> None:
        self.host = host
        self.driver = driver
        self.tracker = tracker
        self.locks = locks
        self.conductor = conductor
        self.scheduler = scheduler
        self.compute = compute
        self.network = network
        self.notifier = notifier

    def __repr__(self) -> str:
        return f"<LiveMigration {self.host}>"

    # -- the source ----------------------------------------------------------------

    @endpoint
    async def live_migration(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str, dest: str, node: str
    ) -> None:
        """Move the running guest to `dest` (its hypervisor `node`), then let it go here."""
        async with self.locks.hold(instance_uuid):
            await self.conductor.action_event_start(ctx, instance_uuid, EVENT, self.host)
            instance = await self._ours(ctx, instance_uuid)
            if instance is None:
                await self._undo(ctx, instance_uuid, migration_uuid, dest, "preempted")
                return
            try:
                await self._hand_over(ctx, instance, migration_uuid, dest)
            except NovaLiteError as exc:
                log.warning(
                    "compute.live_migration_failed", instance_uuid=instance_uuid, error=str(exc)
                )
                await self._undo(ctx, instance_uuid, migration_uuid, dest, str(exc))
                await self._save(ctx, instance_uuid, {"task_state": None})
                return
            values = {"host": dest, "node": node, "task_state": None}
            if not await self._save(ctx, instance_uuid, values):
                await self._undo(ctx, instance_uuid, migration_uuid, dest, "preempted")
                return
            await self._let_go(ctx, instance, migration_uuid)

    async def _ours(self, ctx: RequestContext, instance_uuid: str) -> objects.Instance | None:
        try:
            instance = await self.conductor.instance_get(ctx, instance_uuid)
        except InstanceNotFound:
            return None
        if instance.task_state != task_states.MIGRATING or instance.host != self.host:
            return None
        return instance

    async def _hand_over(
        self, ctx: RequestContext, instance: objects.Instance, migration_uuid: str, dest: str
    ) -> None:
        await self.conductor.migration_update(ctx, migration_uuid, status=migration_states.RUNNING)
        payload = instance_payload(instance)
        await self.notifier.info(ctx, "instance.live_migration_pre.start", payload)
        try:
            state = await self.driver.live_migration(instance, dest)
        except NotImplementedError:
            raise HypervisorError(
                f"The {type(self.driver).__name__} of {self.host} cannot live-migrate a guest."
            ) from None
        await self.compute.receive_live_migration(ctx, dest, instance.uuid, state)

    async def _let_go(
        self, ctx: RequestContext, instance: objects.Instance, migration_uuid: str
    ) -> None:
        """The guest runs on the destination now: nothing of it stays here."""
        try:
            await self.driver.destroy(instance)
        except HypervisorError as exc:  # a leftover the reaper of deleted guests ends
            log.warning(
                "compute.live_migration_source_left", instance_uuid=instance.uuid, error=str(exc)
            )
        self.tracker.drop(instance.uuid)
        await self.scheduler.release(ctx, migration_uuid)
        await self.conductor.migration_update(
            ctx, migration_uuid, status=migration_states.COMPLETED
        )
        await self.conductor.action_event_finish(ctx, instance.uuid, EVENT, "Success", None)
        record = await self.conductor.instance_get(ctx, instance.uuid, read_deleted=True)
        await self.notifier.info(ctx, "instance.live_migration_post.end", instance_payload(record))
        log.info("compute.live_migrated", instance_uuid=instance.uuid, dest=record.host)

    async def _undo(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str, dest: str, why: str
    ) -> None:
        """The migration did not happen: the destination gives its share back, the source's
        claim returns to the instance (or, deleted, both go), the migration ends ``error``."""
        admin = ctx.elevated()
        try:
            await self.compute.settle_instance(admin, dest, instance_uuid)
        except NovaLiteError as exc:  # the audit finds what is left there
            log.warning(
                "compute.live_migration_dest_unsettled", instance_uuid=instance_uuid, error=str(exc)
            )
        if await self._gone(ctx, instance_uuid):
            await self.scheduler.release(ctx, migration_uuid)
            await self.scheduler.release(ctx, instance_uuid)
        else:
            await self.scheduler.move_allocation(ctx, migration_uuid, instance_uuid)
        await self.conductor.migration_update(ctx, migration_uuid, status=migration_states.ERROR)
        await self.conductor.action_event_finish(ctx, instance_uuid, EVENT, "Error", why)

    async def _gone(self, ctx: RequestContext, instance_uuid: str) -> bool:
        try:
            instance = await self.conductor.instance_get(ctx, instance_uuid)
        except InstanceNotFound:
            return True
        return instance.task_state == task_states.DELETING

    async def _save(self, ctx: RequestContext, instance_uuid: str, values: dict[str, Any]) -> bool:
        """A compare-and-swap on ``migrating``; False if a delete or another action won."""
        try:
            await self.conductor.instance_update(
                ctx, instance_uuid, values, expected_task_state=[task_states.MIGRATING]
            )
        except (UnexpectedTaskStateError, InstanceNotFound) as exc:
            log.info(
                "compute.live_migration_save_skipped", instance_uuid=instance_uuid, error=str(exc)
            )
            return False
        return True

    # -- the destination -------------------------------------------------------------

    @endpoint
    async def receive_live_migration(
        self, ctx: RequestContext, instance_uuid: str, state: dict[str, Any]
    ) -> None:
        """Take in the guest the source hands over: tracked, running, its ports bound here."""
        async with self.locks.hold(instance_uuid):
            instance = await self.conductor.instance_get(ctx, instance_uuid)
            self.tracker.claim(instance.uuid, instance.flavor)
            try:
                await self.driver.post_live_migration_at_destination(instance, state)
            except NotImplementedError:
                self.tracker.drop(instance.uuid)
                raise HypervisorError(
                    f"The {type(self.driver).__name__} of {self.host} cannot take in a guest."
                ) from None
            except NovaLiteError:
                self.tracker.drop(instance.uuid)
                raise
            admin = ctx.elevated()
            for port in await self.network.list_ports(admin, device_id=instance.uuid):
                await self.network.bind_port(admin, port.id, self.host)
