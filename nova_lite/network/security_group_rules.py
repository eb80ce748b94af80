"""Security group rules: added (one or in bulk), deleted, listed, shown, as Neutron.

Each rule is checked by `sg_rules` (Neutron's messages), its remote group must be one
the caller sees (404 otherwise), and the same traffic twice in one group is
`SecurityGroupRuleExists` (409). A bulk is all or nothing. Rules count against
``[network] quota_security_group_rule``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import SecurityGroupRuleExists, SecurityGroupRuleNotFound
from nova_lite.network import rows, sg_rules, values
from nova_lite.network.access import OWN, Quotas, caller
from nova_lite.network.rows import IDS_IN
from nova_lite.network.security_groups import SecurityGroupRecords, rule_of
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["SecurityGroupRuleRecords"]

log = structlog.get_logger(__name__)


class SecurityGroupRuleRecords:
    """The endpoints of security group rules, over the network database."""

    def __init__(
        self, db: Database, policy: Enforcer, quotas: Quotas, groups: SecurityGroupRecords
    ) -> None:
        self.db = db
        self.policy = policy
        self.quotas = quotas
        self.groups = groups

    @endpoint
    async def create_security_group_rules(
        self, ctx: RequestContext, rules: list[dict[str, Any]]
    ) -> list[objects.SecurityGroupRule]:
        """Add every rule of `rules` to its group, or none (Neutron's checks; 409: a duplicate)."""
        requests = [
            values.known(rule, sg_rules.RULE_FIELDS, "security group rule") for rule in rules
        ]
        async with self.db.transaction() as conn:
            ids = [await self._add_rule(conn, ctx, request) for request in requests]
        found = await self.db.fetchall(
            f"SELECT * FROM security_group_rules WHERE id {IDS_IN}", (rows.to_json(ids),)
        )
        by_id = {row["id"]: rule_of(row) for row in found}
        log.info("network.security_group_rules_created", rule_ids=ids)
        return [by_id[rule_id] for rule_id in ids]

    async def _add_rule(
        self, conn: aiosqlite.Connection, ctx: RequestContext, request: dict[str, Any]
    ) -> str:
        group = await self.groups.visible_group(ctx, request.get("security_group_id"))
        self.policy.authorize(
            ctx, "create_security_group_rule", {"project_id": group["project_id"]}
        )
        spec = sg_rules.check_rule(request)
        if spec.remote_group_id is not None:
            await self.groups.visible_group(ctx, spec.remote_group_id)
        for row in await self.db.fetchall(
            "SELECT * FROM security_group_rules WHERE group_id = ?", (group["id"],)
        ):
            existing = rule_of(row)
            if sg_rules.same_rule(spec, _spec_of(existing)):
                raise SecurityGroupRuleExists(
                    f"Security group rule already exists. Rule id is {existing.id}.",
                    rule_id=existing.id,
                )
        await self.quotas.check("security_group_rule", group["project_id"])
        return await self.groups.insert_rule(
            conn, group["id"], group["project_id"], spec, spec.remote_group_id
        )

    @endpoint
    async def delete_security_group_rule(self, ctx: RequestContext, rule_id: str) -> None:
        """Delete one visible rule; SecurityGroupRuleNotFound otherwise."""
        async with self.db.transaction() as conn:
            row = await self._visible_rule(ctx, rule_id)
            self.policy.authorize(
                ctx, "delete_security_group_rule", {"project_id": row["project_id"]}
            )
            await rows.write(conn, "DELETE FROM security_group_rules WHERE id = ?", (row["id"],))

    @endpoint
    async def list_security_group_rules(
        self, ctx: RequestContext
    ) -> list[objects.SecurityGroupRule]:
        """The rules of the caller's project's groups (all, for admins)."""
        await self.groups.ensure_caller_default(ctx)
        found = await self.db.fetchall(
            f"SELECT * FROM security_group_rules WHERE {OWN} ORDER BY rowid", caller(ctx)
        )
        return [rule_of(row) for row in found]

    @endpoint
    async def get_security_group_rule(
        self, ctx: RequestContext, rule_id: str
    ) -> objects.SecurityGroupRule:
        """One visible rule; SecurityGroupRuleNotFound otherwise."""
        return rule_of(await self._visible_rule(ctx, rule_id))

    async def _visible_rule(self, ctx: RequestContext, rule_id: object) -> sqlite3.Row:
        rule_id = check.text("security_group_rule_id", rule_id)
        row = await self.db.fetchone(
            f"SELECT * FROM security_group_rules WHERE id = ? AND {OWN}", (rule_id, *caller(ctx))
        )
        if row is None:
            raise SecurityGroupRuleNotFound(
                f"Security group rule {rule_id} does not exist", rule_id=rule_id
            )
        return row


def _spec_of(rule: objects.SecurityGroupRule) -> sg_rules.RuleSpec:
    return sg_rules.RuleSpec(
        direction=rule.direction,
        ethertype=rule.ethertype,
        protocol=rule.protocol,
        port_range_min=rule.port_range_min,
        port_range_max=rule.port_range_max,
        remote_ip_prefix=rule.remote_ip_prefix,
        remote_group_id=rule.remote_group_id,
        description=rule.description,
    )
