"""Cold resize across hosts (or on the same host), with confirm and revert.

The hops follow Nova's: the conductor picks a destination for the new flavor (the
scheduler claims it there, and moves the source claim to the migration's id), then
``prep_resize`` on the destination → ``resize_instance`` on the source (the disk
leaves it) → ``finish_resize`` on the destination (the guest runs there with the new
flavor, vm_state RESIZED, status VERIFY_RESIZE). ``confirm_resize`` on the source
frees the source claim; ``revert_resize`` on the destination →
``finish_revert_resize`` on the source brings the old flavor back where it was.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.action_runner import ActionRunner, Undo
from nova_lite.compute.guests import GuestSpawner, power_off
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.compute.settle import Settler
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.virt.driver import ComputeDriver

__all__ = ["ResizeActions"]


class ResizeActions:
    """The compute endpoints of a resize's hops, on its source and destination hosts."""

    target: ClassVar[Target] = Target(version=ComputeAPI.version)

    def __init__(
        self,
        host: str,
        runner: ActionRunner,
        driver: ComputeDriver,
        spawner: GuestSpawner,
        tracker: ResourceTracker,
        settler: Settler,
        *,
        conductor: ConductorAPI,
        scheduler: SchedulerAPI,
        compute_rpcapi: ComputeAPI,
    ) -> None:
        self.host = host
        self.runner = runner
        self.driver = driver
        self.spawner = spawner
        self.tracker = tracker
        self.settler = settler
        self.conductor = conductor
        self.scheduler = scheduler
        self.compute_rpcapi = compute_rpcapi

    def __repr__(self) -> str:
        return f"<ResizeActions {self.host}>"

    @endpoint
    async def prep_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the destination: accept the instance, then ask the source to send it."""
        migration = await self.conductor.migration_get(ctx, migration_uuid)

        async def prep(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            if migration.source_host != self.host:
                self.tracker.claim(instance.uuid, migration.new_flavor)
            return {"task_state": task_states.RESIZE_MIGRATING, "power_state": instance.power_state}

        done = await self.runner.run(
            ctx,
            instance_uuid,
            "resize_prep",
            task_states.RESIZE_PREP,
            prep,
            undo=self._give_back(migration, moved=False),
        )
        if done is not None:
            await self.compute_rpcapi.resize_instance(
                ctx, migration.source_host, instance_uuid, migration_uuid
            )

    @endpoint
    async def resize_instance(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the source: let the disk go (another host) or resize in place (this host)."""
        migration = await self.conductor.migration_get(ctx, migration_uuid)

        async def send(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            if migration.dest_host == self.host:
                await self.driver.resize(instance, migration.new_flavor)
            else:
                await self.driver.destroy(instance)
                self.tracker.drop(instance.uuid)
            await self.conductor.migration_update(ctx, migration_uuid, status="post-migrating")
            return {"task_state": task_states.RESIZE_MIGRATED, "power_state": instance.power_state}

        done = await self.runner.run(
            ctx,
            instance_uuid,
            "resize_migrate",
            task_states.RESIZE_MIGRATING,
            send,
            undo=self._give_back(migration, moved=False),
        )
        if done is not None and migration.dest_host is not None:
            await self.compute_rpcapi.finish_resize(
                ctx, migration.dest_host, instance_uuid, migration_uuid
            )

    @endpoint
    async def finish_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the destination: run the guest with the new flavor; await confirmation."""
        migration = await self.conductor.migration_get(ctx, migration_uuid)

        async def finish(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            resized = attrs.evolve(instance, flavor=migration.new_flavor, host=self.host)
            self.tracker.instances[instance.uuid] = migration.new_flavor
            if migration.source_host != self.host:
                await self.spawner.respawn(ctx, resized)
            if migration.old_vm_state == vm_states.STOPPED:
                await power_off(self.driver, resized)
            await self.conductor.migration_update(ctx, migration_uuid, status="finished")
            return {
                "flavor": migration.new_flavor,
                "host": self.host,
                "node": self.host,
                "vm_state": vm_states.RESIZED,
            }

        await self.runner.run(
            ctx,
            instance_uuid,
            "resize_finish",
            task_states.RESIZE_MIGRATED,
            finish,
            undo=self._give_back(migration, moved=False),
        )

    @endpoint
    async def confirm_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the source: forget the old flavor for good and free its claim."""
        migration = await self.conductor.migration_get(ctx, migration_uuid)

        async def confirm(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            if migration.dest_host == self.host:
                await self.driver.confirm_resize(instance)
            await self.scheduler.release(ctx, migration_uuid)
            await self.conductor.migration_update(ctx, migration_uuid, status="confirmed")
            # The guest runs on the destination: this (source) hypervisor cannot see it.
            return {"vm_state": migration.old_vm_state, "power_state": instance.power_state}

        await self.runner.run(
            ctx,
            instance_uuid,
            "confirm_resize",
            task_states.RESIZE_CONFIRMING,
            confirm,
            undo=self._give_back(migration, moved=True),
        )

    @endpoint
    async def revert_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the destination: drop the resized guest, give the claim back to the source."""
        migration = await self.conductor.migration_get(ctx, migration_uuid)

        async def revert(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            if migration.source_host != self.host:
                await self.driver.destroy(instance)
                self.tracker.drop(instance.uuid)
            await self.scheduler.move_allocation(ctx, migration_uuid, instance_uuid)
            return {"task_state": task_states.RESIZE_REVERTING, "power_state": instance.power_state}

        done = await self.runner.run(
            ctx,
            instance_uuid,
            "revert_resize",
            task_states.RESIZE_REVERTING,
            revert,
            undo=self._give_back(migration, moved=True),
        )
        if done is not None:
            await self.compute_rpcapi.finish_revert_resize(
                ctx, migration.source_host, instance_uuid, migration_uuid
            )

    @endpoint
    async def finish_revert_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """On the source: run the guest again with its old flavor."""
        migration = await self.conductor.migration_get(ctx, migration_uuid)

        async def finish(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            reverted = attrs.evolve(instance, flavor=migration.old_flavor, host=self.host)
            self.tracker.instances[instance.uuid] = migration.old_flavor
            if migration.dest_host == self.host:
                await self.driver.finish_revert_resize(reverted)
            else:
                await self.spawner.respawn(ctx, reverted)
            if migration.old_vm_state == vm_states.STOPPED:
                await power_off(self.driver, reverted)
            await self.conductor.migration_update(ctx, migration_uuid, status="reverted")
            return {
                "flavor": migration.old_flavor,
                "host": self.host,
                "node": self.host,
                "vm_state": migration.old_vm_state,
            }

        await self.runner.run(
            ctx,
            instance_uuid,
            "revert_resize_finish",
            task_states.RESIZE_REVERTING,
            finish,
            undo=self._give_back(migration, moved=True),
        )

    def _give_back(self, migration: objects.Migration, *, moved: bool) -> Undo:
        """An undo for a failed hop: the migration ends in error, keeping no extra claim.

        Until ``finish_resize`` succeeds the instance is recorded on the source, so the
        source claim (held by the migration) goes back to the instance, replacing the
        destination's; once it has moved, the migration's source claim is released.
        """

        async def give_back(ctx: RequestContext, instance: objects.Instance) -> None:
            if instance.host != self.host:
                self.tracker.drop(instance.uuid)
            if moved:
                await self.scheduler.release(ctx, migration.uuid)
            else:
                await self.scheduler.move_allocation(ctx, migration.uuid, instance.uuid)
            await self.conductor.migration_update(ctx, migration.uuid, status="error")

        return give_back
