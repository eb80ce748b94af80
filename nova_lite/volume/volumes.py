"""Volumes themselves: create (blank, from an image, a snapshot or another volume),
show, list, update, metadata, delete and force delete (changes: ``changes.py``).

Each endpoint authorizes with Cinder's rule name, then makes its change in one write
transaction: a status compare-and-swap where the status matters, quota checks where
the project grows. Nothing real stores the bytes: a new, extended or cloned volume is
``available`` at once.
"""

from __future__ import annotations

import builtins
import uuid
from typing import Any, ClassVar

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound, VolumeInvalidState
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume import backend, messages, validation
from nova_lite.volume.group_rows import check_member
from nova_lite.volume.quotas import QuotaBook
from nova_lite.volume.schema import DEFAULT_TYPE_ID
from nova_lite.volume.sources import Sources, image_metadata
from nova_lite.volume.store import VolumeStore, dumps, now, write

__all__ = ["VolumeRecords"]

log = structlog.get_logger(__name__)

_V = "volume:"
RULES = {
    "create": _V + "create",
    "create_from_image": _V + "create_from_image",
    "get": _V + "get",
    "get_all": _V + "get_all",
    "update": _V + "update",
    "delete": _V + "delete",
    "force_delete": "volume_extension:volume_admin_actions:force_delete",
    "get_metadata": _V + "get_volume_metadata",
    "create_metadata": _V + "create_volume_metadata",
    "update_metadata": _V + "update_volume_metadata",
    "delete_metadata": _V + "delete_volume_metadata",
}
_UPDATABLE = ("name", "description", "metadata")


class VolumeRecords:
    """The volume endpoints that are not about attachments (see the module docstring)."""

    target: ClassVar[Target] = Target(version="1.1")  # 1.1: list(attached_to)

    def __init__(
        self,
        store: VolumeStore,
        policy: Enforcer,
        quotas: QuotaBook,
        images: ImageAPI,
        *,
        availability_zone: str,
    ) -> None:
        self.store = store
        self.policy = policy
        self.quotas = quotas
        self.images = images
        self.availability_zone = availability_zone

    @endpoint
    async def create(
        self,
        ctx: RequestContext,
        size: int | None,
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
        """Create a volume of `size` GiB for the caller's project.

        From an image (bootable; the image must be active and fit), a snapshot or
        another volume (each the caller can see; `size` defaults to the source's and
        may not be smaller). The type is named by id or name (default: the source's,
        else ``__DEFAULT__``). In the generic volume group `group_id`, if the group is
        available and allows the type (`groups.check_member`).
        """
        own = {"project_id": ctx.project_id}
        self.policy.authorize(ctx, RULES["create"], own)
        fields = Sources(
            name=check.volume_name(name),
            description=validation.description(description),
            metadata=validation.metadata(metadata),
            availability_zone=self._zone(availability_zone),
        )
        if image_id is not None:
            self.policy.authorize(ctx, RULES["create_from_image"], own)
            await self._from_image(ctx, check.text("imageRef", image_id), fields)
        async with self.store.db.transaction() as conn:
            if snapshot_id is not None:
                await self._from_snapshot(conn, ctx, check.text("snapshot_id", snapshot_id), fields)
            if source_volid is not None:
                await self._from_volume(conn, ctx, check.text("source_volid", source_volid), fields)
            size = fields.size_for(size)
            chosen = await self._type(conn, ctx, volume_type, fields)
            type_id = None if chosen is None else chosen.id
            if group_id is not None:
                group_id = check.text("group_id", group_id)
                await check_member(conn, ctx, group_id, type_id or DEFAULT_TYPE_ID)
            await self.quotas.check(conn, ctx.project_id, volumes=1, gigabytes=size, size=size)
            volume_id = str(uuid.uuid4())
            await write(
                conn,
                "INSERT INTO volumes (id, name, size, status, project_id, user_id, image_id, "
                "bootable, created_at, description, metadata, volume_type_id, "
                "availability_zone, snapshot_id, source_volid, image_metadata, group_id) "
                "VALUES (?, ?, ?, 'creating', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    volume_id,
                    fields.name,
                    size,
                    ctx.project_id,
                    ctx.user_id,
                    fields.image_id,
                    fields.bootable,
                    now(),
                    fields.description,
                    dumps(fields.metadata),
                    type_id,
                    fields.availability_zone,
                    fields.snapshot_id,
                    fields.source_volid,
                    dumps(fields.image_metadata),
                    group_id,
                ),
            )
            # No storage to provision: the backend is "done" at once, if it fits the type.
            fits = chosen is None or not backend.unmet(chosen.extra_specs)
            status = "available" if fits else "error"
            await self.store.swap_status(conn, ctx, volume_id, ("creating",), status, "create")
            if not fits:
                await messages.record(conn, ctx, volume_id)
            volume = await self.store.volume_in(conn, ctx, volume_id)
        log.info("volume.created", volume_id=volume_id, size=size, image_id=fields.image_id)
        return volume

    def _zone(self, zone: str | None) -> str:
        if zone is None:
            return self.availability_zone
        if zone != self.availability_zone:
            raise Invalid(
                f"Availability zone {zone!r} is invalid: the volume service serves "
                f"{self.availability_zone!r} only."
            )
        return zone

    async def _from_image(self, ctx: RequestContext, image_id: str, fields: Sources) -> None:
        """The image must be one the caller can see (Cinder asks Glance), and active."""
        image = await self.images.get(ctx, image_id)
        if image.status != "active":
            raise Invalid(f"Image {image.id} is not active (its status is {image.status!r}).")
        gib = -(-(image.size or 0) // 1024**3)
        fields.minimum = max(image.min_disk, gib, 1)
        fields.image_id = image.id
        fields.bootable = True
        fields.image_metadata = image_metadata(image)

    async def _from_snapshot(
        self, conn: aiosqlite.Connection, ctx: RequestContext, snapshot_id: str, fields: Sources
    ) -> None:
        snapshot = await self.store.snapshot(ctx, snapshot_id, conn)
        if snapshot.status != "available":
            raise Invalid(f"Snapshot {snapshot.id} is {snapshot.status!r}, not 'available'.")
        source = await self.store.volume_in(conn, ctx, snapshot.volume_id)
        fields.inherit(source, minimum=snapshot.size)
        fields.snapshot_id = snapshot.id

    async def _from_volume(
        self, conn: aiosqlite.Connection, ctx: RequestContext, volume_id: str, fields: Sources
    ) -> None:
        source = await self.store.volume_in(conn, ctx, volume_id)
        if source.status not in ("available", "in-use"):
            raise Invalid(f"Volume {source.id} is {source.status!r}; it cannot be cloned.")
        fields.inherit(source, minimum=source.size)
        fields.source_volid = source.id

    async def _type(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        volume_type: str | None,
        fields: Sources,
    ) -> objects.VolumeType | None:
        """The type asked for, else the source's; None: the default type."""
        wanted = volume_type if volume_type is not None else fields.volume_type_id
        if wanted is None:
            return None
        return await self.store.volume_type(ctx, check.text("volume_type", wanted), conn)

    @endpoint
    async def get(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """One volume of the caller's project (any, for admins); VolumeNotFound otherwise."""
        volume = await self.store.volume(ctx, check.text("volume_id", volume_id))
        self.policy.authorize(ctx, RULES["get"], {"project_id": volume.project_id})
        return volume

    @endpoint
    async def list(
        self, ctx: RequestContext, attached_to: str | None = None
    ) -> builtins.list[objects.Volume]:
        """The caller's project's volumes (all, for admins), oldest first; with
        `attached_to` (1.1), only those attached to that server.

        A server's delete asks for its volumes: read through the attachments'
        index on the server, not every volume of the cloud filtered by the caller.
        """
        self.policy.authorize(ctx, RULES["get_all"], {"project_id": ctx.project_id})
        if attached_to is not None:
            return await self.store.volumes_attached_to(ctx, check.text("attached_to", attached_to))
        return await self.store.volumes(ctx)

    @endpoint
    async def update(
        self, ctx: RequestContext, volume_id: str, changes: dict[str, Any]
    ) -> objects.Volume:
        """Rename a volume, change its description, or replace its metadata."""
        unknown = set(changes) - set(_UPDATABLE)
        if unknown:
            raise Invalid(f"A volume update may change only {', '.join(_UPDATABLE)}.")
        columns: dict[str, Any] = {}
        if "name" in changes:
            columns["name"] = check.volume_name(changes["name"])
        if "description" in changes:
            columns["description"] = validation.description(changes["description"])
        if "metadata" in changes:
            columns["metadata"] = dumps(validation.metadata(changes["metadata"]))
        return await self._change(ctx, volume_id, "update", **columns)

    @endpoint
    async def set_metadata(
        self, ctx: RequestContext, volume_id: str, metadata: dict[str, str], replace: bool
    ) -> dict[str, str]:
        """Add to (or, with `replace`, replace) a volume's metadata; the result."""
        given = validation.metadata(metadata)
        volume = await self._authorized(ctx, volume_id, "update_metadata")
        merged = given if replace else {**volume.metadata, **given}
        changed = await self._change(ctx, volume.id, None, metadata=dumps(merged))
        return changed.metadata

    @endpoint
    async def delete_metadata(self, ctx: RequestContext, volume_id: str, key: str) -> None:
        """Remove one metadata key (`NotFound` if the volume has no such key)."""
        volume = await self._authorized(ctx, volume_id, "delete_metadata")
        if key not in volume.metadata:
            raise _metadata_not_found(volume.id, key)
        remaining = {k: v for k, v in volume.metadata.items() if k != key}
        await self._change(ctx, volume.id, None, metadata=dumps(remaining))

    @endpoint
    async def delete(self, ctx: RequestContext, volume_id: str, cascade: bool = False) -> None:
        """Delete an available or errored volume (with `cascade`, its snapshots too)."""
        volume = await self._authorized(ctx, volume_id, "delete")
        async with self.store.db.transaction() as conn:
            await self._check_snapshots(conn, volume.id, cascade)
            await self.store.swap_status(
                conn,
                ctx,
                volume.id,
                ("available", "error", "error_restoring", "error_extending", "error_managing"),
                "deleting",
                "delete",
            )
        await self._remove(volume.id)

    @endpoint
    async def force_delete(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete a volume whatever its status, unless attached (admins, os-force_delete)."""
        volume = await self.store.volume(ctx, check.text("volume_id", volume_id))
        self.policy.authorize(ctx, RULES["force_delete"], {"project_id": volume.project_id})
        if volume.attached_to is not None:
            raise VolumeInvalidState(
                f"Volume {volume.id} is attached to {volume.attached_to}; detach it first.",
                volume_id=volume.id,
                status=volume.status,
            )
        async with self.store.db.transaction() as conn:
            await self._check_snapshots(conn, volume.id, cascade=False)
            await self.store.swap_status(
                conn, ctx, volume.id, (volume.status,), "deleting", "delete"
            )
        await self._remove(volume.id)

    async def _check_snapshots(
        self, conn: aiosqlite.Connection, volume_id: str, cascade: bool
    ) -> None:
        async with conn.execute(
            "SELECT count(*) FROM snapshots WHERE volume_id = ?", (volume_id,)
        ) as cursor:
            row = await cursor.fetchone()
        count = row[0] if row else 0
        if count and not cascade:
            raise VolumeInvalidState(
                f"Volume {volume_id} still has {count} dependent snapshots.",
                volume_id=volume_id,
                status="available",
            )
        await write(conn, "DELETE FROM snapshots WHERE volume_id = ?", (volume_id,))

    async def _remove(self, volume_id: str) -> None:
        async with self.store.db.transaction() as conn:
            await write(conn, "DELETE FROM volumes WHERE id = ?", (volume_id,))
        log.info("volume.deleted", volume_id=volume_id)

    async def _authorized(self, ctx: RequestContext, volume_id: str, action: str) -> objects.Volume:
        volume = await self.store.volume(ctx, check.text("volume_id", volume_id))
        self.policy.authorize(ctx, RULES[action], {"project_id": volume.project_id})
        return volume

    async def _change(
        self, ctx: RequestContext, volume_id: str, action: str | None, **columns: Any
    ) -> objects.Volume:
        """Authorize `action` (unless the caller did), set `columns`, return the volume."""
        if action is not None:
            await self._authorized(ctx, volume_id, action)
        async with self.store.db.transaction() as conn:
            if columns:
                await self.store.set_columns(conn, ctx, volume_id, **columns)
            return await self.store.volume_in(conn, ctx, volume_id)


def _metadata_not_found(volume_id: str, key: str) -> NotFound:
    return NotFound(f"Volume {volume_id} has no metadata with key {key!r}.")
