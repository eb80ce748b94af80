"""Subnets: create (one or in bulk), update, delete, list and show, as Neutron does.

The addresses are checked by `subnet_plans` (no I/O); here a subnet must not
overlap another of its network, and a delete is refused (`SubnetInUse`, 409) while
a port holds an address of it, except on SLAAC subnets, whose addresses are derived
from the ports' MACs and simply go with the subnet (Neutron's behaviour).
"""

from __future__ import annotations

import ipaddress
import sqlite3
from typing import Any

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Invalid, SubnetInUse
from nova_lite.network import rows, subnet_plans, values
from nova_lite.network.access import (
    SUBNET_VISIBLE,
    Quotas,
    caller,
    network_target,
    visible_network,
    visible_subnet,
)
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["SubnetRecords", "spec_of"]

log = structlog.get_logger(__name__)

CREATE_FIELDS = (
    "network_id",
    "cidr",
    "ip_version",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "name",
    "description",
    "project_id",
    "tenant_id",
    "subnetpool_id",
)
UPDATE_FIELDS = (
    "name",
    "description",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
)


def spec_of(row: sqlite3.Row) -> subnet_plans.SubnetSpec:
    """A stored subnet's addresses as a spec (to check an update against)."""
    subnet = rows.subnet(row)
    return subnet_plans.SubnetSpec(
        cidr=subnet.cidr,
        ip_version=subnet.ip_version,
        gateway_ip=subnet.gateway_ip,
        pools=tuple((pool["start"], pool["end"]) for pool in subnet.allocation_pools),
        dns_nameservers=subnet.dns_nameservers,
        host_routes=subnet.host_routes,
        ipv6_ra_mode=subnet.ipv6_ra_mode,
        ipv6_address_mode=subnet.ipv6_address_mode,
    )


class SubnetRecords:
    """The endpoints of subnets, over the network database."""

    def __init__(self, db: Database, policy: Enforcer, quotas: Quotas) -> None:
        self.db = db
        self.policy = policy
        self.quotas = quotas

    @endpoint
    async def create_subnet(
        self,
        ctx: RequestContext,
        network_id: str,
        cidr: str,
        gateway_ip: str | None = None,
        pool_start: str | None = None,
        pool_end: str | None = None,
    ) -> objects.Subnet:
        """Add an IP range to a network: the first host as gateway unless one is given,
        one pool `pool_start`-`pool_end` (each end defaulting to the range's)."""
        request: dict[str, Any] = {"network_id": network_id, "cidr": cidr}
        if gateway_ip is not None:
            request["gateway_ip"] = gateway_ip
        if pool_start is not None or pool_end is not None:
            request["allocation_pools"] = [_one_pool(cidr, gateway_ip, pool_start, pool_end)]
        (subnet,) = await self.create_subnets(ctx, [request])
        return subnet

    @endpoint
    async def create_subnets(
        self, ctx: RequestContext, subnets: list[dict[str, Any]]
    ) -> list[objects.Subnet]:
        """Create every subnet of `subnets` (Neutron's attributes each), or none."""
        requests = [values.known(s, CREATE_FIELDS, "subnet") for s in subnets]
        async with self.db.transaction() as conn:
            ids = [await self._insert(conn, ctx, request) for request in requests]
        created = [await self.get_subnet(ctx, subnet_id) for subnet_id in ids]
        log.info("network.subnet_created", subnet_ids=ids, cidrs=[s.cidr for s in created])
        return created

    async def _insert(
        self, conn: aiosqlite.Connection, ctx: RequestContext, request: dict[str, Any]
    ) -> str:
        network = await visible_network(self.db, ctx, request.get("network_id"))
        project = values.owner(ctx, request) if _names_owner(request) else network["project_id"]
        self.policy.authorize(
            ctx, "create_subnet", {**network_target(network), "project_id": project}
        )
        if "cidr" not in request:
            raise Invalid("Invalid input for operation: a subnet needs a cidr.")
        spec = subnet_plans.plan(request)
        await self._check_overlap(network, spec.cidr)
        await self.quotas.check("subnet", project)
        subnet_id = rows.new_id()
        (first_start, first_end), *_ = spec.pools
        await rows.write(
            conn,
            "INSERT INTO subnets (id, network_id, cidr, gateway_ip, pool_start, pool_end, "
            "ip_version, created_at, name, description, project_id, enable_dhcp, "
            "allocation_pools, dns_nameservers, host_routes, ipv6_ra_mode, ipv6_address_mode, "
            "subnetpool_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                subnet_id,
                network["id"],
                spec.cidr,
                spec.gateway_ip,
                first_start,
                first_end,
                spec.ip_version,
                rows.now(),
                values.name(request),
                values.description(request),
                project,
                values.flag(request, "enable_dhcp", True),
                rows.to_json(spec.pool_dicts()),
                rows.to_json(spec.dns_nameservers),
                rows.to_json(spec.host_routes),
                spec.ipv6_ra_mode,
                spec.ipv6_address_mode,
                request.get("subnetpool_id"),
            ),
        )
        return subnet_id

    async def _check_overlap(self, network: sqlite3.Row, cidr: str) -> None:
        new = ipaddress.ip_network(cidr)
        for row in await self.db.fetchall(
            "SELECT cidr FROM subnets WHERE network_id = ?", (network["id"],)
        ):
            if ipaddress.ip_network(row["cidr"]).overlaps(new):
                raise Invalid(
                    f"Invalid input for operation: Requested subnet with cidr: {cidr} for "
                    f"network: {network['id']} overlaps with another subnet ({row['cidr']})."
                )

    @endpoint
    async def update_subnet(
        self, ctx: RequestContext, subnet_id: str, changes: dict[str, Any]
    ) -> objects.Subnet:
        """Change a subnet's name, description, gateway, pools, DNS servers, routes or DHCP."""
        changes = values.known(changes, UPDATE_FIELDS, "subnet")
        async with self.db.transaction() as conn:
            row = await visible_subnet(self.db, ctx, subnet_id)
            self.policy.authorize(ctx, "update_subnet", {"project_id": row["project_id"]})
            spec = subnet_plans.replan(spec_of(row), changes)
            (first_start, first_end), *_ = spec.pools
            await rows.write(
                conn,
                "UPDATE subnets SET name = ?, description = ?, gateway_ip = ?, pool_start = ?, "
                "pool_end = ?, allocation_pools = ?, dns_nameservers = ?, host_routes = ?, "
                "enable_dhcp = ?, updated_at = ?, revision = revision + 1 WHERE id = ?",
                (
                    values.name(changes, row["name"]),
                    values.description(changes, row["description"]),
                    spec.gateway_ip,
                    first_start,
                    first_end,
                    rows.to_json(spec.pool_dicts()),
                    rows.to_json(spec.dns_nameservers),
                    rows.to_json(spec.host_routes),
                    values.flag(changes, "enable_dhcp", bool(row["enable_dhcp"])),
                    rows.now(),
                    row["id"],
                ),
            )
        log.info("network.subnet_updated", subnet_id=row["id"], changed=sorted(changes))
        return await self.get_subnet(ctx, row["id"])

    @endpoint
    async def delete_subnet(self, ctx: RequestContext, subnet_id: str) -> None:
        """Delete a subnet; `SubnetInUse` while a port holds one of its addresses (SLAAC
        subnets: their derived addresses go with them)."""
        async with self.db.transaction() as conn:
            row = await visible_subnet(self.db, ctx, subnet_id)
            self.policy.authorize(ctx, "delete_subnet", {"project_id": row["project_id"]})
            if spec_of(row).auto_address:
                await rows.write(
                    conn, "DELETE FROM ip_allocations WHERE subnet_id = ?", (row["id"],)
                )
            used = await self.db.fetchone(
                "SELECT count(*) FROM ip_allocations WHERE subnet_id = ?", (row["id"],)
            )
            if used and used[0]:
                raise SubnetInUse(
                    f"Unable to complete operation on subnet {row['id']}: One or more ports "
                    "have an IP allocation from this subnet.",
                    subnet_id=row["id"],
                )
            await rows.write(conn, "DELETE FROM subnets WHERE id = ?", (row["id"],))
        log.info("network.subnet_deleted", subnet_id=row["id"])

    @endpoint
    async def list_subnets(
        self, ctx: RequestContext, network_id: str | None = None
    ) -> list[objects.Subnet]:
        """The subnets the caller sees (of one visible network, if named), oldest first."""
        if network_id is not None:
            await visible_network(self.db, ctx, network_id)
        found = await self.db.fetchall(
            "SELECT s.* FROM subnets s JOIN networks n ON n.id = s.network_id "
            f"WHERE {SUBNET_VISIBLE} AND (? IS NULL OR s.network_id = ?) ORDER BY s.rowid",
            (*caller(ctx), network_id, network_id),
        )
        return [rows.subnet(row) for row in found]

    @endpoint
    async def get_subnet(self, ctx: RequestContext, subnet_id: str) -> objects.Subnet:
        """One visible subnet; SubnetNotFound otherwise."""
        return rows.subnet(await visible_subnet(self.db, ctx, check.text("subnet_id", subnet_id)))


def _names_owner(request: dict[str, Any]) -> bool:
    return request.get("project_id") is not None or request.get("tenant_id") is not None


def _one_pool(cidr: str, gateway: str | None, start: str | None, end: str | None) -> dict[str, str]:
    """The pool an old-style request means: its ends, or the range's where one is missing."""
    default = subnet_plans.plan(
        {"cidr": cidr} | ({} if gateway is None else {"gateway_ip": gateway})
    )
    first = default.pools[0][0]
    last = default.pools[-1][1]
    return {"start": start or first, "end": end or last}
