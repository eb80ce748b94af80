"""Routers as records: a gateway on an external network, interfaces, extra routes.

Nothing is routed: a router is what Neutron's API shows of one. Its gateway is a
port on an external network (device owner ``network:router_gateway``, no project),
set on create or update and cleared with ``{}``; choosing SNAT off or the gateway's
addresses needs an administrator. A router with interfaces (``router_interfaces``)
or floating IPs cannot be deleted (409). Extra routes must go through a subnet the
router is on.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Mapping
from typing import Any

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Invalid, RouterNotFound
from nova_lite.network import rows, values
from nova_lite.network.access import (
    OWN,
    Quotas,
    caller,
    visible_network,
    visible_row,
)
from nova_lite.network.allocator import PortAllocator
from nova_lite.network.port_maker import PortMaker
from nova_lite.network.router_interfaces import interface_subnets
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["RouterRecords"]

log = structlog.get_logger(__name__)

CREATE_FIELDS = (
    "name",
    "description",
    "admin_state_up",
    "external_gateway_info",
    "project_id",
    "tenant_id",
)
UPDATE_FIELDS = ("name", "description", "admin_state_up", "external_gateway_info", "routes")
GATEWAY = "network:router_gateway"
MAX_ROUTES = 30  # Neutron's max_routes
_INTERFACE_COUNT = (
    "SELECT count(*) FROM ports WHERE device_id = ? AND device_owner = 'network:router_interface'"
)


class RouterRecords:
    """The endpoints of routers and their interfaces, over the network database."""

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
    async def create_router(self, ctx: RequestContext, router: dict[str, Any]) -> objects.Router:
        """Create a router, with its gateway if ``external_gateway_info`` names a network."""
        router = values.known(router, CREATE_FIELDS, "router")
        project = values.owner(ctx, router)
        self.policy.authorize(ctx, "create_router", {"project_id": project})
        router_id = rows.new_id()
        async with self.db.transaction() as conn:
            await self.quotas.check("router", project)
            await rows.write(
                conn,
                "INSERT INTO routers (id, name, description, project_id, admin_state_up, "
                "created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    router_id,
                    values.name(router),
                    values.description(router),
                    project,
                    values.flag(router, "admin_state_up", True),
                    rows.now(),
                ),
            )
            gateway = router.get("external_gateway_info")
            if gateway:
                await self._set_gateway(conn, ctx, router_id, project, gateway, "create_router")
        log.info("network.router_created", router_id=router_id, project_id=project)
        return await self.get_router(ctx, router_id)

    async def _set_gateway(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        router_id: str,
        project: str | None,
        gateway: object,
        action: str,
    ) -> None:
        if not isinstance(gateway, Mapping) or set(gateway) - {
            "network_id",
            "enable_snat",
            "external_fixed_ips",
        }:
            raise Invalid(f"Invalid external_gateway_info {gateway!r:.80}.")
        network = await visible_network(self.db, ctx, gateway.get("network_id"))
        if not network["external"]:
            raise Invalid(
                f"Bad router request: Network {network['id']} is not an external network."
            )
        target = {"project_id": project}
        for key in ("enable_snat", "external_fixed_ips"):
            if key in gateway:
                self.policy.authorize(ctx, f"{action}:external_gateway_info:{key}", target)
        await self._drop_gateway(conn, router_id)
        request = {"device_id": router_id, "device_owner": GATEWAY}
        if gateway.get("external_fixed_ips"):
            request["fixed_ips"] = gateway["external_fixed_ips"]
        await self.maker.make(conn, ctx, network, request, None)
        await rows.write(
            conn,
            "UPDATE routers SET gateway_network_id = ?, enable_snat = ? WHERE id = ?",
            (network["id"], values.flag(gateway, "enable_snat", True), router_id),
        )

    async def _drop_gateway(self, conn: aiosqlite.Connection, router_id: str) -> None:
        await rows.write(
            conn, "DELETE FROM ports WHERE device_id = ? AND device_owner = ?", (router_id, GATEWAY)
        )
        await rows.write(
            conn,
            "UPDATE routers SET gateway_network_id = NULL, enable_snat = 1 WHERE id = ?",
            (router_id,),
        )
        self.allocator.forget()

    @endpoint
    async def update_router(
        self, ctx: RequestContext, router_id: str, changes: dict[str, Any]
    ) -> objects.Router:
        """Change a router's name, description, state, gateway or extra routes."""
        changes = values.known(changes, UPDATE_FIELDS, "router")
        async with self.db.transaction() as conn:
            row = await self._visible(ctx, router_id)
            self.policy.authorize(ctx, "update_router", {"project_id": row["project_id"]})
            if "external_gateway_info" in changes:
                gateway = changes["external_gateway_info"]
                if gateway:
                    await self._set_gateway(
                        conn, ctx, row["id"], row["project_id"], gateway, "update_router"
                    )
                else:
                    await self._drop_gateway(conn, row["id"])
            if "routes" in changes:
                routes = await self._routes(row["id"], changes["routes"] or [])
                await rows.write(
                    conn,
                    "UPDATE routers SET routes = ? WHERE id = ?",
                    (rows.to_json(routes), row["id"]),
                )
            await rows.write(
                conn,
                "UPDATE routers SET name = ?, description = ?, admin_state_up = ?, updated_at = ?, "
                "revision = revision + 1 WHERE id = ?",
                (
                    values.name(changes, row["name"]),
                    values.description(changes, row["description"]),
                    values.flag(changes, "admin_state_up", bool(row["admin_state_up"])),
                    rows.now(),
                    row["id"],
                ),
            )
        return await self.get_router(ctx, row["id"])

    async def _routes(self, router_id: str, routes: object) -> list[dict[str, str]]:
        if not isinstance(routes, list) or len(routes) > MAX_ROUTES:
            raise Invalid(
                f"Invalid format for routes: a list of at most {MAX_ROUTES} routes is required."
            )
        cidrs = [
            ipaddress.ip_network(row["cidr"]) for row in await interface_subnets(self.db, router_id)
        ]
        checked = []
        for route in routes:
            if not isinstance(route, Mapping) or set(route) != {"destination", "nexthop"}:
                raise Invalid(
                    f"Invalid format for routes: {route!r:.80}, give destination and nexthop."
                )
            try:
                destination = ipaddress.ip_network(str(route["destination"]), strict=False)
                nexthop = ipaddress.ip_address(str(route["nexthop"]))
            except ValueError:
                raise Invalid(f"Invalid format for routes: {route!r:.80}.") from None
            if not any(nexthop in cidr for cidr in cidrs):
                raise Invalid(
                    f"Invalid format for routes: the nexthop {nexthop} is not connected with "
                    "router."
                )
            checked.append({"destination": str(destination), "nexthop": str(nexthop)})
        return checked

    @endpoint
    async def delete_router(self, ctx: RequestContext, router_id: str) -> None:
        """Delete a router and its gateway; 409 while it has interfaces or floating IPs."""
        async with self.db.transaction() as conn:
            row = await self._visible(ctx, router_id)
            self.policy.authorize(ctx, "delete_router", {"project_id": row["project_id"]})
            for sql, what in (
                (_INTERFACE_COUNT, "interfaces"),
                ("SELECT count(*) FROM floating_ips WHERE router_id = ?", "floating IPs"),
            ):
                used = await self.db.fetchone(sql, (row["id"],))
                if used and used[0]:
                    raise Conflict(
                        f"Router {row['id']} still has {what} ({used[0]}); remove them first."
                    )
            await self._drop_gateway(conn, row["id"])
            await rows.write(conn, "DELETE FROM routers WHERE id = ?", (row["id"],))
        log.info("network.router_deleted", router_id=row["id"])

    @endpoint
    async def list_routers(self, ctx: RequestContext) -> list[objects.Router]:
        """The caller's project's routers (all, for admins)."""
        found = await self.db.fetchall(
            f"SELECT * FROM routers WHERE {OWN} ORDER BY rowid", caller(ctx)
        )
        return [await self._router(row) for row in found]

    @endpoint
    async def get_router(self, ctx: RequestContext, router_id: str) -> objects.Router:
        """One visible router; RouterNotFound otherwise."""
        return await self._router(await self._visible(ctx, router_id))

    async def _router(self, row: sqlite3.Row) -> objects.Router:
        gateway_ips = await self.db.fetchall(
            "SELECT a.subnet_id, a.ip_address FROM ip_allocations a JOIN ports p ON p.id = "
            "a.port_id "
            "WHERE p.device_id = ? AND p.device_owner = ? ORDER BY a.rowid",
            (row["id"], GATEWAY),
        )
        return objects.Router(
            id=row["id"],
            name=row["name"],
            project_id=row["project_id"],
            description=row["description"],
            admin_state_up=bool(row["admin_state_up"]),
            gateway_network_id=row["gateway_network_id"],
            enable_snat=bool(row["enable_snat"]),
            external_fixed_ips=tuple(
                {"subnet_id": r["subnet_id"], "ip_address": r["ip_address"]} for r in gateway_ips
            ),
            routes=tuple(rows.from_json(row["routes"], [])),
            created_at=row["created_at"],
            updated_at=row["updated_at"] or row["created_at"],
            revision_number=row["revision"],
        )

    async def _visible(self, ctx: RequestContext, router_id: object) -> sqlite3.Row:
        router_id = check.text("router_id", router_id)
        return await visible_row(
            self.db,
            ctx,
            "routers",
            router_id,
            RouterNotFound(f"Router {router_id} could not be found."),
        )
