"""The volume service's tables, read and written: volumes, snapshots, types and quotas.

Every write the parts make goes through here, inside one write transaction of the
service's database, so that a status compare-and-swap and what depends on it (an
attachment row, a snapshot, a quota count) commit together or not at all. Reads
apply Cinder's visibility: a caller sees its own project's rows, an administrator
every project's. Rows become the model objects of `nova_lite.objects` here and
nowhere else.
"""

from __future__ import annotations

import builtins
import datetime
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite
import orjson

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import (
    VolumeInvalidState,
    VolumeNotFound,
    VolumeSnapshotNotFound,
    VolumeTypeNotFound,
)
from nova_lite.volume.schema import DEFAULT_TYPE_ID

__all__ = ["VolumeStore", "assignments", "marks", "now", "write"]

_VISIBLE = "(? OR v.project_id = ?)"  # parameters: is the caller admin, its project
_SELECT_VOLUME = (
    "SELECT v.*, a.id AS attachment_id, a.instance_uuid, a.mountpoint, a.attached_at, "
    "a.host AS attached_host, t.name AS type_name FROM volumes v "
    "LEFT JOIN attachments a ON a.volume_id = v.id AND a.detached_at IS NULL "
    "LEFT JOIN volume_types t ON t.id = COALESCE(v.volume_type_id, ?) "
)
_SELECT_SNAPSHOT = "SELECT s.* FROM snapshots s "
_TYPE_VISIBLE = (
    "(? OR t.is_public OR EXISTS (SELECT 1 FROM volume_type_access x "
    "WHERE x.volume_type_id = t.id AND x.project_id = ?))"
)


def now() -> str:
    """The current time as the tables store it (ISO 8601, UTC)."""
    return objects.utcnow().isoformat()


async def write(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> int:
    """Run one write statement; the number of rows it changed."""
    async with conn.execute(sql, tuple(params)) as cursor:
        return cursor.rowcount


#: The columns an UPDATE may set, per table: the only names ever spliced into SQL text.
COLUMNS = {
    "volumes": frozenset(
        {"name", "description", "metadata", "size", "bootable", "readonly", "image_id",
         "image_metadata", "volume_type_id"}
    ),
    "snapshots": frozenset({"name", "description", "metadata", "status", "progress"}),
    "volume_types": frozenset({"name", "description", "is_public"}),
    "backups": frozenset({"name", "description", "metadata", "status"}),
}  # fmt: skip


def assignments(table: str, columns: Iterable[str]) -> str:
    """``a = ?, b = ?`` for `columns`, each checked against `COLUMNS` (`ValueError` if not)."""
    names = list(columns)
    unknown = set(names) - COLUMNS[table]
    if unknown:
        raise ValueError(f"{table} has no updatable column {sorted(unknown)}.")
    return ", ".join(f"{name} = ?" for name in names)


def marks(values: Iterable[object]) -> str:
    """``?, ?, ?``: one placeholder per value, for an ``IN (...)``."""
    return ", ".join("?" for _ in values)


def _caller(ctx: RequestContext) -> tuple[bool, str | None]:
    return ctx.is_admin, ctx.project_id


def _time(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def _json(value: str | None) -> dict[str, str]:
    loaded = orjson.loads(value) if value else {}
    return {str(k): str(v) for k, v in loaded.items()}


def dumps(value: Mapping[str, Any]) -> str:
    """A mapping as the JSON text columns hold it."""
    return orjson.dumps(dict(value)).decode()


class VolumeStore:
    """The volume service's rows, on its own database (see the module docstring)."""

    def __init__(self, db: Database, *, host: str) -> None:
        self.db = db
        self.host = host

    # -- volumes ----------------------------------------------------------------------

    async def volume(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """One volume the caller can see; `VolumeNotFound` otherwise."""
        row = await self.db.fetchone(
            f"{_SELECT_VOLUME} WHERE v.id = ? AND {_VISIBLE}",
            (DEFAULT_TYPE_ID, volume_id, *_caller(ctx)),
        )
        if row is None:
            raise VolumeNotFound(f"Volume {volume_id} could not be found.", volume_id=volume_id)
        return self._volume(row)

    async def volume_in(
        self, conn: aiosqlite.Connection, ctx: RequestContext, volume_id: str
    ) -> objects.Volume:
        """`volume`, read inside the transaction `conn`."""
        async with conn.execute(
            f"{_SELECT_VOLUME} WHERE v.id = ? AND {_VISIBLE}",
            (DEFAULT_TYPE_ID, volume_id, *_caller(ctx)),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise VolumeNotFound(f"Volume {volume_id} could not be found.", volume_id=volume_id)
        return self._volume(row)

    async def volumes(self, ctx: RequestContext) -> builtins.list[objects.Volume]:
        """Every volume the caller can see, oldest first."""
        found = await self.db.fetchall(
            f"{_SELECT_VOLUME} WHERE {_VISIBLE} ORDER BY v.rowid", (DEFAULT_TYPE_ID, *_caller(ctx))
        )
        return [self._volume(row) for row in found]

    async def volumes_attached_to(
        self, ctx: RequestContext, instance_uuid: str
    ) -> builtins.list[objects.Volume]:
        """The visible volumes attached (now) to server `instance_uuid`, oldest first:
        found through the attachments' index on the server."""
        found = await self.db.fetchall(
            f"{_SELECT_VOLUME} WHERE a.instance_uuid = ? AND {_VISIBLE} ORDER BY v.rowid",
            (DEFAULT_TYPE_ID, instance_uuid, *_caller(ctx)),
        )
        return [self._volume(row) for row in found]

    async def swap_status(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        volume_id: str,
        expected: tuple[str, ...],
        new: str,
        action: str,
        **columns: Any,
    ) -> None:
        """Compare-and-swap a volume's status (setting `columns` too), or `VolumeInvalidState`."""
        sets = "".join(f", {part}" for part in [assignments("volumes", columns)] if columns)
        swapped = await write(
            conn,
            f"UPDATE volumes SET status = ?, updated_at = ?{sets} "
            f"WHERE id = ? AND status IN ({marks(expected)}) AND (? OR project_id = ?)",
            (new, now(), *columns.values(), volume_id, *expected, *_caller(ctx)),
        )
        if not swapped:
            current = await self.volume_in(conn, ctx, volume_id)
            raise VolumeInvalidState(
                f"Volume {volume_id} is {current.status!r}; {action} needs status "
                f"{' or '.join(map(repr, expected))}.",
                volume_id=volume_id,
                status=current.status,
            )

    async def set_columns(
        self, conn: aiosqlite.Connection, ctx: RequestContext, volume_id: str, **columns: Any
    ) -> None:
        """Set some of a visible volume's columns (no status check)."""
        changed = await write(
            conn,
            f"UPDATE volumes SET {assignments('volumes', columns)}, updated_at = ? "
            "WHERE id = ? AND (? OR project_id = ?)",
            (*columns.values(), now(), volume_id, *_caller(ctx)),
        )
        if not changed:
            raise VolumeNotFound(f"Volume {volume_id} could not be found.", volume_id=volume_id)

    def _volume(self, row: sqlite3.Row) -> objects.Volume:
        return objects.Volume(
            id=row["id"],
            name=row["name"],
            size=row["size"],
            status=row["status"],
            project_id=row["project_id"],
            user_id=row["user_id"],
            image_id=row["image_id"],
            bootable=bool(row["bootable"]),
            attached_to=row["instance_uuid"],
            mountpoint=row["mountpoint"],
            attachment_id=row["attachment_id"],
            attached_at=_time(row["attached_at"]),
            description=row["description"],
            metadata=_json(row["metadata"]),
            volume_type_id=row["volume_type_id"] or DEFAULT_TYPE_ID,
            volume_type=row["type_name"],
            availability_zone=row["availability_zone"],
            snapshot_id=row["snapshot_id"],
            source_volid=row["source_volid"],
            readonly=None if row["readonly"] is None else bool(row["readonly"]),
            image_metadata=_json(row["image_metadata"]),
            host=f"{self.host}@lvmdriver-1#lvmdriver-1",
            created_at=_time(row["created_at"]),
            updated_at=_time(row["updated_at"]),
            group_id=row["group_id"],
        )

    # -- snapshots --------------------------------------------------------------------

    async def snapshot(
        self, ctx: RequestContext, snapshot_id: str, conn: aiosqlite.Connection | None = None
    ) -> objects.VolumeSnapshot:
        """One snapshot the caller can see; `VolumeSnapshotNotFound` otherwise."""
        sql = f"{_SELECT_SNAPSHOT} WHERE s.id = ? AND (? OR s.project_id = ?)"
        params = (snapshot_id, *_caller(ctx))
        if conn is None:
            row = await self.db.fetchone(sql, params)
        else:
            async with conn.execute(sql, params) as cursor:
                row = await cursor.fetchone()
        if row is None:
            raise VolumeSnapshotNotFound(
                f"Snapshot {snapshot_id} could not be found.", snapshot_id=snapshot_id
            )
        return _snapshot(row)

    async def snapshots(
        self, ctx: RequestContext, *, volume_id: str | None = None
    ) -> builtins.list[objects.VolumeSnapshot]:
        """Every snapshot the caller can see (of one volume, if given), oldest first."""
        found = await self.db.fetchall(
            f"{_SELECT_SNAPSHOT} WHERE (? OR s.project_id = ?) "
            "AND (? IS NULL OR s.volume_id = ?) ORDER BY s.rowid",
            (*_caller(ctx), volume_id, volume_id),
        )
        return [_snapshot(row) for row in found]

    # -- volume types -----------------------------------------------------------------

    async def volume_type(
        self, ctx: RequestContext, id_or_name: str, conn: aiosqlite.Connection | None = None
    ) -> objects.VolumeType:
        """A type the caller may use, by id or name; `VolumeTypeNotFound` otherwise."""
        sql = f"SELECT t.* FROM volume_types t WHERE (t.id = ? OR t.name = ?) AND {_TYPE_VISIBLE}"
        params = (id_or_name, id_or_name, *_caller(ctx))
        if conn is None:
            row = await self.db.fetchone(sql, params)
        else:
            async with conn.execute(sql, params) as cursor:
                row = await cursor.fetchone()
        if row is None:
            raise VolumeTypeNotFound(
                f"Volume type {id_or_name} could not be found.", volume_type_id=id_or_name
            )
        return _type(row)

    async def volume_types(
        self, ctx: RequestContext, *, is_public: bool | None = None
    ) -> builtins.list[objects.VolumeType]:
        """The types the caller may use (administrators: every one, or by `is_public`)."""
        found = await self.db.fetchall(
            f"SELECT t.* FROM volume_types t WHERE {_TYPE_VISIBLE} "
            "AND (? IS NULL OR t.is_public = ?) ORDER BY t.rowid",
            (*_caller(ctx), is_public, is_public),
        )
        return [_type(row) for row in found]

    async def type_access(self, type_id: str) -> builtins.list[str]:
        """The projects given access to a private type."""
        rows = await self.db.fetchall(
            "SELECT project_id FROM volume_type_access WHERE volume_type_id = ? "
            "ORDER BY project_id",
            (type_id,),
        )
        return [row["project_id"] for row in rows]

    # -- quotas -----------------------------------------------------------------------

    async def quota_overrides(
        self, project_id: str, conn: aiosqlite.Connection | None = None
    ) -> dict[str, int]:
        """The limits set for one project (resources not set use the defaults)."""
        sql = "SELECT resource, hard_limit FROM quotas WHERE project_id = ?"
        if conn is None:
            rows = await self.db.fetchall(sql, (project_id,))
        else:
            async with conn.execute(sql, (project_id,)) as cursor:
                rows = list(await cursor.fetchall())
        return {row["resource"]: row["hard_limit"] for row in rows}

    async def usage(
        self, project_id: str, conn: aiosqlite.Connection | None = None
    ) -> dict[str, int]:
        """What one project uses: volumes, snapshots, gigabytes (of both), backups, groups."""
        sql = (
            "SELECT 'volumes' AS r, count(*) AS n FROM volumes WHERE project_id = ?1 "
            "UNION ALL SELECT 'gigabytes', coalesce(sum(size), 0) FROM volumes "
            "WHERE project_id = ?1 "
            "UNION ALL SELECT 'snapshots', count(*) FROM snapshots WHERE project_id = ?1 "
            "UNION ALL SELECT 'snapshot_gigabytes', coalesce(sum(size), 0) FROM snapshots "
            "WHERE project_id = ?1 "
            "UNION ALL SELECT 'backups', count(*) FROM backups WHERE project_id = ?1 "
            "UNION ALL SELECT 'backup_gigabytes', coalesce(sum(size), 0) FROM backups "
            "WHERE project_id = ?1 "
            "UNION ALL SELECT 'groups', count(*) FROM volume_groups WHERE project_id = ?1"
        )
        if conn is None:
            rows = await self.db.fetchall(sql, (project_id,))
        else:
            async with conn.execute(sql, (project_id,)) as cursor:
                rows = list(await cursor.fetchall())
        used = {row["r"]: int(row["n"]) for row in rows}
        used["gigabytes"] += used.pop("snapshot_gigabytes")
        return used


def _snapshot(row: sqlite3.Row) -> objects.VolumeSnapshot:
    return objects.VolumeSnapshot(
        id=row["id"],
        volume_id=row["volume_id"],
        name=row["name"],
        description=row["description"],
        size=row["size"],
        status=row["status"],
        project_id=row["project_id"],
        user_id=row["user_id"],
        metadata=_json(row["metadata"]),
        progress=row["progress"],
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


def _type(row: sqlite3.Row) -> objects.VolumeType:
    return objects.VolumeType(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        is_public=bool(row["is_public"]),
        extra_specs=_json(row["extra_specs"]),
        encryption=orjson.loads(row["encryption"]) if row["encryption"] else None,
        qos_specs_id=row["qos_specs_id"],
    )
