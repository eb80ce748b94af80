"""The network manager: Neutron's networks, subnets and ports, served over RPC.

Visibility follows Neutron: a project sees the shared networks and its own, and
admins see everything. `allocate_for_instance` gives an instance its ports inside a
single write transaction, so an address is never handed out twice and a failure on
any network leaves nothing behind; ``UNIQUE(subnet_id, ip_address)`` backs that up.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from typing import ClassVar

import attrs
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    Invalid,
    NetworkNotFound,
    PortNotFound,
    QuotaExceeded,
)
from nova_lite.network import ipam, rows
from nova_lite.network.allocator import PortAllocator
from nova_lite.network.schema import MIGRATIONS
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.service import Manager
from nova_lite.transport import Transport

__all__ = ["NetworkManager"]

log = structlog.get_logger(__name__)

# A row is visible to the caller when: is_admin, shared (networks only), or own project.
_NETWORK_VISIBLE = "(? OR shared = 1 OR project_id = ?)"
_PORT_VISIBLE = "(? OR p.project_id = ?)"
_PORT_FILTERED = (
    f"{_PORT_VISIBLE} AND (? IS NULL OR p.device_id = ?) AND (? IS NULL OR p.network_id = ?)"
)
_PORT_BY_ID = f"p.id = ? AND {_PORT_VISIBLE}"


class NetworkManager(Manager):
    """Serves the ``network`` topic: networks, subnets, ports and their addresses."""

    topic: ClassVar[str] = "network"
    target: ClassVar[Target] = Target(version="1.0")

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("network"), MIGRATIONS, name="network")
        self.allocator = PortAllocator(self.db)
        self.policy = Enforcer.from_file(config.policy.file)
        self.max_ports = config.network.quota_port

    async def init_host(self) -> None:
        await self.db.open()

    async def cleanup_host(self) -> None:
        await self.db.close()

    # -- networks -----------------------------------------------------------

    @endpoint
    async def create_network(
        self, ctx: RequestContext, name: str, shared: bool = True
    ) -> objects.Network:
        """Create a network owned by the caller's project; only admins may share one."""
        name = check.network_name(name)
        self.policy.authorize(ctx, "create_network", {"project_id": ctx.project_id})
        if check.boolean("shared", shared) and not self.policy.check(
            ctx, "create_network:shared", {"project_id": ctx.project_id}
        ):
            raise Forbidden(
                "Policy doesn't allow create_network:shared to be performed: only admins may "
                "create shared networks; pass shared=False for a network of your own project."
            )
        network = objects.Network(
            id=rows.new_id(), name=name, project_id=ctx.project_id, shared=shared
        )
        await self.db.execute(
            "INSERT INTO networks (id, name, project_id, shared, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (network.id, name, network.project_id, shared, rows.now()),
        )
        log.info("network.created", network_id=network.id, shared=shared)
        return network

    @endpoint
    async def list_networks(self, ctx: RequestContext) -> list[objects.Network]:
        """The networks the caller sees: shared ones and its project's (all, for admins)."""
        found = await self.db.fetchall(
            f"SELECT * FROM networks WHERE {_NETWORK_VISIBLE} ORDER BY rowid", _caller(ctx)
        )
        subnets: dict[str, list[str]] = {}
        for row in await self.db.fetchall("SELECT id, network_id FROM subnets ORDER BY rowid"):
            subnets.setdefault(row["network_id"], []).append(row["id"])
        return [rows.network(row, subnets.get(row["id"], ())) for row in found]

    @endpoint
    async def get_network(self, ctx: RequestContext, network_id: str) -> objects.Network:
        """One visible network, with its subnet ids; NetworkNotFound otherwise."""
        row = await self._visible_network(ctx, network_id)
        subnets = await self.db.fetchall(
            "SELECT id FROM subnets WHERE network_id = ? ORDER BY rowid", (row["id"],)
        )
        return rows.network(row, [subnet["id"] for subnet in subnets])

    @endpoint
    async def delete_network(self, ctx: RequestContext, network_id: str) -> None:
        """Delete a network and its subnets; Conflict while any port is still on it."""
        async with self.db.transaction() as conn:
            await self._owned_network(ctx, network_id, "delete_network")
            row = await self.db.fetchone(
                "SELECT count(*) FROM ports WHERE network_id = ?", (network_id,)
            )
            in_use = row[0] if row else 0
            if in_use:
                raise Conflict(
                    f"Network {network_id} still has {in_use} port(s); release them first.",
                    network_id=network_id,
                )
            await rows.write(conn, "DELETE FROM networks WHERE id = ?", (network_id,))
        log.info("network.deleted", network_id=network_id)

    # -- subnets ------------------------------------------------------------

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
        """Add an IP range to a network (see `ipam.plan_subnet` for the defaults)."""
        plan = ipam.require_served(ipam.plan_subnet(cidr, gateway_ip, pool_start, pool_end))
        async with self.db.transaction() as conn:
            await self._owned_network(ctx, network_id, "create_subnet")
            await self._check_overlap(network_id, plan.cidr)
            subnet = objects.Subnet(id=rows.new_id(), network_id=network_id, **attrs.asdict(plan))
            await rows.write(
                conn,
                "INSERT INTO subnets (id, network_id, cidr, gateway_ip, pool_start, pool_end, "
                "ip_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*rows.subnet_values(subnet), rows.now()),
            )
        log.info("network.subnet_created", network_id=network_id, cidr=subnet.cidr)
        return subnet

    @endpoint
    async def list_subnets(self, ctx: RequestContext, network_id: str) -> list[objects.Subnet]:
        """The subnets of one visible network, oldest (the one ports use) first."""
        await self._visible_network(ctx, network_id)
        found = await self.db.fetchall(
            "SELECT * FROM subnets WHERE network_id = ? ORDER BY rowid", (network_id,)
        )
        return [rows.subnet(row) for row in found]

    # -- ports --------------------------------------------------------------

    @endpoint
    async def allocate_for_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        network_ids: list[str],
        project_id: str,
    ) -> list[objects.Port]:
        """Give an instance one port (MAC and fixed IP) on each network: all or nothing.

        Ports the instance already has on a requested network are returned instead of
        new ones, so a rescheduled build may call this again. Any failure (a network
        the project cannot use, an exhausted pool) rolls back every port this call made.
        """
        device = check.text("instance_uuid", instance_uuid)
        wanted = check.text_list("network_ids", network_ids)
        project = check.text("project_id", project_id)
        self.policy.authorize(ctx, "create_port", {"project_id": project})
        async with self.db.transaction() as conn:
            existing: dict[str, list[str]] = {}
            for port in await self._ports_of(device):
                existing.setdefault(port.network_id, []).append(port.id)
            reused_count = sum(min(len(existing.get(n, ())), wanted.count(n)) for n in set(wanted))
            await self._check_port_quota(project, len(wanted) - reused_count)
            port_ids = []
            for net in wanted:
                reused = existing.get(net)
                if reused:
                    port_ids.append(reused.pop(0))
                else:
                    port_ids.append(await self.allocator.create_port(conn, net, device, project))
            ports = {port.id: port for port in await self._ports_of(device)}
        log.info("network.allocated", instance_uuid=device, ports=port_ids)
        return [ports[port_id] for port_id in port_ids]

    @endpoint
    async def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Release every port of an instance and its addresses (none is fine)."""
        device = check.text("instance_uuid", instance_uuid)
        self.policy.authorize(ctx, "delete_port", {"project_id": ctx.project_id})
        async with self.db.transaction() as conn:
            released = await rows.write(
                conn,
                "DELETE FROM ports WHERE device_id = ? AND (? OR project_id = ?)",
                (device, *_caller(ctx)),
            )
        self.allocator.forget()
        log.info("network.deallocated", instance_uuid=device, ports=released)

    @endpoint
    async def list_ports(
        self,
        ctx: RequestContext,
        device_id: str | None = None,
        network_id: str | None = None,
    ) -> list[objects.Port]:
        """The caller's ports (all, for admins), optionally of one device or network."""
        device = check.text("device_id", device_id) if device_id is not None else None
        network = check.text("network_id", network_id) if network_id is not None else None
        params = (*_caller(ctx), device, device, network, network)
        return await rows.load_ports(self.db, _PORT_FILTERED, params)

    @endpoint
    async def get_port(self, ctx: RequestContext, port_id: str) -> objects.Port:
        """One visible port; PortNotFound otherwise."""
        port_id = check.text("port_id", port_id)
        ports = await rows.load_ports(self.db, _PORT_BY_ID, (port_id, *_caller(ctx)))
        if not ports:
            raise PortNotFound(f"Port {port_id} could not be found.", port_id=port_id)
        return ports[0]

    @endpoint
    async def bind_port(self, ctx: RequestContext, port_id: str, host: str) -> objects.Port:
        """Record that `host` plugged the port in, and mark it ACTIVE."""
        port_id = check.text("port_id", port_id)
        host = check.text("host", host)
        self.policy.authorize(ctx, "update_port:binding:host_id", {"project_id": ctx.project_id})
        async with self.db.transaction() as conn:
            bound = await rows.write(
                conn,
                "UPDATE ports SET status = 'ACTIVE', binding_host = ? "
                "WHERE id = ? AND (? OR project_id = ?)",
                (host, port_id, *_caller(ctx)),
            )
        if not bound:
            raise PortNotFound(f"Port {port_id} could not be found.", port_id=port_id)
        log.info("network.port_bound", port_id=port_id, binding_host=host)
        return await self.get_port(ctx, port_id)

    # -- helpers ------------------------------------------------------------

    async def _visible_network(self, ctx: RequestContext, network_id: object) -> sqlite3.Row:
        network_id = check.text("network_id", network_id)
        row = await self.db.fetchone(
            f"SELECT * FROM networks WHERE id = ? AND {_NETWORK_VISIBLE}",
            (network_id, *_caller(ctx)),
        )
        if row is None:
            raise NetworkNotFound(
                f"Network {network_id} could not be found.", network_id=network_id
            )
        return row

    async def _ports_of(self, device: str) -> list[objects.Port]:
        return await rows.load_ports(self.db, "p.device_id = ?", (device,))

    async def _owned_network(
        self, ctx: RequestContext, network_id: object, rule: str
    ) -> sqlite3.Row:
        """The network, if visible (else `NetworkNotFound`) and `rule` allows the caller."""
        row = await self._visible_network(ctx, network_id)
        target = {"project_id": row["project_id"], "shared": bool(row["shared"])}
        self.policy.authorize(ctx, rule, target)
        return row

    async def _check_port_quota(self, project: str, new_ports: int) -> None:
        """`QuotaExceeded` if `new_ports` more would take `project` over ``[quota] ports``."""
        if self.max_ports < 0 or new_ports <= 0:
            return
        row = await self.db.fetchone("SELECT count(*) FROM ports WHERE project_id = ?", (project,))
        used = row[0] if row else 0
        if used + new_ports > self.max_ports:
            raise QuotaExceeded(
                f"Quota exceeded for resources: ['port']: project {project} has {used} of its "
                f"{self.max_ports} ports ([network] quota_port) and asked for {new_ports} more.",
                resource="port",
            )

    async def _check_overlap(self, network_id: str, cidr: str) -> None:
        new = ipaddress.ip_network(cidr)
        for row in await self.db.fetchall(
            "SELECT cidr FROM subnets WHERE network_id = ?", (network_id,)
        ):
            if ipaddress.ip_network(row["cidr"]).overlaps(new):
                raise Invalid(
                    f"cidr {cidr!r} overlaps subnet {row['cidr']} of network {network_id}."
                )


def _caller(ctx: RequestContext) -> tuple[bool, str | None]:
    """The parameters of a visibility clause: is the caller admin, and its project."""
    return ctx.is_admin, ctx.project_id
