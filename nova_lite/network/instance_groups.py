"""Security groups of servers: what Nova asks of Neutron for ``security_groups``.

A server create names groups (by name or id) before any port exists: the API finds
them (`find_security_groups`) and records them for the new servers
(`request_security_groups`) before the build is cast, so the ports compute makes
for each server get exactly those (`groups_for_device`), or the project's
``default`` group when none were named. Nova's ``addSecurityGroup`` and
``removeSecurityGroup`` change the groups of every port of the server (and the
record, for ports still to come); ``GET /servers/{id}/os-security-groups`` lists
the groups its ports have.
"""

from __future__ import annotations

import sqlite3

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Invalid, SecurityGroupNotFound
from nova_lite.network import rows
from nova_lite.network.access import OWN, caller
from nova_lite.network.rows import IDS_IN
from nova_lite.network.security_groups import SecurityGroupRecords, with_rules
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["InstanceSecurityGroups"]

log = structlog.get_logger(__name__)


class InstanceSecurityGroups:
    """The endpoints of servers' security groups, over the network database."""

    def __init__(self, db: Database, policy: Enforcer, groups: SecurityGroupRecords) -> None:
        self.db = db
        self.policy = policy
        self.groups = groups

    @endpoint
    async def find_security_groups(
        self, ctx: RequestContext, refs: list[str]
    ) -> list[objects.SecurityGroup]:
        """The caller's project's groups named (or with the id) in `refs`, in order.

        `SecurityGroupNotFound` naming the first unknown one; `Conflict` if a name is
        not unique (Nova's NoUniqueMatch: use the id).
        """
        refs = check.text_list("security_groups", refs)
        async with self.db.transaction() as conn:
            await self.groups.ensure_default(conn, ctx.project_id)
        return [await self._find(ctx, ref) for ref in dict.fromkeys(refs)]

    async def _find(self, ctx: RequestContext, ref: str) -> objects.SecurityGroup:
        by_id = await self.db.fetchall(
            f"SELECT * FROM security_groups WHERE id = ? AND {OWN}", (ref, *caller(ctx))
        )
        if by_id:
            return (await with_rules(self.db, by_id))[0]
        project = ctx.project_id
        named = await self.db.fetchall(
            "SELECT * FROM security_groups WHERE name = ? AND project_id IS ?", (ref, project)
        )
        if len(named) > 1:
            raise Conflict(
                f"Multiple security_group matches found for name '{ref}', use an ID to be more "
                "specific."
            )
        if not named:
            raise SecurityGroupNotFound(
                f"Security group {ref} is not found for project {project}.", group_id=ref
            )
        return (await with_rules(self.db, named))[0]

    @endpoint
    async def request_security_groups(
        self, ctx: RequestContext, instance_uuids: list[str], group_ids: list[str]
    ) -> None:
        """Record the groups the ports of new servers get (before their build)."""
        devices = check.text_list("instance_uuids", instance_uuids)
        wanted = await self.groups.visible_ids(ctx, check.text_list("group_ids", group_ids))
        async with self.db.transaction() as conn:
            for device in devices:
                for group_id in wanted:
                    await rows.write(
                        conn,
                        "INSERT OR IGNORE INTO device_security_groups (device_id, group_id) VALUES "
                        "(?, ?)",
                        (device, group_id),
                    )

    async def groups_for_device(
        self, conn: aiosqlite.Connection, device: str, project: str | None
    ) -> list[str]:
        """The groups a new port of `device` gets: those requested, else the default one.

        Both are read in one statement (the requested ones first, by rowid); the
        default group is made only when the device asked for none and the project
        has none yet.
        """
        found = await self.db.fetchall(
            "SELECT group_id, 0 AS fallback, rowid AS position FROM device_security_groups "
            "WHERE device_id = ? UNION ALL SELECT group_id, 1, 0 FROM default_security_groups "
            "WHERE project_id = ? ORDER BY fallback, position",
            (device, project),
        )
        requested = [row["group_id"] for row in found if not row["fallback"]]
        if requested:
            return requested
        if found:  # the project's default group, which exists
            return [found[0]["group_id"]]
        default = await self.groups.ensure_default(conn, project)
        return [] if default is None else [default]

    @endpoint
    async def add_instance_security_group(
        self, ctx: RequestContext, instance_uuid: str, group: str
    ) -> objects.SecurityGroup:
        """Apply a group (name or id) to every port of a server (Nova's addSecurityGroup)."""
        device = check.text("instance_uuid", instance_uuid)
        found = await self._find(ctx, check.text("name", group))
        async with self.db.transaction() as conn:
            ports = await self._ports(ctx, device)
            if any(not port["port_security"] for port in ports):
                raise Invalid(
                    f"Security group {found.name} cannot be applied: a port of {device} has no "
                    "port security."
                )
            for port in ports:
                await rows.write(
                    conn,
                    "INSERT OR IGNORE INTO port_security_groups (port_id, group_id) VALUES (?, ?)",
                    (port["id"], found.id),
                )
            await rows.write(
                conn,
                "INSERT OR IGNORE INTO device_security_groups (device_id, group_id) VALUES (?, ?)",
                (device, found.id),
            )
        log.info("network.instance_security_group_added", instance_uuid=device, group_id=found.id)
        return found

    @endpoint
    async def remove_instance_security_group(
        self, ctx: RequestContext, instance_uuid: str, group: str
    ) -> None:
        """Take a group off every port of a server; `SecurityGroupNotFound` if none has it."""
        device = check.text("instance_uuid", instance_uuid)
        found = await self._find(ctx, check.text("name", group))
        async with self.db.transaction() as conn:
            ports = [port["id"] for port in await self._ports(ctx, device)]
            removed = 0
            for port_id in ports:
                removed += await rows.write(
                    conn,
                    "DELETE FROM port_security_groups WHERE port_id = ? AND group_id = ?",
                    (port_id, found.id),
                )
            recorded = await rows.write(
                conn,
                "DELETE FROM device_security_groups WHERE device_id = ? AND group_id = ?",
                (device, found.id),
            )
            if not removed and not (recorded and not ports):
                raise SecurityGroupNotFound(
                    f"Security group {found.name} not associated with the instance {device}.",
                    group_id=found.id,
                )
        log.info("network.instance_security_group_removed", instance_uuid=device, group_id=found.id)

    @endpoint
    async def instance_security_groups(
        self, ctx: RequestContext, instance_uuid: str
    ) -> list[objects.SecurityGroup]:
        """The groups a server's ports have (those requested, while it has no port yet)."""
        device = check.text("instance_uuid", instance_uuid)
        found = await self.db.fetchall(
            "SELECT g.group_id FROM port_security_groups g JOIN ports p ON p.id = g.port_id "
            "WHERE p.device_id = ? GROUP BY g.group_id ORDER BY min(g.rowid)",
            (device,),
        )
        if not found:
            found = await self.db.fetchall(
                "SELECT group_id FROM device_security_groups WHERE device_id = ? ORDER BY rowid",
                (device,),
            )
        ids = [row["group_id"] for row in found]
        chosen = await self.db.fetchall(
            f"SELECT * FROM security_groups WHERE id {IDS_IN}", (rows.to_json(ids),)
        )
        groups = {g.id: g for g in await with_rules(self.db, chosen)}
        return [groups[group_id] for group_id in ids if group_id in groups]

    async def _ports(self, ctx: RequestContext, device: str) -> list[sqlite3.Row]:
        return await self.db.fetchall(
            f"SELECT * FROM ports WHERE device_id = ? AND {OWN}", (device, *caller(ctx))
        )
