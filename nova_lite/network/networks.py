"""Networks: create (one or in bulk), update, delete, list and show, as Neutron does.

A bulk create is all or nothing: every network of the request is made in one write
transaction, or none is. Deleting a network takes its subnets and its floating IPs
with it, and is refused (`NetworkInUse`, 409) while any other port is on it, as
Neutron refuses it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import NetworkInUse
from nova_lite.network import rows, values
from nova_lite.network.access import (
    NETWORK_VISIBLE,
    Quotas,
    caller,
    network_target,
    visible_network,
)
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["NetworkRecords"]

log = structlog.get_logger(__name__)

CREATE_FIELDS = (
    "name",
    "shared",
    "admin_state_up",
    "description",
    "project_id",
    "tenant_id",
    "router:external",
    "mtu",
    "port_security_enabled",
)
UPDATE_FIELDS = (
    "name",
    "shared",
    "admin_state_up",
    "description",
    "router:external",
    "mtu",
    "port_security_enabled",
)
MAX_MTU = 1450  # what a VXLAN network on a 1500-byte underlay carries (Neutron's default)
MIN_MTU = 68  # the least an IPv4 network may carry


class NetworkRecords:
    """The endpoints of networks, over the network database."""

    def __init__(self, db: Database, policy: Enforcer, quotas: Quotas) -> None:
        self.db = db
        self.policy = policy
        self.quotas = quotas

    @endpoint
    async def create_network(
        self, ctx: RequestContext, name: str, shared: bool = True
    ) -> objects.Network:
        """Create a network owned by the caller's project; only admins may share one."""
        (network,) = await self.create_networks(
            ctx, [{"name": name, "shared": check.boolean("shared", shared)}]
        )
        return network

    @endpoint
    async def create_networks(
        self, ctx: RequestContext, networks: list[dict[str, Any]]
    ) -> list[objects.Network]:
        """Create every network of `networks` (Neutron's attributes each), or none."""
        requests = [values.known(n, CREATE_FIELDS, "network") for n in networks]
        async with self.db.transaction() as conn:
            ids = [await self._insert(conn, ctx, request) for request in requests]
        created = [await self.get_network(ctx, network_id) for network_id in ids]
        log.info("network.created", network_ids=ids)
        return created

    async def _insert(
        self, conn: aiosqlite.Connection, ctx: RequestContext, request: dict[str, Any]
    ) -> str:
        project = values.owner(ctx, request)
        row = {
            "id": rows.new_id(),
            "name": values.name(request),
            "project_id": project,
            "shared": values.flag(request, "shared", False),
            "description": values.description(request),
            "admin_state_up": values.flag(request, "admin_state_up", True),
            "external": values.flag(request, "router:external", False),
            "mtu": values.whole(request, "mtu", MAX_MTU, MIN_MTU, MAX_MTU),
            "port_security": values.flag(request, "port_security_enabled", True),
            "created_at": rows.now(),
        }
        target = {"project_id": project}
        self.policy.authorize(ctx, "create_network", target)
        for flag, rule in (
            ("shared", "create_network:shared"),
            ("external", "create_network:router:external"),
        ):
            if row[flag]:
                self.policy.authorize(ctx, rule, target)
        await self.quotas.check("network", project)
        await rows.write(
            conn,
            "INSERT INTO networks (id, name, project_id, shared, description, admin_state_up, "
            "external, mtu, port_security, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row.values(),  # in the order written above
        )
        return str(row["id"])

    @endpoint
    async def update_network(
        self, ctx: RequestContext, network_id: str, changes: dict[str, Any]
    ) -> objects.Network:
        """Change a network's name, description, states, MTU, sharing or external flag."""
        changes = values.known(changes, UPDATE_FIELDS, "network")
        async with self.db.transaction() as conn:
            row = await visible_network(self.db, ctx, network_id)
            self.policy.authorize(ctx, "update_network", network_target(row))
            columns = {**dict(row), **self._columns(ctx, row, changes)}
            if changes:
                await rows.write(
                    conn,
                    "UPDATE networks SET name = ?, description = ?, mtu = ?, admin_state_up = ?, "
                    "port_security = ?, shared = ?, external = ?, updated_at = ?, "
                    "revision = revision + 1 WHERE id = ?",
                    (
                        *(columns[c] for c in ("name", "description", "mtu", "admin_state_up")),
                        *(columns[c] for c in ("port_security", "shared", "external")),
                        rows.now(),
                        row["id"],
                    ),
                )
        log.info("network.updated", network_id=row["id"], changed=sorted(changes))
        return await self.get_network(ctx, row["id"])

    def _columns(
        self, ctx: RequestContext, row: sqlite3.Row, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        if "name" in changes:
            columns["name"] = values.name(changes)
        if "description" in changes:
            columns["description"] = values.description(changes)
        if "mtu" in changes:
            columns["mtu"] = values.whole(changes, "mtu", MAX_MTU, MIN_MTU, MAX_MTU)
        for key, column in (
            ("admin_state_up", "admin_state_up"),
            ("port_security_enabled", "port_security"),
        ):
            if key in changes:
                columns[column] = values.flag(changes, key, True)
        for key, column in (("shared", "shared"), ("router:external", "external")):
            if key in changes and values.flag(changes, key, False) != bool(row[column]):
                self.policy.authorize(ctx, f"update_network:{key}", network_target(row))
                columns[column] = values.flag(changes, key, False)
        return columns

    @endpoint
    async def delete_network(self, ctx: RequestContext, network_id: str) -> None:
        """Delete a network, its subnets and floating IPs; `NetworkInUse` while ports remain."""
        async with self.db.transaction() as conn:
            row = await visible_network(self.db, ctx, network_id)
            self.policy.authorize(ctx, "delete_network", network_target(row))
            await self._refuse_in_use(row)
            await rows.write(
                conn, "DELETE FROM floating_ips WHERE floating_network_id = ?", (row["id"],)
            )
            await rows.write(
                conn,
                "DELETE FROM ports WHERE network_id = ? AND device_owner = 'network:floatingip'",
                (row["id"],),
            )
            await rows.write(conn, "DELETE FROM networks WHERE id = ?", (row["id"],))
        log.info("network.deleted", network_id=row["id"])

    async def _refuse_in_use(self, row: sqlite3.Row) -> None:
        found = await self.db.fetchone(
            "SELECT count(*) FROM ports WHERE network_id = ? AND device_owner != "
            "'network:floatingip'",
            (row["id"],),
        )
        if found and found[0]:
            raise NetworkInUse(
                f"Unable to complete operation on network {row['id']}. There are one or more "
                f"ports still in use on the network ({found[0]}).",
                network_id=row["id"],
            )

    @endpoint
    async def list_networks(self, ctx: RequestContext) -> list[objects.Network]:
        """The networks the caller sees: its project's, shared and external ones (admins: all)."""
        found = await self.db.fetchall(
            f"SELECT * FROM networks WHERE {NETWORK_VISIBLE} ORDER BY rowid", caller(ctx)
        )
        subnets: dict[str, list[str]] = {}
        for row in await self.db.fetchall("SELECT id, network_id FROM subnets ORDER BY rowid"):
            subnets.setdefault(row["network_id"], []).append(row["id"])
        return [rows.network(row, subnets.get(row["id"], ())) for row in found]

    @endpoint
    async def get_network(self, ctx: RequestContext, network_id: str) -> objects.Network:
        """One visible network, with its subnet ids; NetworkNotFound otherwise."""
        row = await visible_network(self.db, ctx, network_id)
        subnets = await self.db.fetchall(
            "SELECT id FROM subnets WHERE network_id = ? ORDER BY rowid", (row["id"],)
        )
        return rows.network(row, [subnet["id"] for subnet in subnets])
