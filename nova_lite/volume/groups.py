"""Generic volume groups (Cinder's groups, API 3.13): create, show, list, update
(rename, add and remove volumes), delete (with its volumes), reset status, and a
group made from another group or from a group snapshot (3.14). Each new group counts
against its project's ``groups`` quota, checked in the transaction that makes it.

A group has a group type and the volume types its volumes may have; a volume joins
it when created with ``group_id`` or by the group's update. There is no storage
behind a group, so a new group is ``available`` at once, and one made from a source
holds a clone of each source volume (or a volume from each snapshot of the group
snapshot), made by `VolumeRecords.create`.
"""

from __future__ import annotations

import builtins
import uuid
from typing import TYPE_CHECKING, Any

import aiosqlite
import orjson
import structlog

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume import validation
from nova_lite.volume.group_rows import (
    GROUP_STATUSES,
    check_member,
    group_in,
    group_record,
    group_snapshot_in,
    group_type_in,
    member_ids,
)
from nova_lite.volume.quotas import QuotaBook
from nova_lite.volume.store import VolumeStore, now, write

if TYPE_CHECKING:
    from nova_lite.volume.volumes import VolumeRecords

__all__ = ["GroupRecords"]

log = structlog.get_logger(__name__)

RULES = {
    "create": "group:create",
    "get": "group:get",
    "get_all": "group:get_all",
    "update": "group:update",
    "delete": "group:delete",
    "reset_status": "group:reset_status",
}
#: The volume statuses a volume may have to be deleted with its group.
_DELETABLE = ("available", "error", "error_restoring", "error_extending")


class GroupRecords:
    """The group endpoints (see the module docstring)."""

    def __init__(
        self,
        store: VolumeStore,
        policy: Enforcer,
        quotas: QuotaBook,
        volumes: VolumeRecords,
        *,
        zone: str,
    ) -> None:
        self.store = store
        self.policy = policy
        self.quotas = quotas
        self.volumes = volumes
        self.zone = zone

    def _authorize(self, ctx: RequestContext, action: str, project_id: str | None) -> None:
        self.policy.authorize(ctx, RULES[action], {"project_id": project_id})

    @endpoint
    async def group_create(
        self,
        ctx: RequestContext,
        group_type: str,
        volume_types: builtins.list[str],
        name: str | None = None,
        description: str | None = None,
        availability_zone: str | None = None,
    ) -> dict[str, Any]:
        """A new, available group of the caller's project for volumes of `volume_types`."""
        self._authorize(ctx, "create", ctx.project_id)
        if availability_zone not in (None, self.zone):
            raise Invalid(f"Availability zone {availability_zone!r} is invalid.")
        async with self.store.db.transaction() as conn:
            found = await group_type_in(conn, ctx, check.text("group_type", group_type))
            type_ids = await self._volume_types(conn, ctx, volume_types)
            group_id = await self._insert(conn, ctx, found["id"], type_ids, name, description)
            created = await group_in(conn, ctx, group_id)
        log.info("volume.group_created", group_id=group_id)
        return created

    async def _volume_types(
        self, conn: aiosqlite.Connection, ctx: RequestContext, wanted: builtins.list[str]
    ) -> builtins.list[str]:
        names = check.text_list("volume_types", wanted)
        if not names:
            raise Invalid("volume_types must name at least one volume type.")
        return [(await self.store.volume_type(ctx, name, conn)).id for name in names]

    async def _insert(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        type_id: str,
        volume_types: builtins.list[str],
        name: str | None,
        description: str | None,
        *,
        status: str = "available",
        sources: tuple[str | None, str | None] = (None, None),
    ) -> str:
        await self.quotas.check(conn, ctx.project_id, groups=1)
        group_id = str(uuid.uuid4())
        await write(
            conn,
            "INSERT INTO volume_groups (id, name, description, status, project_id, user_id,"
            " group_type_id, volume_type_ids, availability_zone, group_snapshot_id,"
            " source_group_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                group_id,
                check.volume_name(name),
                validation.description(description),
                status,
                ctx.project_id,
                ctx.user_id,
                type_id,
                orjson.dumps(volume_types).decode(),
                self.zone,
                *sources,
                now(),
            ),
        )
        return group_id

    @endpoint
    async def group_get(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        """One group the caller may see."""
        async with self.store.db.transaction() as conn:
            found = await group_in(conn, ctx, check.text("group_id", group_id))
        self._authorize(ctx, "get", found["project_id"])
        return found

    @endpoint
    async def group_list(
        self, ctx: RequestContext, all_projects: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """The caller's project's groups, oldest first (an admin's `all_projects`: all)."""
        self._authorize(ctx, "get_all", ctx.project_id)
        every = all_projects and ctx.is_admin
        rows = await self.store.db.fetchall(
            "SELECT * FROM volume_groups WHERE ? OR project_id = ? ORDER BY rowid",
            (every, ctx.project_id),
        )
        async with self.store.db.transaction() as conn:
            return [group_record(row, await member_ids(conn, row["id"])) for row in rows]

    @endpoint
    async def group_update(
        self,
        ctx: RequestContext,
        group_id: str,
        name: str | None = None,
        description: str | None = None,
        add_volumes: builtins.list[str] | None = None,
        remove_volumes: builtins.list[str] | None = None,
    ) -> dict[str, Any]:
        """Rename an available group, or add and remove volumes (ids)."""
        adding, removing = add_volumes or [], remove_volumes or []
        if name is None and description is None and not adding and not removing:
            raise Invalid("Name, description, add_volumes and remove_volumes can not be all empty.")
        async with self.store.db.transaction() as conn:
            found = await group_in(conn, ctx, check.text("group_id", group_id))
            self._authorize(ctx, "update", found["project_id"])
            if found["status"] != "available":
                raise Invalid(f"Group {found['id']} is {found['status']!r}, not 'available'.")
            for volume_id in removing:
                await self._remove(conn, found["id"], volume_id)
            for volume_id in adding:
                await self._add(conn, ctx, found["id"], volume_id)
            if name is not None:
                await self._set(conn, found["id"], "name", check.volume_name(name))
            if description is not None:
                await self._set(
                    conn, found["id"], "description", validation.description(description)
                )
            return await group_in(conn, ctx, found["id"])

    async def _set(
        self, conn: aiosqlite.Connection, group_id: str, column: str, value: Any
    ) -> None:
        assert column in ("name", "description", "status")
        await write(
            conn,
            f"UPDATE volume_groups SET {column} = ?, updated_at = ? WHERE id = ?",
            (value, now(), group_id),
        )

    async def _remove(self, conn: aiosqlite.Connection, group_id: str, volume_id: str) -> None:
        removed = await write(
            conn,
            "UPDATE volumes SET group_id = NULL, updated_at = ? WHERE id = ? AND group_id = ?",
            (now(), check.text("remove_volumes", volume_id), group_id),
        )
        if not removed:
            raise Invalid(f"Volume {volume_id} is not in group {group_id}; it cannot be removed.")

    async def _add(
        self, conn: aiosqlite.Connection, ctx: RequestContext, group_id: str, volume_id: str
    ) -> None:
        volume = await self.store.volume_in(conn, ctx, check.text("add_volumes", volume_id))
        if volume.group_id == group_id:
            return
        if volume.group_id is not None:
            raise Invalid(f"Volume {volume.id} is already in group {volume.group_id}.")
        if volume.status not in ("available", "in-use"):
            raise Invalid(f"Volume {volume.id} is {volume.status!r}; it cannot join a group.")
        await check_member(conn, ctx, group_id, volume.volume_type_id or "")
        await write(
            conn,
            "UPDATE volumes SET group_id = ?, updated_at = ? WHERE id = ?",
            (group_id, now(), volume.id),
        )

    @endpoint
    async def group_delete(
        self, ctx: RequestContext, group_id: str, delete_volumes: bool = False
    ) -> None:
        """Delete a group (with `delete_volumes`, its volumes too; else it must be empty)."""
        delete_volumes = check.boolean("delete-volumes", delete_volumes)
        async with self.store.db.transaction() as conn:
            found = await group_in(conn, ctx, check.text("group_id", group_id))
            self._authorize(ctx, "delete", found["project_id"])
            if found["status"] not in ("available", "error"):
                raise Invalid(
                    f"Group {found['id']} is {found['status']!r}; a delete needs status"
                    " 'available' or 'error'."
                )
            await self._check_deletable(conn, ctx, found, delete_volumes)
            await write(conn, "DELETE FROM volumes WHERE group_id = ?", (found["id"],))
            await write(conn, "DELETE FROM volume_groups WHERE id = ?", (found["id"],))
        log.info("volume.group_deleted", group_id=found["id"], volumes=len(found["volumes"]))

    async def _check_deletable(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        group: dict[str, Any],
        delete_volumes: bool,
    ) -> None:
        if group["volumes"] and not delete_volumes:
            raise Invalid(
                f"Group {group['id']} still contains volumes. The delete-volumes flag is"
                " required to delete it."
            )
        async with conn.execute(
            "SELECT count(*) FROM group_snapshots WHERE group_id = ?", (group["id"],)
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None and row[0]:
            raise Invalid(f"Group {group['id']} has {row[0]} dependent group snapshots.")
        for volume_id in group["volumes"]:
            volume = await self.store.volume_in(conn, ctx, volume_id)
            if volume.attached_to is not None or volume.status not in _DELETABLE:
                raise Invalid(
                    f"Volume {volume.id} of group {group['id']} is {volume.status!r};"
                    " it cannot be deleted."
                )
            async with conn.execute(
                "SELECT count(*) FROM snapshots WHERE volume_id = ?", (volume.id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and row[0]:
                raise Invalid(f"Volume {volume.id} of group {group['id']} has snapshots.")

    @endpoint
    async def group_reset_status(self, ctx: RequestContext, group_id: str, status: str) -> None:
        """Force a group's status (admins)."""
        if status not in GROUP_STATUSES:
            raise Invalid(
                f"Group status {status!r} is invalid: one of {', '.join(GROUP_STATUSES)}."
            )
        async with self.store.db.transaction() as conn:
            found = await group_in(conn, ctx, check.text("group_id", group_id))
            self._authorize(ctx, "reset_status", found["project_id"])
            await self._set(conn, found["id"], "status", status)

    @endpoint
    async def group_create_from_source(
        self,
        ctx: RequestContext,
        name: str | None = None,
        description: str | None = None,
        group_snapshot_id: str | None = None,
        source_group_id: str | None = None,
    ) -> dict[str, Any]:
        """A new group holding a copy of each volume of a group, or of a group snapshot."""
        self._authorize(ctx, "create", ctx.project_id)
        if (group_snapshot_id is None) == (source_group_id is None):
            raise Invalid("Either group_snapshot_id or source_group_id must be given, not both.")
        async with self.store.db.transaction() as conn:
            copies, source = await self._copies(conn, ctx, group_snapshot_id, source_group_id)
            group_id = await self._insert(
                conn,
                ctx,
                source["group_type"],
                source["volume_types"],
                name,
                description,
                status="creating",
                sources=(group_snapshot_id, source_group_id),
            )
        status = "available"
        try:
            for volume_type, snapshot_id, source_volid in copies:
                await self.volumes.create(
                    ctx,
                    None,
                    volume_type=volume_type,
                    snapshot_id=snapshot_id,
                    source_volid=source_volid,
                    group_id=group_id,
                )
        except Exception:
            status = "error"
            raise
        finally:
            async with self.store.db.transaction() as conn:
                await self._set(conn, group_id, "status", status)
        log.info("volume.group_created", group_id=group_id, copies=len(copies))
        async with self.store.db.transaction() as conn:
            return await group_in(conn, ctx, group_id)

    async def _copies(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        group_snapshot_id: str | None,
        source_group_id: str | None,
    ) -> tuple[builtins.list[tuple[str | None, str | None, str | None]], dict[str, Any]]:
        """What to copy (each volume's type, and its snapshot or source volume) and the
        group copied from."""
        if source_group_id is not None:
            source = await group_in(conn, ctx, check.text("source_group_id", source_group_id))
            if source["status"] != "available":
                raise Invalid(f"Group {source['id']} is {source['status']!r}, not 'available'.")
            async with conn.execute(
                "SELECT id, volume_type_id FROM volumes WHERE group_id = ? ORDER BY rowid",
                (source["id"],),
            ) as cursor:
                rows = list(await cursor.fetchall())
            return [(row[1], None, row[0]) for row in rows], source
        snapshot = await group_snapshot_in(
            conn, ctx, check.text("group_snapshot_id", group_snapshot_id)
        )
        if snapshot["status"] != "available":
            raise Invalid(f"GroupSnapshot {snapshot['id']} is {snapshot['status']!r}.")
        source = await group_in(conn, ctx, snapshot["group_id"])
        async with conn.execute(
            "SELECT s.id, v.volume_type_id FROM snapshots s JOIN volumes v ON v.id = s.volume_id"
            " WHERE s.group_snapshot_id = ? ORDER BY s.rowid",
            (snapshot["id"],),
        ) as cursor:
            rows = list(await cursor.fetchall())
        return [(row[1], row[0], None) for row in rows], source
