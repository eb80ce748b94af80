"""A router's interfaces: ports of the router on subnets, added and removed.

An interface is added by subnet (a new port takes the subnet's gateway address) or
by an existing free port (409 if a device has it); two interfaces of one router may
not have overlapping subnets (400). Removing one, by its port or its subnet,
deletes its port, unless a floating IP still goes through it (409).
"""

from __future__ import annotations

import ipaddress
import sqlite3
from typing import Any

import structlog

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Invalid, NotFound, RouterNotFound
from nova_lite.network import rows
from nova_lite.network.access import visible_network, visible_port, visible_row, visible_subnet
from nova_lite.network.allocator import PortAllocator
from nova_lite.network.port_maker import PortMaker
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint

__all__ = ["INTERFACE", "RouterInterfaces", "interface_subnets"]

log = structlog.get_logger(__name__)

INTERFACE = "network:router_interface"


async def interface_subnets(db: Database, router_id: str) -> list[sqlite3.Row]:
    """The subnets a router has an interface on."""
    return await db.fetchall(
        "SELECT s.* FROM subnets s JOIN ip_allocations a ON a.subnet_id = s.id "
        "JOIN ports p ON p.id = a.port_id WHERE p.device_id = ? AND p.device_owner = ?",
        (router_id, INTERFACE),
    )


class RouterInterfaces:
    """The endpoints that attach subnets and ports to routers, and detach them."""

    def __init__(
        self, db: Database, policy: Enforcer, maker: PortMaker, allocator: PortAllocator
    ) -> None:
        self.db = db
        self.policy = policy
        self.maker = maker
        self.allocator = allocator

    async def _visible(self, ctx: RequestContext, router_id: object) -> sqlite3.Row:
        router_id = check.text("router_id", router_id)
        missing = RouterNotFound(f"Router {router_id} could not be found.")
        return await visible_row(self.db, ctx, "routers", router_id, missing)

    @endpoint
    async def add_router_interface(
        self,
        ctx: RequestContext,
        router_id: str,
        subnet_id: str | None = None,
        port_id: str | None = None,
    ) -> dict[str, Any]:
        """Attach a subnet (a new port on its gateway address) or a free port to a router."""
        if (subnet_id is None) == (port_id is None):
            raise Invalid(
                "Bad router request: Either subnet_id or port_id must be specified (not both)."
            )
        async with self.db.transaction() as conn:
            router = await self._visible(ctx, router_id)
            self.policy.authorize(ctx, "add_router_interface", {"project_id": router["project_id"]})
            if port_id is not None:
                port = await visible_port(self.db, ctx, port_id)
                if port["device_id"]:
                    raise Conflict(f"Port {port['id']} is in use by device {port['device_id']}.")
                subnets = await self._port_subnets(port["id"])
                if not subnets:
                    raise Invalid(
                        "Bad router request: Router port must have at least one fixed IP."
                    )
                await self._refuse_overlap(router["id"], subnets)
                await rows.write(
                    conn,
                    "UPDATE ports SET device_id = ?, device_owner = ?, status = 'ACTIVE' WHERE id "
                    "= ?",
                    (router["id"], INTERFACE, port["id"]),
                )
                chosen = port["id"]
            else:
                subnet = await visible_subnet(self.db, ctx, subnet_id)
                if subnet["gateway_ip"] is None:
                    raise Invalid(
                        f"Bad router request: Subnet {subnet['id']} does not have a gateway IP."
                    )
                await self._refuse_overlap(router["id"], [subnet])
                network = await visible_network(self.db, ctx, subnet["network_id"])
                request = {
                    "device_id": router["id"],
                    "device_owner": INTERFACE,
                    "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}],
                }
                chosen = await self.maker.make(conn, ctx, network, request, router["project_id"])
        return await self._interface(router, chosen)

    async def _port_subnets(self, port_id: str) -> list[sqlite3.Row]:
        return await self.db.fetchall(
            "SELECT s.* FROM subnets s JOIN ip_allocations a ON a.subnet_id = s.id WHERE a.port_id "
            "= ?",
            (port_id,),
        )

    async def _refuse_overlap(self, router_id: str, new: list[sqlite3.Row]) -> None:
        for existing in await interface_subnets(self.db, router_id):
            for subnet in new:
                if ipaddress.ip_network(existing["cidr"]).overlaps(
                    ipaddress.ip_network(subnet["cidr"])
                ):
                    raise Invalid(
                        f"Bad router request: Cidr {subnet['cidr']} of subnet {subnet['id']} "
                        "overlaps "
                        f"with cidr {existing['cidr']} of subnet {existing['id']}."
                    )

    async def _interface(self, router: sqlite3.Row, port_id: str) -> dict[str, Any]:
        subnets = await self._port_subnets(port_id)
        port = await self.db.fetchone("SELECT network_id FROM ports WHERE id = ?", (port_id,))
        return {
            "id": router["id"],
            "tenant_id": router["project_id"],
            "project_id": router["project_id"],
            "port_id": port_id,
            "network_id": port["network_id"] if port else None,
            "subnet_id": subnets[0]["id"] if subnets else None,
            "subnet_ids": [subnet["id"] for subnet in subnets],
        }

    @endpoint
    async def remove_router_interface(
        self,
        ctx: RequestContext,
        router_id: str,
        subnet_id: str | None = None,
        port_id: str | None = None,
    ) -> dict[str, Any]:
        """Detach an interface (by its port or its subnet) and delete its port."""
        if subnet_id is None and port_id is None:
            raise Invalid("Bad router request: Either subnet_id or port_id must be specified.")
        async with self.db.transaction() as conn:
            router = await self._visible(ctx, router_id)
            self.policy.authorize(
                ctx, "remove_router_interface", {"project_id": router["project_id"]}
            )
            port = await self._interface_port(router["id"], subnet_id, port_id)
            answer = await self._interface(router, port)
            await self._refuse_floating_ips(router["id"], answer["subnet_ids"])
            await rows.write(conn, "DELETE FROM ports WHERE id = ?", (port,))
        self.allocator.forget()
        return answer

    async def _interface_port(
        self, router_id: str, subnet_id: str | None, port_id: str | None
    ) -> str:
        found = await self.db.fetchone(
            "SELECT p.id FROM ports p LEFT JOIN ip_allocations a ON a.port_id = p.id "
            "WHERE p.device_id = ? AND p.device_owner = ? AND (? IS NULL OR p.id = ?) "
            "AND (? IS NULL OR a.subnet_id = ?)",
            (router_id, INTERFACE, port_id, port_id, subnet_id, subnet_id),
        )
        if found is None:
            what = (
                f"an interface with id {port_id}"
                if port_id is not None
                else f"an interface on subnet {subnet_id}"
            )
            raise NotFound(f"Router {router_id} does not have {what}.")
        return str(found["id"])

    async def _refuse_floating_ips(self, router_id: str, subnet_ids: list[str]) -> None:
        for subnet_id in subnet_ids:
            used = await self.db.fetchone(
                "SELECT count(*) FROM floating_ips f JOIN ip_allocations a ON a.port_id = "
                "f.port_id "
                "WHERE f.router_id = ? AND a.subnet_id = ?",
                (router_id, subnet_id),
            )
            if used and used[0]:
                raise Conflict(
                    f"Router interface for subnet {subnet_id} on router {router_id} cannot be "
                    "deleted, as it is required by one or more floating IPs."
                )
