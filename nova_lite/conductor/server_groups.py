"""Server groups: a placement policy shared by servers (Nova's os-server-groups).

A group's members are the servers created with the scheduler hint ``group``; an
instance joins its group in the same transaction that records it, and only when
the group has room (the ``server_group_members`` quota), so two creates cannot both
take the last place. A member stays one until its instance is deleted (members
are read through the live instances). The scheduler places members by the group's
policy (its filters and weighers read the policy from the request spec).
`ServerGroupStore` owns the tables; `ServerGroupRecords` serves them over RPC.
"""

from __future__ import annotations

import builtins
import datetime
from collections.abc import Sequence
from typing import Any, ClassVar

import aiosqlite
import orjson

from nova_lite import objects
from nova_lite.conductor.quotas import QuotaBook, exceeded
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Forbidden, Invalid, NotFound
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["POLICIES", "ServerGroupRecords", "ServerGroupStore", "group_hint"]

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")
_MEMBERS = (
    "SELECT m.instance_uuid FROM server_group_members m JOIN instances i "
    "ON i.uuid = m.instance_uuid WHERE m.group_uuid = ? AND i.deleted = 0 ORDER BY i.created_at"
)


def group_hint(instance: objects.Instance) -> str | None:
    """The server group an instance was created in (its ``group`` scheduler hint)."""
    group = instance.scheduler_hints.get("group")
    return group if isinstance(group, str) and group else None


def _not_found(uuid: str) -> NotFound:
    return NotFound(f"Instance group {uuid} could not be found.", group_uuid=uuid)


class ServerGroupStore:
    """Reads and writes the conductor's server_groups and server_group_members tables."""

    def __init__(self, db: Database, quotas: QuotaBook) -> None:
        self.db = db
        self.quotas = quotas

    async def create(self, group: objects.ServerGroup) -> objects.ServerGroup:
        """Record a new group, within the project's (and user's) ``server_groups`` quota."""
        async with self.db.transaction() as conn:
            await self.quotas.check(conn, group.project_id, group.user_id, {"server_groups": 1})
            await conn.execute(
                "INSERT INTO server_groups (uuid, name, project_id, user_id, policy, rules, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    group.uuid,
                    group.name,
                    group.project_id,
                    group.user_id,
                    group.policy,
                    orjson.dumps(group.rules).decode(),
                    group.created_at.isoformat(),
                ),
            )
        return group

    async def get(self, uuid: str) -> objects.ServerGroup:
        row = await self.db.fetchone("SELECT * FROM server_groups WHERE uuid = ?", (uuid,))
        if row is None:
            raise _not_found(uuid)
        return await self._group(row)

    async def _group(self, row: Any) -> objects.ServerGroup:
        members = await self.db.fetchall(_MEMBERS, (row["uuid"],))
        return objects.ServerGroup(
            uuid=row["uuid"],
            name=row["name"],
            project_id=row["project_id"],
            user_id=row["user_id"],
            policy=row["policy"],
            rules=orjson.loads(row["rules"]),
            members=tuple(m[0] for m in members),
            created_at=datetime.datetime.fromisoformat(row["created_at"]),
        )

    async def list(
        self, *, project_id: str | None, limit: int | None, offset: int
    ) -> builtins.list[objects.ServerGroup]:
        """Groups oldest first, of one project (or of all), `offset` skipped, at most `limit`."""
        rows = await self.db.fetchall(
            "SELECT * FROM server_groups WHERE (? IS NULL OR project_id = ?) "
            "ORDER BY created_at, uuid LIMIT ? OFFSET ?",
            (project_id, project_id, -1 if limit is None else limit, offset),
        )
        return [await self._group(row) for row in rows]

    async def delete(self, uuid: str) -> None:
        """Forget a group; its servers stay, in no group (Nova's behaviour)."""
        if await self.db.execute("DELETE FROM server_groups WHERE uuid = ?", (uuid,)) == 0:
            raise _not_found(uuid)

    async def add_members(
        self, conn: aiosqlite.Connection, instances: Sequence[objects.Instance]
    ) -> None:
        """Make new instances members of their groups, inside the create's write `conn`.

        A group that does not exist (or is another project's) is `Invalid`; a group
        with no room for them all is `QuotaExceeded`, and none is recorded.
        """
        for uuid in sorted({g for i in instances if (g := group_hint(i)) is not None}):
            joining = [i for i in instances if group_hint(i) == uuid]
            await self._check_room(conn, uuid, joining)
            await conn.executemany(
                "INSERT INTO server_group_members (instance_uuid, group_uuid) VALUES (?, ?)",
                [(i.uuid, uuid) for i in joining],
            )

    async def _check_room(
        self, conn: aiosqlite.Connection, uuid: str, joining: Sequence[objects.Instance]
    ) -> None:
        cursor = await conn.execute("SELECT project_id FROM server_groups WHERE uuid = ?", (uuid,))
        row = await cursor.fetchone()
        if row is None or any(i.project_id != row[0] for i in joining):
            raise Invalid(f"Invalid server group {uuid}: no such group in the server's project.")
        limit = (await self.quotas.limits(row[0]))["server_group_members"]
        cursor = await conn.execute(f"SELECT COUNT(*) FROM ({_MEMBERS})", (uuid,))
        counted = await cursor.fetchone()
        used = int(counted[0]) if counted is not None else 0
        if limit >= 0 and used + len(joining) > limit:
            raise exceeded("server_group_members", len(joining), used, limit)

    async def group_of(self, instance_uuid: str) -> objects.ServerGroup | None:
        """The group an instance is a member of, if any (and if the group still exists)."""
        row = await self.db.fetchone(
            "SELECT g.* FROM server_groups g JOIN server_group_members m "
            "ON m.group_uuid = g.uuid WHERE m.instance_uuid = ?",
            (instance_uuid,),
        )
        return None if row is None else await self._group(row)


class ServerGroupRecords:
    """The conductor endpoints of server groups."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(self, store: ServerGroupStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return "<ServerGroupRecords>"

    @endpoint
    async def server_group_create(
        self, ctx: RequestContext, group: objects.ServerGroup
    ) -> objects.ServerGroup:
        """Record a group of the caller's project (within its quota)."""
        if group.project_id != ctx.project_id and not ctx.is_admin:
            raise Forbidden("A server group belongs to the project of the user creating it.")
        if group.policy not in POLICIES:
            raise Invalid(f"Invalid server group policy {group.policy!r}; use one of {POLICIES}.")
        return await self.store.create(group)

    @endpoint
    async def server_group_get(self, ctx: RequestContext, uuid: str) -> objects.ServerGroup:
        return await self.store.get(uuid)

    @endpoint
    async def server_group_list(
        self,
        ctx: RequestContext,
        project_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[objects.ServerGroup]:
        """One project's groups (every project's for an admin asking with None)."""
        if project_id is None and not ctx.is_admin:
            project_id = ctx.project_id or ""
        return await self.store.list(project_id=project_id, limit=limit, offset=offset)

    @endpoint
    async def server_group_delete(self, ctx: RequestContext, uuid: str) -> None:
        group = await self.store.get(uuid)
        if group.project_id != ctx.project_id and not ctx.is_admin:
            raise _not_found(uuid)
        await self.store.delete(uuid)
