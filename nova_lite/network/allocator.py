"""Making one port for an instance: a unique MAC and a free address from the pool."""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiosqlite

from nova_lite import objects
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
        groups: Sequence[str] = (),
    ) -> objects.Port:
        """Create a port of `device` on the network, with one fixed IP and `groups`.

        The port is DOWN, or with `host` bound there and ACTIVE. It is returned as
        written (as `rows.load_ports` would read it back): the caller needs no read.
        The network and its first subnet are read in one statement; neither is kept,
        since both may change (a subnet's pools, the network's sharing) between builds.
        """
        found = await self.db.fetchone(_NETWORK_AND_SUBNET, (network_id, project))
        if found is None:
            raise NetworkNotFound(
                f"Network {network_id} could not be found or is not usable by project {project}.",
                network_id=network_id,
            )
        port_id = rows.new_id()
        status = "DOWN" if host is None else "ACTIVE"
        created = rows.now()
        values = (port_id, network_id, device, project, status, host)
        mac = await self._insert_port(conn, values, created)
        fixed_ips: tuple[dict[str, str], ...] = ()
        if found["id"] is not None:  # a network without subnets gets ports without addresses
            network = {"id": network_id, "name": found["network_name"]}
            address = await self.insert_address(conn, port_id, found, network)
            fixed_ips = ({"subnet_id": found["id"], "ip_address": address},)
        security_groups = await rows.add_port_groups(conn, port_id, groups)
        return objects.Port(
            id=port_id,
            network_id=network_id,
            mac_address=mac,
            fixed_ips=fixed_ips,
            device_id=device,
            project_id=project,
            status=status,
            binding_host=host,
            device_owner=COMPUTE_OWNER,
            security_groups=security_groups,
            created_at=created,
            updated_at=created,
        )

    async def _insert_port(
        self, conn: aiosqlite.Connection, values: tuple[Any, ...], created: str
    ) -> str:
        """Insert the port with a random MAC (returned); the column's UNIQUE refuses one
        in use."""
        for _ in range(MAC_ATTEMPTS):
            mac = ipam.random_mac()
            try:
                await rows.write(
                    conn,
                    "INSERT INTO ports (id, network_id, device_id, project_id, status, "
                    "binding_host, mac_address, device_owner, created_at) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?, '{COMPUTE_OWNER}', ?)",
                    (*values, mac, created),
                )
                return mac
            except sqlite3.IntegrityError as exc:
                if "mac_address" not in str(exc):
                    raise
        raise Conflict(f"No unique MAC address found in {MAC_ATTEMPTS} attempts; try again.")

    async def free_address(
        self, subnet: sqlite3.Row, network: Mapping[str, Any] | sqlite3.Row
    ) -> str:
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

        async def unheld(address: str) -> bool:
            held = await self.db.fetchone(
                "SELECT 1 FROM ip_allocations WHERE subnet_id = ? AND ip_address = ?",
                (subnet["id"], address),
            )
            return held is None

        return await self._hand_out(subnet, network, unheld)

    async def insert_address(
        self,
        conn: aiosqlite.Connection,
        port_id: str,
        subnet: sqlite3.Row,
        network: Mapping[str, Any] | sqlite3.Row,
    ) -> str:
        """Give the port the subnet's lowest free address (returned), as `free_address`
        picks it, in one statement per candidate instead of a check and an insert.

        The insert is the check: ``UNIQUE(subnet_id, ip_address)`` refuses an address
        another connection took (SQLite undoes that one statement, not the caller's
        transaction), and the next candidate is tried, as a held one is skipped there.
        """

        async def inserted(address: str) -> bool:
            try:
                await rows.write(conn, _INSERT_ADDRESS, (port_id, subnet["id"], address))
            except sqlite3.IntegrityError as exc:
                if not str(exc).startswith(_ADDRESS_TAKEN):
                    raise
                return False
            return True

        return await self._hand_out(subnet, network, inserted)

    async def _hand_out(
        self,
        subnet: sqlite3.Row,
        network: Mapping[str, Any] | sqlite3.Row,
        claim: Callable[[str], Awaitable[bool]],
    ) -> str:
        """The first candidate, lowest first, that `claim` finds free (see `free_address`)."""
        pools = await self._pool(subnet)
        for fresh in (pools.fresh, True):
            while (candidate := pools.lowest()) is not None:
                address = ipam.to_address(candidate, subnet["cidr"])
                claimed = await claim(address)
                pools.take(candidate)
                if claimed:
                    pools.fresh = False
                    pools.pending.append(candidate)
                    return address
            if fresh:
                break
            pools = await self._rebuild(subnet)
        # Used up as of now: the next allocation scans again (another connection may
        # release an address meanwhile, which no release log here would tell).
        pools.fresh = False
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


COMPUTE_OWNER = "compute:nova"  # the device owner of an instance's ports

# A network the project may use, with its first subnet's columns (NULL when it has none)
# and its name as ``network_name``: what a port on it needs, in one statement.
_NETWORK_AND_SUBNET = (
    "SELECT s.*, n.name AS network_name FROM networks n LEFT JOIN subnets s ON s.rowid = "
    "(SELECT rowid FROM subnets WHERE network_id = n.id ORDER BY rowid LIMIT 1) "
    "WHERE n.id = ? AND (n.shared = 1 OR n.project_id = ?)"
)
_INSERT_ADDRESS = "INSERT INTO ip_allocations (port_id, subnet_id, ip_address) VALUES (?, ?, ?)"
_ADDRESS_TAKEN = "UNIQUE constraint failed: ip_allocations."

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
