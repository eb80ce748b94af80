"""Ports made, changed and deleted through the API (Neutron's port CRUD).

A bulk create is all or nothing, inside one write transaction. Choosing a port's
MAC or fixed IP addresses needs the network's owner or an administrator, binding it
to a host or giving it a binding profile an administrator (Neutron's rules). A
router's ports and a floating IP's are deleted through the router or the floating
IP, never directly (409); deleting any other port lets go of its floating IPs.
Compute's ports (`allocate_for_instance`) and the lists are the manager's.
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
from nova_lite.exceptions import Conflict
from nova_lite.network import rows, values
from nova_lite.network.access import Quotas, visible_network, visible_port
from nova_lite.network.allocator import PortAllocator
from nova_lite.network.port_maker import PortMaker, address_pairs, dhcp_options, vnic_type
from nova_lite.network.rows import IDS_IN
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["PortRecords"]

log = structlog.get_logger(__name__)

UPDATE_FIELDS = (
    "name",
    "description",
    "admin_state_up",
    "fixed_ips",
    "security_groups",
    "port_security_enabled",
    "device_id",
    "device_owner",
    "mac_address",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "allowed_address_pairs",
    "extra_dhcp_opts",
)
CREATE_FIELDS = (*UPDATE_FIELDS, "network_id", "project_id", "tenant_id")
# Attributes whose use needs a rule of its own, beyond create_port / update_port.
GUARDED = (
    "mac_address",
    "fixed_ips:ip_address",
    "binding:host_id",
    "binding:profile",
    "device_owner",
)
_BY_IDS = f"p.id {IDS_IN}"
# The columns an update writes, in the order of its UPDATE statement.
_UPDATED = (
    "name",
    "description",
    "admin_state_up",
    "device_id",
    "device_owner",
    "binding_host",
    "status",
    "mac_address",
    "vnic_type",
    "binding_profile",
    "allowed_address_pairs",
    "extra_dhcp_opts",
)
SERVICE_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip")


class PortRecords:
    """The endpoints that create, update and delete ports."""

    def __init__(
        self,
        db: Database,
        policy: Enforcer,
        quotas: Quotas,
        allocator: PortAllocator,
        maker: PortMaker,
    ) -> None:
        self.db = db
        self.policy = policy
        self.quotas = quotas
        self.allocator = allocator
        self.maker = maker

    @endpoint
    async def create_ports(
        self, ctx: RequestContext, ports: list[dict[str, Any]]
    ) -> list[objects.Port]:
        """Create every port of `ports` (Neutron's attributes each), or none."""
        requests = [values.known(port, CREATE_FIELDS, "port") for port in ports]
        async with self.db.transaction() as conn:
            ids = [await self._create(conn, ctx, request) for request in requests]
        created = {
            port.id: port for port in await rows.load_ports(self.db, _BY_IDS, (rows.to_json(ids),))
        }
        log.info("network.ports_created", port_ids=ids)
        return [created[port_id] for port_id in ids]

    async def _create(
        self, conn: aiosqlite.Connection, ctx: RequestContext, request: dict[str, Any]
    ) -> str:
        network = await visible_network(self.db, ctx, request.get("network_id"))
        project = values.owner(ctx, request)
        target = {"project_id": project, "network_project_id": network["project_id"]}
        self.policy.authorize(ctx, "create_port", target)
        for guarded in _guarded(request):
            self.policy.authorize(ctx, f"create_port:{guarded}", target)
        await self.quotas.check("port", project)
        return await self.maker.make(conn, ctx, network, request, project)

    @endpoint
    async def update_port(
        self, ctx: RequestContext, port_id: str, changes: dict[str, Any]
    ) -> objects.Port:
        """Change a port: name, states, fixed IPs, security groups, binding, pairs, options."""
        changes = values.known(changes, UPDATE_FIELDS, "port")
        async with self.db.transaction() as conn:
            row = await visible_port(self.db, ctx, port_id)
            network = await visible_network(self.db, ctx, row["network_id"])
            target = {"project_id": row["project_id"], "network_project_id": network["project_id"]}
            self.policy.authorize(ctx, "update_port", target)
            for guarded in _guarded(changes):
                self.policy.authorize(ctx, f"update_port:{guarded}", target)
            await self._write_columns(conn, row, changes)
            if "fixed_ips" in changes:
                await self._readdress(conn, row, network, changes["fixed_ips"])
            await self._regroup(conn, ctx, row, changes)
        log.info("network.port_updated", port_id=row["id"], changed=sorted(changes))
        (port,) = await rows.load_ports(self.db, "p.id = ?", (row["id"],))
        return port

    async def _write_columns(
        self, conn: aiosqlite.Connection, row: sqlite3.Row, changes: Mapping[str, Any]
    ) -> None:
        columns: dict[str, Any] = {}
        for key in ("name", "description"):
            if key in changes:
                columns[key] = (
                    values.name(changes) if key == "name" else values.description(changes)
                )
        if "admin_state_up" in changes:
            columns["admin_state_up"] = values.flag(changes, "admin_state_up", True)
        for key in ("device_id", "device_owner"):
            if key in changes:
                text = check.text(key, changes[key] or "", empty=True)
                columns[key] = (text or None) if key == "device_id" else text
        if "binding:host_id" in changes:
            host = changes["binding:host_id"] or None
            columns["binding_host"] = None if host is None else check.text("binding:host_id", host)
            columns["status"] = "ACTIVE" if host else "DOWN"
        if "mac_address" in changes and changes["mac_address"] != row["mac_address"]:
            columns["mac_address"] = await self.maker.addresses.new_mac(changes["mac_address"])
        columns.update(_json_columns(row, changes, columns.get("mac_address", row["mac_address"])))
        merged = {**dict(row), **columns}
        await rows.write(
            conn,
            "UPDATE ports SET name = ?, description = ?, admin_state_up = ?, device_id = ?, "
            "device_owner = ?, binding_host = ?, status = ?, mac_address = ?, vnic_type = ?, "
            "binding_profile = ?, allowed_address_pairs = ?, extra_dhcp_opts = ?, "
            "updated_at = ?, revision = revision + 1 WHERE id = ?",
            (*(merged[column] for column in _UPDATED), rows.now(), row["id"]),
        )

    async def _readdress(
        self, conn: aiosqlite.Connection, row: sqlite3.Row, network: sqlite3.Row, requested: object
    ) -> None:
        requested = requested or []
        if not isinstance(requested, list):
            raise Conflict("fixed_ips must be a list of {'subnet_id', 'ip_address'} entries.")
        current = [
            {"subnet_id": r["subnet_id"], "ip_address": r["ip_address"]}
            for r in await self.db.fetchall(
                "SELECT subnet_id, ip_address FROM ip_allocations WHERE port_id = ? ORDER BY rowid",
                (row["id"],),
            )
        ]
        await rows.write(conn, "DELETE FROM ip_allocations WHERE port_id = ?", (row["id"],))
        self.allocator.forget()
        mac = await self.db.fetchone("SELECT mac_address FROM ports WHERE id = ?", (row["id"],))
        await self.maker.addresses.assign(
            conn, row["id"], mac[0] if mac else row["mac_address"], network, requested, current
        )

    async def _regroup(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        row: sqlite3.Row,
        changes: Mapping[str, Any],
    ) -> None:
        secure = values.flag(changes, "port_security_enabled", bool(row["port_security"]))
        if "security_groups" in changes:
            wanted = await self.maker.groups.visible_ids(
                ctx, check.text_list("security_groups", changes["security_groups"] or [])
            )
            if wanted and not secure:
                raise Conflict(
                    "Port security must be enabled and port must have an IP address in order to "
                    "use security groups."
                )
            await self.maker.set_groups(conn, row["id"], wanted)
        elif not secure:
            held = await self.db.fetchone(
                "SELECT count(*) FROM port_security_groups WHERE port_id = ?", (row["id"],)
            )
            if held and held[0]:
                raise Conflict(
                    "Port has security group associated. Cannot disable port security or IP "
                    "address until security group is removed."
                )
        if "port_security_enabled" in changes:
            await rows.write(
                conn, "UPDATE ports SET port_security = ? WHERE id = ?", (secure, row["id"])
            )

    @endpoint
    async def delete_port(self, ctx: RequestContext, port_id: str) -> None:
        """Delete a port (its addresses freed, its floating IPs let go); a router's or a
        floating IP's port only through them (409)."""
        async with self.db.transaction() as conn:
            row = await visible_port(self.db, ctx, port_id)
            self.policy.authorize(ctx, "delete_port", {"project_id": row["project_id"]})
            if row["device_owner"] in SERVICE_OWNERS:
                raise Conflict(
                    f"Port {row['id']} cannot be deleted directly via the port API: has device "
                    f"owner {row['device_owner']}."
                )
            await rows.write(conn, "DELETE FROM ports WHERE id = ?", (row["id"],))
        self.allocator.forget()
        log.info("network.port_deleted", port_id=row["id"])


def _guarded(request: Mapping[str, Any]) -> list[str]:
    """The guarded attributes a request uses (each needs its own rule)."""
    used = [
        key for key in ("mac_address", "binding:host_id", "binding:profile") if request.get(key)
    ]
    fixed = request.get("fixed_ips")
    if isinstance(fixed, list) and any(
        isinstance(ip, Mapping) and "ip_address" in ip for ip in fixed
    ):
        used.append("fixed_ips:ip_address")
    if str(request.get("device_owner") or "").startswith("network:"):
        used.append("device_owner")
    return used


def _json_columns(row: sqlite3.Row, changes: Mapping[str, Any], mac: str) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    if "binding:vnic_type" in changes:
        columns["vnic_type"] = vnic_type(changes["binding:vnic_type"])
    if "binding:profile" in changes:
        columns["binding_profile"] = rows.to_json(changes["binding:profile"] or {})
    if "allowed_address_pairs" in changes:
        pairs = address_pairs(changes["allowed_address_pairs"] or [], mac)
        secure = values.flag(changes, "port_security_enabled", bool(row["port_security"]))
        if pairs and not secure:
            raise Conflict(
                "Port Security must be enabled in order to have allowed address pairs on a port."
            )
        columns["allowed_address_pairs"] = rows.to_json(pairs)
    if "extra_dhcp_opts" in changes:
        columns["extra_dhcp_opts"] = rows.to_json(dhcp_options(changes["extra_dhcp_opts"] or []))
    return columns
