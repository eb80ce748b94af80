"""The client side of the network service: what compute and the API call to reach it."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable
from typing import Any, ClassVar

from nova_lite import objects, paging
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["NetworkAPI"]


class NetworkAPI(RPCAPI):
    """The network service's RPC API, version 1.2 (every method is a call).

    1.1: list_ports' marker and limit (sent as 1.1 only when paging, so a 1.0 server
    still answers every other call). `all_ports` reads every page. 1.2: count_ports
    (`project_port_count`: under a version cap below 1.2, the ports are read and
    counted instead). 1.3: ports_of_devices (`devices_ports`: likewise read and picked
    out under a cap below 1.3).

    Compute uses `allocate_for_instance`, `deallocate_for_instance`, `bind_port` and
    the port lists; the API the rest, Neutron's resources with their attributes under
    Neutron's names (``{"name": ..., "router:external": true}``), checked by the service.
    """

    topic: ClassVar[str] = "network"
    version: ClassVar[str] = "1.0"

    async def create_network(
        self, ctx: RequestContext, name: str, *, shared: bool = True
    ) -> objects.Network:
        """Create a network; shared ones need an admin."""
        result: objects.Network = await self.invoker.call(
            ctx, "create_network", name=name, shared=shared
        )
        return result

    async def list_networks(self, ctx: RequestContext) -> list[objects.Network]:
        """The networks the caller sees."""
        result: list[objects.Network] = await self.invoker.call(ctx, "list_networks")
        return result

    async def get_network(self, ctx: RequestContext, network_id: str) -> objects.Network:
        """One visible network (NetworkNotFound otherwise)."""
        result: objects.Network = await self.invoker.call(ctx, "get_network", network_id=network_id)
        return result

    async def delete_network(self, ctx: RequestContext, network_id: str) -> None:
        """Delete a network without ports (Conflict otherwise)."""
        await self.invoker.call(ctx, "delete_network", network_id=network_id)

    async def create_subnet(
        self,
        ctx: RequestContext,
        network_id: str,
        cidr: str,
        *,
        gateway_ip: str | None = None,
        pool_start: str | None = None,
        pool_end: str | None = None,
    ) -> objects.Subnet:
        """Add an IP range to a network."""
        result: objects.Subnet = await self.invoker.call(
            ctx,
            "create_subnet",
            network_id=network_id,
            cidr=cidr,
            gateway_ip=gateway_ip,
            pool_start=pool_start,
            pool_end=pool_end,
        )
        return result

    async def list_subnets(
        self, ctx: RequestContext, network_id: str | None = None
    ) -> list[objects.Subnet]:
        """The subnets the caller sees (of one visible network, if named)."""
        result: list[objects.Subnet] = await self.invoker.call(
            ctx, "list_subnets", network_id=network_id
        )
        return result

    async def allocate_for_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        network_ids: list[str],
        project_id: str,
        *,
        host: str | None = None,
    ) -> list[objects.Port]:
        """One port with a MAC and a fixed IP per network, all or nothing; with `host`,
        bound there."""
        binding = {} if host is None else {"host": host}
        result: list[objects.Port] = await self.invoker.call(
            ctx,
            "allocate_for_instance",
            instance_uuid=instance_uuid,
            network_ids=network_ids,
            project_id=project_id,
            **binding,
        )
        return result

    async def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Release every port of an instance."""
        await self.invoker.call(ctx, "deallocate_for_instance", instance_uuid=instance_uuid)

    async def list_ports(
        self,
        ctx: RequestContext,
        *,
        device_id: str | None = None,
        network_id: str | None = None,
        marker: str | None = None,
        limit: int | None = None,
    ) -> list[objects.Port]:
        """The caller's ports, optionally of one device or network; or a page of them
        by id: at most `limit`, those after the port `marker` (version 1.1)."""
        page = paging.page_arguments(marker, limit)
        invoker = self.invoker.prepare(version="1.1") if page else self.invoker
        result: list[objects.Port] = await invoker.call(
            ctx, "list_ports", device_id=device_id, network_id=network_id, **page
        )
        return result

    async def devices_ports(self, ctx: RequestContext, device_ids: list[str]) -> list[objects.Port]:
        """The caller's ports of the devices `device_ids` (``ports_of_devices``, 1.3,
        asked `paging.PAGE_SIZE` devices at a time, the most one call may name).

        Under a version cap below 1.3 (network services not yet upgraded) the
        caller's visible ports are read and those of the devices picked out.
        """
        wanted = sorted(set(device_ids))
        invoker = self.invoker.prepare(version="1.3")
        if not invoker.can_send_version():
            chosen = set(wanted)
            return [p for p in await self.all_ports(ctx) if p.device_id in chosen]
        found: list[objects.Port] = []
        for start in range(0, len(wanted), paging.PAGE_SIZE):
            part = wanted[start : start + paging.PAGE_SIZE]
            found.extend(await invoker.call(ctx, "ports_of_devices", device_ids=part))
        return found

    async def project_port_count(self, ctx: RequestContext) -> int:
        """How many ports the caller's project has (``count_ports``, version 1.2).

        Under a version cap below 1.2 (network services not yet upgraded) the
        caller's visible ports are read and those of its project counted.
        """
        invoker = self.invoker.prepare(version="1.2")
        if not invoker.can_send_version():
            ports = await self.all_ports(ctx)
            return sum(1 for p in ports if p.project_id == ctx.project_id)
        result: int = await invoker.call(ctx, "count_ports")
        return result

    async def all_ports(
        self,
        ctx: RequestContext,
        *,
        device_id: str | None = None,
        network_id: str | None = None,
    ) -> list[objects.Port]:
        """Every port `list_ports` gives, read `paging.PAGE_SIZE` at a time."""

        def fetch(*, marker: str | None, limit: int) -> Awaitable[list[objects.Port]]:
            return self.list_ports(
                ctx, device_id=device_id, network_id=network_id, marker=marker, limit=limit
            )

        return await paging.read_all(fetch, _port_id)

    async def get_port(self, ctx: RequestContext, port_id: str) -> objects.Port:
        """One visible port (PortNotFound otherwise)."""
        result: objects.Port = await self.invoker.call(ctx, "get_port", port_id=port_id)
        return result

    async def bind_port(self, ctx: RequestContext, port_id: str, host: str) -> objects.Port:
        """Mark a port ACTIVE on `host` (compute calls this when it plugs the VIF)."""
        result: objects.Port = await self.invoker.call(ctx, "bind_port", port_id=port_id, host=host)
        return result

    # -- Neutron's resources, by kind: create (in bulk), update, delete, list, get -------

    async def _call(self, ctx: RequestContext, method: str, **kwargs: Any) -> Any:
        return await self.invoker.call(ctx, method, **kwargs)

    async def create_networks(
        self, ctx: RequestContext, networks: builtins.list[dict[str, Any]]
    ) -> builtins.list[objects.Network]:
        """Create networks (Neutron's attributes each), all or none."""
        result: builtins.list[objects.Network] = await self._call(
            ctx, "create_networks", networks=networks
        )
        return result

    async def update_network(
        self, ctx: RequestContext, network_id: str, changes: dict[str, Any]
    ) -> objects.Network:
        """Change a network's attributes."""
        result: objects.Network = await self._call(
            ctx, "update_network", network_id=network_id, changes=changes
        )
        return result

    async def create_subnets(
        self, ctx: RequestContext, subnets: builtins.list[dict[str, Any]]
    ) -> builtins.list[objects.Subnet]:
        """Create subnets (Neutron's attributes each), all or none."""
        result: builtins.list[objects.Subnet] = await self._call(
            ctx, "create_subnets", subnets=subnets
        )
        return result

    async def update_subnet(
        self, ctx: RequestContext, subnet_id: str, changes: dict[str, Any]
    ) -> objects.Subnet:
        """Change a subnet's attributes (gateway, pools, DNS servers, routes, ...)."""
        result: objects.Subnet = await self._call(
            ctx, "update_subnet", subnet_id=subnet_id, changes=changes
        )
        return result

    async def delete_subnet(self, ctx: RequestContext, subnet_id: str) -> None:
        """Delete a subnet no port uses an address of (SubnetInUse otherwise)."""
        await self._call(ctx, "delete_subnet", subnet_id=subnet_id)

    async def get_subnet(self, ctx: RequestContext, subnet_id: str) -> objects.Subnet:
        """One visible subnet (SubnetNotFound otherwise)."""
        result: objects.Subnet = await self._call(ctx, "get_subnet", subnet_id=subnet_id)
        return result

    async def create_ports(
        self, ctx: RequestContext, ports: builtins.list[dict[str, Any]]
    ) -> builtins.list[objects.Port]:
        """Create ports (Neutron's attributes each), all or none."""
        result: builtins.list[objects.Port] = await self._call(ctx, "create_ports", ports=ports)
        return result

    async def update_port(
        self, ctx: RequestContext, port_id: str, changes: dict[str, Any]
    ) -> objects.Port:
        """Change a port's attributes (fixed IPs, security groups, binding, ...)."""
        result: objects.Port = await self._call(
            ctx, "update_port", port_id=port_id, changes=changes
        )
        return result

    async def delete_port(self, ctx: RequestContext, port_id: str) -> None:
        """Delete a port (not a router's or a floating IP's: Conflict)."""
        await self._call(ctx, "delete_port", port_id=port_id)

    async def create_security_group(
        self, ctx: RequestContext, group: dict[str, Any]
    ) -> objects.SecurityGroup:
        """Create a security group (with Neutron's two egress rules)."""
        result: objects.SecurityGroup = await self._call(ctx, "create_security_group", group=group)
        return result

    async def update_security_group(
        self, ctx: RequestContext, group_id: str, changes: dict[str, Any]
    ) -> objects.SecurityGroup:
        """Rename or describe a security group."""
        result: objects.SecurityGroup = await self._call(
            ctx, "update_security_group", group_id=group_id, changes=changes
        )
        return result

    async def delete_security_group(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a security group no port uses (SecurityGroupInUse otherwise)."""
        await self._call(ctx, "delete_security_group", group_id=group_id)

    async def list_security_groups(
        self, ctx: RequestContext
    ) -> builtins.list[objects.SecurityGroup]:
        """The caller's project's security groups (its default one made if missing)."""
        result: builtins.list[objects.SecurityGroup] = await self._call(ctx, "list_security_groups")
        return result

    async def get_security_group(self, ctx: RequestContext, group_id: str) -> objects.SecurityGroup:
        """One visible security group with its rules."""
        result: objects.SecurityGroup = await self._call(
            ctx, "get_security_group", group_id=group_id
        )
        return result

    async def create_security_group_rules(
        self, ctx: RequestContext, rules: builtins.list[dict[str, Any]]
    ) -> builtins.list[objects.SecurityGroupRule]:
        """Add rules to their groups, all or none (Conflict on a duplicate)."""
        result: builtins.list[objects.SecurityGroupRule] = await self._call(
            ctx, "create_security_group_rules", rules=rules
        )
        return result

    async def delete_security_group_rule(self, ctx: RequestContext, rule_id: str) -> None:
        """Delete one rule."""
        await self._call(ctx, "delete_security_group_rule", rule_id=rule_id)

    async def list_security_group_rules(
        self, ctx: RequestContext
    ) -> builtins.list[objects.SecurityGroupRule]:
        """The rules of the caller's project's groups."""
        result: builtins.list[objects.SecurityGroupRule] = await self._call(
            ctx, "list_security_group_rules"
        )
        return result

    async def get_security_group_rule(
        self, ctx: RequestContext, rule_id: str
    ) -> objects.SecurityGroupRule:
        """One visible rule."""
        result: objects.SecurityGroupRule = await self._call(
            ctx, "get_security_group_rule", rule_id=rule_id
        )
        return result

    async def find_security_groups(
        self, ctx: RequestContext, refs: builtins.list[str]
    ) -> builtins.list[objects.SecurityGroup]:
        """The caller's groups with these names or ids (SecurityGroupNotFound otherwise)."""
        result: builtins.list[objects.SecurityGroup] = await self._call(
            ctx, "find_security_groups", refs=refs
        )
        return result

    async def request_security_groups(
        self, ctx: RequestContext, instance_uuids: builtins.list[str], group_ids: builtins.list[str]
    ) -> None:
        """Record the groups new servers' ports get, before their build."""
        await self._call(
            ctx, "request_security_groups", instance_uuids=instance_uuids, group_ids=group_ids
        )

    async def add_instance_security_group(
        self, ctx: RequestContext, instance_uuid: str, group: str
    ) -> objects.SecurityGroup:
        """Apply a group (name or id) to every port of a server."""
        result: objects.SecurityGroup = await self._call(
            ctx, "add_instance_security_group", instance_uuid=instance_uuid, group=group
        )
        return result

    async def remove_instance_security_group(
        self, ctx: RequestContext, instance_uuid: str, group: str
    ) -> None:
        """Take a group (name or id) off every port of a server."""
        await self._call(
            ctx, "remove_instance_security_group", instance_uuid=instance_uuid, group=group
        )

    async def instance_security_groups(
        self, ctx: RequestContext, instance_uuid: str
    ) -> builtins.list[objects.SecurityGroup]:
        """The groups of a server's ports."""
        result: builtins.list[objects.SecurityGroup] = await self._call(
            ctx, "instance_security_groups", instance_uuid=instance_uuid
        )
        return result

    async def create_router(self, ctx: RequestContext, router: dict[str, Any]) -> objects.Router:
        """Create a router (with its gateway, if one is named)."""
        result: objects.Router = await self._call(ctx, "create_router", router=router)
        return result

    async def update_router(
        self, ctx: RequestContext, router_id: str, changes: dict[str, Any]
    ) -> objects.Router:
        """Change a router's attributes, gateway or extra routes."""
        result: objects.Router = await self._call(
            ctx, "update_router", router_id=router_id, changes=changes
        )
        return result

    async def delete_router(self, ctx: RequestContext, router_id: str) -> None:
        """Delete a router without interfaces or floating IPs."""
        await self._call(ctx, "delete_router", router_id=router_id)

    async def list_routers(self, ctx: RequestContext) -> builtins.list[objects.Router]:
        """The caller's project's routers."""
        result: builtins.list[objects.Router] = await self._call(ctx, "list_routers")
        return result

    async def get_router(self, ctx: RequestContext, router_id: str) -> objects.Router:
        """One visible router."""
        result: objects.Router = await self._call(ctx, "get_router", router_id=router_id)
        return result

    async def add_router_interface(
        self,
        ctx: RequestContext,
        router_id: str,
        *,
        subnet_id: str | None = None,
        port_id: str | None = None,
    ) -> dict[str, Any]:
        """Attach a subnet or a port to a router; Neutron's interface info."""
        result: dict[str, Any] = await self._call(
            ctx, "add_router_interface", router_id=router_id, subnet_id=subnet_id, port_id=port_id
        )
        return result

    async def remove_router_interface(
        self,
        ctx: RequestContext,
        router_id: str,
        *,
        subnet_id: str | None = None,
        port_id: str | None = None,
    ) -> dict[str, Any]:
        """Detach an interface (by subnet or port); Neutron's interface info."""
        result: dict[str, Any] = await self._call(
            ctx,
            "remove_router_interface",
            router_id=router_id,
            subnet_id=subnet_id,
            port_id=port_id,
        )
        return result

    async def create_floatingip(
        self, ctx: RequestContext, floatingip: dict[str, Any]
    ) -> objects.FloatingIp:
        """Take an address of an external network (associated, if a port is named)."""
        result: objects.FloatingIp = await self._call(
            ctx, "create_floatingip", floatingip=floatingip
        )
        return result

    async def update_floatingip(
        self, ctx: RequestContext, floatingip_id: str, changes: dict[str, Any]
    ) -> objects.FloatingIp:
        """Associate, let go of, or describe a floating IP."""
        result: objects.FloatingIp = await self._call(
            ctx, "update_floatingip", floatingip_id=floatingip_id, changes=changes
        )
        return result

    async def delete_floatingip(self, ctx: RequestContext, floatingip_id: str) -> None:
        """Give a floating IP back."""
        await self._call(ctx, "delete_floatingip", floatingip_id=floatingip_id)

    async def list_floatingips(self, ctx: RequestContext) -> builtins.list[objects.FloatingIp]:
        """The caller's project's floating IPs."""
        result: builtins.list[objects.FloatingIp] = await self._call(ctx, "list_floatingips")
        return result

    async def get_floatingip(self, ctx: RequestContext, floatingip_id: str) -> objects.FloatingIp:
        """One visible floating IP."""
        result: objects.FloatingIp = await self._call(
            ctx, "get_floatingip", floatingip_id=floatingip_id
        )
        return result

    async def create_subnetpool(
        self, ctx: RequestContext, subnetpool: dict[str, Any]
    ) -> objects.SubnetPool:
        """Create a subnet pool."""
        result: objects.SubnetPool = await self._call(
            ctx, "create_subnetpool", subnetpool=subnetpool
        )
        return result

    async def update_subnetpool(
        self, ctx: RequestContext, subnetpool_id: str, changes: dict[str, Any]
    ) -> objects.SubnetPool:
        """Change a subnet pool."""
        result: objects.SubnetPool = await self._call(
            ctx, "update_subnetpool", subnetpool_id=subnetpool_id, changes=changes
        )
        return result

    async def delete_subnetpool(self, ctx: RequestContext, subnetpool_id: str) -> None:
        """Delete a subnet pool."""
        await self._call(ctx, "delete_subnetpool", subnetpool_id=subnetpool_id)

    async def list_subnetpools(self, ctx: RequestContext) -> builtins.list[objects.SubnetPool]:
        """The subnet pools the caller sees."""
        result: builtins.list[objects.SubnetPool] = await self._call(ctx, "list_subnetpools")
        return result

    async def get_subnetpool(self, ctx: RequestContext, subnetpool_id: str) -> objects.SubnetPool:
        """One visible subnet pool."""
        result: objects.SubnetPool = await self._call(
            ctx, "get_subnetpool", subnetpool_id=subnetpool_id
        )
        return result


def _port_id(port: objects.Port) -> str:
    return port.id
