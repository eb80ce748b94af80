"""The network manager: Neutron's resources, served over RPC.

The manager opens the service's database and composes the parts that carry its
endpoints, each given what it uses:

- `NetworkRecords` (``networks.py``) and `SubnetRecords` (``subnets.py``, with the
  address rules of ``subnet_plans.py``): create (bulk too), update, delete, list, show;
- `PortRecords` (``ports.py``): ports made through the API, with `PortMaker`
  (``port_maker.py``) and `Addresses` (``addresses.py``) writing every port;
- `SecurityGroupRecords` (``security_groups.py``) and `SecurityGroupRuleRecords`
  (``security_group_rules.py``, rules checked by ``sg_rules.py``)
  and `InstanceSecurityGroups` (``instance_groups.py``: what Nova asks for servers);
- `RouterRecords` (``routers.py``) with `RouterInterfaces` (``router_interfaces.py``),
  `FloatingIpRecords` (``floating_ips.py``) and
  `SubnetPoolRecords` (``subnet_pools.py``): records, nothing is routed.

The manager itself serves what compute and the audit call: `allocate_for_instance`
gives an instance its ports inside a single write transaction, so an address is
never handed out twice and a failure on any network leaves nothing behind
(``UNIQUE(subnet_id, ip_address)`` backs that up); its deallocation, port binding and
the port lists. Visibility follows Neutron (`access`): a project sees its own
resources and shared or external networks, and admins see everything.
"""

from __future__ import annotations

from typing import ClassVar

import aiosqlite
import orjson
import structlog

from nova_lite import objects, paging
from nova_lite import validators as check
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Invalid, PortNotFound
from nova_lite.network import rows
from nova_lite.network.access import Quotas
from nova_lite.network.addresses import Addresses
from nova_lite.network.allocator import PortAllocator
from nova_lite.network.floating_ips import FloatingIpRecords
from nova_lite.network.instance_groups import InstanceSecurityGroups
from nova_lite.network.networks import NetworkRecords
from nova_lite.network.port_maker import PortMaker
from nova_lite.network.ports import PortRecords
from nova_lite.network.router_interfaces import RouterInterfaces
from nova_lite.network.routers import RouterRecords
from nova_lite.network.schema import MIGRATIONS
from nova_lite.network.security_group_rules import SecurityGroupRuleRecords
from nova_lite.network.security_groups import SecurityGroupRecords
from nova_lite.network.subnet_pools import SubnetPoolRecords
from nova_lite.network.subnets import SubnetRecords
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.service import Manager
from nova_lite.transport import Transport

__all__ = ["NetworkManager"]

log = structlog.get_logger(__name__)

# A port is visible to the caller when: is_admin, or own project.
_PORT_VISIBLE = "(? OR p.project_id = ?)"
# The filters a list asks for (device, network), each only when given: SQLite cannot
# use an index under ``(? IS NULL OR p.device_id = ?)`` (it scans every port: 25 ms
# at 100,000 ports, against 7 µs by `ports_device`), and compute lists one device's
# ports at every spawn.
_PORTS_FILTERED = {
    (device, network): _PORT_VISIBLE
    + (" AND p.device_id = ?" if device else "")
    + (" AND p.network_id = ?" if network else "")
    for device in (False, True)
    for network in (False, True)
}
_PORT_BY_ID = f"p.id = ? AND {_PORT_VISIBLE}"
# Several devices' ports (a page of servers): their ids as one JSON array, so the
# statement is one text whatever their number, and each found by `ports_device`.
_PORTS_OF_DEVICES = f"{_PORT_VISIBLE} AND p.device_id IN (SELECT value FROM json_each(?))"
#: The most devices one `ports_of_devices` call may name (its reply within the limit).
DEVICES_PER_CALL = paging.PAGE_SIZE


class NetworkManager(Manager):
    """Serves the ``network`` topic: networks, subnets, ports, security groups, routers."""

    topic: ClassVar[str] = "network"
    # 1.1: list_ports pages; 1.2: count_ports; 1.3: ports_of_devices
    target: ClassVar[Target] = Target(version="1.3")

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(
            config.database_path("network"), MIGRATIONS, name="network", group_commit=True
        )
        self.allocator = PortAllocator(self.db)
        self.policy = Enforcer.from_file(config.policy.file)
        self.quotas = Quotas(self.db, _limits(config))
        self.networks = NetworkRecords(self.db, self.policy, self.quotas)
        self.subnets = SubnetRecords(self.db, self.policy, self.quotas)
        self.security_groups = SecurityGroupRecords(self.db, self.policy, self.quotas)
        self.rules = SecurityGroupRuleRecords(
            self.db, self.policy, self.quotas, self.security_groups
        )
        self.instance_groups = InstanceSecurityGroups(self.db, self.policy, self.security_groups)
        addresses = Addresses(self.db, self.allocator)
        self.maker = PortMaker(self.db, addresses, self.security_groups)
        self.ports = PortRecords(self.db, self.policy, self.quotas, self.allocator, self.maker)
        parts = (self.db, self.policy, self.quotas, self.maker, self.allocator)
        self.routers = RouterRecords(*parts)
        self.interfaces = RouterInterfaces(self.db, self.policy, self.maker, self.allocator)
        self.floating_ips = FloatingIpRecords(*parts)
        self.subnet_pools = SubnetPoolRecords(self.db, self.policy)

    def endpoints(self) -> list[object]:
        """The manager (compute's endpoints) and the parts (see the module docstring)."""
        return [
            self,
            self.networks,
            self.subnets,
            self.ports,
            self.security_groups,
            self.rules,
            self.instance_groups,
            self.routers,
            self.interfaces,
            self.floating_ips,
            self.subnet_pools,
        ]

    async def init_host(self) -> None:
        await self.db.open()

    async def cleanup_host(self) -> None:
        await self.db.close()

    # -- ports --------------------------------------------------------------

    @endpoint
    async def allocate_for_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        network_ids: list[str],
        project_id: str,
        host: str | None = None,
    ) -> list[objects.Port]:
        """Give an instance one port (MAC and fixed IP) on each network: all or nothing.

        Ports the instance already has on a requested network are returned instead of
        new ones, so a rescheduled build may call this again. Any failure (a network
        the project cannot use, an exhausted pool) rolls back every port this call made.
        With `host`, the ports are bound to it (ACTIVE there) in the same write, as
        `bind_port` would: the build's one call to the network service.
        """
        device = check.text("instance_uuid", instance_uuid)
        wanted = check.text_list("network_ids", network_ids)
        project = check.text("project_id", project_id)
        binding = check.text("host", host) if host is not None else None
        self.policy.authorize(ctx, "create_port", {"project_id": project})
        if binding is not None:
            self.policy.authorize(ctx, "update_port:binding:host_id", {"project_id": project})
        async with self.db.transaction() as conn:
            made = await self._allocate(conn, device, wanted, project, binding)
            if any(isinstance(port, str) for port in made):  # reused: read as they are now
                stored = {port.id: port for port in await self._ports_of(device)}
                made = [stored[port if isinstance(port, str) else port.id] for port in made]
        ports = [port for port in made if not isinstance(port, str)]
        log.info(
            "network.allocated",
            instance_uuid=device,
            ports=[port.id for port in ports],
            binding_host=binding,
        )
        return ports

    async def _allocate(
        self,
        conn: aiosqlite.Connection,
        device: str,
        wanted: list[str],
        project: str,
        host: str | None,
    ) -> list[str | objects.Port]:
        """The device's ports on `wanted`: the ids of those reused, the ports made (bound
        to `host`) as written."""
        existing: dict[str, list[str]] = {}
        for row in await self.db.fetchall(
            "SELECT id, network_id FROM ports WHERE device_id = ? ORDER BY rowid", (device,)
        ):
            existing.setdefault(row["network_id"], []).append(row["id"])
        reused_count = sum(min(len(existing.get(n, ())), wanted.count(n)) for n in set(wanted))
        await self.quotas.check("port", project, len(wanted) - reused_count)
        groups: list[str] | None = None
        ports: list[str | objects.Port] = []
        for net in wanted:
            reused = existing.get(net)
            if reused:
                port_id = reused.pop(0)
                ports.append(port_id)
                if host is not None:
                    await rows.write(conn, _BIND, (host, port_id, True, None))
                continue
            if groups is None:
                groups = await self.instance_groups.groups_for_device(conn, device, project)
            ports.append(
                await self.allocator.create_port(
                    conn, net, device, project, host=host, groups=groups
                )
            )
        return ports

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
            await rows.write(
                conn, "DELETE FROM device_security_groups WHERE device_id = ?", (device,)
            )
        self.allocator.forget()
        log.info("network.deallocated", instance_uuid=device, ports=released)

    @endpoint
    async def list_ports(
        self,
        ctx: RequestContext,
        device_id: str | None = None,
        network_id: str | None = None,
        marker: str | None = None,
        limit: int | None = None,
    ) -> list[objects.Port]:
        """The caller's ports (all, for admins), optionally of one device or network.

        With `limit` (1.1), a page of them by id: at most that many, those after the
        port `marker` (`MarkerNotFound` if the caller sees no such port). Every port
        of a large cloud in one reply is over the 4 MiB message limit.
        """
        device = check.text("device_id", device_id) if device_id is not None else None
        network = check.text("network_id", network_id) if network_id is not None else None
        marker = check.text("marker", marker) if marker is not None else None
        limit = paging.check_limit(limit, what="ports", marker=marker)
        if marker is not None:
            await self._check_marker(ctx, marker)
        params = (*_caller(ctx), *(v for v in (device, network) if v is not None))
        return await rows.load_ports(
            self.db,
            _PORTS_FILTERED[device is not None, network is not None],
            params,
            after=marker,
            limit=limit,
        )

    @endpoint
    async def ports_of_devices(
        self, ctx: RequestContext, device_ids: list[str]
    ) -> list[objects.Port]:
        """The caller's ports (all, for admins) of the devices `device_ids` (1.3).

        What a listing of several servers shows of their ports (their security
        groups): each device's ports by `ports_device`, where listing the caller's
        ports to pick them out reads, for an admin, every port of the cloud. At most
        `DEVICES_PER_CALL` devices a call (`Invalid` beyond), so a reply stays a page.
        """
        if not isinstance(device_ids, list):
            raise Invalid(f"device_ids must be a list of ids, not {device_ids!r}.")
        if len(device_ids) > DEVICES_PER_CALL:
            raise Invalid(f"At most {DEVICES_PER_CALL} device ids a call, not {len(device_ids)}.")
        wanted = [check.text("device_id", d) for d in device_ids]
        if not wanted:
            return []
        return await rows.load_ports(
            self.db, _PORTS_OF_DEVICES, (*_caller(ctx), orjson.dumps(wanted).decode())
        )

    @endpoint
    async def count_ports(self, ctx: RequestContext) -> int:
        """How many ports the caller's project has (1.2).

        What a create checks against ``[network] quota_port`` before it records
        anything: one count by the project's index, where reading the caller's
        visible ports to count them would read, for an admin, every port of the cloud.
        """
        if ctx.project_id is None:
            return 0
        return await self.quotas.used("port", ctx.project_id)

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
            bound = await rows.write(conn, _BIND, (host, port_id, *_caller(ctx)))
        if not bound:
            raise PortNotFound(f"Port {port_id} could not be found.", port_id=port_id)
        log.info("network.port_bound", port_id=port_id, binding_host=host)
        return await self.get_port(ctx, port_id)

    # -- helpers ------------------------------------------------------------

    async def _check_marker(self, ctx: RequestContext, marker: str) -> None:
        """Raise `MarkerNotFound` unless `marker` is a port the caller sees."""
        row = await self.db.fetchone(
            f"SELECT 1 FROM ports p WHERE {_PORT_BY_ID}", (marker, *_caller(ctx))
        )
        if row is None:
            raise paging.marker_not_found(marker, what="ports")

    async def _ports_of(self, device: str) -> list[objects.Port]:
        return await rows.load_ports(self.db, "p.device_id = ?", (device,))


# Binding a port to a host: it is ACTIVE there (nothing else plugs it in).
_BIND = (
    "UPDATE ports SET status = 'ACTIVE', binding_host = ? WHERE id = ? AND (? OR project_id = ?)"
)


def _caller(ctx: RequestContext) -> tuple[bool, str | None]:
    """The parameters of a visibility clause: is the caller admin, and its project."""
    return ctx.is_admin, ctx.project_id


def _limits(config: Config) -> dict[str, int]:
    """Each resource's per-project limit, from ``[network] quota_<resource>``."""
    section = config.network
    return {
        "network": section.quota_network,
        "subnet": section.quota_subnet,
        "port": section.quota_port,
        "security_group": section.quota_security_group,
        "security_group_rule": section.quota_security_group_rule,
        "router": section.quota_router,
        "floatingip": section.quota_floatingip,
    }
