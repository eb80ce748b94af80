"""Floating IPs as records: an address of an external network, held for a project.

The address comes from the external network's subnets (a port with device owner
``network:floatingip`` holds it; choosing the address needs an administrator). It
may be associated with a fixed IP of a port whose subnet a router connects to that
external network (Neutron's reachability rule: otherwise 404), and it then records
that router. Nothing is translated: there is no NAT, in any driver. Deleting the
port lets go of the association; deleting the external network deletes its
floating IPs.
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
from nova_lite.exceptions import Conflict, FloatingIpNotFound, Invalid
from nova_lite.network import rows, values
from nova_lite.network.access import OWN, Quotas, caller, visible_network, visible_port, visible_row
from nova_lite.network.allocator import PortAllocator
from nova_lite.network.port_maker import PortMaker
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["FloatingIpRecords"]

log = structlog.get_logger(__name__)

CREATE_FIELDS = (
    "floating_network_id",
    "floating_ip_address",
    "subnet_id",
    "port_id",
    "fixed_ip_address",
    "description",
    "project_id",
    "tenant_id",
)
UPDATE_FIELDS = ("port_id", "fixed_ip_address", "description")


class FloatingIpRecords:
    """The endpoints of floating IPs, over the network database."""

    def __init__(
        self,
        db: Database,
        policy: Enforcer,
        quotas: Quotas,
        maker: PortMaker,
        allocator: PortAllocator,
    ) -> None:
        self.db = db
        self.policy = policy
        self.quotas = quotas
        self.maker = maker
        self.allocator = allocator

    @endpoint
    async def create_floatingip(
        self, ctx: RequestContext, floatingip: dict[str, Any]
    ) -> objects.FloatingIp:
        """Take an address of an external network, associated with a port if one is named."""
        request = values.known(floatingip, CREATE_FIELDS, "floating IP")
        project = values.owner(ctx, request)
        self.policy.authorize(ctx, "create_floatingip", {"project_id": project})
        if request.get("floating_ip_address") is not None:
            self.policy.authorize(
                ctx, "create_floatingip:floating_ip_address", {"project_id": project}
            )
        fip_id = rows.new_id()
        async with self.db.transaction() as conn:
            network = await visible_network(self.db, ctx, request.get("floating_network_id"))
            if not network["external"]:
                raise Invalid(
                    f"Bad floatingip request: Network {network['id']} is not a valid external "
                    "network."
                )
            await self.quotas.check("floatingip", project)
            port_request = await self._port_request(fip_id, network, request)
            port_id = await self.maker.make(conn, ctx, network, port_request, None)
            address = await self.db.fetchone(
                "SELECT ip_address FROM ip_allocations WHERE port_id = ?", (port_id,)
            )
            if address is None:  # pragma: no cover - make() gives the address asked for
                raise Invalid(f"Bad floatingip request: no address on network {network['id']}.")
            await rows.write(
                conn,
                "INSERT INTO floating_ips (id, project_id, floating_network_id, floating_port_id, "
                "floating_ip_address, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    fip_id,
                    project,
                    network["id"],
                    port_id,
                    address[0],
                    values.description(request),
                    rows.now(),
                ),
            )
            if request.get("port_id") is not None:
                await self._associate(conn, ctx, fip_id, network["id"], request)
        log.info("network.floatingip_created", floatingip_id=fip_id, project_id=project)
        return await self.get_floatingip(ctx, fip_id)

    async def _associate(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        fip_id: str,
        external: str,
        request: Mapping[str, Any],
    ) -> None:
        port = await visible_port(self.db, ctx, request["port_id"])
        fixed = await self._fixed_ip(port, request.get("fixed_ip_address"))
        router = await self.db.fetchone(
            "SELECT r.id FROM routers r JOIN ports p ON p.device_id = r.id "
            "JOIN ip_allocations a ON a.port_id = p.id "
            "WHERE r.gateway_network_id = ? AND p.device_owner = 'network:router_interface' "
            "AND a.subnet_id = ? ORDER BY r.rowid LIMIT 1",
            (external, fixed["subnet_id"]),
        )
        if router is None:
            raise FloatingIpNotFound(
                f"External network {external} is not reachable from subnet {fixed['subnet_id']}. "
                f"Therefore, cannot associate Port {port['id']} with a Floating IP."
            )
        taken = await self.db.fetchone(
            "SELECT id FROM floating_ips WHERE port_id = ? AND fixed_ip_address = ? AND id != ?",
            (port["id"], fixed["ip_address"], fip_id),
        )
        if taken is not None:
            raise Conflict(
                f"Cannot associate floating IP with port {port['id']} using fixed IP "
                f"{fixed['ip_address']}, as that fixed IP already has a floating IP ({taken[0]})."
            )
        await rows.write(
            conn,
            "UPDATE floating_ips SET port_id = ?, fixed_ip_address = ?, router_id = ? WHERE id = ?",
            (port["id"], fixed["ip_address"], router["id"], fip_id),
        )

    async def _fixed_ip(self, port: sqlite3.Row, wanted: object) -> sqlite3.Row:
        found = await self.db.fetchall(
            "SELECT a.subnet_id, a.ip_address FROM ip_allocations a JOIN subnets s ON s.id = "
            "a.subnet_id "
            "WHERE a.port_id = ? AND s.ip_version = 4 ORDER BY a.rowid",
            (port["id"],),
        )
        if wanted is not None:
            for row in found:
                if row["ip_address"] == wanted:
                    return row
            raise Invalid(
                f"Bad floatingip request: Port {port['id']} does not have fixed ip {wanted}."
            )
        if not found:
            raise Invalid(
                f"Bad floatingip request: Port {port['id']} does not have an IPv4 address."
            )
        if len(found) > 1:
            raise Invalid(
                f"Port {port['id']} has multiple fixed IPv4 addresses. Must provide a specific "
                "IPv4 address when assigning a floating IP."
            )
        return found[0]

    @endpoint
    async def update_floatingip(
        self, ctx: RequestContext, floatingip_id: str, changes: dict[str, Any]
    ) -> objects.FloatingIp:
        """Associate with a port (``port_id``), let go (``port_id`` null), or describe."""
        changes = values.known(changes, UPDATE_FIELDS, "floating IP")
        async with self.db.transaction() as conn:
            row = await self._visible(ctx, floatingip_id)
            self.policy.authorize(ctx, "update_floatingip", {"project_id": row["project_id"]})
            if "description" in changes:
                await rows.write(
                    conn,
                    "UPDATE floating_ips SET description = ? WHERE id = ?",
                    (values.description(changes), row["id"]),
                )
            if "port_id" in changes or "fixed_ip_address" in changes:
                await rows.write(
                    conn,
                    "UPDATE floating_ips SET port_id = NULL, fixed_ip_address = NULL, router_id = "
                    "NULL WHERE id = ?",
                    (row["id"],),
                )
                port = changes.get("port_id", row["port_id"])
                if port is not None:
                    request = {"port_id": port, "fixed_ip_address": changes.get("fixed_ip_address")}
                    await self._associate(conn, ctx, row["id"], row["floating_network_id"], request)
            await rows.write(
                conn,
                "UPDATE floating_ips SET updated_at = ?, revision = revision + 1 WHERE id = ?",
                (rows.now(), row["id"]),
            )
        return await self.get_floatingip(ctx, row["id"])

    @endpoint
    async def delete_floatingip(self, ctx: RequestContext, floatingip_id: str) -> None:
        """Give the address back: the floating IP and its port are deleted."""
        async with self.db.transaction() as conn:
            row = await self._visible(ctx, floatingip_id)
            self.policy.authorize(ctx, "delete_floatingip", {"project_id": row["project_id"]})
            await rows.write(conn, "DELETE FROM floating_ips WHERE id = ?", (row["id"],))
            await rows.write(conn, "DELETE FROM ports WHERE id = ?", (row["floating_port_id"],))
        self.allocator.forget()
        log.info("network.floatingip_deleted", floatingip_id=row["id"])

    @endpoint
    async def list_floatingips(self, ctx: RequestContext) -> list[objects.FloatingIp]:
        """The caller's project's floating IPs (all, for admins)."""
        found = await self.db.fetchall(
            f"SELECT * FROM floating_ips WHERE {OWN} ORDER BY rowid", caller(ctx)
        )
        return [_floating_ip(row) for row in found]

    @endpoint
    async def get_floatingip(self, ctx: RequestContext, floatingip_id: str) -> objects.FloatingIp:
        """One visible floating IP; FloatingIpNotFound otherwise."""
        return _floating_ip(await self._visible(ctx, floatingip_id))

    async def _port_request(
        self, fip_id: str, network: sqlite3.Row, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The port that holds the address: on the subnet and address asked for, else on
        the network's first IPv4 subnet."""
        fixed: dict[str, Any] = {}
        if request.get("subnet_id") is not None:
            fixed["subnet_id"] = request["subnet_id"]
        if request.get("floating_ip_address") is not None:
            fixed["ip_address"] = request["floating_ip_address"]
        if not fixed:
            first = await self.db.fetchone(
                "SELECT id FROM subnets WHERE network_id = ? AND ip_version = 4 ORDER BY rowid "
                "LIMIT 1",
                (network["id"],),
            )
            if first is None:
                raise Invalid(
                    f"Bad floatingip request: Network {network['id']} has no IPv4 subnet."
                )
            fixed["subnet_id"] = first["id"]
        return {"device_id": fip_id, "device_owner": "network:floatingip", "fixed_ips": [fixed]}

    async def _visible(self, ctx: RequestContext, floatingip_id: object) -> sqlite3.Row:
        fip_id = check.text("floatingip_id", floatingip_id)
        return await visible_row(
            self.db,
            ctx,
            "floating_ips",
            fip_id,
            FloatingIpNotFound(f"Floating IP {fip_id} could not be found"),
        )


def _floating_ip(row: sqlite3.Row) -> objects.FloatingIp:
    return objects.FloatingIp(
        id=row["id"],
        floating_network_id=row["floating_network_id"],
        floating_ip_address=row["floating_ip_address"],
        project_id=row["project_id"],
        port_id=row["port_id"],
        fixed_ip_address=row["fixed_ip_address"],
        router_id=row["router_id"],
        status="ACTIVE" if row["port_id"] else "DOWN",
        description=row["description"],
        created_at=row["created_at"],
        updated_at=row["updated_at"] or row["created_at"],
        revision_number=row["revision"],
    )
