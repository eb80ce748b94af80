"""Client side of the api service: what the ``nova-lite`` client commands call."""

from __future__ import annotations

from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["ApiClient"]


class ApiClient(RPCAPI):
    """The api service's RPC API, version 1.0; every call carries the caller's token."""

    topic: ClassVar[str] = "api"
    version: ClassVar[str] = "1.0"

    async def servers_create(self, ctx: RequestContext, **kwargs: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.invoker.call(ctx, "servers_create", **kwargs)
        return result

    async def servers_list(
        self, ctx: RequestContext, *, all_projects: bool = False
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.invoker.call(
            ctx, "servers_list", all_projects=all_projects
        )
        return result

    async def servers_get(self, ctx: RequestContext, server_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.invoker.call(ctx, "servers_get", server_id=server_id)
        return result

    async def servers_delete(self, ctx: RequestContext, server_id: str) -> None:
        await self.invoker.call(ctx, "servers_delete", server_id=server_id)

    async def servers_action(
        self, ctx: RequestContext, server_id: str, action: str, args: dict[str, Any]
    ) -> Any:
        return await self.invoker.call(
            ctx, "servers_action", server_id=server_id, action=action, args=args
        )

    async def servers_wait(
        self, ctx: RequestContext, server_id: str, status: list[str], timeout: float
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.invoker.prepare(timeout=timeout + 10).call(
            ctx, "servers_wait", server_id=server_id, status=status, timeout=timeout
        )
        return result

    async def servers_actions(self, ctx: RequestContext, server_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.invoker.call(
            ctx, "servers_actions", server_id=server_id
        )
        return result

    async def servers_console(self, ctx: RequestContext, server_id: str) -> str:
        result: str = await self.invoker.call(ctx, "servers_console", server_id=server_id)
        return result

    async def flavors_list(self, ctx: RequestContext) -> list[objects.Flavor]:
        result: list[objects.Flavor] = await self.invoker.call(ctx, "flavors_list")
        return result

    async def hosts_list(self, ctx: RequestContext) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.invoker.call(ctx, "hosts_list")
        return result

    async def audit(
        self, ctx: RequestContext, *, heal: bool = False, stuck_after: float = 300.0
    ) -> dict[str, Any]:
        """The audit of the cloud's books, and what a heal repaired (admins only)."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "audit", heal=heal, stuck_after=stuck_after
        )
        return result
