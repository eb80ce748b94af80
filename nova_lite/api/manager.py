"""The api service on the bus: NovaAPI's operations for callers holding a token.

``nova-lite service api`` runs this manager. Clients (the ``nova-lite`` client
commands) authenticate with identity, then send their requests here with the token
in their context; the api service validates the token, applies the policy and the
input checks of `NovaAPI`, and drives the other services, exactly as the library
does in process. Results are plain JSON (servers as dictionaries).
"""

from __future__ import annotations

from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.api.client import NovaAPI, Session
from nova_lite.api.views import Server
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotAuthorized
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.service import Manager
from nova_lite.transport import Transport

__all__ = ["SERVER_ACTIONS", "ApiManager", "server_to_dict"]

# Server actions callable through `servers_action`, with their keyword arguments.
SERVER_ACTIONS: dict[str, tuple[str, ...]] = {
    "pause": (),
    "unpause": (),
    "suspend": (),
    "resume": (),
    "stop": (),
    "start": (),
    "reboot": ("hard",),
    "rescue": (),
    "unrescue": (),
    "set_admin_password": ("password",),
    "rebuild": ("image",),
    "snapshot": ("name",),
    "backup": ("name", "backup_type", "rotation"),
    "shelve": (),
    "shelve_offload": (),
    "unshelve": (),
    "resize": ("flavor",),
    "confirm_resize": (),
    "revert_resize": (),
    "soft_delete": (),
    "restore": (),
    "force_delete": (),
    "lock": (),
    "unlock": (),
    "attach_volume": ("volume_id", "device"),
    "detach_volume": ("volume_id",),
}


def server_to_dict(server: Server) -> dict[str, Any]:
    """A server view as JSON values."""
    data: dict[str, Any] = objects.serializer().converter.unstructure(server)
    return data


class ApiManager(Manager):
    """Serves NovaAPI's operations over RPC to token-holding clients."""

    topic: ClassVar[str] = "api"
    target: ClassVar[Target] = Target(version="1.0")

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.api = NovaAPI(transport, config)

    def _session(self, ctx: RequestContext) -> Session:
        if not ctx.auth_token:
            raise NotAuthorized("The request you have made requires authentication.")
        return self.api.session(
            ctx.auth_token, request_id=ctx.request_id, global_request_id=ctx.global_request_id
        )

    @endpoint
    async def servers_create(
        self,
        ctx: RequestContext,
        name: str,
        flavor: str,
        image: str | None = None,
        networks: list[str] | None = None,
        count: int = 1,
        availability_zone: str | None = None,
    ) -> list[dict[str, Any]]:
        servers = await self._session(ctx).servers.create(
            name,
            flavor=flavor,
            image=image,
            networks=networks,
            count=count,
            availability_zone=availability_zone,
        )
        return [server_to_dict(s) for s in servers]

    @endpoint
    async def servers_list(
        self, ctx: RequestContext, all_projects: bool = False
    ) -> list[dict[str, Any]]:
        servers = await self._session(ctx).servers.list(all_projects=all_projects)
        return [server_to_dict(s) for s in servers]

    @endpoint
    async def servers_get(self, ctx: RequestContext, server_id: str) -> dict[str, Any]:
        return server_to_dict(await self._session(ctx).servers.get(server_id))

    @endpoint
    async def servers_delete(self, ctx: RequestContext, server_id: str) -> None:
        await self._session(ctx).servers.delete(server_id)

    @endpoint
    async def servers_action(
        self, ctx: RequestContext, server_id: str, action: str, args: dict[str, Any]
    ) -> Any:
        """Run one lifecycle action (`SERVER_ACTIONS` names them and their arguments)."""
        if action not in SERVER_ACTIONS:
            raise Invalid(f"Unknown server action {action!r}; known: {', '.join(SERVER_ACTIONS)}.")
        unknown = set(args) - set(SERVER_ACTIONS[action])
        if unknown:
            raise Invalid(f"Action {action!r} takes no argument(s) {sorted(unknown)}.")
        return await getattr(self._session(ctx).servers, action)(server_id, **args)

    @endpoint
    async def servers_wait(
        self, ctx: RequestContext, server_id: str, status: list[str], timeout: float
    ) -> dict[str, Any]:
        server = await self._session(ctx).servers.wait_for(server_id, status, timeout=timeout)
        return server_to_dict(server)

    @endpoint
    async def servers_actions(self, ctx: RequestContext, server_id: str) -> list[dict[str, Any]]:
        actions = await self._session(ctx).servers.actions(server_id)
        converter = objects.serializer().converter
        return [converter.unstructure(a) for a in actions]

    @endpoint
    async def servers_console(self, ctx: RequestContext, server_id: str) -> str:
        return await self._session(ctx).servers.console_output(server_id)

    @endpoint
    async def flavors_list(self, ctx: RequestContext) -> list[objects.Flavor]:
        return await self._session(ctx).flavors()

    @endpoint
    async def hosts_list(self, ctx: RequestContext) -> list[dict[str, Any]]:
        return await self._session(ctx).hosts()

    @endpoint
    async def audit(
        self, ctx: RequestContext, heal: bool = False, stuck_after: float = 300.0
    ) -> dict[str, Any]:
        """The audit of the cloud's books (``nova-lite audit``); admins only."""
        return await self._session(ctx).audit(heal=heal, stuck_after=stuck_after)
