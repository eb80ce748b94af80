"""Compute-side actions that move disks and volumes: rebuild, snapshot, backup,
shelve, shelve-offload, unshelve, and volume attach/detach.

They run through the host's `ActionRunner`, as the power actions do (lock, event,
notifications, compare-and-swap save, ERROR with a fault on failure).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import structlog

from nova_lite import objects
from nova_lite.compute import power_state, task_states, vm_states
from nova_lite.compute.action_runner import ActionRunner, Undo
from nova_lite.compute.guests import GuestSpawner, power_off
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.compute.settle import Settler
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    ImageNotFound,
    InstanceNotFound,
    NovaLiteError,
    UnexpectedTaskStateError,
)
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.virt.driver import ComputeDriver
from nova_lite.volume.rpcapi import VolumeAPI

__all__ = ["ImageActions"]

log = structlog.get_logger(__name__)


class ImageActions:
    """The compute endpoints for the actions that touch images and volumes."""

    target: ClassVar[Target] = Target(version=ComputeAPI.served_version)

    def __init__(
        self,
        runner: ActionRunner,
        driver: ComputeDriver,
        spawner: GuestSpawner,
        tracker: ResourceTracker,
        settler: Settler,
        *,
        conductor: ConductorAPI,
        scheduler: SchedulerAPI,
        image: ImageAPI,
        volume: VolumeAPI,
        shelved_offload_time: int,
    ) -> None:
        self.runner = runner
        self.driver = driver
        self.spawner = spawner
        self.tracker = tracker
        self.settler = settler
        self.conductor = conductor
        self.scheduler = scheduler
        self.image = image
        self.volume = volume
        self.shelved_offload_time = shelved_offload_time

    def __repr__(self) -> str:
        return f"<ImageActions driver={type(self.driver).__name__}>"

    @endpoint
    async def rebuild_instance(
        self, ctx: RequestContext, instance_uuid: str, image_ref: str
    ) -> None:
        """Replace the guest's disk with a fresh copy of `image_ref`, keeping its ports."""

        async def rebuild(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            was_stopped = instance.vm_state == vm_states.STOPPED
            await self.driver.destroy(instance)
            rebuilt = attrs.evolve(instance, image_ref=image_ref)
            await self.spawner.respawn(ctx, rebuilt, bind=False)
            if was_stopped:
                await self.driver.power_off(rebuilt)
            return {
                "image_ref": image_ref,
                "launched_at": objects.utcnow(),
                "vm_state": vm_states.STOPPED if was_stopped else vm_states.ACTIVE,
            }

        async def keep_new_disk(
            ctx: RequestContext, instance: objects.Instance | None, stepped: bool
        ) -> None:
            # Preempted once the disk was replaced: the record says which image it is.
            if instance is not None and stepped:
                await self._save_facts(ctx, instance, {"image_ref": image_ref})

        task = task_states.REBUILDING
        await self.runner.run(ctx, instance_uuid, "rebuild", task, rebuild, preempted=keep_new_disk)

    @endpoint
    async def snapshot_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        image_id: str,
        backup_type: str | None = None,
        rotation: int | None = None,
    ) -> None:
        """Upload the guest's disk into the image `image_id` (the API created it queued)."""

        async def snapshot(ctx: RequestContext, instance: objects.Instance) -> None:
            data = await self.driver.snapshot(instance)
            try:
                await self.image.upload(ctx, image_id, data)
            except ImageNotFound:
                # Deleted while it was saving: Nova's "Image not found during snapshot".
                # The server carries on as it was; there is nothing left to fill.
                log.warning("compute.snapshot_image_gone", image_id=image_id)
                return
            if backup_type is not None and rotation is not None:
                await self._rotate_backups(ctx, instance, backup_type, rotation)

        action, expected = (
            ("backup", task_states.IMAGE_BACKUP)
            if backup_type is not None
            else ("snapshot", task_states.IMAGE_SNAPSHOT)
        )

        async def lost(ctx: RequestContext, instance: objects.Instance | None, _: bool) -> None:
            await self._drop_unless_active(ctx, image_id)

        await self.runner.run(
            ctx,
            instance_uuid,
            action,
            expected,
            snapshot,
            undo=self._image_dropper(image_id),
            preempted=lost,
        )

    def _image_dropper(self, image_id: str) -> Undo:
        """An undo that deletes the image a failed snapshot was to fill (as Nova does)."""

        async def drop(ctx: RequestContext, instance: objects.Instance) -> None:
            await self.image.delete(ctx, image_id)

        return drop

    async def _drop_unless_active(self, ctx: RequestContext, image_id: str) -> None:
        """After a snapshot lost its instance: keep a finished image, drop an empty one.

        As Nova's ``_snapshot_instance`` does when the instance disappears under it:
        an upload that completed is the user's snapshot; a queued image never will be.
        """
        try:
            image = await self.image.get(ctx.elevated(), image_id)
            if image.status != "active":
                await self.image.delete(ctx.elevated(), image_id)
        except NovaLiteError as exc:
            log.warning("compute.snapshot_image_not_dropped", image_id=image_id, error=str(exc))

    async def _save_facts(
        self, ctx: RequestContext, instance: objects.Instance, values: dict[str, Any]
    ) -> None:
        """Record what a preempted step did to the guest, leaving the states to the winner."""
        try:
            await self.conductor.instance_update(ctx, instance.uuid, values)
        except NovaLiteError as exc:
            log.info("compute.facts_not_saved", instance_uuid=instance.uuid, error=str(exc))

    async def _rotate_backups(
        self, ctx: RequestContext, instance: objects.Instance, backup_type: str, rotation: int
    ) -> None:
        """Keep the newest `rotation` backups of this type, delete the older ones."""
        backups = [
            image
            for image in await self.image.list(ctx)
            if image.properties.get("instance_uuid") == instance.uuid
            and image.properties.get("image_type") == "backup"
            and image.properties.get("backup_type") == backup_type
        ]
        backups.sort(key=lambda image: image.created_at, reverse=True)
        for old in backups[rotation:]:
            log.info("compute.backup_rotated", image_id=old.id, instance_uuid=instance.uuid)
            await self.image.delete(ctx, old.id)

    @endpoint
    async def shelve_instance(self, ctx: RequestContext, instance_uuid: str, image_id: str) -> None:
        """Power off, snapshot into `image_id`, then (by default) offload at once."""

        async def shelve(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            await power_off(self.driver, instance)
            await self.image.upload(ctx, image_id, await self.driver.snapshot(instance))
            metadata = {
                **instance.system_metadata,
                "shelved_image_id": image_id,
                "shelved_at": objects.utcnow().isoformat(),
            }
            return {"system_metadata": metadata, "power_state": power_state.SHUTDOWN}

        async def lost(ctx: RequestContext, instance: objects.Instance | None, _: bool) -> None:
            # Nothing refers to the shelve image: it goes.
            await _undo(self.image.delete(ctx.elevated(), image_id))

        final = {"vm_state": vm_states.SHELVED}
        result = await self.runner.run(
            ctx,
            instance_uuid,
            "shelve",
            task_states.SHELVING,
            shelve,
            final,
            undo=self._image_dropper(image_id),
            preempted=lost,
        )
        if result.done and self.shelved_offload_time == 0:
            await self._offload_now(ctx, instance_uuid)

    async def _offload_now(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Offload a server just shelved, unless another action took it meanwhile."""
        try:
            await self.conductor.instance_update(
                ctx,
                instance_uuid,
                {"task_state": task_states.SHELVING_OFFLOADING},
                expected_task_state=[None],
                expected_vm_state=[vm_states.SHELVED],
            )
        except (UnexpectedTaskStateError, InstanceNotFound) as exc:
            log.info("compute.offload_preempted", instance_uuid=instance_uuid, error=str(exc))
            return
        await self.shelve_offload_instance(ctx, instance_uuid)

    @endpoint
    async def shelve_offload_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Remove a shelved guest from this host and free its resources here."""

        async def offload(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            await self.driver.destroy(instance)
            self.tracker.drop(instance.uuid)
            await self.scheduler.release(ctx, instance.uuid)
            return {"host": None, "node": None, "power_state": power_state.NOSTATE}

        async def bring_back(
            ctx: RequestContext, instance: objects.Instance | None, stepped: bool
        ) -> None:
            # Preempted (a soft delete): the server stays on this host, so its guest,
            # tracker entry and claim come back, as the winner expects to find them.
            if instance is not None and stepped:
                await self.settler.settle(ctx, instance.uuid)

        await self.runner.run(
            ctx,
            instance_uuid,
            "shelve_offload",
            task_states.SHELVING_OFFLOADING,
            offload,
            {"vm_state": vm_states.SHELVED_OFFLOADED},
            preempted=bring_back,
        )

    @endpoint
    async def unshelve_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Bring a shelved guest back: power on here, or spawn from its shelved image."""

        async def unshelve(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            image_id = instance.system_metadata.get("shelved_image_id")
            if instance.vm_state == vm_states.SHELVED_OFFLOADED and image_id:
                self.tracker.claim(instance.uuid, instance.flavor)
                shelved = attrs.evolve(instance, image_ref=image_id)
                await self.spawner.respawn(ctx, instance, image_of=shelved)
            else:
                await self.driver.power_on(instance)
            if image_id:
                await self._drop_shelved_image(ctx, image_id)
            metadata = {
                k: v
                for k, v in instance.system_metadata.items()
                if k not in ("shelved_image_id", "shelved_at")
            }
            return {"system_metadata": metadata}

        async def keep_unshelved(
            ctx: RequestContext, instance: objects.Instance | None, stepped: bool
        ) -> None:
            if instance is None:
                return
            if stepped:  # the guest runs here: its shelved image is gone for good
                metadata = {
                    k: v
                    for k, v in instance.system_metadata.items()
                    if k not in ("shelved_image_id", "shelved_at")
                }
                await self._save_facts(ctx, instance, {"system_metadata": metadata})
            # The conductor placed it here: this host's books must say so.
            await self.settler.settle(ctx, instance.uuid)

        await self.runner.run(
            ctx,
            instance_uuid,
            "unshelve",
            task_states.UNSHELVING,
            unshelve,
            {"vm_state": vm_states.ACTIVE},
            preempted=keep_unshelved,
        )

    async def _drop_shelved_image(self, ctx: RequestContext, image_id: str) -> None:
        try:
            await self.image.delete(ctx, image_id)
        except NovaLiteError as exc:
            log.warning("compute.shelved_image_not_deleted", error=str(exc))

    @endpoint
    async def attach_volume(
        self, ctx: RequestContext, instance_uuid: str, volume_id: str, mountpoint: str
    ) -> None:
        """Attach a reserved volume to the instance (no task_state, as in Nova)."""

        async def attach(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            try:
                volume = await self.volume.attach(ctx, volume_id, instance.uuid, mountpoint)
            except Exception:
                await _undo(self.volume.unreserve(ctx, volume_id))
                raise
            try:
                await self.driver.attach_volume(instance, volume, mountpoint)
            except Exception:
                await _undo(self.volume.detach(ctx, volume_id, instance.uuid))
                raise
            mapping = objects.BlockDevice(
                source_type="volume",
                volume_id=volume_id,
                device_name=mountpoint,
                delete_on_termination=False,
            )
            return {"block_devices": [*instance.block_devices, mapping]}

        await self.runner.run(ctx, instance_uuid, "attach_volume", None, attach)

    @endpoint
    async def detach_volume(self, ctx: RequestContext, instance_uuid: str, volume_id: str) -> None:
        """Detach a volume the API marked detaching."""

        async def detach(ctx: RequestContext, instance: objects.Instance) -> dict[str, Any]:
            volume = await self.volume.get(ctx, volume_id)
            try:
                if volume.attached_to == instance.uuid:
                    await self.driver.detach_volume(instance, volume)
            except Exception:
                await _undo(self.volume.roll_detaching(ctx, volume_id))
                raise
            await self.volume.detach(ctx, volume_id, instance.uuid)
            remaining = [b for b in instance.block_devices if b.volume_id != volume_id]
            return {"block_devices": remaining}

        await self.runner.run(ctx, instance_uuid, "detach_volume", None, detach)


async def _undo(step: Any) -> None:
    try:
        await step
    except NovaLiteError as exc:
        log.warning("compute.undo_failed", error=str(exc))
