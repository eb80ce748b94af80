"""Server actions through the API: check the state table, claim the task, cast.

Every action is checked, claimed and sent as `claims.ClaimingActions` describes: the
server must be visible, the policy must allow the caller to act on it,
`check_instance_state` must accept its current vm_state and task_state (the one
table in ``compute/allowed_states.py``), whatever another service must accept (an
image name, a flavor, a migration, a volume) is checked next, and only then is the
task_state set with a compare-and-swap on the states just read (of two racing
actions exactly one wins; the other is refused with `InstanceInvalidState`) and the
action recorded (os-instance-actions) under the request's id. A cast that fails
gives the claim back.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

import structlog

from nova_lite import objects, validators
from nova_lite.api.claims import ClaimingActions
from nova_lite.compute import migration_states, task_states, vm_states
from nova_lite.compute.allowed_states import check_instance_state
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Forbidden,
    Invalid,
    NotFound,
    NovaLiteError,
)

if TYPE_CHECKING:
    from nova_lite.api.client import NovaAPI, Session

__all__ = ["ServerActions"]

log = structlog.get_logger(__name__)

IMAGE_NAME_MAX = 255  # the image service's limit (Glance's)
SHELVED_SUFFIX = "-shelved"


class ServerActions(ClaimingActions):
    """The lifecycle actions of ``session.servers``."""

    session: Session
    api: NovaAPI

    async def _local_delete(self, ctx: RequestContext, instance: objects.Instance) -> None:
        raise NotImplementedError

    async def _host_is_up(self, ctx: RequestContext, host: str) -> bool:
        raise NotImplementedError

    # -- power ---------------------------------------------------------------

    async def pause(self, server_id: str) -> None:
        """Freeze the server in memory (ACTIVE → PAUSED)."""
        compute = self.api.compute
        await self._cast_action(server_id, "pause", task_states.PAUSING, compute.pause_instance)

    async def unpause(self, server_id: str) -> None:
        """PAUSED → ACTIVE."""
        send = self.api.compute.unpause_instance
        await self._cast_action(server_id, "unpause", task_states.UNPAUSING, send)

    async def suspend(self, server_id: str) -> None:
        """Save the server's memory to disk and stop it (ACTIVE → SUSPENDED)."""
        send = self.api.compute.suspend_instance
        await self._cast_action(server_id, "suspend", task_states.SUSPENDING, send)

    async def resume(self, server_id: str) -> None:
        """SUSPENDED → ACTIVE."""
        send = self.api.compute.resume_instance
        await self._cast_action(server_id, "resume", task_states.RESUMING, send)

    async def stop(self, server_id: str) -> None:
        """Power the server off (→ SHUTOFF)."""
        compute = self.api.compute
        await self._cast_action(server_id, "stop", task_states.POWERING_OFF, compute.stop_instance)

    async def start(self, server_id: str) -> None:
        """Power a stopped server on (SHUTOFF → ACTIVE)."""
        compute = self.api.compute
        await self._cast_action(server_id, "start", task_states.POWERING_ON, compute.start_instance)

    async def reboot(self, server_id: str, *, hard: bool = False) -> None:
        """Reboot: soft (ask the guest OS; ACTIVE only) or hard (reset; more states)."""
        action = "reboot_hard" if hard else "reboot"
        task = task_states.REBOOTING_HARD if hard else task_states.REBOOTING

        async def send(ctx: RequestContext, host: str, uuid: str) -> None:
            await self.api.compute.reboot_instance(ctx, host, uuid, hard)

        await self._cast_action(server_id, action, task, send)

    # -- rescue, password, rebuild -----------------------------------------------

    async def rescue(self, server_id: str) -> None:
        """Boot the server from a rescue image (→ RESCUE)."""
        send = self.api.compute.rescue_instance
        await self._cast_action(server_id, "rescue", task_states.RESCUING, send)

    async def unrescue(self, server_id: str) -> None:
        """RESCUE → ACTIVE."""
        send = self.api.compute.unrescue_instance
        await self._cast_action(server_id, "unrescue", task_states.UNRESCUING, send)

    async def set_admin_password(self, server_id: str, password: str) -> None:
        """Set the guest's administrator password (status PASSWORD meanwhile)."""
        if not isinstance(password, str) or not password:
            raise Invalid("The admin password must be a non-empty string.")

        async def send(ctx: RequestContext, host: str, uuid: str) -> None:
            await self.api.compute.set_admin_password(ctx, host, uuid, password)

        task = task_states.UPDATING_PASSWORD
        await self._cast_action(server_id, "set_admin_password", task, send)

    async def rebuild(self, server_id: str, image: str) -> None:
        """Replace the server's disk with a fresh copy of `image` (status REBUILD)."""
        ctx = await self.session.context()
        current = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:servers:rebuild", current.project_id)
        new_image = await self._find_image(ctx, image)  # type: ignore[attr-defined]

        async def send(ctx: RequestContext, host: str, uuid: str) -> None:
            await self.api.compute.rebuild_instance(ctx, host, uuid, new_image.id)

        await self._cast_action(server_id, "rebuild", task_states.REBUILDING, send)

    # -- images ----------------------------------------------------------------

    async def snapshot(
        self, server_id: str, name: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Save the server's disk as a new image; returns the image's id at once.

        `metadata` becomes the image's properties, over Nova's own (``image_type``...).
        """
        validators.server_name(name)  # Nova's rule for createImage, before anything else
        properties = {"image_type": "snapshot", **(metadata or {})}
        return await self._image_action(
            server_id, "snapshot", task_states.IMAGE_SNAPSHOT, name, properties
        )

    async def backup(self, server_id: str, name: str, backup_type: str, rotation: int) -> str:
        """Snapshot as a backup, keeping the newest `rotation` backups of `backup_type`."""
        validators.server_name(name)  # Nova's rule for createBackup, before anything else
        validators.server_name(name)  # Nova's rule for createBackup, before the task starts
        if isinstance(rotation, bool) or not isinstance(rotation, int) or rotation < 0:
            raise Invalid(f"rotation must be an integer of at least 0, not {rotation!r}.")
        if not isinstance(backup_type, str) or not backup_type.strip():
            raise Invalid(f"backup_type must be a non-blank string, not {backup_type!r}.")
        properties = {"image_type": "backup", "backup_type": backup_type}
        return await self._image_action(
            server_id,
            "backup",
            task_states.IMAGE_BACKUP,
            name,
            properties,
            backup=(backup_type, rotation),
        )

    async def _image_action(
        self,
        server_id: str,
        action: str,
        task_state: str,
        name: str,
        properties: dict[str, str],
        *,
        backup: tuple[str, int] | None = None,
    ) -> str:
        """A snapshot or backup: the image service accepts the image before the claim."""
        ctx, instance = await self._check(server_id, action)
        host = self._host(instance)
        image = await self._image_for(ctx, instance, name, properties)
        async with (
            self._dropping_on_failure(ctx, image),
            self._claimed(ctx, instance, action, task_state),
        ):
            backup_type, rotation = backup if backup is not None else (None, None)
            await self.api.compute.snapshot_instance(
                ctx, host, instance.uuid, image.id, backup_type, rotation
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

    @contextlib.asynccontextmanager
    async def _dropping_on_failure(
        self, ctx: RequestContext, image: objects.Image
    ) -> AsyncIterator[None]:
        """Delete the image made for an action whose claim or cast then failed."""
        try:
            yield
        except NovaLiteError:
            with contextlib.suppress(NovaLiteError):
                await self.api.image.delete(ctx, image.id)
            raise

    async def shelve(self, server_id: str) -> None:
        """Snapshot and power off the server, then free its host (→ SHELVED_OFFLOADED).

        The snapshot is named after the server, cut to the image service's limit.
        """
        ctx, instance = await self._check(server_id, "shelve")
        host = self._host(instance)
        name = instance.display_name[: IMAGE_NAME_MAX - len(SHELVED_SUFFIX)] + SHELVED_SUFFIX
        image = await self._image_for(ctx, instance, name, {"image_type": "snapshot"})
        async with (
            self._dropping_on_failure(ctx, image),
            self._claimed(ctx, instance, "shelve", task_states.SHELVING),
        ):
            await self.api.compute.shelve_instance(ctx, host, instance.uuid, image.id)

    async def shelve_offload(self, server_id: str) -> None:
        """Free the host of a SHELVED server (→ SHELVED_OFFLOADED)."""
        send = self.api.compute.shelve_offload_instance
        await self._cast_action(server_id, "shelve_offload", task_states.SHELVING_OFFLOADING, send)

    async def unshelve(self, server_id: str) -> None:
        """Bring a shelved server back (scheduled again if it was offloaded)."""
        ctx, instance = await self._check(server_id, "unshelve")
        async with self._claimed(ctx, instance, "unshelve", task_states.UNSHELVING):
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
        ctx, instance = await self._check(server_id, "resize")  # state before flavor, as Nova
        if new_flavor.flavorid == instance.flavor.flavorid:
            raise Invalid(f"Server {server_id} already has flavor {new_flavor.name}.")
        self._host(instance)
        await self._check_resize_quota(ctx, instance, new_flavor)
        async with self._claimed(ctx, instance, "resize", task_states.RESIZE_PREP):
            await self.api.conductor.migrate_server(ctx, instance.uuid, new_flavor)

    async def migrate(self, server_id: str, *, host: str | None = None) -> None:
        """Move the server to another host, keeping its flavor (a cold migration: status
        RESIZE, then VERIFY_RESIZE; confirm or revert as a resize). Administrators only;
        `host` names the destination (it must be a known compute host other than its own)."""
        rule = "os_compute_api:os-migrate-server:migrate"
        ctx, instance = await self._check(server_id, "resize", rule=rule)
        if host is not None:
            await self._check_target(ctx, instance, host, rule + ":host")
        async with self._claimed(ctx, instance, "migrate", task_states.RESIZE_PREP):
            await self.api.conductor.migrate_server(ctx, instance.uuid, instance.flavor, host=host)

    async def live_migrate(self, server_id: str, *, host: str | None = None) -> None:
        """Move the running (or paused) server to another host without stopping it
        (status MIGRATING, then as it was). Administrators only; `host` names the
        destination (a known compute host other than its own), else the scheduler picks."""
        ctx, instance = await self._check(server_id, "live_migrate")
        if host is not None:
            rule = "os_compute_api:os-migrate-server:migrate_live:host"
            await self._check_target(ctx, instance, host, rule)
        else:
            self._host(instance)
        async with self._claimed(ctx, instance, "live-migration", task_states.MIGRATING):
            await self.api.conductor.live_migrate_instance(ctx, instance.uuid, host=host)

    async def _check_target(
        self, ctx: RequestContext, instance: objects.Instance, host: str, rule: str
    ) -> None:
        """A named destination: allowed by `rule`, a known compute host, not the source."""
        source = self._host(instance)
        self.api.authorize(ctx, rule, instance.project_id)
        known = {h["host"] for h in await self.api.scheduler.all_hosts(ctx)}
        if host not in known:
            raise Invalid(f"Compute host {host} could not be found.")
        if host == source:
            raise Invalid(f"The target host can't be the same one ({host}).")

    async def _check_resize_quota(
        self, ctx: RequestContext, instance: objects.Instance, flavor: objects.Flavor
    ) -> None:
        """`QuotaExceeded` (403) if the bigger flavor's extra cores or RAM do not fit."""
        grows = {
            "cores": flavor.vcpus - instance.flavor.vcpus,
            "ram": flavor.memory_mb - instance.flavor.memory_mb,
        }
        wanted = {resource: more for resource, more in grows.items() if more > 0}
        if wanted:
            await self.api.conductor.quota_check(
                ctx, instance.project_id, instance.user_id or None, wanted
            )

    async def _awaiting_confirmation(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> objects.Migration | None:
        """The resize of the instance awaiting confirmation, if there is one."""
        try:
            return await self.api.conductor.migration_for_instance(ctx, instance.uuid)
        except NotFound:
            return None

    async def _migration_to_settle(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> objects.Migration:
        migration = await self._awaiting_confirmation(ctx, instance)
        if migration is None:
            raise NotFound(f"Instance {instance.uuid} has no resize awaiting confirmation.")
        return migration

    async def confirm_resize(self, server_id: str) -> None:
        """Keep the new flavor; the old host's resources are freed (→ ACTIVE/SHUTOFF)."""
        ctx, instance = await self._check(server_id, "confirm_resize")
        migration = await self._migration_to_settle(ctx, instance)
        task = task_states.RESIZE_CONFIRMING
        async with self._claimed(ctx, instance, "confirm_resize", task):
            await self.api.compute.confirm_resize(
                ctx, migration.source_host, instance.uuid, migration.uuid
            )

    async def revert_resize(self, server_id: str) -> None:
        """Go back to the old flavor on the old host.

        The migration is marked ``reverting`` (as Nova does), so a delete that
        arrives meanwhile leaves it to the revert instead of confirming it.
        """
        ctx, instance = await self._check(server_id, "revert_resize")
        migration = await self._migration_to_settle(ctx, instance)
        host = self._host(instance)
        async with self._claimed(ctx, instance, "revert_resize", task_states.RESIZE_REVERTING):
            await self.api.conductor.migration_update(
                ctx, migration.uuid, status=migration_states.REVERTING
            )
            try:
                await self.api.compute.revert_resize(ctx, host, instance.uuid, migration.uuid)
            except NovaLiteError:
                await self.api.conductor.migration_update(
                    ctx, migration.uuid, status=migration_states.FINISHED
                )
                raise

    # -- soft delete -------------------------------------------------------------

    async def soft_delete(self, server_id: str) -> None:
        """Power off and keep the server for ``reclaim_instance_interval`` (SOFT_DELETED).

        As in Nova, a server with no host to keep it (shelved offloaded), or whose
        host is down, is deleted at once instead; a server already being deleted or
        soft-deleted is left to that request.
        """
        ctx, instance = await self._check(server_id, "soft_delete")
        if instance.task_state in (task_states.DELETING, task_states.SOFT_DELETING):
            return
        async with self._claimed(ctx, instance, "soft_delete", task_states.SOFT_DELETING) as got:
            if got.host is None or not await self._host_is_up(ctx, got.host):
                await self._local_delete(ctx, got)
            else:
                await self.api.compute.soft_delete_instance(ctx, got.host, got.uuid)
        await self._confirm_resize_on_deleting(ctx, instance)

    async def delete_deferred(self, server_id: str) -> None:
        """DELETE with ``reclaim_instance_interval`` set: a soft delete, as Nova's API.

        A server that never launched (still building, or whose build failed) has
        nothing to keep, and is deleted at once, as Nova's API falls back to a hard
        delete when the soft delete refuses it.
        """
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        if instance.vm_state == vm_states.BUILDING or instance.launched_at is None:
            await self.delete(server_id)  # type: ignore[attr-defined]
        else:
            await self.soft_delete(server_id)

    async def _confirm_resize_on_deleting(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> None:
        """Settle a resize awaiting confirmation once its server goes, as Nova does.

        The guest already runs on the destination; only the source host's claim,
        kept under the migration's id for a revert, is left to free. Idempotent: a
        server with no resize awaiting confirmation (never resized, confirmed already
        by an earlier delete, or being reverted) has nothing to settle.
        """
        if instance.vm_state != vm_states.RESIZED:
            return
        migration = await self._awaiting_confirmation(ctx, instance)
        if migration is None:
            return
        await self.api.scheduler.release(ctx, migration.uuid)
        await self.api.conductor.migration_update(
            ctx, migration.uuid, status=migration_states.CONFIRMED
        )

    async def restore(self, server_id: str) -> None:
        """Bring a soft-deleted server back (→ ACTIVE)."""
        send = self.api.compute.restore_instance
        await self._cast_action(server_id, "restore", task_states.RESTORING, send)

    async def force_delete(self, server_id: str) -> None:
        """Delete the server now, in any vm_state and task_state (Nova's forceDelete)."""
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
            ctx, instance.uuid, {"locked": True, "locked_by": locked_by}, action="lock"
        )

    async def unlock(self, server_id: str) -> None:
        """Unlock; a lock set by an admin can only be removed by an admin."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:os-lock-server:unlock", instance.project_id)
        if instance.locked_by == "admin" and not ctx.is_admin:
            raise Forbidden(f"Server {server_id} was locked by an administrator.")
        await self.api.conductor.instance_update(
            ctx, instance.uuid, {"locked": False, "locked_by": None}, action="unlock"
        )

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
        try:
            await self.api.conductor.action_start(ctx, instance.uuid, "attach_volume")
            await self._send_attach(ctx, instance, volume_id, mountpoint)
        except NovaLiteError:
            with contextlib.suppress(NovaLiteError):
                await self.api.volume.unreserve(ctx, volume_id)
            with contextlib.suppress(NovaLiteError):
                await self.api.conductor.action_discard(ctx, instance.uuid, "attach_volume")
            raise
        return mountpoint

    async def _send_attach(
        self, ctx: RequestContext, instance: objects.Instance, volume_id: str, mountpoint: str
    ) -> None:
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

    async def detach_volume(self, server_id: str, volume_id: str) -> None:
        """Detach a volume attached to the server."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "os_compute_api:os-volumes-attachments:delete", instance.project_id)
        check_instance_state(ctx, instance, "detach_volume")
        if not any(b.volume_id == volume_id for b in instance.block_devices):
            raise NotFound(f"Volume {volume_id} is not attached to server {server_id}.")
        await self.api.volume.begin_detaching(ctx, volume_id)
        try:
            await self.api.conductor.action_start(ctx, instance.uuid, "detach_volume")
            await self._send_detach(ctx, instance, volume_id)
        except NovaLiteError:
            with contextlib.suppress(NovaLiteError):
                await self.api.volume.roll_detaching(ctx, volume_id)
            with contextlib.suppress(NovaLiteError):
                await self.api.conductor.action_discard(ctx, instance.uuid, "detach_volume")
            raise

    async def _send_detach(
        self, ctx: RequestContext, instance: objects.Instance, volume_id: str
    ) -> None:
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
