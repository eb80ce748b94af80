"""Subnet pools as records (Neutron's ``subnet_allocation``): prefixes and their limits.

A pool's prefixes are checked (valid CIDRs, one IP version) and its prefix lengths
ordered (min <= default <= max, within the version's bounds); nothing is carved
from it yet: a subnet's ``subnetpool_id`` is recorded as given. Shared pools need
an administrator.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Mapping
from typing import Any

import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Invalid, SubnetPoolNotFound
from nova_lite.network import rows, values
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["SubnetPoolRecords"]

log = structlog.get_logger(__name__)

UPDATE_FIELDS = (
    "name",
    "description",
    "prefixes",
    "default_prefixlen",
    "min_prefixlen",
    "max_prefixlen",
    "default_quota",
    "is_default",
)
CREATE_FIELDS = (*UPDATE_FIELDS, "shared", "project_id", "tenant_id", "address_scope_id")
_VISIBLE = "(? OR shared = 1 OR project_id = ?)"


def _prefixes(value: object) -> tuple[int, list[str]]:
    """The pool's IP version and its prefixes, canonical; `Invalid` naming a bad one."""
    if not isinstance(value, list) or not value or len(value) > 64:
        raise Invalid("prefixes must be a list of 1 to 64 CIDRs.")
    found = []
    for prefix in value:
        try:
            found.append(ipaddress.ip_network(str(prefix), strict=False))
        except ValueError:
            raise Invalid(f"Invalid input for prefixes: {prefix!r} is not a valid CIDR.") from None
    versions = {network.version for network in found}
    if len(versions) > 1:
        raise Invalid("Illegal subnetpool: the prefixes are of more than one IP version.")
    return versions.pop(), [str(network) for network in found]


def _lengths(
    request: Mapping[str, Any], version: int, current: Mapping[str, Any]
) -> dict[str, int]:
    """The pool's prefix lengths (requested, else current, else Neutron's defaults), ordered."""
    top = 32 if version == 4 else 128

    def length(key: str, default: int) -> int:
        found = values.whole(request, key, current.get(key, default), 0, top)
        return default if found is None else found

    low = length("min_prefixlen", 8 if version == 4 else 64)
    high = length("max_prefixlen", top)
    lengths = {
        "min_prefixlen": low,
        "max_prefixlen": high,
        "default_prefixlen": length("default_prefixlen", low),
    }
    if not low <= lengths["default_prefixlen"] <= high:
        raise Invalid(
            "Illegal prefix bounds: min_prefixlen <= default_prefixlen <= max_prefixlen is "
            "required."
        )
    return lengths


class SubnetPoolRecords:
    """The endpoints of subnet pools, over the network database."""

    def __init__(self, db: Database, policy: Enforcer) -> None:
        self.db = db
        self.policy = policy

    @endpoint
    async def create_subnetpool(
        self, ctx: RequestContext, subnetpool: dict[str, Any]
    ) -> objects.SubnetPool:
        """Create a subnet pool of the caller's project (shared ones: administrators)."""
        request = values.known(subnetpool, CREATE_FIELDS, "subnet pool")
        project = values.owner(ctx, request)
        self.policy.authorize(ctx, "create_subnetpool", {"project_id": project})
        shared = values.flag(request, "shared", False)
        if shared:
            self.policy.authorize(ctx, "create_subnetpool:shared", {"project_id": project})
        version, prefixes = _prefixes(request.get("prefixes"))
        lengths = _lengths(request, version, {})
        pool_id = rows.new_id()
        async with self.db.transaction() as conn:
            await rows.write(
                conn,
                "INSERT INTO subnet_pools (id, name, description, project_id, prefixes, "
                "ip_version, "
                "shared, is_default, default_prefixlen, min_prefixlen, max_prefixlen, "
                "default_quota, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pool_id,
                    values.name(request),
                    values.description(request),
                    project,
                    rows.to_json(prefixes),
                    version,
                    shared,
                    values.flag(request, "is_default", False),
                    lengths["default_prefixlen"],
                    lengths["min_prefixlen"],
                    lengths["max_prefixlen"],
                    values.whole(request, "default_quota", None, 0, 2**31 - 1),
                    rows.now(),
                ),
            )
        log.info("network.subnetpool_created", subnetpool_id=pool_id)
        return await self.get_subnetpool(ctx, pool_id)

    @endpoint
    async def update_subnetpool(
        self, ctx: RequestContext, subnetpool_id: str, changes: dict[str, Any]
    ) -> objects.SubnetPool:
        """Change a pool's name, description, prefixes (only added to) or bounds."""
        changes = values.known(changes, UPDATE_FIELDS, "subnet pool")
        async with self.db.transaction() as conn:
            row = await self._visible(ctx, subnetpool_id)
            self.policy.authorize(ctx, "update_subnetpool", {"project_id": row["project_id"]})
            version, prefixes = _prefixes(
                changes.get("prefixes", rows.from_json(row["prefixes"], []))
            )
            if version != row["ip_version"]:
                raise Invalid(
                    "Illegal subnetpool update: the prefixes must stay of one IP version."
                )
            lengths = _lengths(changes, version, dict(row))
            await rows.write(
                conn,
                "UPDATE subnet_pools SET name = ?, description = ?, prefixes = ?, "
                "default_prefixlen = ?, "
                "min_prefixlen = ?, max_prefixlen = ?, is_default = ?, updated_at = ?, "
                "revision = revision + 1 WHERE id = ?",
                (
                    values.name(changes, row["name"]),
                    values.description(changes, row["description"]),
                    rows.to_json(prefixes),
                    lengths["default_prefixlen"],
                    lengths["min_prefixlen"],
                    lengths["max_prefixlen"],
                    values.flag(changes, "is_default", bool(row["is_default"])),
                    rows.now(),
                    row["id"],
                ),
            )
        return await self.get_subnetpool(ctx, row["id"])

    @endpoint
    async def delete_subnetpool(self, ctx: RequestContext, subnetpool_id: str) -> None:
        """Delete a pool."""
        async with self.db.transaction() as conn:
            row = await self._visible(ctx, subnetpool_id)
            self.policy.authorize(ctx, "delete_subnetpool", {"project_id": row["project_id"]})
            await rows.write(conn, "DELETE FROM subnet_pools WHERE id = ?", (row["id"],))

    @endpoint
    async def list_subnetpools(self, ctx: RequestContext) -> list[objects.SubnetPool]:
        """The pools the caller sees: its project's and shared ones (all, for admins)."""
        found = await self.db.fetchall(
            f"SELECT * FROM subnet_pools WHERE {_VISIBLE} ORDER BY rowid",
            (ctx.is_admin, ctx.project_id),
        )
        return [_pool(row) for row in found]

    @endpoint
    async def get_subnetpool(self, ctx: RequestContext, subnetpool_id: str) -> objects.SubnetPool:
        """One visible pool; SubnetPoolNotFound otherwise."""
        return _pool(await self._visible(ctx, subnetpool_id))

    async def _visible(self, ctx: RequestContext, subnetpool_id: object) -> sqlite3.Row:
        pool_id = check.text("subnetpool_id", subnetpool_id)
        row = await self.db.fetchone(
            f"SELECT * FROM subnet_pools WHERE id = ? AND {_VISIBLE}",
            (pool_id, ctx.is_admin, ctx.project_id),
        )
        if row is None:
            raise SubnetPoolNotFound(f"Subnet pool {pool_id} could not be found.")
        return row


def _pool(row: sqlite3.Row) -> objects.SubnetPool:
    return objects.SubnetPool(
        id=row["id"],
        name=row["name"],
        prefixes=tuple(rows.from_json(row["prefixes"], [])),
        ip_version=row["ip_version"],
        project_id=row["project_id"],
        description=row["description"],
        shared=bool(row["shared"]),
        is_default=bool(row["is_default"]),
        default_prefixlen=row["default_prefixlen"],
        min_prefixlen=row["min_prefixlen"],
        max_prefixlen=row["max_prefixlen"],
        default_quota=row["default_quota"],
        created_at=row["created_at"],
        updated_at=row["updated_at"] or row["created_at"],
        revision_number=row["revision"],
    )
