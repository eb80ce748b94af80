"""The rows of generic volume groups: group types, groups, group snapshots, read as
the plain records the group endpoints return, and the check a volume joining a
group must pass (`check_member`, used by the volume create and the group update).

Visibility is Cinder's: a group or group snapshot is its project's (administrators
see every project's); a group type is seen by everyone if public, else by
administrators only (group types have no access lists).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite
import orjson

from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound

__all__ = [
    "GROUP_STATUSES",
    "check_member",
    "group_in",
    "group_snapshot_in",
    "group_type_in",
    "member_ids",
]

#: The statuses a group (or group snapshot) may be reset to (Cinder's GroupStatus).
GROUP_STATUSES = (
    "creating",
    "available",
    "deleting",
    "deleted",
    "error",
    "error_deleting",
    "updating",
    "in-use",
)


async def _one(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> sqlite3.Row | None:
    async with conn.execute(sql, params) as cursor:
        row: sqlite3.Row | None = await cursor.fetchone()
    return row


def _owned(ctx: RequestContext, row: sqlite3.Row | None) -> bool:
    return row is not None and (ctx.is_admin or row["project_id"] == ctx.project_id)


def type_record(row: sqlite3.Row) -> dict[str, Any]:
    """A group type row as the endpoints return it (the API decides what it shows)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "is_public": bool(row["is_public"]),
        "group_specs": orjson.loads(row["group_specs"]),
    }


async def group_type_in(
    conn: aiosqlite.Connection, ctx: RequestContext, type_id: str
) -> dict[str, Any]:
    """One group type the caller may see, by id or name; `NotFound` otherwise."""
    row = await _one(conn, "SELECT * FROM group_types WHERE id = ?1 OR name = ?1", (type_id,))
    if row is None or not (ctx.is_admin or row["is_public"]):
        raise NotFound(f"Group type with id {type_id} could not be found.")
    return type_record(row)


async def member_ids(conn: aiosqlite.Connection, group_id: str) -> list[str]:
    """The ids of the volumes in a group, oldest first."""
    async with conn.execute(
        "SELECT id FROM volumes WHERE group_id = ? ORDER BY rowid", (group_id,)
    ) as cursor:
        return [row["id"] for row in await cursor.fetchall()]


def group_record(row: sqlite3.Row, volumes: list[str]) -> dict[str, Any]:
    """A group row (and its volumes' ids) as the endpoints return it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "status": row["status"],
        "project_id": row["project_id"],
        "availability_zone": row["availability_zone"],
        "group_type": row["group_type_id"],
        "volume_types": orjson.loads(row["volume_type_ids"]),
        "group_snapshot_id": row["group_snapshot_id"],
        "source_group_id": row["source_group_id"],
        "volumes": volumes,
        "created_at": row["created_at"],
    }


async def group_in(
    conn: aiosqlite.Connection, ctx: RequestContext, group_id: str
) -> dict[str, Any]:
    """One group the caller may see; `NotFound` otherwise."""
    row = await _one(conn, "SELECT * FROM volume_groups WHERE id = ?", (group_id,))
    if row is None or not _owned(ctx, row):
        raise NotFound(f"Group {group_id} could not be found.")
    return group_record(row, await member_ids(conn, group_id))


def group_snapshot_record(row: sqlite3.Row) -> dict[str, Any]:
    """A group snapshot row as the endpoints return it."""
    return {
        "id": row["id"],
        "group_id": row["group_id"],
        "group_type_id": row["group_type_id"],
        "name": row["name"],
        "description": row["description"],
        "status": row["status"],
        "project_id": row["project_id"],
        "created_at": row["created_at"],
    }


async def group_snapshot_in(
    conn: aiosqlite.Connection, ctx: RequestContext, group_snapshot_id: str
) -> dict[str, Any]:
    """One group snapshot the caller may see; `NotFound` otherwise."""
    row = await _one(conn, "SELECT * FROM group_snapshots WHERE id = ?", (group_snapshot_id,))
    if row is None or not _owned(ctx, row):
        raise NotFound(f"GroupSnapshot {group_snapshot_id} could not be found.")
    return group_snapshot_record(row)


async def check_member(
    conn: aiosqlite.Connection, ctx: RequestContext, group_id: str, type_id: str
) -> dict[str, Any]:
    """The group a volume of type `type_id` may join: the caller's, available (or
    in use), and listing that volume type; `NotFound` or `Invalid` naming why not."""
    group = await group_in(conn, ctx, group_id)
    if group["status"] not in ("available", "in-use", "creating"):
        raise Invalid(f"Group {group_id} is {group['status']!r}; it takes no volumes now.")
    if type_id not in group["volume_types"]:
        raise Invalid(
            f"Invalid volume_type provided: {type_id}: the group {group_id} allows"
            f" {', '.join(group['volume_types'])} only."
        )
    return group
