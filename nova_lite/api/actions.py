"""Server actions through the API: check the state table, set the task, cast.

Every action goes through `_begin`: the server must be visible, the policy must allow
the caller to act on it, `check_instance_state` must accept its current vm_state and
task_state (the one table in ``compute/allowed_states.py``), and the task_state is set
with a compare-and-swap on the states just read, so of two racing actions exactly
one wins and the other is refused with `InstanceInvalidState`. The action is recorded
(os-instance-actions) under the request's id before the work is cast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nova_lite import objects, validators
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.allowed_states import check_instance_state
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Forbidden,
    InstanceInvalidState,
    Invalid,
    NotFound,
    UnexpectedTaskStateError,
)

if TYPE_CHECKING:
    from nova_lite.api.client import NovaAPI, Session

__all__ = ["ServerActions"]


class ServerActions:
    """The lifecycle actions of ``session.servers``."""

    session: Session
    api: NovaAPI

    async def _visible_instance(
        self, ctx: RequestContext, server_id: str, *, read_deleted: bool = False
    ) -> objects.Instance:
        raise NotImplementedError

    async def _local_delete(self, ctx: RequestContext, instance: objects.Instance) -> None:
        raise NotImplementedError

    async def _host_is_up(self, ctx: RequestContext, host: str) -> bool:
        raise NotImplementedError

    async def _begin(
        self,
        server_id: str,
        action: str,
        task_state: str | None,
        **values: Any,
    ) -> tuple[RequestContext, objects.Instance]:
        """Check and claim the server for `action`; return the context and instance."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, action, instance.project_id)
        check_instance_state(ctx, instance, action)
        try:
            instance = await self.api.conductor.instance_update(
                ctx,
                instance.uuid,
                {"task_state": task_state, **values},
                expected_task_state=[instance.task_state],
                expected_vm_state=[instance.vm_state],
            )
        except UnexpectedTaskStateError as exc:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance.uuid}: its state changed while the "
                f"request was checked ({exc}).",
                instance_uuid=instance.uuid,
                action=action,
            ) from None
        await self.api.conductor.action_start(ctx, instance.uuid, action)
        return ctx, instance

    def _host(self, instance: objects.Instance) -> str:
        if instance.host is None:
            raise Invalid(f"Server {instance.uuid} is not on any host.")
        return instance.host

    # -- power ---------------------------------------------------------------

    async def pause(self, server_id: str) -> None:
        """Freeze the server in memory (ACTIVE → PAUSED)."""
        ctx, instance = await self._begin(server_id, "pause", task_states.PAUSING)
        await self.api.compute.pause_instance(ctx, self._host(instance), instance.uuid)

    async def unpause(self, server_id: str) -> None:
        """PAUSED → ACTIVE."""
        ctx, instance = await self._begin(server_id, "unpause", task_states.UNPAUSING)
        await self.api.compute.unpause_instance(ctx, self._host(instance), instance.uuid)

    async def suspend(self, server_id: str) -> None:
        """Save the server's memory to disk and stop it (ACTIVE → SUSPENDED)."""
        ctx, instance = await self._begin(server_id, "suspend", task_states.SUSPENDING)
        await self.api.compute.suspend_instance(ctx, self._host(instance), instance.uuid)

    async def resume(self, server_id: str) -> None:
        """SUSPENDED → ACTIVE."""
        ctx, instance = await self._begin(server_id, "resume", task_states.RESUMING)
        await self.api.compute.resume_instance(ctx, self._host(instance), instance.uuid)

    async def stop(self, server_id: str) -> None:
        """Power the server off (→ SHUTOFF)."""
        ctx, instance = await self._begin(server_id, "stop", task_states.POWERING_OFF)
        await self.api.compute.stop_instance(ctx, self._host(instance), instance.uuid)

    async def start(self, server_id: str) -> None:
        """Power a stopped server on (SHUTOFF → ACTIVE)."""
        ctx, instance = await self._begin(server_id, "start", task_states.POWERING_ON)
        await self.api.compute.start_instance(ctx, self._host(instance), instance.uuid)

    async def reboot(self, server_id: str, *, hard: bool = False) -> None:
        """Reboot: soft (ask the guest OS; ACTIVE only) or hard (reset; more states)."""
        action = "reboot_hard" if hard else "reboot"
        task = task_states.REBOOTING_HARD if hard else task_states.REBOOTING
        ctx, instance = await self._begin(server_id, action, task)
        await self.api.compute.reboot_instance(ctx, self._host(instance), instance.uuid, hard)

    # -- rescue, password, rebuild -----------------------------------------------

    async def rescue(self, server_id: str) -> None:
        """Boot the server from a rescue image (→ RESCUE)."""
        ctx, instance = await self._begin(server_id, "rescue", task_states.RESCUING)
        await self.api.compute.rescue_instance(ctx, self._host(instance), instance.uuid)

    async def unrescue(self, server_id: str) -> None:
        """RESCUE → ACTIVE."""
        ctx, instance = await self._begin(server_id, "unrescue", task_states.UNRESCUING)
        await self.api.compute.unrescue_instance(ctx, self._host(instance), instance.uuid)

    async def set_admin_password(self, server_id: str, password: str) -> None:
        """Set the guest's administrator password (status PASSWORD meanwhile)."""
        if not isinstance(password, str) or not password:
            raise Invalid("The admin password must be a non-empty string.")
        ctx, instance = await self._begin(
            server_id, "set_admin_password", task_states.UPDATING_PASSWORD
        )
        await self.api.compute.set_admin_password(
            ctx, self._host(instance), instance.uuid, password
        )

    async def rebuild(self, server_id: str, image: str) -> None:
        """Replace the server's disk with a fresh copy of `image` (status REBUILD)."""
        ctx = await self.session.context()
        current = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:servers:rebuild", current.project_id)
        new_image = await self._find_image(ctx, image)  # type: ignore[attr-defined]
        ctx, instance = await self._begin(server_id, "rebuild", task_states.REBUILDING)
        await self.api.compute.rebuild_instance(
            ctx, self._host(instance), instance.uuid, new_image.id
        )

    # -- images ----------------------------------------------------------------

    async def snapshot(self, server_id: str, name: str) -> str:
        """Save the server's disk as a new image; returns the image's id at once."""
        validators.server_name(name)  # Nova's rule for createImage, before the task starts
        ctx, instance = await self._begin(server_id, "snapshot", task_states.IMAGE_SNAPSHOT)
        image = await self._image_for(ctx, instance, name, {"image_type": "snapshot"})
        await self.api.compute.snapshot_instance(ctx, self._host(instance), instance.uuid, image.id)
        return image.id

    async def backup(self, server_id: str, name: str, backup_type: str, rotation: int) -> str:
        """Snapshot as a backup, keeping the newest `rotation` backups of `backup_type`."""
        validators.server_name(name)  # Nova's rule for createBackup, before the task starts
        if isinstance(rotation, bool) or not isinstance(rotation, int) or rotation < 0:
            raise Invalid(f"rotation must be an integer of at least 0, not {rotation!r}.")
        ctx, instance = await self._begin(server_id, "backup", task_states.IMAGE_BACKUP)
        properties = {"image_type": "backup", "backup_type": backup_type}
        image = await self._image_for(ctx, instance, name, properties)
        await self.api.compute.snapshot_instance(
            ctx, self._host(instance), instance.uuid, image.id, backup_type, rotation
        )
        return image.id

    async def _image_for(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        name: str,
        properties: dict[str, str],
    ) -> objects.Image:
        return await self.api.image.create(
            ctx,
            name,
            disk_format="qcow2",
            container_format="bare",
            properties={"instance_uuid": instance.uuid, **properties},
        )

    async def shelve(self, server_id: str) -> None:
        """Snapshot and power off the server, then free its host (→ SHELVED_OFFLOADED)."""
        ctx, instance = await self._begin(server_id, "shelve", task_states.SHELVING)
        image = await self._image_for(
            ctx, instance, f"{instance.display_name}-shelved", {"image_type": "snapshot"}
        )
        await self.api.compute.shelve_instance(ctx, self._host(instance), instance.uuid, image.id)

    async def shelve_offload(self, server_id: str) -> None:
        """Free the host of a SHELVED server (→ SHELVED_OFFLOADED)."""
        ctx, instance = await self._begin(
            server_id, "shelve_offload", task_states.SHELVING_OFFLOADING
        )
        await self.api.compute.shelve_offload_instance(ctx, self._host(instance), instance.uuid)

    async def unshelve(self, server_id: str) -> None:
        """Bring a shelved server back (scheduled again if it was offloaded)."""
        ctx, instance = await self._begin(server_id, "unshelve", task_states.UNSHELVING)
        if instance.vm_state == vm_states.SHELVED_OFFLOADED or instance.host is None:
            await self.api.conductor.unshelve_instance(ctx, instance.uuid)
        else:
            await self.api.compute.unshelve_instance(ctx, instance.host, instance.uuid)

    # -- resize ----------------------------------------------------------------

    async def resize(self, server_id: str, flavor: str) -> None:
        """Move the server to `flavor` (status RESIZE, then VERIFY_RESIZE)."""
        ctx = await self.session.context()
        current = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:servers:resize", current.project_id)
        new_flavor = await self.api.conductor.flavor_get(ctx, flavor)
        check_instance_state(ctx, current, "resize")  # the state is reported before the flavor
        if new_flavor.flavorid == current.flavor.flavorid:
            raise Invalid(f"Server {server_id} already has flavor {new_flavor.name}.")
        ctx, instance = await self._begin(server_id, "resize", task_states.RESIZE_PREP)
        await self.api.conductor.migrate_server(ctx, instance.uuid, new_flavor)

    async def confirm_resize(self, server_id: str) -> None:
        """Keep the new flavor; the old host's resources are freed (→ ACTIVE/SHUTOFF)."""
        ctx, instance = await self._begin(
            server_id, "confirm_resize", task_states.RESIZE_CONFIRMING
        )
        migration = await self.api.conductor.migration_for_instance(ctx, instance.uuid)
        await self.api.compute.confirm_resize(
            ctx, migration.source_host, instance.uuid, migration.uuid
        )

    async def revert_resize(self, server_id: str) -> None:
        """Go back to the old flavor on the old host."""
        ctx, instance = await self._begin(server_id, "revert_resize", task_states.RESIZE_REVERTING)
        migration = await self.api.conductor.migration_for_instance(ctx, instance.uuid)
        await self.api.compute.revert_resize(
            ctx, self._host(instance), instance.uuid, migration.uuid
        )

    # -- soft delete -------------------------------------------------------------

    async def soft_delete(self, server_id: str) -> None:
        """Power off and keep the server for ``reclaim_instance_interval`` (SOFT_DELETED).

        As in Nova, a server with no host to keep it (shelved offloaded), or whose
        host is down, is deleted at once instead.
        """
        ctx, instance = await self._begin(server_id, "soft_delete", task_states.SOFT_DELETING)
        await self._confirm_resize_on_deleting(ctx, instance)
        if instance.host is None or not await self._host_is_up(ctx, instance.host):
            await self._local_delete(ctx, instance)
            return
        await self.api.compute.soft_delete_instance(ctx, instance.host, instance.uuid)

    async def _confirm_resize_on_deleting(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> None:
        """Settle a resize awaiting confirmation before the server goes, as Nova does.

        The guest already runs on the destination; only the source host's claim,
        kept under the migration's id for a revert, is left to free.
        """
        if instance.vm_state != vm_states.RESIZED:
            return
        migration = await self.api.conductor.migration_for_instance(ctx, instance.uuid)
        await self.api.scheduler.release(ctx, migration.uuid)
        await self.api.conductor.migration_update(ctx, migration.uuid, status="confirmed")

    async def restore(self, server_id: str) -> None:
        """Bring a soft-deleted server back (→ ACTIVE)."""
        ctx, instance = await self._begin(server_id, "restore", task_states.RESTORING)
        await self.api.compute.restore_instance(ctx, self._host(instance), instance.uuid)

    async def force_delete(self, server_id: str) -> None:
        """Delete the server now, in any vm_state: a soft-deleted one skips its grace time."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:os-deferred-delete:force", instance.project_id)
        check_instance_state(ctx, instance, "force_delete")
        await self.delete(server_id, action="force_delete")  # type: ignore[attr-defined]

    # -- lock ------------------------------------------------------------------

    async def lock(self, server_id: str) -> None:
        """Lock the server: non-admins can no longer act on it.

        Locking a locked server again is a no-op for a non-admin, as in Nova, so an
        owner cannot turn an administrator's lock into one it may lift.
        """
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:os-lock-server:lock", instance.project_id)
        if instance.locked and not ctx.is_admin:
            return
        locked_by = "admin" if ctx.is_admin else "owner"
        await self.api.conductor.instance_update(
            ctx, instance.uuid, {"locked": True, "locked_by": locked_by}
        )
        await self.api.conductor.action_start(ctx, instance.uuid, "lock")

    async def unlock(self, server_id: str) -> None:
        """Unlock; a lock set by an admin can only be removed by an admin."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:os-lock-server:unlock", instance.project_id)
        if instance.locked_by == "admin" and not ctx.is_admin:
            raise Forbidden(f"Server {server_id} was locked by an administrator.")
        await self.api.conductor.instance_update(
            ctx, instance.uuid, {"locked": False, "locked_by": None}
        )
        await self.api.conductor.action_start(ctx, instance.uuid, "unlock")

    # -- volumes ---------------------------------------------------------------

    async def attach_volume(self, server_id: str, volume_id: str, device: str | None = None) -> str:
        """Attach a volume; returns the device name it gets."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:os-volumes-attachments:create", instance.project_id)
        check_instance_state(ctx, instance, "attach_volume")
        used = {b.device_name for b in instance.block_devices}
        mountpoint = device or next(
            f"/dev/vd{letter}"
            for letter in "bcdefghijklmnopqrstuvwxyz"
            if f"/dev/vd{letter}" not in used
        )
        await self.api.volume.reserve(ctx, volume_id)
        await self.api.conductor.action_start(ctx, instance.uuid, "attach_volume")
        if instance.host is None:
            await self.api.volume.attach(ctx, volume_id, instance.uuid, mountpoint)
            mapping = objects.BlockDevice(
                source_type="volume",
                volume_id=volume_id,
                device_name=mountpoint,
                delete_on_termination=False,
            )
            await self.api.conductor.instance_update(
                ctx, instance.uuid, {"block_devices": [*instance.block_devices, mapping]}
            )
        else:
            await self.api.compute.attach_volume(
                ctx, instance.host, instance.uuid, volume_id, mountpoint
            )
        return mountpoint

    async def detach_volume(self, server_id: str, volume_id: str) -> None:
        """Detach a volume attached to the server."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:os-volumes-attachments:delete", instance.project_id)
        check_instance_state(ctx, instance, "detach_volume")
        if not any(b.volume_id == volume_id for b in instance.block_devices):
            raise NotFound(f"Volume {volume_id} is not attached to server {server_id}.")
        await self.api.volume.begin_detaching(ctx, volume_id)
        await self.api.conductor.action_start(ctx, instance.uuid, "detach_volume")
        if instance.host is None:
            await self.api.volume.detach(ctx, volume_id, instance.uuid)
            remaining = [b for b in instance.block_devices if b.volume_id != volume_id]
            await self.api.conductor.instance_update(
                ctx, instance.uuid, {"block_devices": remaining}
            )
        else:
            await self.api.compute.detach_volume(ctx, instance.host, instance.uuid, volume_id)

    # -- instance actions --------------------------------------------------------

    async def actions(self, server_id: str) -> list[objects.InstanceAction]:
        """The server's recorded actions with their events (tracebacks for admins)."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id, read_deleted=True)
        return await self.api.conductor.actions_list(ctx, instance.uuid)
