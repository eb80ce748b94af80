"""The client side of the volume service: what the API and compute call to reach it."""

from __future__ import annotations

import builtins
from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI
from nova_lite.volume.groups_rpcapi import VolumeGroupCalls

__all__ = ["VolumeAPI"]


class VolumeAPI(VolumeGroupCalls, RPCAPI):
    """The volume service's RPC API, version 1.1 (every method is a call).

    1.1: ``list``'s `attached_to` (the volumes attached to one server, found by the
    attachment's index instead of read all: sent as 1.1 only with it, so a 1.0
    server still answers every other call).

    An attach is ``reserve`` then ``attach`` (``unreserve`` if it fails); a detach is
    ``begin_detaching`` then ``detach`` (``roll_detaching`` if it fails). Compute uses
    those and ``create``, ``get``, ``list`` and ``delete``; the rest is Cinder's API
    (the generic volume groups' methods are `VolumeGroupCalls`').
    """

    topic: ClassVar[str] = "volume"
    version: ClassVar[str] = "1.0"

    # -- volumes ------------------------------------------------------------------------

    async def create(
        self,
        ctx: RequestContext,
        size: int | None,
        *,
        name: str | None = "",
        image_id: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        volume_type: str | None = None,
        availability_zone: str | None = None,
        snapshot_id: str | None = None,
        source_volid: str | None = None,
        group_id: str | None = None,
    ) -> objects.Volume:
        """Create a volume of `size` GiB (1 to 16384): blank, or from an image (bootable),
        a snapshot or another volume (`size` None: the source's); in a group."""
        sources = {
            "description": description,
            "metadata": metadata,
            "volume_type": volume_type,
            "availability_zone": availability_zone,
            "snapshot_id": snapshot_id,
            "source_volid": source_volid,
            "group_id": group_id,
        }
        extra = {k: v for k, v in sources.items() if v is not None}
        result: objects.Volume = await self.invoker.call(
            ctx, "create", size=size, name=name, image_id=image_id, **extra
        )
        return result

    async def get(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """One visible volume (VolumeNotFound otherwise)."""
        return await self._volume_call(ctx, "get", volume_id)

    async def list(
        self, ctx: RequestContext, *, attached_to: str | None = None
    ) -> builtins.list[objects.Volume]:
        """The caller's project's volumes (all, for admins); with `attached_to` (1.1),
        only those attached to that server."""
        if attached_to is None:
            result: builtins.list[objects.Volume] = await self.invoker.call(ctx, "list")
        else:
            result = await self.invoker.prepare(version="1.1").call(
                ctx, "list", attached_to=attached_to
            )
        return result

    async def update(
        self, ctx: RequestContext, volume_id: str, changes: dict[str, Any]
    ) -> objects.Volume:
        """Change a volume's name, description or (replacing it) metadata."""
        return await self._volume_call(ctx, "update", volume_id, changes=changes)

    async def set_metadata(
        self, ctx: RequestContext, volume_id: str, metadata: dict[str, str], *, replace: bool
    ) -> dict[str, str]:
        """Add to (or replace) a volume's metadata; the metadata afterwards."""
        result: dict[str, str] = await self.invoker.call(
            ctx, "set_metadata", volume_id=volume_id, metadata=metadata, replace=replace
        )
        return result

    async def delete_metadata(self, ctx: RequestContext, volume_id: str, key: str) -> None:
        """Remove one key of a volume's metadata."""
        await self.invoker.call(ctx, "delete_metadata", volume_id=volume_id, key=key)

    async def set_image_metadata(
        self, ctx: RequestContext, volume_id: str, metadata: dict[str, str]
    ) -> dict[str, str]:
        """Add to a volume's image metadata; the image metadata afterwards."""
        result: dict[str, str] = await self.invoker.call(
            ctx, "set_image_metadata", volume_id=volume_id, metadata=metadata
        )
        return result

    async def delete_image_metadata(self, ctx: RequestContext, volume_id: str, key: str) -> None:
        """Remove one key of a volume's image metadata."""
        await self.invoker.call(ctx, "delete_image_metadata", volume_id=volume_id, key=key)

    async def set_bootable(
        self, ctx: RequestContext, volume_id: str, bootable: bool
    ) -> objects.Volume:
        """Mark a volume bootable or not."""
        return await self._volume_call(ctx, "set_bootable", volume_id, bootable=bootable)

    async def set_readonly(
        self, ctx: RequestContext, volume_id: str, readonly: bool
    ) -> objects.Volume:
        """Set a volume's read-only flag."""
        return await self._volume_call(ctx, "set_readonly", volume_id, readonly=readonly)

    async def extend(self, ctx: RequestContext, volume_id: str, new_size: int) -> objects.Volume:
        """Grow an available volume to `new_size` GiB."""
        return await self._volume_call(ctx, "extend", volume_id, new_size=new_size)

    async def retype(
        self, ctx: RequestContext, volume_id: str, new_type: str, migration_policy: str = "never"
    ) -> objects.Volume:
        """Give a volume another type (by id or name)."""
        return await self._volume_call(
            ctx, "retype", volume_id, new_type=new_type, migration_policy=migration_policy
        )

    async def delete(self, ctx: RequestContext, volume_id: str, *, cascade: bool = False) -> None:
        """Delete an available or errored volume (`cascade`: its snapshots too)."""
        kwargs = {"cascade": True} if cascade else {}
        await self.invoker.call(ctx, "delete", volume_id=volume_id, **kwargs)

    async def force_delete(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete a volume in any status but attached (admin only)."""
        await self.invoker.call(ctx, "force_delete", volume_id=volume_id)

    async def reset_status(
        self, ctx: RequestContext, volume_id: str, status: str
    ) -> objects.Volume:
        """Force a volume's status (admin only)."""
        return await self._volume_call(ctx, "reset_status", volume_id, status=status)

    async def upload_to_image(
        self,
        ctx: RequestContext,
        volume_id: str,
        image_name: str,
        *,
        disk_format: str = "raw",
        container_format: str = "bare",
        visibility: str = "private",
        force: bool = False,
    ) -> dict[str, Any]:
        """Start copying a volume into a new image; Cinder's answer about it."""
        result: dict[str, Any] = await self.invoker.call(
            ctx,
            "upload_to_image",
            volume_id=volume_id,
            image_name=image_name,
            disk_format=disk_format,
            container_format=container_format,
            visibility=visibility,
            force=force,
        )
        return result

    # -- attachments --------------------------------------------------------------------

    async def reserve(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """available -> attaching, or VolumeInvalidState."""
        return await self._volume_call(ctx, "reserve", volume_id)

    async def unreserve(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """attaching -> available, or VolumeInvalidState."""
        return await self._volume_call(ctx, "unreserve", volume_id)

    async def attach(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str, mountpoint: str
    ) -> objects.Volume:
        """attaching -> in-use, recording the instance and mountpoint."""
        return await self._volume_call(
            ctx, "attach", volume_id, instance_uuid=instance_uuid, mountpoint=mountpoint
        )

    async def begin_detaching(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """in-use -> detaching, or VolumeInvalidState."""
        return await self._volume_call(ctx, "begin_detaching", volume_id)

    async def roll_detaching(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """detaching -> in-use, or VolumeInvalidState."""
        return await self._volume_call(ctx, "roll_detaching", volume_id)

    async def detach(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str
    ) -> objects.Volume:
        """in-use or detaching -> available, ending the attachment to `instance_uuid`."""
        return await self._volume_call(ctx, "detach", volume_id, instance_uuid=instance_uuid)

    async def force_detach(
        self, ctx: RequestContext, volume_id: str, attachment_id: str | None = None
    ) -> objects.Volume:
        """End a volume's attachment whatever its status (admin only)."""
        result: objects.Volume = await self.invoker.call(
            ctx, "force_detach", volume_id=volume_id, attachment_id=attachment_id
        )
        return result

    # -- snapshots ----------------------------------------------------------------------

    async def snapshot_create(
        self,
        ctx: RequestContext,
        volume_id: str,
        *,
        name: str | None = "",
        description: str | None = None,
        force: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> objects.VolumeSnapshot:
        """Snapshot an available volume (an in-use one with `force`)."""
        result: objects.VolumeSnapshot = await self.invoker.call(
            ctx,
            "snapshot_create",
            volume_id=volume_id,
            name=name,
            description=description,
            force=force,
            metadata=metadata,
        )
        return result

    async def snapshot_get(self, ctx: RequestContext, snapshot_id: str) -> objects.VolumeSnapshot:
        """One visible snapshot (VolumeSnapshotNotFound otherwise)."""
        return await self._snapshot_call(ctx, "snapshot_get", snapshot_id)

    async def snapshot_list(self, ctx: RequestContext) -> builtins.list[objects.VolumeSnapshot]:
        """The snapshots the caller can see."""
        result: builtins.list[objects.VolumeSnapshot] = await self.invoker.call(
            ctx, "snapshot_list"
        )
        return result

    async def snapshot_update(
        self, ctx: RequestContext, snapshot_id: str, changes: dict[str, Any]
    ) -> objects.VolumeSnapshot:
        """Change a snapshot's name or description."""
        return await self._snapshot_call(ctx, "snapshot_update", snapshot_id, changes=changes)

    async def snapshot_set_metadata(
        self, ctx: RequestContext, snapshot_id: str, metadata: dict[str, str], *, replace: bool
    ) -> dict[str, str]:
        """Add to (or replace) a snapshot's metadata; the metadata afterwards."""
        result: dict[str, str] = await self.invoker.call(
            ctx,
            "snapshot_set_metadata",
            snapshot_id=snapshot_id,
            metadata=metadata,
            replace=replace,
        )
        return result

    async def snapshot_delete_metadata(
        self, ctx: RequestContext, snapshot_id: str, key: str
    ) -> None:
        """Remove one key of a snapshot's metadata."""
        await self.invoker.call(ctx, "snapshot_delete_metadata", snapshot_id=snapshot_id, key=key)

    async def snapshot_delete(self, ctx: RequestContext, snapshot_id: str) -> None:
        """Delete an available or errored snapshot."""
        await self.invoker.call(ctx, "snapshot_delete", snapshot_id=snapshot_id)

    async def snapshot_force_delete(self, ctx: RequestContext, snapshot_id: str) -> None:
        """Delete a snapshot in any status (admin only)."""
        await self.invoker.call(ctx, "snapshot_force_delete", snapshot_id=snapshot_id)

    async def snapshot_reset_status(
        self, ctx: RequestContext, snapshot_id: str, status: str
    ) -> objects.VolumeSnapshot:
        """Force a snapshot's status (admin only)."""
        return await self._snapshot_call(ctx, "snapshot_reset_status", snapshot_id, status=status)

    async def snapshot_update_status(
        self, ctx: RequestContext, snapshot_id: str, status: str, progress: str | None = None
    ) -> objects.VolumeSnapshot:
        """Move a snapshot on (creating -> available or error, deleting -> error_deleting)."""
        result: objects.VolumeSnapshot = await self.invoker.call(
            ctx,
            "snapshot_update_status",
            snapshot_id=snapshot_id,
            status=status,
            progress=progress,
        )
        return result

    # -- volume types -------------------------------------------------------------------

    async def type_create(
        self,
        ctx: RequestContext,
        name: str,
        *,
        description: str | None = None,
        is_public: bool = True,
        extra_specs: dict[str, str] | None = None,
    ) -> objects.VolumeType:
        """A new volume type (admin only)."""
        result: objects.VolumeType = await self.invoker.call(
            ctx,
            "type_create",
            name=name,
            description=description,
            is_public=is_public,
            extra_specs=extra_specs,
        )
        return result

    async def type_get(self, ctx: RequestContext, type_id: str) -> objects.VolumeType:
        """One volume type (``default``: the default type)."""
        result: objects.VolumeType = await self.invoker.call(ctx, "type_get", type_id=type_id)
        return result

    async def type_list(
        self, ctx: RequestContext, is_public: bool | None = None
    ) -> builtins.list[objects.VolumeType]:
        """The volume types the caller may use."""
        result: builtins.list[objects.VolumeType] = await self.invoker.call(
            ctx, "type_list", is_public=is_public
        )
        return result

    async def type_update(
        self, ctx: RequestContext, type_id: str, changes: dict[str, Any]
    ) -> objects.VolumeType:
        """Change a type's name, description or is_public (admin only)."""
        result: objects.VolumeType = await self.invoker.call(
            ctx, "type_update", type_id=type_id, changes=changes
        )
        return result

    async def type_delete(self, ctx: RequestContext, type_id: str) -> None:
        """Delete a type no volume has (admin only)."""
        await self.invoker.call(ctx, "type_delete", type_id=type_id)

    async def type_set_extra_specs(
        self, ctx: RequestContext, type_id: str, extra_specs: dict[str, str], *, only: str = ""
    ) -> dict[str, str]:
        """Add or change extra specs (with `only`: exactly that key); what was set."""
        result: dict[str, str] = await self.invoker.call(
            ctx, "type_set_extra_specs", type_id=type_id, extra_specs=extra_specs, only=only
        )
        return result

    async def type_delete_extra_spec(self, ctx: RequestContext, type_id: str, key: str) -> None:
        """Remove one extra spec (admin only)."""
        await self.invoker.call(ctx, "type_delete_extra_spec", type_id=type_id, key=key)

    async def type_access_list(self, ctx: RequestContext, type_id: str) -> builtins.list[str]:
        """The projects a private type was given to (admin only)."""
        result: builtins.list[str] = await self.invoker.call(
            ctx, "type_access_list", type_id=type_id
        )
        return result

    async def type_access_add(self, ctx: RequestContext, type_id: str, project_id: str) -> None:
        """Give a project a private type (admin only)."""
        await self.invoker.call(ctx, "type_access_add", type_id=type_id, project_id=project_id)

    async def type_access_remove(self, ctx: RequestContext, type_id: str, project_id: str) -> None:
        """Take a private type from a project (admin only)."""
        await self.invoker.call(ctx, "type_access_remove", type_id=type_id, project_id=project_id)

    async def type_encryption_set(
        self, ctx: RequestContext, type_id: str, encryption: dict[str, Any], *, create: bool
    ) -> dict[str, Any]:
        """Create or change a type's encryption (admin only)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "type_encryption_set", type_id=type_id, encryption=encryption, create=create
        )
        return result

    async def type_encryption_get(self, ctx: RequestContext, type_id: str) -> dict[str, Any]:
        """A type's encryption (empty: none)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "type_encryption_get", type_id=type_id
        )
        return result

    async def type_encryption_delete(self, ctx: RequestContext, type_id: str) -> None:
        """Remove a type's encryption (admin only)."""
        await self.invoker.call(ctx, "type_encryption_delete", type_id=type_id)

    # -- transfers ------------------------------------------------------------------------

    async def transfer_create(
        self,
        ctx: RequestContext,
        volume_id: str,
        *,
        name: str | None = None,
        no_snapshots: bool = False,
    ) -> dict[str, Any]:
        """Offer a volume to another project; the offer with its one-time ``auth_key``."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "transfer_create", volume_id=volume_id, name=name, no_snapshots=no_snapshots
        )
        return result

    async def transfer_get(self, ctx: RequestContext, transfer_id: str) -> dict[str, Any]:
        """One offer of the caller's project."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "transfer_get", transfer_id=transfer_id
        )
        return result

    async def transfer_list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """The offers of the caller's project."""
        result: builtins.list[dict[str, Any]] = await self.invoker.call(ctx, "transfer_list")
        return result

    async def transfer_delete(self, ctx: RequestContext, transfer_id: str) -> None:
        """Withdraw an offer."""
        await self.invoker.call(ctx, "transfer_delete", transfer_id=transfer_id)

    async def transfer_accept(
        self, ctx: RequestContext, transfer_id: str, auth_key: str
    ) -> dict[str, Any]:
        """Take an offered volume into the caller's project."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "transfer_accept", transfer_id=transfer_id, auth_key=auth_key
        )
        return result

    # -- QoS specs ------------------------------------------------------------------------

    async def qos_create(
        self,
        ctx: RequestContext,
        name: str,
        *,
        consumer: str = "back-end",
        specs: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """New QoS specs (admin only)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "qos_create", name=name, consumer=consumer, specs=specs
        )
        return result

    async def qos_get(self, ctx: RequestContext, qos_id: str) -> dict[str, Any]:
        """One QoS specs (admin only)."""
        result: dict[str, Any] = await self.invoker.call(ctx, "qos_get", qos_id=qos_id)
        return result

    async def qos_list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """Every QoS specs (admin only)."""
        result: builtins.list[dict[str, Any]] = await self.invoker.call(ctx, "qos_list")
        return result

    async def qos_set_keys(
        self, ctx: RequestContext, qos_id: str, specs: dict[str, str]
    ) -> dict[str, str]:
        """Add or change keys of QoS specs (admin only)."""
        result: dict[str, str] = await self.invoker.call(
            ctx, "qos_set_keys", qos_id=qos_id, specs=specs
        )
        return result

    async def qos_unset_keys(
        self, ctx: RequestContext, qos_id: str, keys: builtins.list[str]
    ) -> None:
        """Remove keys of QoS specs (admin only)."""
        await self.invoker.call(ctx, "qos_unset_keys", qos_id=qos_id, keys=keys)

    async def qos_delete(self, ctx: RequestContext, qos_id: str, *, force: bool = False) -> None:
        """Delete QoS specs (admin only)."""
        await self.invoker.call(ctx, "qos_delete", qos_id=qos_id, force=force)

    async def qos_associate(self, ctx: RequestContext, qos_id: str, type_id: str) -> None:
        """Associate QoS specs with a volume type (admin only)."""
        await self.invoker.call(ctx, "qos_associate", qos_id=qos_id, type_id=type_id)

    async def qos_disassociate(self, ctx: RequestContext, qos_id: str, type_id: str) -> None:
        """Dissociate QoS specs from a volume type (admin only)."""
        await self.invoker.call(ctx, "qos_disassociate", qos_id=qos_id, type_id=type_id)

    async def qos_disassociate_all(self, ctx: RequestContext, qos_id: str) -> None:
        """Dissociate QoS specs from every type (admin only)."""
        await self.invoker.call(ctx, "qos_disassociate_all", qos_id=qos_id)

    async def qos_associations(
        self, ctx: RequestContext, qos_id: str
    ) -> builtins.list[dict[str, str]]:
        """The types QoS specs are associated with (admin only)."""
        result: builtins.list[dict[str, str]] = await self.invoker.call(
            ctx, "qos_associations", qos_id=qos_id
        )
        return result

    # -- user messages ------------------------------------------------------------------

    async def message_list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """The caller's project's user messages."""
        result: builtins.list[dict[str, Any]] = await self.invoker.call(ctx, "message_list")
        return result

    async def message_get(self, ctx: RequestContext, message_id: str) -> dict[str, Any]:
        """One user message."""
        result: dict[str, Any] = await self.invoker.call(ctx, "message_get", message_id=message_id)
        return result

    async def message_delete(self, ctx: RequestContext, message_id: str) -> None:
        """Delete a user message."""
        await self.invoker.call(ctx, "message_delete", message_id=message_id)

    # -- backups --------------------------------------------------------------------------

    async def backup_create(
        self,
        ctx: RequestContext,
        volume_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        incremental: bool = False,
        force: bool = False,
        snapshot_id: str | None = None,
        container: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Back a volume up (a record: there is no backup store)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx,
            "backup_create",
            volume_id=volume_id,
            name=name,
            description=description,
            incremental=incremental,
            force=force,
            snapshot_id=snapshot_id,
            container=container,
            metadata=metadata,
        )
        return result

    async def backup_get(self, ctx: RequestContext, backup_id: str) -> dict[str, Any]:
        """One backup."""
        result: dict[str, Any] = await self.invoker.call(ctx, "backup_get", backup_id=backup_id)
        return result

    async def backup_list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """The backups the caller can see."""
        result: builtins.list[dict[str, Any]] = await self.invoker.call(ctx, "backup_list")
        return result

    async def backup_update(
        self, ctx: RequestContext, backup_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a backup's name, description or metadata."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "backup_update", backup_id=backup_id, changes=changes
        )
        return result

    async def backup_delete(self, ctx: RequestContext, backup_id: str) -> None:
        """Delete a backup no other depends on."""
        await self.invoker.call(ctx, "backup_delete", backup_id=backup_id)

    async def backup_force_delete(self, ctx: RequestContext, backup_id: str) -> None:
        """Delete a backup in any status (admin only)."""
        await self.invoker.call(ctx, "backup_force_delete", backup_id=backup_id)

    async def backup_reset_status(
        self, ctx: RequestContext, backup_id: str, status: str
    ) -> dict[str, Any]:
        """Force a backup's status (admin only)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "backup_reset_status", backup_id=backup_id, status=status
        )
        return result

    async def backup_restore(
        self,
        ctx: RequestContext,
        backup_id: str,
        *,
        volume_id: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Restore a backup into a new volume (or an existing one)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "backup_restore", backup_id=backup_id, volume_id=volume_id, name=name
        )
        return result

    async def backup_export(self, ctx: RequestContext, backup_id: str) -> dict[str, str]:
        """A backup's record (admin only)."""
        result: dict[str, str] = await self.invoker.call(ctx, "backup_export", backup_id=backup_id)
        return result

    async def backup_import(
        self, ctx: RequestContext, backup_service: str, backup_url: str
    ) -> dict[str, Any]:
        """A backup made from an exported record (admin only)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "backup_import", backup_service=backup_service, backup_url=backup_url
        )
        return result

    # -- quotas and the service ----------------------------------------------------------

    async def quota_show(
        self, ctx: RequestContext, project_id: str, *, usage: bool = False
    ) -> dict[str, Any]:
        """A project's volume limits (with `usage`: limit, in_use, reserved each)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "quota_show", project_id=project_id, usage=usage
        )
        return result

    async def quota_defaults(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        """The default volume limits."""
        result: dict[str, int] = await self.invoker.call(
            ctx, "quota_defaults", project_id=project_id
        )
        return result

    async def quota_update(
        self, ctx: RequestContext, project_id: str, limits: dict[str, Any]
    ) -> dict[str, int]:
        """Set some of a project's volume limits (admin only); its limits afterwards."""
        result: dict[str, int] = await self.invoker.call(
            ctx, "quota_update", project_id=project_id, limits=limits
        )
        return result

    async def quota_delete(self, ctx: RequestContext, project_id: str) -> None:
        """Give a project the default volume limits again (admin only)."""
        await self.invoker.call(ctx, "quota_delete", project_id=project_id)

    async def quota_class_show(self, ctx: RequestContext, class_name: str) -> dict[str, int]:
        """A quota class's volume limits (admin only)."""
        result: dict[str, int] = await self.invoker.call(
            ctx, "quota_class_show", class_name=class_name
        )
        return result

    async def quota_class_update(
        self, ctx: RequestContext, class_name: str, limits: dict[str, Any]
    ) -> dict[str, int]:
        """Set some of a quota class's volume limits (admin only)."""
        result: dict[str, int] = await self.invoker.call(
            ctx, "quota_class_update", class_name=class_name, limits=limits
        )
        return result

    async def service_status(self, ctx: RequestContext) -> dict[str, Any]:
        """The volume service's host, zone and times."""
        result: dict[str, Any] = await self.invoker.call(ctx, "service_status")
        return result

    async def service_set(
        self, ctx: RequestContext, binary: str, *, disabled: bool, reason: str | None = None
    ) -> dict[str, Any]:
        """Enable or disable one of the service's binaries (admin only)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "service_set", binary=binary, disabled=disabled, reason=reason
        )
        return result

    async def service_freeze(self, ctx: RequestContext, *, frozen: bool) -> None:
        """Freeze or thaw the backend (admin only)."""
        await self.invoker.call(ctx, "service_freeze", frozen=frozen)

    async def _volume_call(
        self, ctx: RequestContext, method: str, volume_id: str, **kwargs: Any
    ) -> objects.Volume:
        result: objects.Volume = await self.invoker.call(ctx, method, volume_id=volume_id, **kwargs)
        return result

    async def _snapshot_call(
        self, ctx: RequestContext, method: str, snapshot_id: str, **kwargs: Any
    ) -> objects.VolumeSnapshot:
        result: objects.VolumeSnapshot = await self.invoker.call(
            ctx, method, snapshot_id=snapshot_id, **kwargs
        )
        return result
