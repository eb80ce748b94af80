"""Group snapshots (Cinder's, API 3.14): a snapshot of every volume of a group, taken
in one transaction; show, list, delete (with its snapshots) and reset status (3.19).

The member snapshots are ordinary snapshots (``snapshots.py``) that name their group
snapshot; like them, all are ``available`` at once and count against the project's
snapshot quotas. A group with group snapshots cannot be deleted (`GroupRecords`).
"""

from __future__ import annotations

import builtins
import uuid
from typing import Any

import structlog

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume import validation
from nova_lite.volume.group_rows import (
    GROUP_STATUSES,
    group_in,
    group_snapshot_in,
    group_snapshot_record,
)
from nova_lite.volume.quotas import QuotaBook
from nova_lite.volume.store import VolumeStore, now, write

__all__ = ["GroupSnapshotRecords"]

log = structlog.get_logger(__name__)

RULES = {
    "create": "group:create_group_snapshot",
    "get": "group:get_group_snapshot",
    "get_all": "group:get_all_group_snapshots",
    "delete": "group:delete_group_snapshot",
    "reset_status": "group:reset_group_snapshot_status",
}


class GroupSnapshotRecords:
    """The group snapshot endpoints (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer, quotas: QuotaBook) -> None:
        self.store = store
        self.policy = policy
        self.quotas = quotas

    def _authorize(self, ctx: RequestContext, action: str, project_id: str | None) -> None:
        self.policy.authorize(ctx, RULES[action], {"project_id": project_id})

    @endpoint
    async def group_snapshot_create(
        self,
        ctx: RequestContext,
        group_id: str,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Snapshot every volume of an available group (each snapshot within quota)."""
        name = check.volume_name(name)
        description = validation.description(description)
        snapshot_id = str(uuid.uuid4())
        async with self.store.db.transaction() as conn:
            group = await group_in(conn, ctx, check.text("group_id", group_id))
            self._authorize(ctx, "create", group["project_id"])
            if group["status"] != "available":
                raise Invalid(f"Group {group['id']} is {group['status']!r}, not 'available'.")
            volumes = [await self.store.volume_in(conn, ctx, v) for v in group["volumes"]]
            await self.quotas.check(
                conn,
                group["project_id"],
                snapshots=len(volumes),
                gigabytes=sum(v.size for v in volumes),
            )
            await write(
                conn,
                "INSERT INTO group_snapshots (id, group_id, group_type_id, name, description,"
                " status, project_id, user_id, created_at) VALUES (?, ?, ?, ?, ?, 'available',"
                " ?, ?, ?)",
                (
                    snapshot_id,
                    group["id"],
                    group["group_type"],
                    name,
                    description,
                    group["project_id"],
                    ctx.user_id,
                    now(),
                ),
            )
            for volume in volumes:
                await write(
                    conn,
                    "INSERT INTO snapshots (id, volume_id, name, description, size, status,"
                    " project_id, user_id, progress, created_at, group_snapshot_id)"
                    " VALUES (?, ?, ?, ?, ?, 'available', ?, ?, '100%', ?, ?)",
                    (
                        str(uuid.uuid4()),
                        volume.id,
                        f"snapshot-{snapshot_id}",
                        description,
                        volume.size,
                        volume.project_id,
                        ctx.user_id,
                        now(),
                        snapshot_id,
                    ),
                )
            created = await group_snapshot_in(conn, ctx, snapshot_id)
        log.info("volume.group_snapshot_created", group_snapshot_id=snapshot_id)
        return created

    @endpoint
    async def group_snapshot_get(
        self, ctx: RequestContext, group_snapshot_id: str
    ) -> dict[str, Any]:
        """One group snapshot the caller may see."""
        async with self.store.db.transaction() as conn:
            found = await group_snapshot_in(
                conn, ctx, check.text("group_snapshot_id", group_snapshot_id)
            )
        self._authorize(ctx, "get", found["project_id"])
        return found

    @endpoint
    async def group_snapshot_list(
        self, ctx: RequestContext, all_projects: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """The caller's project's group snapshots, oldest first (an admin's: all)."""
        self._authorize(ctx, "get_all", ctx.project_id)
        rows = await self.store.db.fetchall(
            "SELECT * FROM group_snapshots WHERE ? OR project_id = ? ORDER BY rowid",
            (all_projects and ctx.is_admin, ctx.project_id),
        )
        return [group_snapshot_record(row) for row in rows]

    @endpoint
    async def group_snapshot_delete(self, ctx: RequestContext, group_snapshot_id: str) -> None:
        """Delete an available or errored group snapshot and its snapshots."""
        async with self.store.db.transaction() as conn:
            found = await group_snapshot_in(
                conn, ctx, check.text("group_snapshot_id", group_snapshot_id)
            )
            self._authorize(ctx, "delete", found["project_id"])
            if found["status"] not in ("available", "error"):
                raise Invalid(
                    f"GroupSnapshot {found['id']} is {found['status']!r}; a delete needs"
                    " status 'available' or 'error'."
                )
            await write(conn, "DELETE FROM snapshots WHERE group_snapshot_id = ?", (found["id"],))
            await write(conn, "DELETE FROM group_snapshots WHERE id = ?", (found["id"],))
        log.info("volume.group_snapshot_deleted", group_snapshot_id=found["id"])

    @endpoint
    async def group_snapshot_reset_status(
        self, ctx: RequestContext, group_snapshot_id: str, status: str
    ) -> None:
        """Force a group snapshot's status (admins)."""
        if status not in GROUP_STATUSES:
            raise Invalid(
                f"Group snapshot status {status!r} is invalid: one of {', '.join(GROUP_STATUSES)}."
            )
        async with self.store.db.transaction() as conn:
            found = await group_snapshot_in(
                conn, ctx, check.text("group_snapshot_id", group_snapshot_id)
            )
            self._authorize(ctx, "reset_status", found["project_id"])
            await write(
                conn,
                "UPDATE group_snapshots SET status = ?, updated_at = ? WHERE id = ?",
                (status, now(), found["id"]),
            )
