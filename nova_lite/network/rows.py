"""The network database's rows as model objects, and the small SQL helpers around them."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from nova_lite import objects
from nova_lite.db import Database

__all__ = ["load_ports", "network", "new_id", "now", "subnet", "subnet_values", "write"]


def new_id() -> str:
    """A new resource id (a uuid4 string, as Neutron uses)."""
    return str(uuid.uuid4())


def now() -> str:
    """The current UTC time as stored in ``created_at`` columns."""
    return objects.utcnow().isoformat()


async def write(conn: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> int:
    """Run one statement inside the caller's transaction; return the rows changed."""
    async with conn.execute(sql, tuple(params)) as cursor:
        return cursor.rowcount


def network(row: sqlite3.Row, subnet_ids: Sequence[str]) -> objects.Network:
    """A ``networks`` row, with the ids of its subnets, as a Network."""
    return objects.Network(
        id=row["id"],
        name=row["name"],
        project_id=row["project_id"],
        shared=bool(row["shared"]),
        subnets=tuple(subnet_ids),
    )


def subnet(row: sqlite3.Row) -> objects.Subnet:
    """A ``subnets`` row as a Subnet."""
    return objects.Subnet(
        id=row["id"],
        network_id=row["network_id"],
        cidr=row["cidr"],
        gateway_ip=row["gateway_ip"],
        pool_start=row["pool_start"],
        pool_end=row["pool_end"],
        ip_version=row["ip_version"],
    )


def subnet_values(value: objects.Subnet) -> tuple[Any, ...]:
    """A Subnet's columns in ``INSERT INTO subnets`` order (without ``created_at``)."""
    return (
        value.id,
        value.network_id,
        value.cidr,
        value.gateway_ip,
        value.pool_start,
        value.pool_end,
        value.ip_version,
    )


async def load_ports(db: Database, where: str, params: Iterable[Any]) -> list[objects.Port]:
    """The ports matching `where` (a fixed SQL fragment over alias ``p``), with their IPs."""
    rows = await db.fetchall(
        "SELECT p.*, a.subnet_id, a.ip_address FROM ports p "
        "LEFT JOIN ip_allocations a ON a.port_id = p.id "
        f"WHERE {where} ORDER BY p.rowid, a.rowid",
        params,
    )
    grouped: dict[str, list[sqlite3.Row]] = {}
    for row in rows:
        grouped.setdefault(row["id"], []).append(row)
    return [_port(group) for group in grouped.values()]


def _port(rows: Sequence[sqlite3.Row]) -> objects.Port:
    first = rows[0]
    return objects.Port(
        id=first["id"],
        network_id=first["network_id"],
        mac_address=first["mac_address"],
        fixed_ips=tuple(
            {"subnet_id": row["subnet_id"], "ip_address": row["ip_address"]}
            for row in rows
            if row["ip_address"] is not None
        ),
        device_id=first["device_id"],
        project_id=first["project_id"],
        status=first["status"],
        binding_host=first["binding_host"],
    )
