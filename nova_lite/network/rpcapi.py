"""The client side of the network service: what compute and the API call to reach it."""

from __future__ import annotations

from typing import ClassVar

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["NetworkAPI"]


class NetworkAPI(RPCAPI):
    """The network service's RPC API, version 1.0 (every method is a call)."""

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

    async def list_subnets(self, ctx: RequestContext, network_id: str) -> list[objects.Subnet]:
        """The subnets of one visible network."""
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
    ) -> list[objects.Port]:
        """One port with a MAC and a fixed IP per network, all or nothing."""
        result: list[objects.Port] = await self.invoker.call(
            ctx,
            "allocate_for_instance",
            instance_uuid=instance_uuid,
            network_ids=network_ids,
            project_id=project_id,
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
    ) -> list[objects.Port]:
        """The caller's ports, optionally of one device or network."""
        result: list[objects.Port] = await self.invoker.call(
            ctx, "list_ports", device_id=device_id, network_id=network_id
        )
        return result

    async def get_port(self, ctx: RequestContext, port_id: str) -> objects.Port:
        """One visible port (PortNotFound otherwise)."""
        result: objects.Port = await self.invoker.call(ctx, "get_port", port_id=port_id)
        return result

    async def bind_port(self, ctx: RequestContext, port_id: str, host: str) -> objects.Port:
        """Mark a port ACTIVE on `host` (compute calls this when it plugs the VIF)."""
        result: objects.Port = await self.invoker.call(ctx, "bind_port", port_id=port_id, host=host)
        return result
