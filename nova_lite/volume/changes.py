"""Changes to an existing volume: extend, retype, bootable and read-only flags, image
metadata, and an administrator's status reset.

Each endpoint authorizes with Cinder's rule name, then makes its change in one write
transaction: a status compare-and-swap where the status matters (extend needs an
available volume, retype an available or in-use one), a quota check where it grows.
"""

from __future__ import annotations

from typing import Any

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume import validation
from nova_lite.volume.quotas import QuotaBook
from nova_lite.volume.store import VolumeStore, dumps

__all__ = ["RESET_STATUSES", "VolumeChanges"]

#: The statuses an administrator may force a volume into (Cinder's reset_status).
RESET_STATUSES = (
    "available",
    "error",
    "creating",
    "deleting",
    "error_deleting",
    "attaching",
    "in-use",
    "detaching",
    "maintenance",
    "reserved",
)
RULES = {
    "update": "volume:update",
    "reset_status": "volume_extension:volume_admin_actions:reset_status",
    "extend": "volume:extend",
    "retype": "volume:retype",
    "readonly": "volume:update_readonly_flag",
    "image_metadata_set": "volume_extension:volume_image_metadata:set",
    "image_metadata_remove": "volume_extension:volume_image_metadata:remove",
}


class VolumeChanges:
    """The endpoints that change an existing volume (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer, quotas: QuotaBook) -> None:
        self.store = store
        self.policy = policy
        self.quotas = quotas

    @endpoint
    async def set_image_metadata(
        self, ctx: RequestContext, volume_id: str, metadata: dict[str, str]
    ) -> dict[str, str]:
        """Add to a volume's image metadata (``os-set_image_metadata``); the result."""
        given = validation.metadata(metadata)
        volume = await self._authorized(ctx, volume_id, "image_metadata_set")
        merged = {**volume.image_metadata, **given}
        return (
            await self._change(ctx, volume.id, None, image_metadata=dumps(merged))
        ).image_metadata

    @endpoint
    async def delete_image_metadata(self, ctx: RequestContext, volume_id: str, key: str) -> None:
        """Remove one key of a volume's image metadata (``os-unset_image_metadata``)."""
        volume = await self._authorized(ctx, volume_id, "image_metadata_remove")
        if key not in volume.image_metadata:
            raise _metadata_not_found(volume.id, key)
        remaining = {k: v for k, v in volume.image_metadata.items() if k != key}
        await self._change(ctx, volume.id, None, image_metadata=dumps(remaining))

    @endpoint
    async def set_bootable(
        self, ctx: RequestContext, volume_id: str, bootable: bool
    ) -> objects.Volume:
        """Mark a volume bootable or not (``os-set_bootable``)."""
        return await self._change(
            ctx, volume_id, "update", bootable=check.boolean("bootable", bootable)
        )

    @endpoint
    async def set_readonly(
        self, ctx: RequestContext, volume_id: str, readonly: bool
    ) -> objects.Volume:
        """Set a volume's read-only flag (``os-update_readonly_flag``)."""
        return await self._change(
            ctx, volume_id, "readonly", readonly=check.boolean("readonly", readonly)
        )

    @endpoint
    async def extend(self, ctx: RequestContext, volume_id: str, new_size: int) -> objects.Volume:
        """Grow an available volume to `new_size` GiB (more than it has, within quota)."""
        new_size = validation.size(new_size, "new_size")
        volume = await self._authorized(ctx, volume_id, "extend")
        if new_size <= volume.size:
            raise Invalid(
                f"New size for extend must be greater than current size "
                f"(current: {volume.size}, extended: {new_size})."
            )
        async with self.store.db.transaction() as conn:
            await self.quotas.check(
                conn, volume.project_id, gigabytes=new_size - volume.size, size=new_size
            )
            await self.store.swap_status(
                conn, ctx, volume.id, ("available",), "available", "extend", size=new_size
            )
            return await self.store.volume_in(conn, ctx, volume.id)

    @endpoint
    async def retype(
        self, ctx: RequestContext, volume_id: str, new_type: str, migration_policy: str = "never"
    ) -> objects.Volume:
        """Give a volume another type (``os-retype``; one backend: nothing moves)."""
        volume = await self._authorized(ctx, volume_id, "retype")
        if migration_policy not in ("never", "on-demand"):
            raise Invalid(f"migration_policy must be never or on-demand, not {migration_policy!r}.")
        async with self.store.db.transaction() as conn:
            target = await self.store.volume_type(ctx, check.text("new_type", new_type), conn)
            if target.id == volume.volume_type_id:
                raise Invalid(f"Volume {volume.id} already has type {target.name!r}.")
            await self.store.swap_status(
                conn,
                ctx,
                volume.id,
                ("available", "in-use"),
                volume.status,
                "retype",
                volume_type_id=target.id,
            )
            return await self.store.volume_in(conn, ctx, volume.id)

    @endpoint
    async def reset_status(
        self, ctx: RequestContext, volume_id: str, status: str
    ) -> objects.Volume:
        """Force a volume's status (admin only, like ``cinder reset-state``).

        Attachments are left as they are.
        """
        self.policy.authorize(ctx, RULES["reset_status"], {"project_id": None})
        if status not in RESET_STATUSES:
            allowed = ", ".join(RESET_STATUSES)
            raise Invalid(f"status must be one of {allowed}; not {status!r}.")
        volume_id = check.text("volume_id", volume_id)
        async with self.store.db.transaction() as conn:
            current = await self.store.volume_in(conn, ctx, volume_id)
            await self.store.swap_status(
                conn, ctx, volume_id, (current.status,), status, "reset_status"
            )
            return await self.store.volume_in(conn, ctx, volume_id)

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
    return NotFound(f"Volume {volume_id} has no image metadata with key {key!r}.")
