"""Client side of the scheduler: what the conductor and compute hosts call."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar

from nova_lite import objects, paging
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["ALLOCATION_PAGE", "SchedulerAPI"]

# Allocations per page: a claim is a small record (about 150 bytes, so 1,000 are
# 150 KB) and each page costs the scheduler a pass over every claim, so fewer,
# larger pages than `paging.PAGE_SIZE`.
ALLOCATION_PAGE = paging.MAX_LIMIT


class SchedulerAPI(RPCAPI):
    """The scheduler's RPC API, version 1.4.

    1.1: select_destinations_batch; 1.2: list_hosts' marker and limit; 1.3:
    list_allocations' marker and limit; 1.4: service_heartbeat. A call is sent at
    the version it needs, so an older scheduler still answers the calls it knows.
    """

    topic: ClassVar[str] = "scheduler"
    version: ClassVar[str] = "1.0"

    async def select_destinations(
        self, ctx: RequestContext, spec: objects.RequestSpec, num_alternates: int = 0
    ) -> list[objects.Selection]:
        result: list[objects.Selection] = await self.invoker.call(
            ctx, "select_destinations", spec=spec, num_alternates=num_alternates
        )
        return result

    async def select_destinations_batch(
        self, ctx: RequestContext, specs: list[objects.RequestSpec], num_alternates: int = 0
    ) -> list[objects.Destinations]:
        """Each instance's placement, one call for them all (version 1.1)."""
        result: list[objects.Destinations] = await self.invoker.prepare(version="1.1").call(
            ctx, "select_destinations_batch", specs=specs, num_alternates=num_alternates
        )
        return result

    async def claim(self, ctx: RequestContext, selection: objects.Selection) -> bool:
        result: bool = await self.invoker.call(ctx, "claim", selection=selection)
        return result

    async def release(self, ctx: RequestContext, instance_uuid: str) -> None:
        await self.invoker.call(ctx, "release", instance_uuid=instance_uuid)

    async def update_compute_node(self, ctx: RequestContext, node: objects.ComputeNode) -> None:
        """Report a host to every scheduler (a fanout cast, as Nova's computes do)."""
        await self.invoker.prepare(fanout=True).cast(ctx, "update_compute_node", node=node)

    async def service_heartbeat(self, ctx: RequestContext, host: str) -> bool:
        """Tell every scheduler `host` is alive (a fanout cast of its name, version 1.4).

        False, with nothing sent, when the version cap is below 1.4: the caller sends
        its full report instead, which older schedulers take as the heartbeat.
        """
        invoker = self.invoker.prepare(fanout=True, version="1.4")
        if not invoker.can_send_version():
            return False
        await invoker.cast(ctx, "service_heartbeat", host=host)
        return True

    async def host_is_up(self, ctx: RequestContext, host: str) -> bool:
        result: bool = await self.invoker.call(ctx, "host_is_up", host=host)
        return result

    async def list_hosts(
        self, ctx: RequestContext, *, marker: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every host by name; or a page: at most `limit` hosts, those after `marker`."""
        page = paging.page_arguments(marker, limit)
        invoker = self.invoker.prepare(version="1.2") if page else self.invoker
        result: list[dict[str, Any]] = await invoker.call(ctx, "list_hosts", **page)
        return result

    async def all_hosts(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every host `list_hosts` gives, by name, read `paging.PAGE_SIZE` at a time
        (10,000 hosts in one reply are over the 4 MiB message limit)."""

        def fetch(*, marker: str | None, limit: int) -> Awaitable[list[dict[str, Any]]]:
            return self.list_hosts(ctx, marker=marker, limit=limit)

        return await paging.read_all(fetch, _host_name)

    async def move_allocation(
        self, ctx: RequestContext, from_consumer: str, to_consumer: str
    ) -> None:
        """Hand a claim to another consumer id (an instance's to its migration, and back)."""
        await self.invoker.call(
            ctx, "move_allocation", from_consumer=from_consumer, to_consumer=to_consumer
        )

    async def list_allocations(
        self, ctx: RequestContext, *, marker: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every allocation the scheduler holds (admins only); or a page by consumer: at
        most `limit`, those after `marker` (version 1.3)."""
        page = paging.page_arguments(marker, limit)
        invoker = self.invoker.prepare(version="1.3") if page else self.invoker
        result: list[dict[str, Any]] = await invoker.call(ctx, "list_allocations", **page)
        return result

    async def all_allocations(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every allocation, by consumer, `ALLOCATION_PAGE` at a time."""

        def fetch(*, marker: str | None, limit: int) -> Awaitable[list[dict[str, Any]]]:
            return self.list_allocations(ctx, marker=marker, limit=limit)

        return await paging.read_all(fetch, _consumer, page_size=ALLOCATION_PAGE)

    async def put_allocation(
        self, ctx: RequestContext, consumer: str, host: str, flavor: objects.Flavor
    ) -> None:
        """Record `consumer`'s allocation as `flavor` on `host`, unchecked (admins only)."""
        await self.invoker.call(
            ctx,
            "put_allocation",
            consumer=consumer,
            host=host,
            vcpus=flavor.vcpus,
            memory_mb=flavor.memory_mb,
            disk_gb=flavor.disk_gb,
        )


def _host_name(host: dict[str, Any]) -> str:
    return str(host["host"])


def _consumer(allocation: dict[str, Any]) -> str:
    return str(allocation["instance_uuid"])
