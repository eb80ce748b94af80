"""Who sees which network resource, and the per-project quotas, for every part.

Visibility follows Neutron: a project sees its own resources, networks that are
shared or external (``router:external``) and their subnets, and administrators see
everything. A resource the caller cannot see is "not found", never "forbidden", so
its existence does not leak; a visible one the policy refuses is `Forbidden`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import attrs

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import (
    NetworkNotFound,
    NotFound,
    PortNotFound,
    QuotaExceeded,
    SubnetNotFound,
)

__all__ = [
    "NETWORK_VISIBLE",
    "OWN",
    "SUBNET_VISIBLE",
    "Quotas",
    "caller",
    "network_target",
    "visible_network",
    "visible_port",
    "visible_row",
    "visible_subnet",
]

# A row is visible to the caller when: is_admin, or own project (each clause takes
# the two parameters of `caller`).
OWN = "(? OR project_id = ?)"
NETWORK_VISIBLE = "(? OR shared = 1 OR external = 1 OR project_id = ?)"
SUBNET_VISIBLE = "(? OR s.project_id = ? OR n.shared = 1 OR n.external = 1)"  # s, n: aliases


def caller(ctx: RequestContext) -> tuple[bool, str | None]:
    """The parameters of a visibility clause: is the caller admin, and its project."""
    return ctx.is_admin, ctx.project_id


def network_target(row: sqlite3.Row) -> dict[str, Any]:
    """What a network's policy rules read: its owner, and whether it is shared or external."""
    return {
        "project_id": row["project_id"],
        "shared": bool(row["shared"]),
        "external": bool(row["external"]),
    }


# The owned-row lookups `visible_row` may make (constant SQL: no table name is spliced).
_BY_ID = {
    "ports": f"SELECT * FROM ports WHERE id = ? AND {OWN}",
    "routers": f"SELECT * FROM routers WHERE id = ? AND {OWN}",
    "floating_ips": f"SELECT * FROM floating_ips WHERE id = ? AND {OWN}",
}
_COUNTS = {
    "network": "SELECT count(*) FROM networks WHERE project_id = ?",
    "subnet": "SELECT count(*) FROM subnets WHERE project_id = ?",
    "port": "SELECT count(*) FROM ports WHERE project_id = ?",
    "security_group": "SELECT count(*) FROM security_groups WHERE project_id = ?",
    "security_group_rule": "SELECT count(*) FROM security_group_rules WHERE project_id = ?",
    "router": "SELECT count(*) FROM routers WHERE project_id = ?",
    "floatingip": "SELECT count(*) FROM floating_ips WHERE project_id = ?",
}


async def visible_row(
    db: Database, ctx: RequestContext, table: str, row_id: object, missing: NotFound
) -> sqlite3.Row:
    """The row of `table` with that id if the caller's project owns it (or is admin)."""
    found = await db.fetchone(_BY_ID[table], (check.text("id", row_id), *caller(ctx)))
    if found is None:
        raise missing
    return found


async def visible_network(db: Database, ctx: RequestContext, network_id: object) -> sqlite3.Row:
    """The network if the caller sees it; `NetworkNotFound` otherwise."""
    network_id = check.text("network_id", network_id)
    row = await db.fetchone(
        f"SELECT * FROM networks WHERE id = ? AND {NETWORK_VISIBLE}", (network_id, *caller(ctx))
    )
    if row is None:
        raise NetworkNotFound(f"Network {network_id} could not be found.", network_id=network_id)
    return row


async def visible_subnet(db: Database, ctx: RequestContext, subnet_id: object) -> sqlite3.Row:
    """The subnet if the caller sees it (its own, or of a shared or external network)."""
    subnet_id = check.text("subnet_id", subnet_id)
    row = await db.fetchone(
        "SELECT s.* FROM subnets s JOIN networks n ON n.id = s.network_id "
        f"WHERE s.id = ? AND {SUBNET_VISIBLE}",
        (subnet_id, *caller(ctx)),
    )
    if row is None:
        raise SubnetNotFound(f"Subnet {subnet_id} could not be found.", subnet_id=subnet_id)
    return row


async def visible_port(db: Database, ctx: RequestContext, port_id: object) -> sqlite3.Row:
    """The port's row if the caller's project owns it (or is admin); `PortNotFound` otherwise."""
    port_id = check.text("port_id", port_id)
    return await visible_row(
        db,
        ctx,
        "ports",
        port_id,
        PortNotFound(f"Port {port_id} could not be found.", port_id=port_id),
    )


@attrs.frozen
class Quotas:
    """Per-project limits (``[network] quota_*``; -1: unlimited), counted in the database."""

    db: Database
    limits: Mapping[str, int]  # resource -> limit

    async def used(self, resource: str, project: str) -> int:
        """How many `resource` `project` has (one count by the project's index)."""
        row = await self.db.fetchone(_COUNTS[resource], (project,))
        return int(row[0]) if row else 0

    async def check(self, resource: str, project: str | None, new: int = 1) -> None:
        """`QuotaExceeded` if `new` more `resource` would take `project` over its limit."""
        limit = self.limits.get(resource, -1)
        if limit < 0 or new <= 0 or project is None:
            return
        used = await self.used(resource, project)
        if used + new > limit:
            raise QuotaExceeded(
                f"Quota exceeded for resources: ['{resource}']: project {project} has {used} "
                f"of its {limit} ([network] quota_{resource}) and asked for {new} more.",
                resource=resource,
            )
