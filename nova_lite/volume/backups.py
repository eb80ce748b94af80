"""Volume backups (Cinder's backups API), kept as records: there is no backup store.

A backup records what its volume is at the time (size, metadata, bootability, source
image, type), of an available volume or an in-use one with ``force``; an
incremental one needs a full backup of the volume before it and depends on the
latest. It is ``available`` at once. Restoring makes a new volume from the record (or
fills an available volume at least as big), within the project's quota; a backup
another depends on cannot be deleted. Administrators reset statuses, force deletes,
and export a backup's record (base64 JSON, as Cinder's ``backup_url``) to import it
again (into their own project), under a new id if they change it. Backups and their
gigabytes count against the ``backups`` and ``backup_gigabytes`` quotas.
"""

from __future__ import annotations

import base64
import builtins
import sqlite3
import uuid
from typing import Any

import aiosqlite
import orjson
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound, VolumeInvalidState
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume import validation
from nova_lite.volume.quotas import QuotaBook
from nova_lite.volume.store import VolumeStore, assignments, dumps, marks, now, write

__all__ = ["BACKUP_SERVICE", "BackupRecords"]

log = structlog.get_logger(__name__)

#: The name an exported record gives its backup service (Cinder's drivers' module path).
BACKUP_SERVICE = "cinder.backup.drivers.nova_lite"
STATUSES = ("available", "error", "creating", "deleting", "restoring", "error_deleting")
_B = "backup:"
RULES = {
    "create": _B + "create",
    "get": _B + "get",
    "get_all": _B + "get_all",
    "update": _B + "update",
    "delete": _B + "delete",
    "restore": _B + "restore",
    "export": _B + "export-import",
    "import": _B + "backup-import",
    "reset_status": "volume_extension:backup_admin_actions:reset_status",
    "force_delete": "volume_extension:backup_admin_actions:force_delete",
}


class BackupRecords:
    """The backup endpoints (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer, quotas: QuotaBook) -> None:
        self.store = store
        self.policy = policy
        self.quotas = quotas

    @endpoint
    async def backup_create(
        self,
        ctx: RequestContext,
        volume_id: str,
        name: str | None = None,
        description: str | None = None,
        incremental: bool = False,
        force: bool = False,
        snapshot_id: str | None = None,
        container: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Back a volume (or one of its snapshots) up; the new backup."""
        volume = await self.store.volume(ctx, check.text("volume_id", volume_id))
        self.policy.authorize(ctx, RULES["create"], {"project_id": volume.project_id})
        allowed = ("available", "in-use") if check.boolean("force", force) else ("available",)
        if volume.status not in allowed:
            raise VolumeInvalidState(
                f"Volume {volume.id} is {volume.status!r}; a backup needs status "
                f"{' or '.join(map(repr, allowed))}.",
                volume_id=volume.id,
                status=volume.status,
            )
        if snapshot_id is not None:
            snapshot = await self.store.snapshot(ctx, check.text("snapshot_id", snapshot_id))
            if snapshot.volume_id != volume.id:
                raise Invalid(f"Snapshot {snapshot.id} is not of volume {volume.id}.")
        backup_id = str(uuid.uuid4())
        async with self.store.db.transaction() as conn:
            parent = await self._parent(conn, volume.id) if incremental else None
            await self.quotas.check(
                conn, volume.project_id, backups=1, backup_gigabytes=volume.size
            )
            await self._insert(
                conn,
                {
                    "id": backup_id,
                    "volume_id": volume.id,
                    "snapshot_id": snapshot_id,
                    "name": None if name is None else check.volume_name(name),
                    "description": validation.description(description),
                    "size": volume.size,
                    "status": "available",
                    "project_id": volume.project_id,
                    "user_id": ctx.user_id,
                    "parent_id": parent,
                    "container": container,
                    "availability_zone": volume.availability_zone,
                    "metadata": validation.metadata(metadata),
                    "volume": _recorded(volume),
                    "created_at": now(),
                },
            )
            backup = await self._row(conn, backup_id)
        log.info("volume.backed_up", backup_id=backup_id, volume_id=volume.id)
        return backup

    async def _parent(self, conn: aiosqlite.Connection, volume_id: str) -> str:
        async with conn.execute(
            "SELECT id FROM backups WHERE volume_id = ? AND status = 'available' "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (volume_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise Invalid(f"No backups available to do an incremental backup of {volume_id}.")
        return str(row["id"])

    @endpoint
    async def backup_get(self, ctx: RequestContext, backup_id: str) -> dict[str, Any]:
        """One backup of the caller's project (any, for admins)."""
        return await self._authorized(ctx, backup_id, "get")

    @endpoint
    async def backup_list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """The backups the caller can see, oldest first."""
        self.policy.authorize(ctx, RULES["get_all"], {"project_id": ctx.project_id})
        rows = await self.store.db.fetchall(
            f"{_SELECT} WHERE ? OR b.project_id = ? ORDER BY b.rowid",
            (ctx.is_admin, ctx.project_id),
        )
        return [_shown(row) for row in rows]

    @endpoint
    async def backup_update(
        self, ctx: RequestContext, backup_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a backup's name, description or metadata."""
        if set(changes) - {"name", "description", "metadata"}:
            raise Invalid("A backup update may change only name, description and metadata.")
        current = await self._authorized(ctx, backup_id, "update")
        columns: dict[str, Any] = {}
        if "name" in changes:
            columns["name"] = check.volume_name(changes["name"])
        if "description" in changes:
            columns["description"] = validation.description(changes["description"])
        if "metadata" in changes:
            columns["metadata"] = dumps(validation.metadata(changes["metadata"]))
        return await self._set(current["id"], **columns)

    @endpoint
    async def backup_delete(self, ctx: RequestContext, backup_id: str) -> None:
        """Delete an available or errored backup no other backup depends on."""
        current = await self._authorized(ctx, backup_id, "delete")
        await self._remove(current, ("available", "error"))

    @endpoint
    async def backup_force_delete(self, ctx: RequestContext, backup_id: str) -> None:
        """Delete a backup in any status (admins)."""
        current = await self._authorized(ctx, backup_id, "force_delete")
        await self._remove(current, (current["status"],))

    @endpoint
    async def backup_reset_status(
        self, ctx: RequestContext, backup_id: str, status: str
    ) -> dict[str, Any]:
        """Force a backup's status (admins)."""
        current = await self._authorized(ctx, backup_id, "reset_status")
        if status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}; not {status!r}.")
        return await self._set(current["id"], status=status)

    @endpoint
    async def backup_restore(
        self,
        ctx: RequestContext,
        backup_id: str,
        volume_id: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Restore a backup into a new volume (or an available one big enough)."""
        backup = await self._authorized(ctx, backup_id, "restore")
        if backup["status"] != "available":
            raise Invalid(f"Backup {backup['id']} is {backup['status']!r}, not 'available'.")
        recorded = backup["volume"]
        async with self.store.db.transaction() as conn:
            if volume_id is None:
                target = await self._new_volume(conn, ctx, backup, name)
            else:
                target = await self.store.volume_in(conn, ctx, check.text("volume_id", volume_id))
                if target.size < backup["size"]:
                    raise Invalid(
                        f"Volume {target.id} ({target.size}G) is smaller than the backup "
                        f"({backup['size']}G)."
                    )
                await self.store.swap_status(
                    conn, ctx, target.id, ("available",), "available", "restore"
                )
            await self.store.set_columns(
                conn,
                ctx,
                target.id,
                metadata=dumps(recorded.get("metadata", {})),
                bootable=bool(recorded.get("bootable")),
                image_id=recorded.get("image_id"),
                image_metadata=dumps(recorded.get("image_metadata", {})),
            )
            restored = await self.store.volume_in(conn, ctx, target.id)
        return {"backup_id": backup["id"], "volume_id": restored.id, "volume_name": restored.name}

    async def _new_volume(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        backup: dict[str, Any],
        name: str | None,
    ) -> objects.Volume:
        size = backup["size"]
        await self.quotas.check(conn, ctx.project_id, volumes=1, gigabytes=size, size=size)
        volume_id = str(uuid.uuid4())
        volume_name = name if name is not None else f"restore_backup_{backup['id']}"
        await write(
            conn,
            "INSERT INTO volumes (id, name, size, status, project_id, user_id, created_at, "
            "volume_type_id, availability_zone) VALUES (?, ?, ?, 'available', ?, ?, ?, ?, ?)",
            (
                volume_id,
                check.volume_name(volume_name),
                size,
                ctx.project_id,
                ctx.user_id,
                now(),
                backup["volume"].get("volume_type_id"),
                backup["availability_zone"] or "nova",
            ),
        )
        return await self.store.volume_in(conn, ctx, volume_id)

    @endpoint
    async def backup_export(self, ctx: RequestContext, backup_id: str) -> dict[str, str]:
        """A backup's record, to import again (admins)."""
        backup = await self._authorized(ctx, backup_id, "export")
        url = base64.b64encode(orjson.dumps(backup)).decode()
        return {"backup_service": BACKUP_SERVICE, "backup_url": url}

    @endpoint
    async def backup_import(
        self, ctx: RequestContext, backup_service: str, backup_url: str
    ) -> dict[str, Any]:
        """Make a backup from an exported record (admins): the record's id, in the
        importer's project."""
        self.policy.authorize(ctx, RULES["import"], {"project_id": ctx.project_id})
        if backup_service != BACKUP_SERVICE:
            raise Invalid(f"Unsupported backup service {backup_service!r}.")
        try:
            record = orjson.loads(base64.b64decode(backup_url, validate=True))
            # As Cinder's import_record: the backup belongs to the importer's project.
            record = {
                **record,
                "status": "available",
                "parent_id": None,
                "project_id": ctx.project_id,
                "user_id": ctx.user_id,
            }
            async with self.store.db.transaction() as conn:
                await self._insert(conn, record)
                return await self._row(conn, record["id"])
        except sqlite3.IntegrityError:
            raise Conflict("A backup with the record's id already exists.") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise Invalid(f"The backup record cannot be read: {exc}.") from None

    async def _authorized(self, ctx: RequestContext, backup_id: str, action: str) -> dict[str, Any]:
        row = await self.store.db.fetchone(
            f"{_SELECT} WHERE b.id = ? AND (? OR b.project_id = ?)",
            (check.text("backup_id", backup_id), ctx.is_admin, ctx.project_id),
        )
        if row is None:
            raise NotFound(f"Backup {backup_id} could not be found.")
        backup = _shown(row)
        self.policy.authorize(ctx, RULES[action], {"project_id": backup["project_id"]})
        return backup

    async def _insert(self, conn: aiosqlite.Connection, record: dict[str, Any]) -> None:
        await write(
            conn,
            "INSERT INTO backups (id, volume_id, snapshot_id, name, description, size, "
            "status, project_id, user_id, parent_id, container, availability_zone, "
            "metadata, volume, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                check.text("id", record["id"]),
                record["volume_id"],
                record.get("snapshot_id"),
                record.get("name"),
                record.get("description"),
                int(record["size"]),
                record["status"],
                record.get("project_id"),
                record.get("user_id"),
                record.get("parent_id"),
                record.get("container"),
                record.get("availability_zone"),
                dumps(record.get("metadata") or {}),
                dumps(record.get("volume") or {}),
                record.get("created_at") or now(),
            ),
        )

    async def _row(self, conn: aiosqlite.Connection, backup_id: str) -> dict[str, Any]:
        async with conn.execute(f"{_SELECT} WHERE b.id = ?", (backup_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"Backup {backup_id} could not be found.")
        return _shown(row)

    async def _set(self, backup_id: str, **columns: Any) -> dict[str, Any]:
        async with self.store.db.transaction() as conn:
            if columns:
                await write(
                    conn,
                    f"UPDATE backups SET {assignments('backups', columns)}, updated_at = ? "
                    "WHERE id = ?",
                    (*columns.values(), now(), backup_id),
                )
            return await self._row(conn, backup_id)

    async def _remove(self, backup: dict[str, Any], expected: tuple[str, ...]) -> None:
        if backup["has_dependent_backups"]:
            raise Invalid(f"Incremental backups exist for backup {backup['id']}.")
        async with self.store.db.transaction() as conn:
            removed = await write(
                conn,
                f"DELETE FROM backups WHERE id = ? AND status IN ({marks(expected)})",
                (backup["id"], *expected),
            )
        if not removed:
            raise Invalid(
                f"Backup {backup['id']} is {backup['status']!r}; delete needs status "
                f"{' or '.join(map(repr, expected))}."
            )


_SELECT = (
    "SELECT b.*, EXISTS (SELECT 1 FROM backups c WHERE c.parent_id = b.id) AS dependents "
    "FROM backups b"
)


def _recorded(volume: objects.Volume) -> dict[str, Any]:
    return {
        "metadata": dict(volume.metadata),
        "bootable": volume.bootable,
        "image_id": volume.image_id,
        "image_metadata": dict(volume.image_metadata),
        "volume_type_id": volume.volume_type_id,
    }


def _shown(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "volume_id": row["volume_id"],
        "snapshot_id": row["snapshot_id"],
        "name": row["name"],
        "description": row["description"],
        "size": row["size"],
        "status": row["status"],
        "project_id": row["project_id"],
        "user_id": row["user_id"],
        "parent_id": row["parent_id"],
        "is_incremental": row["parent_id"] is not None,
        "has_dependent_backups": bool(row["dependents"]),
        "container": row["container"],
        "availability_zone": row["availability_zone"],
        "metadata": orjson.loads(row["metadata"]),
        "volume": orjson.loads(row["volume"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
