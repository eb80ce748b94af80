"""Volume snapshots (Cinder's): create, show, list, update, metadata, delete, admin actions.

A snapshot belongs to its volume's project and records the volume's size. It is taken
of an available volume, or of an in-use one with ``force``, and is ``available`` at
once (no storage behind it). A volume with snapshots cannot be deleted, unless the
delete cascades (`VolumeRecords.delete`); a new volume can be made from an available
snapshot (`VolumeRecords.create`).
"""

from __future__ import annotations

import builtins
import uuid
from typing import Any

import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound, VolumeInvalidState
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume import validation
from nova_lite.volume.quotas import QuotaBook
from nova_lite.volume.store import VolumeStore, assignments, dumps, marks, now, write

__all__ = ["SNAPSHOT_STATUSES", "SnapshotRecords"]

log = structlog.get_logger(__name__)

#: The statuses a snapshot may be reset to (Cinder's snapshot reset_status).
SNAPSHOT_STATUSES = (
    "creating",
    "available",
    "deleting",
    "error",
    "error_deleting",
    "backing-up",
    "restoring",
    "unmanaging",
)
# os-update_snapshot_status: which status each status may be moved to by its owner.
_UPDATES = {
    "creating": ("creating", "available", "error"),
    "deleting": ("deleting", "error_deleting"),
}
RULES = {
    "create": "volume:create_snapshot",
    "get": "volume:get_snapshot",
    "get_all": "volume:get_all_snapshots",
    "update": "volume:update_snapshot",
    "delete": "volume:delete_snapshot",
    "get_metadata": "volume:get_snapshot_metadata",
    "update_metadata": "volume:update_snapshot_metadata",
    "delete_metadata": "volume:delete_snapshot_metadata",
    "reset_status": "volume_extension:snapshot_admin_actions:reset_status",
    "force_delete": "volume_extension:snapshot_admin_actions:force_delete",
    "update_status": "snapshot_extension:snapshot_actions:update_snapshot_status",
}


class SnapshotRecords:
    """The snapshot endpoints (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer, quotas: QuotaBook) -> None:
        self.store = store
        self.policy = policy
        self.quotas = quotas

    @endpoint
    async def snapshot_create(
        self,
        ctx: RequestContext,
        volume_id: str,
        name: str | None = "",
        description: str | None = None,
        force: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> objects.VolumeSnapshot:
        """Snapshot an available volume (an in-use one with `force`)."""
        name = check.volume_name(name)
        description = validation.description(description)
        metadata = validation.metadata(metadata)
        force = check.boolean("force", force)
        volume = await self.store.volume(ctx, check.text("volume_id", volume_id))
        self.policy.authorize(ctx, RULES["create"], {"project_id": volume.project_id})
        allowed = ("available", "in-use") if force else ("available",)
        if volume.status not in allowed:
            raise VolumeInvalidState(
                f"Volume {volume.id} is {volume.status!r}; a snapshot needs status "
                f"{' or '.join(map(repr, allowed))}"
                + ("" if force else " (or 'in-use' with force)")
                + ".",
                volume_id=volume.id,
                status=volume.status,
            )
        snapshot_id = str(uuid.uuid4())
        async with self.store.db.transaction() as conn:
            await self.quotas.check(conn, volume.project_id, snapshots=1, gigabytes=volume.size)
            await write(
                conn,
                "INSERT INTO snapshots (id, volume_id, name, description, size, status, "
                "project_id, user_id, metadata, progress, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'available', ?, ?, ?, '100%', ?)",
                (
                    snapshot_id,
                    volume.id,
                    name,
                    description,
                    volume.size,
                    volume.project_id,
                    ctx.user_id,
                    dumps(metadata),
                    now(),
                ),
            )
            snapshot = await self.store.snapshot(ctx, snapshot_id, conn)
        log.info("volume.snapshot_created", snapshot_id=snapshot_id, volume_id=volume.id)
        return snapshot

    @endpoint
    async def snapshot_get(self, ctx: RequestContext, snapshot_id: str) -> objects.VolumeSnapshot:
        """One snapshot the caller can see."""
        return await self._authorized(ctx, snapshot_id, "get")

    @endpoint
    async def snapshot_list(self, ctx: RequestContext) -> builtins.list[objects.VolumeSnapshot]:
        """The snapshots the caller can see (an administrator: every project's)."""
        self.policy.authorize(ctx, RULES["get_all"], {"project_id": ctx.project_id})
        return await self.store.snapshots(ctx)

    @endpoint
    async def snapshot_update(
        self, ctx: RequestContext, snapshot_id: str, changes: dict[str, Any]
    ) -> objects.VolumeSnapshot:
        """Rename a snapshot or change its description."""
        if set(changes) - {"name", "description"}:
            raise Invalid("A snapshot update may change only name and description.")
        columns: dict[str, Any] = {}
        if "name" in changes:
            columns["name"] = check.volume_name(changes["name"])
        if "description" in changes:
            columns["description"] = validation.description(changes["description"])
        snapshot = await self._authorized(ctx, snapshot_id, "update")
        return await self._set(ctx, snapshot.id, **columns)

    @endpoint
    async def snapshot_set_metadata(
        self, ctx: RequestContext, snapshot_id: str, metadata: dict[str, str], replace: bool
    ) -> dict[str, str]:
        """Add to (or, with `replace`, replace) a snapshot's metadata; the result."""
        given = validation.metadata(metadata)
        snapshot = await self._authorized(ctx, snapshot_id, "update_metadata")
        merged = given if replace else {**snapshot.metadata, **given}
        return (await self._set(ctx, snapshot.id, metadata=dumps(merged))).metadata

    @endpoint
    async def snapshot_delete_metadata(
        self, ctx: RequestContext, snapshot_id: str, key: str
    ) -> None:
        """Remove one key of a snapshot's metadata (`NotFound` if it has none such)."""
        snapshot = await self._authorized(ctx, snapshot_id, "delete_metadata")
        if key not in snapshot.metadata:
            raise NotFound(f"Snapshot {snapshot.id} has no metadata with key {key!r}.")
        remaining = {k: v for k, v in snapshot.metadata.items() if k != key}
        await self._set(ctx, snapshot.id, metadata=dumps(remaining))

    @endpoint
    async def snapshot_delete(self, ctx: RequestContext, snapshot_id: str) -> None:
        """Delete an available or errored snapshot."""
        snapshot = await self._authorized(ctx, snapshot_id, "delete")
        await self._remove(ctx, snapshot, ("available", "error"))

    @endpoint
    async def snapshot_force_delete(self, ctx: RequestContext, snapshot_id: str) -> None:
        """Delete a snapshot whatever its status (admins, ``os-force_delete``)."""
        snapshot = await self.store.snapshot(ctx, check.text("snapshot_id", snapshot_id))
        self.policy.authorize(ctx, RULES["force_delete"], {"project_id": snapshot.project_id})
        await self._remove(ctx, snapshot, (snapshot.status,))

    @endpoint
    async def snapshot_reset_status(
        self, ctx: RequestContext, snapshot_id: str, status: str
    ) -> objects.VolumeSnapshot:
        """Force a snapshot's status (admins, ``os-reset_status``)."""
        snapshot = await self.store.snapshot(ctx, check.text("snapshot_id", snapshot_id))
        self.policy.authorize(ctx, RULES["reset_status"], {"project_id": snapshot.project_id})
        if status not in SNAPSHOT_STATUSES:
            raise Invalid(f"status must be one of {', '.join(SNAPSHOT_STATUSES)}; not {status!r}.")
        return await self._set(ctx, snapshot.id, status=status)

    @endpoint
    async def snapshot_update_status(
        self, ctx: RequestContext, snapshot_id: str, status: str, progress: str | None = None
    ) -> objects.VolumeSnapshot:
        """Move a snapshot on as its backend would (``os-update_snapshot_status``)."""
        snapshot = await self._authorized(ctx, snapshot_id, "update_status")
        allowed = _UPDATES.get(snapshot.status, ())
        if status not in allowed:
            raise Invalid(f"Snapshot status {snapshot.status!r} cannot be updated to {status!r}.")
        columns: dict[str, Any] = {"status": status}
        if progress is not None:
            columns["progress"] = check.text("progress", progress, max_length=255)
        return await self._set(ctx, snapshot.id, **columns)

    async def _authorized(
        self, ctx: RequestContext, snapshot_id: str, action: str
    ) -> objects.VolumeSnapshot:
        snapshot = await self.store.snapshot(ctx, check.text("snapshot_id", snapshot_id))
        self.policy.authorize(ctx, RULES[action], {"project_id": snapshot.project_id})
        return snapshot

    async def _set(
        self, ctx: RequestContext, snapshot_id: str, **columns: Any
    ) -> objects.VolumeSnapshot:
        async with self.store.db.transaction() as conn:
            if columns:
                await write(
                    conn,
                    f"UPDATE snapshots SET {assignments('snapshots', columns)}, updated_at = ? "
                    "WHERE id = ?",
                    (*columns.values(), now(), snapshot_id),
                )
            return await self.store.snapshot(ctx, snapshot_id, conn)

    async def _remove(
        self, ctx: RequestContext, snapshot: objects.VolumeSnapshot, expected: tuple[str, ...]
    ) -> None:
        async with self.store.db.transaction() as conn:
            removed = await write(
                conn,
                f"DELETE FROM snapshots WHERE id = ? AND status IN ({marks(expected)})",
                (snapshot.id, *expected),
            )
            if not removed:
                current = await self.store.snapshot(ctx, snapshot.id, conn)
                raise VolumeInvalidState(
                    f"Snapshot {snapshot.id} is {current.status!r}; delete needs status "
                    f"{' or '.join(map(repr, expected))}.",
                    volume_id=snapshot.volume_id,
                    status=current.status,
                )
        log.info("volume.snapshot_deleted", snapshot_id=snapshot.id)
