"""Security groups and their rules, with each project's ``default`` group, as Neutron.

Every project has one group named ``default``, made the first time the project's
groups are looked at or one of its ports is made (Neutron's behaviour), with
Neutron's default rules: all egress, and ingress from the group's own members. It
cannot be deleted, and no other group may take its name (409). A new group starts
with the two egress rules. A group applied to a port cannot be deleted
(`SecurityGroupInUse`, 409); deleting a group deletes its rules and every rule of
another group naming it as the remote. Groups count against ``[network]
quota_security_group``; the rules' endpoints are in ``security_group_rules``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import (
    Conflict,
    SecurityGroupInUse,
    SecurityGroupNotFound,
)
from nova_lite.network import rows, sg_rules, values
from nova_lite.network.access import OWN, Quotas, caller
from nova_lite.network.rows import IDS_IN
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["GROUP_FIELDS", "SecurityGroupRecords", "rule_of", "with_rules"]

log = structlog.get_logger(__name__)

DEFAULT = "default"
GROUP_FIELDS = ("name", "description", "project_id", "tenant_id", "stateful")


def rule_of(row: sqlite3.Row) -> objects.SecurityGroupRule:
    return objects.SecurityGroupRule(
        id=row["id"],
        security_group_id=row["group_id"],
        direction=row["direction"],
        ethertype=row["ethertype"],
        protocol=row["protocol"],
        port_range_min=row["port_range_min"],
        port_range_max=row["port_range_max"],
        remote_ip_prefix=row["remote_ip_prefix"],
        remote_group_id=row["remote_group_id"],
        description=row["description"],
        project_id=row["project_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"] or row["created_at"],
        revision_number=row["revision"],
    )


async def with_rules(db: Database, groups: Sequence[sqlite3.Row]) -> list[objects.SecurityGroup]:
    """The ``security_groups`` rows as groups, each with its rules."""
    if not groups:
        return []
    ids = [group["id"] for group in groups]
    found = await db.fetchall(
        f"SELECT * FROM security_group_rules WHERE group_id {IDS_IN} ORDER BY rowid",
        (rows.to_json(ids),),
    )
    by_group: dict[str, list[objects.SecurityGroupRule]] = {}
    for row in found:
        by_group.setdefault(row["group_id"], []).append(rule_of(row))
    return [
        objects.SecurityGroup(
            id=group["id"],
            name=group["name"],
            project_id=group["project_id"],
            description=group["description"],
            stateful=bool(group["stateful"]),
            rules=tuple(by_group.get(group["id"], ())),
            created_at=group["created_at"],
            updated_at=group["updated_at"] or group["created_at"],
            revision_number=group["revision"],
        )
        for group in groups
    ]


class SecurityGroupRecords:
    """The endpoints of security groups and rules, over the network database."""

    def __init__(self, db: Database, policy: Enforcer, quotas: Quotas) -> None:
        self.db = db
        self.policy = policy
        self.quotas = quotas

    # -- the default group ------------------------------------------------------------

    async def ensure_default(self, conn: aiosqlite.Connection, project: str | None) -> str | None:
        """The id of `project`'s default group, made (with its rules) if it has none."""
        if project is None:
            return None
        found = await self.db.fetchone(
            "SELECT group_id FROM default_security_groups WHERE project_id = ?", (project,)
        )
        if found is not None:
            return str(found["group_id"])
        group_id = await self._insert_group(conn, DEFAULT, "Default security group", project)
        await rows.write(
            conn,
            "INSERT INTO default_security_groups (project_id, group_id) VALUES (?, ?)",
            (project, group_id),
        )
        for rule in sg_rules.DEFAULT_GROUP_RULES:
            remote = group_id if rule.remote_group_id == "self" else None
            await self.insert_rule(conn, group_id, project, rule, remote)
        log.info("network.default_security_group_created", project_id=project, group_id=group_id)
        return group_id

    async def ensure_caller_default(self, ctx: RequestContext) -> None:
        """Make sure the caller's project has its default group (a first look makes it)."""
        async with self.db.transaction() as conn:
            await self.ensure_default(conn, ctx.project_id)

    # -- groups -----------------------------------------------------------------------

    @endpoint
    async def create_security_group(
        self, ctx: RequestContext, group: dict[str, Any]
    ) -> objects.SecurityGroup:
        """Create a group (with the two egress rules); ``default`` is taken (409)."""
        group = values.known(group, GROUP_FIELDS, "security group")
        project = values.owner(ctx, group)
        self.policy.authorize(ctx, "create_security_group", {"project_id": project})
        name = values.name(group)
        async with self.db.transaction() as conn:
            await self.ensure_default(conn, project)
            if name == DEFAULT:
                raise Conflict("Default security group already exists.")
            await self.quotas.check("security_group", project)
            await self.quotas.check("security_group_rule", project, len(sg_rules.NEW_GROUP_RULES))
            group_id = await self._insert_group(conn, name, values.description(group), project)
            for rule in sg_rules.NEW_GROUP_RULES:
                await self.insert_rule(conn, group_id, project, rule, None)
        log.info("network.security_group_created", group_id=group_id, project_id=project)
        return await self.get_security_group(ctx, group_id)

    async def _insert_group(
        self, conn: aiosqlite.Connection, name: str, description: str, project: str | None
    ) -> str:
        group_id = rows.new_id()
        await rows.write(
            conn,
            "INSERT INTO security_groups (id, name, description, project_id, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (group_id, name, description, project, rows.now()),
        )
        return group_id

    @endpoint
    async def update_security_group(
        self, ctx: RequestContext, group_id: str, changes: dict[str, Any]
    ) -> objects.SecurityGroup:
        """Rename or describe a group; the default group keeps its name (409)."""
        changes = values.known(changes, ("name", "description", "stateful"), "security group")
        async with self.db.transaction() as conn:
            row = await self.visible_group(ctx, group_id)
            self.policy.authorize(ctx, "update_security_group", {"project_id": row["project_id"]})
            name = values.name(changes, row["name"])
            if name != row["name"] and DEFAULT in (name, row["name"]):
                raise Conflict(
                    "Insufficient rights for renaming the default security group: "
                    "no group but the default may be named 'default'."
                )
            await rows.write(
                conn,
                "UPDATE security_groups SET name = ?, description = ?, updated_at = ?, "
                "revision = revision + 1 WHERE id = ?",
                (name, values.description(changes, row["description"]), rows.now(), row["id"]),
            )
        return await self.get_security_group(ctx, row["id"])

    @endpoint
    async def delete_security_group(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group and its rules; not the default group, nor one a port uses (409)."""
        async with self.db.transaction() as conn:
            row = await self.visible_group(ctx, group_id)
            self.policy.authorize(ctx, "delete_security_group", {"project_id": row["project_id"]})
            if row["name"] == DEFAULT and await self._is_default(row):
                raise SecurityGroupInUse("Insufficient rights for removing default security group.")
            used = await self.db.fetchone(
                "SELECT count(*) FROM port_security_groups WHERE group_id = ?", (row["id"],)
            )
            if used and used[0]:
                raise SecurityGroupInUse(
                    f"Security Group {row['id']} in use: {used[0]} port(s) have it.",
                    group_id=row["id"],
                )
            await rows.write(conn, "DELETE FROM security_groups WHERE id = ?", (row["id"],))
        log.info("network.security_group_deleted", group_id=row["id"])

    async def _is_default(self, row: sqlite3.Row) -> bool:
        found = await self.db.fetchone(
            "SELECT 1 FROM default_security_groups WHERE group_id = ?", (row["id"],)
        )
        return found is not None

    @endpoint
    async def list_security_groups(self, ctx: RequestContext) -> list[objects.SecurityGroup]:
        """The caller's project's groups, its default one made if missing (admins: all)."""
        await self.ensure_caller_default(ctx)
        found = await self.db.fetchall(
            f"SELECT * FROM security_groups WHERE {OWN} ORDER BY rowid", caller(ctx)
        )
        return await with_rules(self.db, found)

    @endpoint
    async def get_security_group(self, ctx: RequestContext, group_id: str) -> objects.SecurityGroup:
        """One visible group with its rules; SecurityGroupNotFound otherwise."""
        (group,) = await with_rules(self.db, [await self.visible_group(ctx, group_id)])
        return group

    async def visible_group(self, ctx: RequestContext, group_id: object) -> sqlite3.Row:
        """The group's row if the caller sees it; `SecurityGroupNotFound` otherwise."""
        group_id = check.text("security_group_id", group_id)
        row = await self.db.fetchone(
            f"SELECT * FROM security_groups WHERE id = ? AND {OWN}", (group_id, *caller(ctx))
        )
        if row is None:
            raise SecurityGroupNotFound(
                f"Security group {group_id} does not exist", group_id=group_id
            )
        return row

    async def visible_ids(self, ctx: RequestContext, group_ids: Sequence[object]) -> list[str]:
        """`group_ids` if every one is a group the caller sees (`SecurityGroupNotFound`)."""
        return [str((await self.visible_group(ctx, group_id))["id"]) for group_id in group_ids]

    async def insert_rule(
        self,
        conn: aiosqlite.Connection,
        group_id: str,
        project: str | None,
        rule: sg_rules.RuleSpec,
        remote_group: str | None,
    ) -> str:
        """Insert one checked rule of `group_id` (its remote group already found); its id."""
        rule_id = rows.new_id()
        await rows.write(
            conn,
            "INSERT INTO security_group_rules (id, group_id, direction, ethertype, protocol, "
            "port_range_min, port_range_max, remote_ip_prefix, remote_group_id, description, "
            "project_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rule_id,
                group_id,
                rule.direction,
                rule.ethertype,
                rule.protocol,
                rule.port_range_min,
                rule.port_range_max,
                rule.remote_ip_prefix,
                remote_group,
                rule.description,
                project,
                rows.now(),
            ),
        )
        return rule_id
