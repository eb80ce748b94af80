"""Making one port for an instance: a unique MAC and a free address from the pool."""

from __future__ import annotations

import heapq
import json
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
        # Each subnet's free addresses, kept between allocations (see `free_address`).
        self._pools: dict[str, _FreeSet] = {}
        self._conn: object | None = None  # the connection the release log is on

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
        """The lowest free address of the subnet's allocation pools (the one way to
        pick one), the first pool first.

        `IpAddressExhausted` when every pool is used up. The caller inserts it inside
        the same write transaction.

        The subnet's free addresses are kept in memory (`_FreeSet`), built by one scan
        of its allocations and then kept up to date: an address handed out is taken,
        and an address released anywhere on this database's connection comes back
        through the release log (a temporary trigger on ``ip_allocations``, read and
        emptied here, and rolled back with the transaction that released it). The
        addresses handed out last are looked for in the table at the next allocation:
        one whose insert was rolled back is free again. Each candidate is checked
        against the table before it is handed out, so a stale entry (an address another
        connection took) is skipped, never handed out twice; an address that looks
        taken but is not (released by another connection) is found again by a new
        scan when the pools look used up.
        """
        pools = await self._pool(subnet)
        for fresh in (pools.fresh, True):
            while (candidate := pools.lowest()) is not None:
                address = ipam.to_address(candidate, subnet["cidr"])
                held = await self.db.fetchone(
                    "SELECT 1 FROM ip_allocations WHERE subnet_id = ? AND ip_address = ?",
                    (subnet["id"], address),
                )
                pools.take(candidate)
                if held is None:
                    pools.fresh = False
                    pools.pending.append(candidate)
                    return address
            if fresh:
                break
            pools = await self._rebuild(subnet)
        raise IpAddressExhausted(
            f"No more IP addresses available on subnet {subnet['id']} ({subnet['cidr']}) "
            f"of network {network['id']} ({network['name']}).",
            subnet_id=subnet["id"],
            network_id=network["id"],
        )

    def forget(self) -> None:
        """Addresses were released (kept for the callers: the release log says which)."""

    async def _pool(self, subnet: sqlite3.Row) -> _FreeSet:
        """The subnet's free set, with the releases since the last allocation applied."""
        if self._conn is not self.db.conn:  # a new connection: no log, no sets yet
            await self._start_log()
        try:
            released = await self.db.fetchall(f"SELECT subnet_id, ip_address FROM {_LOG}")
        except sqlite3.OperationalError:  # the log's creation was rolled back
            await self._start_log()
            released = []
        if released:
            await self.db.fetchall(f"DELETE FROM {_LOG}")
            for row in released:
                kept = self._pools.get(row["subnet_id"])
                if kept is not None:
                    kept.release(ipam.as_int(row["ip_address"]))
        pools = self._pools.get(subnet["id"])
        if pools is None or pools.shape != _shape(subnet):
            return await self._rebuild(subnet)
        if pools.pending:  # handed out before: still there, or rolled back since?
            handed = [ipam.to_address(value, subnet["cidr"]) for value in pools.pending]
            held = await self.db.fetchall(
                "SELECT ip_address FROM ip_allocations WHERE subnet_id = ? AND "
                "ip_address IN (SELECT value FROM json_each(?))",
                (subnet["id"], json.dumps(handed)),
            )
            present = {ipam.as_int(row["ip_address"]) for row in held}
            for value in pools.pending:
                if value not in present:
                    pools.release(value)
            pools.pending.clear()
        return pools

    async def _start_log(self) -> None:
        self._pools.clear()
        await self.db.fetchall(
            f"CREATE TEMP TABLE IF NOT EXISTS {_LOG_TABLE} (subnet_id TEXT, ip_address TEXT)"
        )
        await self.db.fetchall(
            "CREATE TEMP TRIGGER IF NOT EXISTS nova_lite_ip_released AFTER DELETE ON "
            f"main.ip_allocations BEGIN INSERT INTO {_LOG_TABLE} VALUES "
            "(OLD.subnet_id, OLD.ip_address); END"
        )
        self._conn = self.db.conn

    async def _rebuild(self, subnet: sqlite3.Row) -> _FreeSet:
        """Scan the subnet's allocations once into a new free set."""
        taken = {
            ipam.as_int(row["ip_address"])
            for row in await self.db.fetchall(
                "SELECT ip_address FROM ip_allocations WHERE subnet_id = ?", (subnet["id"],)
            )
        }
        pools = self._pools[subnet["id"]] = _FreeSet(_shape(subnet), taken)
        return pools


_LOG_TABLE = "nova_lite_released_ips"
_LOG = f"temp.{_LOG_TABLE}"

_Shape = tuple[tuple[tuple[int, int], ...], int | None]


def _shape(subnet: sqlite3.Row) -> _Shape:
    """A subnet's pools (first, last, as integers) in order, and its gateway."""
    ranges = tuple(
        (ipam.as_int(pool["start"]), ipam.as_int(pool["end"])) for pool in rows.pools(subnet)
    )
    gateway = subnet["gateway_ip"]
    return ranges, ipam.as_int(gateway) if gateway else None


class _FreeSet:
    """The free addresses of one subnet's pools, as integers: the taken ones, and per
    pool the lowest address never looked at plus a heap of the released ones below it.
    `lowest()` costs O(log n) amortised, where a scan of the allocations cost O(n)."""

    def __init__(self, shape: _Shape, taken: set[int]) -> None:
        self.shape = shape
        ranges, gateway = shape
        self.gateway = gateway
        self.taken = taken if gateway is None else taken | {gateway}
        self.ranges = [_Range(first, last) for first, last in ranges]
        self.fresh = True  # built just now: nothing it says can be stale
        self.pending: list[int] = []  # handed out, not yet seen in the table

    def lowest(self) -> int | None:
        """The lowest free address of the first pool that has one, or None."""
        for pool in self.ranges:
            found = pool.lowest(self.taken)
            if found is not None:
                return found
        return None

    def take(self, value: int) -> None:
        self.taken.add(value)

    def release(self, value: int) -> None:
        if value == self.gateway or value not in self.taken:
            return
        self.taken.discard(value)
        for pool in self.ranges:
            if pool.first <= value < pool.next:
                heapq.heappush(pool.released, value)


class _Range:
    """One allocation pool: `next` is the lowest address not looked at yet."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last, self.next = first, last, first
        self.released: list[int] = []

    def lowest(self, taken: set[int]) -> int | None:
        released = self.released
        while released and released[0] in taken:
            heapq.heappop(released)
        if released:
            return released[0]
        while self.next <= self.last and self.next in taken:
            self.next += 1
        return self.next if self.next <= self.last else None
