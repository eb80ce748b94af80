"""A port's fixed IPs: what a request asks for, made into addresses, as Neutron does.

A request's ``fixed_ips`` is a list of ``{"subnet_id": ..., "ip_address": ...}``,
either key optional. An entry naming only a subnet gets a free address of its
pools (the allocator's `free_address`, the one way addresses are picked) or, on a
SLAAC subnet, the EUI-64 address of the port's MAC; an entry naming an address must
lie in a subnet of the port's network and be free (`IpAddressInUse`, 409). Without
``fixed_ips`` a port gets one address of the first IPv4 subnet that has one free,
one of the first stateful IPv6 subnet, and its SLAAC address on every SLAAC subnet.
Everything runs inside the caller's write transaction.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import aiosqlite

from nova_lite.db import Database
from nova_lite.exceptions import Invalid, IpAddressExhausted, IpAddressInUse, MacAddressInUse
from nova_lite.network import ipam, rows
from nova_lite.network.allocator import PortAllocator
from nova_lite.network.subnet_plans import AUTO_ADDRESS_MODES, eui64

__all__ = ["MAX_FIXED_IPS", "Addresses", "mac_address"]

MAX_FIXED_IPS = 5  # Neutron's max_fixed_ips_per_port
MAC_ATTEMPTS = 16


def mac_address(value: object) -> str:
    """`value` as a lower-case unicast MAC (``fa:16:3e:12:34:56``); `Invalid` otherwise."""
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 6 or not all(len(p) == 2 and _is_hex(p) for p in parts):
        raise Invalid(f"Invalid input for mac_address: '{value}' is not a valid MAC address.")
    if int(parts[0], 16) & 1:
        raise Invalid(f"Invalid input for mac_address: '{value}' is a multicast address.")
    return value.lower() if isinstance(value, str) else ""


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


class Addresses:
    """Gives ports their MACs and fixed IPs, in the caller's transaction."""

    def __init__(self, db: Database, allocator: PortAllocator) -> None:
        self.db = db
        self.allocator = allocator

    async def new_mac(self, requested: object = None) -> str:
        """The requested MAC if no port has it (`MacAddressInUse`), else a random free one."""
        if requested is not None:
            mac = mac_address(requested)
            if await self._mac_taken(mac):
                raise MacAddressInUse(
                    f"Unable to complete operation for port. The mac address {mac} is in use."
                )
            return mac
        for _ in range(MAC_ATTEMPTS):
            mac = ipam.random_mac()
            if not await self._mac_taken(mac):
                return mac
        raise MacAddressInUse(f"No unique MAC address found in {MAC_ATTEMPTS} attempts; try again.")

    async def _mac_taken(self, mac: str) -> bool:
        return (
            await self.db.fetchone("SELECT 1 FROM ports WHERE mac_address = ?", (mac,)) is not None
        )

    async def assign(
        self,
        conn: aiosqlite.Connection,
        port_id: str,
        mac: str,
        network: sqlite3.Row,
        requested: Sequence[Mapping[str, Any]] | None,
        kept: Sequence[Mapping[str, str]] = (),
    ) -> None:
        """Give the port its addresses: `requested` (None: Neutron's default), keeping
        those of `kept` (its current ones) that an entry names or that its subnet asks for."""
        subnets = await self.db.fetchall(
            "SELECT * FROM subnets WHERE network_id = ? ORDER BY rowid", (network["id"],)
        )
        if requested is None:
            for subnet, address in await self._defaults(subnets, network, mac):
                await self._insert(conn, port_id, subnet, address)
            return
        if len(requested) > MAX_FIXED_IPS:
            raise Invalid(f"Exceeded maximum amount of fixed ips per port ({MAX_FIXED_IPS}).")
        available = [dict(ip) for ip in kept]
        for entry in requested:
            subnet, address = await self._one(subnets, network, mac, entry, available)
            await self._insert(conn, port_id, subnet, address)

    async def _defaults(
        self, subnets: Sequence[sqlite3.Row], network: sqlite3.Row, mac: str
    ) -> list[tuple[sqlite3.Row, str]]:
        chosen: list[tuple[sqlite3.Row, str]] = []
        for version, auto in ((4, False), (6, False)):
            for subnet in subnets:
                if subnet["ip_version"] == version and _auto(subnet) == auto:
                    try:
                        chosen.append((subnet, await self.allocator.free_address(subnet, network)))
                    except IpAddressExhausted:
                        continue
                    break
        chosen += [(s, eui64(s["cidr"], mac)) for s in subnets if _auto(s)]
        return chosen

    async def _one(
        self,
        subnets: Sequence[sqlite3.Row],
        network: sqlite3.Row,
        mac: str,
        entry: Mapping[str, Any],
        available: list[dict[str, str]],
    ) -> tuple[sqlite3.Row, str]:
        if not isinstance(entry, Mapping) or not entry or set(entry) - {"subnet_id", "ip_address"}:
            raise Invalid(
                f"Invalid fixed_ips entry {entry!r:.80}: give 'subnet_id' and/or 'ip_address'."
            )
        subnet = _subnet_for(subnets, network, entry)
        address = entry.get("ip_address")
        for current in available:
            if current["subnet_id"] == subnet["id"] and address in (None, current["ip_address"]):
                available.remove(current)
                return subnet, current["ip_address"]
        if address is not None:
            return subnet, await self._free_or_refuse(subnet, str(address))
        if _auto(subnet):
            return subnet, eui64(subnet["cidr"], mac)
        return subnet, await self.allocator.free_address(subnet, network)

    async def _free_or_refuse(self, subnet: sqlite3.Row, address: str) -> str:
        taken = await self.db.fetchone(
            "SELECT 1 FROM ip_allocations WHERE subnet_id = ? AND ip_address = ?",
            (subnet["id"], address),
        )
        if taken is not None:
            raise IpAddressInUse(
                f"IP address {address} already allocated in subnet {subnet['id']}.",
                subnet_id=subnet["id"],
            )
        return address

    async def _insert(
        self, conn: aiosqlite.Connection, port_id: str, subnet: sqlite3.Row, address: str
    ) -> None:
        await rows.write(
            conn,
            "INSERT INTO ip_allocations (port_id, subnet_id, ip_address) VALUES (?, ?, ?)",
            (port_id, subnet["id"], address),
        )


def _auto(subnet: sqlite3.Row) -> bool:
    return subnet["ipv6_address_mode"] in AUTO_ADDRESS_MODES


def _subnet_for(
    subnets: Sequence[sqlite3.Row], network: sqlite3.Row, entry: Mapping[str, Any]
) -> sqlite3.Row:
    """The subnet of the port's network an entry means; `Invalid` naming what is wrong."""
    subnet_id, address = entry.get("subnet_id"), entry.get("ip_address")
    candidates = [s for s in subnets if subnet_id is None or s["id"] == subnet_id]
    if subnet_id is not None and not candidates:
        raise Invalid(
            f"Invalid input for operation: Failed to create port on network {network['id']}, "
            f"because fixed_ips included invalid subnet {subnet_id}."
        )
    if address is None:
        return candidates[0]
    parsed = _parse(address)
    for subnet in candidates:
        if _usable(parsed, ipaddress.ip_network(subnet["cidr"])):
            return subnet
    raise Invalid(
        f"IP address {address} is not a valid IP for the specified subnet"
        if subnet_id is not None
        else f"IP address {address} is not a valid IP for any of the subnets on the "
        "specified network."
    )


def _parse(address: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(address))
    except ValueError:
        raise Invalid(
            f"Invalid input for ip_address: '{address}' is not a valid IP address."
        ) from None


def _usable(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> bool:
    """Whether `address` is a host of `network` (not its network or broadcast address)."""
    if address.version != network.version or address not in network:
        return False
    if address == network.network_address:
        return False
    return bool(network.version == 6 or address != network.broadcast_address)
