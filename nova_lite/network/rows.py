"""The network database's rows as model objects, and the small SQL helpers around them."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
import orjson

from nova_lite import objects
from nova_lite.db import Database

__all__ = [
    "IDS_IN",
    "add_port_groups",
    "from_json",
    "load_ports",
    "network",
    "new_id",
    "now",
    "pools",
    "subnet",
    "subnet_values",
    "to_json",
    "write",
]


#: "one of these ids" with one parameter: a JSON list (``to_json(ids)``), so no SQL text
#: depends on how many ids there are.
IDS_IN = "IN (SELECT value FROM json_each(?))"


def new_id() -> str:
    """A new resource id (a uuid4 string, as Neutron uses)."""
    return str(uuid.uuid4())


def now() -> str:
    """The current UTC time as stored in ``created_at`` columns."""
    return objects.utcnow().isoformat()


def to_json(value: Any) -> str:
    """A list or mapping as the JSON text its column holds."""
    return orjson.dumps(value).decode()


def from_json(text: str | None, default: Any) -> Any:
    """A JSON column's value, or `default` when it is NULL."""
    return default if text is None else orjson.loads(text)


async def write(conn: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> int:
    """Run one statement inside the caller's transaction; return the rows changed."""
    async with conn.execute(sql, tuple(params)) as cursor:
        return cursor.rowcount


async def add_port_groups(
    conn: aiosqlite.Connection, port_id: str, group_ids: Iterable[str]
) -> tuple[str, ...]:
    """Give a port (a new one, with none yet) the security groups `group_ids`, inside
    the caller's transaction; the groups it has now, as a `Port` lists them (sorted)."""
    unique = list(dict.fromkeys(group_ids))
    if unique:
        async with conn.executemany(
            "INSERT INTO port_security_groups (port_id, group_id) VALUES (?, ?)",
            [(port_id, group_id) for group_id in unique],
        ):
            pass
    return tuple(sorted(unique))


def _stamps(row: sqlite3.Row) -> dict[str, Any]:
    """The standard attributes every resource row has: times and revision."""
    return {
        "created_at": row["created_at"],
        "updated_at": row["updated_at"] or row["created_at"],
        "revision_number": row["revision"],
    }


def network(row: sqlite3.Row, subnet_ids: Sequence[str]) -> objects.Network:
    """A ``networks`` row, with the ids of its subnets, as a Network."""
    return objects.Network(
        id=row["id"],
        name=row["name"],
        project_id=row["project_id"],
        shared=bool(row["shared"]),
        subnets=tuple(subnet_ids),
        description=row["description"],
        admin_state_up=bool(row["admin_state_up"]),
        external=bool(row["external"]),
        mtu=row["mtu"],
        port_security_enabled=bool(row["port_security"]),
        **_stamps(row),
    )


def pools(row: sqlite3.Row) -> list[dict[str, str]]:
    """A subnet row's allocation pools (``start``/``end``), the first one first."""
    stored: list[dict[str, str]] = from_json(row["allocation_pools"], [])
    return stored or [{"start": row["pool_start"], "end": row["pool_end"]}]


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
        name=row["name"],
        description=row["description"],
        project_id=row["project_id"],
        enable_dhcp=bool(row["enable_dhcp"]),
        allocation_pools=tuple(pools(row)),
        dns_nameservers=tuple(from_json(row["dns_nameservers"], [])),
        host_routes=tuple(from_json(row["host_routes"], [])),
        ipv6_ra_mode=row["ipv6_ra_mode"],
        ipv6_address_mode=row["ipv6_address_mode"],
        subnetpool_id=row["subnetpool_id"],
        **_stamps(row),
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


_PORT_COLUMNS = (
    "SELECT p.*, a.subnet_id, a.ip_address, "
    "(SELECT group_concat(g.group_id) FROM port_security_groups g "
    " WHERE g.port_id = p.id) AS group_ids "
)


async def load_ports(
    db: Database,
    where: str,
    params: Iterable[Any],
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[objects.Port]:
    """The ports matching `where` (a fixed SQL fragment over alias ``p``), with their IPs
    and security groups, in the order they were made.

    With `limit`, a page instead: at most that many, those whose id sorts after
    `after`, by id (the primary key's index; the page is cut before the join, so a
    port's addresses are never split between pages).
    """
    if limit is None:
        sql = (
            f"{_PORT_COLUMNS} FROM ports p LEFT JOIN ip_allocations a ON a.port_id = p.id "
            f"WHERE {where} ORDER BY p.rowid, a.rowid"
        )
    else:
        sql = (
            f"{_PORT_COLUMNS} FROM (SELECT * FROM ports p WHERE {where} AND p.id > ? "
            "ORDER BY p.id LIMIT ?) p LEFT JOIN ip_allocations a ON a.port_id = p.id "
            "ORDER BY p.id, a.rowid"
        )
        params = (*params, after or "", limit)
    rows = await db.fetchall(sql, params)
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
        name=first["name"],
        description=first["description"],
        admin_state_up=bool(first["admin_state_up"]),
        device_owner=first["device_owner"],
        security_groups=tuple(
            sorted((first["group_ids"] or "").split(",")) if first["group_ids"] else ()
        ),
        port_security_enabled=bool(first["port_security"]),
        binding_vnic_type=first["vnic_type"],
        binding_profile=from_json(first["binding_profile"], {}),
        allowed_address_pairs=tuple(from_json(first["allowed_address_pairs"], [])),
        extra_dhcp_opts=tuple(from_json(first["extra_dhcp_opts"], [])),
        **_stamps(first),
    )
