"""Cold resize across hosts (or on the same host), with confirm and revert.

The hops follow Nova's: the conductor picks a destination for the new flavor (the
scheduler claims it there, and moves the source claim to the migration's id), then
``prep_resize`` on the destination → ``resize_instance`` on the source (the disk
leaves it) → ``finish_resize`` on the destination (the guest runs there with the new
flavor, vm_state RESIZED, status VERIFY_RESIZE). ``confirm_resize`` on the source
frees the source claim; ``revert_resize`` on the destination →
``finish_revert_resize`` on the source brings the old flavor back where it was. Each
hop advances the migration's status only once its own save succeeded.

A hop that does not complete gives back what the resize took so far, on both of its
hosts (`abandon`): it failed (the instance is in ERROR), or another action won the
instance (a delete, a soft delete, or a newer action) before or during its step, or
the instance is gone. The migration ends in ``error`` and releases the source claim
it held; each end then settles its share of the books on the instance's record as
the winner left it (`Settler`): the host the record names keeps (or gets back) the
tracker entry, the guest and the allocation of the record's flavor, and the other
end drops its entry and destroys any guest it had spawned. A deleted instance's
claims are released. The end whose hop lost calls the other end's
``abandon_resize``, then emits ``instance.resize_abandon.end``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import structlog

from nova_lite import objects
from nova_lite.compute import migration_states, task_states, vm_states
from nova_lite.compute.action_runner import ActionResult, ActionRunner
from nova_lite.compute.guests import GuestSpawner, power_off
from nova_lite.compute.locks import InstanceLocks
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.compute.settle import Settler
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import NovaLiteError
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.virt.driver import ComputeDriver

__all__ = ["ResizeActions"]

log = structlog.get_logger(__name__)


class ResizeActions:
    """The compute endpoints of a resize's hops, on its source and destination hosts."""

    target: ClassVar[Target] = Target(version=ComputeAPI.served_version)

    def __init__(
        self,
        host: str,
        runner: ActionRunner,
        driver: ComputeDriver,
        spawner: GuestSpawner,
        tracker: ResourceTracker,
        settler: Settler,
        *,
        locks: InstanceLocks,
        conductor: ConductorAPI,
        scheduler: SchedulerAPI,
        compute_rpcapi: ComputeAPI,
        notifier: Notifier,
    ) -> None:
        self.host = host
        self.runner = runner
        self.driver = driver
        self.spawner = spawner
        self.tracker = tracker
        self.settler = settler
        self.locks = locks
        self.conductor = conductor
        self.scheduler = scheduler
        self.compute_rpcapi = compute_rpcapi
        self.notifier = notifier

    def __repr__(self) -> str:
        return f"<ResizeActions {self.host}>"

    async def _migration(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> objects.Migration | None:
        """The migration, unless it has ended (a stale hop): then it is given back."""
        migration = await self.conductor.migration_get(ctx, migration_uuid)
        if migration.status not in migration_states.FINAL:
            return migration
        log.info("compute.resize_hop_after_end", migration=migration_uuid, status=migration.status)
        await self.abandon(ctx, instance_uuid, migration_uuid)
        return None

    async def _next_or_abandon(
        self,
        ctx: RequestContext,
        result: ActionResult,
        migration: objects.Migration,
        status: str | None = None,
    ) -> bool:
        """After a hop: advance the migration to `status` if it completed, else give back."""
        if not result.done:
            await self.abandon(ctx, migration.instance_uuid, migration.uuid)
            return False
        if status is not None:
            await self.conductor.migration_update(ctx, migration.uuid, status=status)
        return True

    @endpoint
    async def prep_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the destination: accept the instance, then ask the source to send it."""
        migration = await self._migration(ctx, instance_uuid, migration_uuid)
        if migration is None:
            return

        async def prep(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            if migration.source_host != self.host:
                self.tracker.claim(instance.uuid, migration.new_flavor)
            return {"task_state": task_states.RESIZE_MIGRATING, "power_state": instance.power_state}

        task = task_states.RESIZE_PREP
        result = await self.runner.run(ctx, instance_uuid, "resize_prep", task, prep)
        if await self._next_or_abandon(ctx, result, migration):
            await self.compute_rpcapi.resize_instance(
                ctx, migration.source_host, instance_uuid, migration_uuid
            )

    @endpoint
    async def resize_instance(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the source: let the disk go (another host) or resize in place (this host)."""
        migration = await self._migration(ctx, instance_uuid, migration_uuid)
        if migration is None:
            return
        in_place = migration.dest_host == self.host

        async def send(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            if in_place:
                await self.driver.resize(instance, migration.new_flavor)
            else:
                await self.driver.destroy(instance)
                self.tracker.drop(instance.uuid)
            return {"task_state": task_states.RESIZE_MIGRATED, "power_state": instance.power_state}

        async def unsize(
            ctx: RequestContext, instance: objects.Instance | None, stepped: bool
        ) -> None:
            if in_place and stepped and instance is not None:  # give the old size back
                await self.driver.finish_revert_resize(instance)

        task = task_states.RESIZE_MIGRATING
        result = await self.runner.run(
            ctx, instance_uuid, "resize_migrate", task, send, preempted=unsize
        )
        post = migration_states.POST_MIGRATING
        if await self._next_or_abandon(ctx, result, migration, post) and migration.dest_host:
            await self.compute_rpcapi.finish_resize(
                ctx, migration.dest_host, instance_uuid, migration_uuid
            )

    @endpoint
    async def finish_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the destination: run the guest with the new flavor; await confirmation."""
        migration = await self._migration(ctx, instance_uuid, migration_uuid)
        if migration is None:
            return

        async def finish(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            resized = attrs.evolve(instance, flavor=migration.new_flavor, host=self.host)
            self.tracker.instances[instance.uuid] = migration.new_flavor
            if migration.source_host != self.host:
                await self.spawner.respawn(ctx, resized)
            if migration.old_vm_state == vm_states.STOPPED:
                await power_off(self.driver, resized)
            # As Nova's finish_resize: the migration is finished before the instance
            # shows RESIZED, so a confirm or revert that sees RESIZED finds its migration.
            # If the save below loses to a preempting action, the undo ends it in error.
            await self.conductor.migration_update(
                ctx, migration.uuid, status=migration_states.FINISHED
            )
            return {
                "flavor": migration.new_flavor,
                "host": self.host,
                "node": self.host,
                "vm_state": vm_states.RESIZED,
            }

        task = task_states.RESIZE_MIGRATED
        result = await self.runner.run(ctx, instance_uuid, "resize_finish", task, finish)
        await self._next_or_abandon(ctx, result, migration)

    @endpoint
    async def confirm_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the source: forget the old flavor for good and free its claim."""
        migration = await self._migration(ctx, instance_uuid, migration_uuid)
        if migration is None:
            return

        async def confirm(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            if migration.dest_host == self.host:
                await self.driver.confirm_resize(instance)
            await self.scheduler.release(ctx, migration_uuid)
            # The guest runs on the destination: this (source) hypervisor cannot see it.
            return {"vm_state": migration.old_vm_state, "power_state": instance.power_state}

        task = task_states.RESIZE_CONFIRMING
        result = await self.runner.run(ctx, instance_uuid, "confirm_resize", task, confirm)
        await self._next_or_abandon(ctx, result, migration, migration_states.CONFIRMED)

    @endpoint
    async def revert_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the destination: drop the resized guest, give the claim back to the source."""
        migration = await self._migration(ctx, instance_uuid, migration_uuid)
        if migration is None:
            return

        async def revert(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            if migration.source_host != self.host:
                await self.driver.destroy(instance)
                self.tracker.drop(instance.uuid)
            await self.scheduler.move_allocation(ctx, migration_uuid, instance_uuid)
            return {"task_state": task_states.RESIZE_REVERTING, "power_state": instance.power_state}

        task = task_states.RESIZE_REVERTING
        result = await self.runner.run(ctx, instance_uuid, "revert_resize", task, revert)
        if await self._next_or_abandon(ctx, result, migration):
            await self.compute_rpcapi.finish_revert_resize(
                ctx, migration.source_host, instance_uuid, migration_uuid
            )

    @endpoint
    async def finish_revert_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the source: run the guest again with its old flavor."""
        migration = await self._migration(ctx, instance_uuid, migration_uuid)
        if migration is None:
            return

        async def finish(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            reverted = attrs.evolve(instance, flavor=migration.old_flavor, host=self.host)
            self.tracker.instances[instance.uuid] = migration.old_flavor
            if migration.dest_host == self.host:
                await self.driver.finish_revert_resize(reverted)
            else:
                await self.spawner.respawn(ctx, reverted)
            if migration.old_vm_state == vm_states.STOPPED:
                await power_off(self.driver, reverted)
            return {
                "flavor": migration.old_flavor,
                "host": self.host,
                "node": self.host,
                "vm_state": migration.old_vm_state,
            }

        task = task_states.RESIZE_REVERTING
        result = await self.runner.run(ctx, instance_uuid, "revert_resize_finish", task, finish)
        await self._next_or_abandon(ctx, result, migration, migration_states.REVERTED)

    # -- giving back a resize that did not complete ----------------------------------

    @endpoint
    async def abandon_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> list[str]:
        """Give back this host's share of a resize whose hop on the other end lost.

        Called by that end (see the module docstring); returns what was changed here.
        """
        async with self.locks.hold(instance_uuid):
            return await self._give_back(ctx.elevated(), instance_uuid, migration_uuid)

    async def abandon(self, ctx: RequestContext, instance_uuid: str, migration_uuid: str) -> None:
        """End a resize that lost or failed here, and have both of its ends give back.

        Not an endpoint: the hops call it, and the host's start-up recovery for a
        resize a crash cut short.
        """
        ctx = ctx.elevated()
        async with self.locks.hold(instance_uuid):
            done = await self._give_back(ctx, instance_uuid, migration_uuid)
        migration = await self.conductor.migration_get(ctx, migration_uuid)
        for peer in {migration.source_host, migration.dest_host} - {self.host, None}:
            assert peer is not None
            try:
                done += await self.compute_rpcapi.abandon_resize(
                    ctx, peer, instance_uuid, migration_uuid
                )
            except NovaLiteError as exc:  # that end is down: the audit finds what it kept
                log.warning("compute.resize_abandon_unheard", host=peer, error=str(exc))
        log.info("compute.resize_abandoned", instance_uuid=instance_uuid, done=done)
        record = await self.settler.lookup(ctx, instance_uuid)
        if record is not None:
            payload = instance_payload(record)
            await self.notifier.info(ctx, "instance.resize_abandon.end", payload)

    async def _give_back(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> list[str]:
        """This host's part of `_abandon`, under the instance's lock."""
        migration = await self.conductor.migration_get(ctx, migration_uuid)
        if migration.status not in migration_states.FINAL:
            await self.conductor.migration_update(
                ctx, migration_uuid, status=migration_states.ERROR
            )
        await self.scheduler.release(ctx, migration_uuid)  # the source claim it held
        record = await self.settler.lookup(ctx, instance_uuid)
        if record is None or record.deleted or record.task_state == task_states.DELETING:
            await self.scheduler.release(ctx, instance_uuid)
        if await self._superseded(ctx, migration):
            return []  # a newer resize owns the books now
        return await self.settler.settle(ctx, instance_uuid)

    async def _superseded(self, ctx: RequestContext, migration: objects.Migration) -> bool:
        """Whether a newer resize of the instance is under way."""
        live = await self.conductor.migration_list(
            ctx,
            instance_uuid=migration.instance_uuid,
            statuses=list(migration_states.IN_PROGRESS),
        )
        return any(m.uuid != migration.uuid and m.created_at > migration.created_at for m in live)
