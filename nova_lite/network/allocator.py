"""Making one port for an instance: a unique MAC and a free address from the pool."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite

from nova_lite.db import Database
from nova_lite.exceptions import Conflict, IpAddressExhausted, NetworkNotFound
from nova_lite.network import ipam, rows

__all__ = ["PortAllocator"]

MAC_ATTEMPTS = 16


class PortAllocator:
    """Creates ports inside the caller's write transaction on the network database.

    The caller holds `Database.transaction()` (``BEGIN IMMEDIATE``) around every use,
    so reading the taken addresses and inserting the new one cannot interleave with
    another allocation; the ``UNIQUE(subnet_id, ip_address)`` constraint is the backstop.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        # The address handed out last, per subnet: the next one is usually free,
        # which spares a scan of every allocation (checked, so never trusted blindly).
        self._last: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<PortAllocator {self.db.name}>"

    async def create_port(
        self,
        conn: aiosqlite.Connection,
        network_id: str,
        device: str,
        project: str,
        *,
        host: str | None = None,
    ) -> str:
        """Create a port of `device` on the network, with one fixed IP; its id.

        The port is DOWN, or with `host` bound there and ACTIVE.
        """
        network = await self.db.fetchone(
            "SELECT * FROM networks WHERE id = ? AND (shared = 1 OR project_id = ?)",
            (network_id, project),
        )
        if network is None:
            raise NetworkNotFound(
                f"Network {network_id} could not be found or is not usable by project {project}.",
                network_id=network_id,
            )
        port_id = rows.new_id()
        status = "DOWN" if host is None else "ACTIVE"
        await self._insert_port(conn, (port_id, network_id, device, project, status, host))
        subnet = await self.db.fetchone(
            "SELECT * FROM subnets WHERE network_id = ? ORDER BY rowid LIMIT 1", (network_id,)
        )
        if subnet is not None:  # a network without subnets gets ports without addresses
            await rows.write(
                conn,
                "INSERT INTO ip_allocations (port_id, subnet_id, ip_address) VALUES (?, ?, ?)",
                (port_id, subnet["id"], await self.free_address(subnet, network)),
            )
        return port_id

    async def _insert_port(self, conn: aiosqlite.Connection, values: tuple[Any, ...]) -> None:
        """Insert the port with a random MAC; the column's UNIQUE refuses one in use."""
        for _ in range(MAC_ATTEMPTS):
            try:
                await rows.write(
                    conn,
                    "INSERT INTO ports (id, network_id, device_id, project_id, status, "
                    "binding_host, mac_address, device_owner, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'compute:nova', ?)",
                    (*values, ipam.random_mac(), rows.now()),
                )
                return
            except sqlite3.IntegrityError as exc:
                if "mac_address" not in str(exc):
                    raise
        raise Conflict(f"No unique MAC address found in {MAC_ATTEMPTS} attempts; try again.")

    async def free_address(self, subnet: sqlite3.Row, network: sqlite3.Row) -> str:
        """A free address of the subnet's allocation pools (the one way to pick one).

        `IpAddressExhausted` when every pool is used up. The caller inserts it inside
        the same write transaction.
        """
        for start, end in ((pool["start"], pool["end"]) for pool in rows.pools(subnet)):
            address = await self._next_after_last(subnet, start, end) or await self._scan(
                subnet, start, end
            )
            if address is not None:
                self._last[subnet["id"]] = address
                return address
        raise IpAddressExhausted(
            f"No more IP addresses available on subnet {subnet['id']} ({subnet['cidr']}) "
            f"of network {network['id']} ({network['name']}).",
            subnet_id=subnet["id"],
            network_id=network["id"],
        )

    async def _next_after_last(self, subnet: sqlite3.Row, start: str, end: str) -> str | None:
        last = self._last.get(subnet["id"])
        candidate = last and ipam.after(last, start, end)
        if not candidate or candidate == subnet["gateway_ip"]:
            return None
        rows = await self.db.fetchall(
            "SELECT ip_address FROM ip_allocations WHERE subnet_id = ? AND ip_address IN (?, ?)",
            (subnet["id"], last, candidate),
        )
        # Only while `last` is still held (not rolled back) is every lower address taken.
        return candidate if [r["ip_address"] for r in rows] == [last] else None

    def forget(self) -> None:
        """Addresses were released: the next allocation scans for the lowest free one."""
        self._last.clear()

    async def _scan(self, subnet: sqlite3.Row, start: str, end: str) -> str | None:
        taken = [
            row["ip_address"]
            for row in await self.db.fetchall(
                "SELECT ip_address FROM ip_allocations WHERE subnet_id = ?", (subnet["id"],)
            )
        ]
        if subnet["gateway_ip"]:
            taken.append(subnet["gateway_ip"])
        return ipam.first_free(start, end, taken)
