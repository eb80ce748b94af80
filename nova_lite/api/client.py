"""The library entry point: `NovaAPI` authenticates users and hands out Sessions.

`NovaAPI` plays nova-api: it holds the RPC clients of every service, validates the
caller's token with identity on each request (through a short cache), and builds
the `RequestContext` that rides on every RPC message the request causes::

    api = NovaAPI(transport, config)
    session = await api.login("alice", "secret", project="demo")
    server = await session.servers.create("web1", flavor="m1.small", image="cirros")
    server = await session.servers.wait_for(server.id, "ACTIVE")
"""

from __future__ import annotations

from typing import Any

import attrs

from nova_lite import clock, objects
from nova_lite.api.keypairs import Keypairs
from nova_lite.api.policy import rule_for
from nova_lite.api.servers import Servers
from nova_lite.api.watcher import InstanceWatcher
from nova_lite.audit import Audit
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.config import Config
from nova_lite.context import RequestContext, generate_request_id
from nova_lite.exceptions import Invalid, NotAuthorized
from nova_lite.identity.rpcapi import IdentityAPI
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.policy import Enforcer
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.telemetry.steps import count_token_validation
from nova_lite.transport import Transport
from nova_lite.volume.rpcapi import VolumeAPI

__all__ = ["NovaAPI", "Session"]


@attrs.define
class _CachedToken:
    info: objects.TokenInfo
    checked_at: float


class NovaAPI:
    """The API service's logic, usable from any process connected to the bus."""

    def __init__(self, transport: Transport, config: Config) -> None:
        self.transport = transport
        self.config = config
        self.identity = IdentityAPI(transport, config)
        self.conductor = ConductorAPI(transport, config)
        self.scheduler = SchedulerAPI(transport, config)
        self.compute = ComputeAPI(transport, config)
        self.image = ImageAPI(transport, config)
        self.network = NetworkAPI(transport, config)
        self.volume = VolumeAPI(transport, config)
        self.watcher = InstanceWatcher(transport, config.rpc.exchange)
        self.policy = Enforcer.from_file(config.policy.file)
        self._tokens: dict[str, _CachedToken] = {}

    def __repr__(self) -> str:
        return f"<NovaAPI {self.transport!r}>"

    async def login(self, username: str, password: str, *, project: str) -> Session:
        """Authenticate with identity and return a Session bound to the new token."""
        result = await self.identity.authenticate(
            RequestContext(), username=username, password=password, project_name=project
        )
        token: str = result["token"]
        self._tokens[token] = _CachedToken(result["token_info"], clock.monotonic())
        return Session(self, token)

    def session(
        self, token: str, *, request_id: str | None = None, global_request_id: str | None = None
    ) -> Session:
        """A Session for a token obtained elsewhere (validated on first use).

        With `request_id`, every request of the session carries that id (a front end
        passing on its caller's request id); `global_request_id` likewise (the id of
        another service's request that this session serves).
        """
        return Session(self, token, request_id=request_id, global_request_id=global_request_id)

    async def context_for(
        self, token: str, *, request_id: str | None = None, global_request_id: str | None = None
    ) -> RequestContext:
        """Validate `token` (cached for ``[api] token_cache_ttl`` seconds) into a context.

        The context has `request_id` (a new one if None) and `global_request_id`; the
        token's validation by identity runs under the same ids.
        """
        request_id = request_id or generate_request_id()
        checking = RequestContext(request_id=request_id, global_request_id=global_request_id)
        info = await self._validate(token, checking)
        return RequestContext.from_token(
            info, token, request_id=request_id, global_request_id=global_request_id
        )

    async def _validate(self, token: str, ctx: RequestContext) -> objects.TokenInfo:
        now = clock.monotonic()
        cached = self._tokens.get(token)
        fresh = cached is not None and now - cached.checked_at < self.config.api.token_cache_ttl
        if cached is not None and fresh and cached.info.expires_at > objects.utcnow():
            count_token_validation(self.transport, "cached")
            return cached.info
        self._tokens.pop(token, None)
        try:
            info = await self.identity.validate_token(ctx, token)
        except (NotAuthorized, Invalid):
            count_token_validation(self.transport, "invalid")
            raise
        count_token_validation(self.transport, "valid")
        self._tokens[token] = _CachedToken(info, now)
        return info

    def authorize(self, ctx: RequestContext, operation: str, project_id: str | None) -> None:
        """`PolicyNotAuthorized` (403) unless the caller may do `operation` in the project.

        `operation` is a nova_lite action (``pause``) or a compute rule name; the rule
        is evaluated with the owning project as its target (`nova_lite.policy`).
        """
        self.policy.authorize(ctx, rule_for(operation), {"project_id": project_id})

    def forget_token(self, token: str) -> None:
        """Drop a token from the cache (after revoking it)."""
        self._tokens.pop(token, None)

    def forget_tokens(self) -> None:
        """Drop every cached token (after a change to who may do what: a user or project
        disabled or deleted, a role taken away), so the next request validates again."""
        self._tokens.clear()


class Session:
    """One user's authenticated view of the cloud: ``session.servers``, ..."""

    def __init__(
        self,
        api: NovaAPI,
        token: str,
        *,
        request_id: str | None = None,
        global_request_id: str | None = None,
    ) -> None:
        self.api = api
        self.token = token
        self.request_id = request_id
        self.global_request_id = global_request_id
        self.servers = Servers(self)
        self.keypairs = Keypairs(self)

    def __repr__(self) -> str:
        return f"<Session token=***{self.token[-4:]}>"

    async def context(self) -> RequestContext:
        """A fresh request context for one API request (new request id)."""
        if not self.token:
            raise NotAuthorized("The request you have made requires authentication.")
        return await self.api.context_for(
            self.token, request_id=self.request_id, global_request_id=self.global_request_id
        )

    async def logout(self) -> None:
        """Revoke this session's token."""
        ctx = await self.context()
        await self.api.identity.revoke_token(ctx, self.token)
        self.api.forget_token(self.token)

    async def flavors(self) -> list[objects.Flavor]:
        """The flavors available to boot from."""
        return await self.api.conductor.flavor_list(await self.context())

    async def hosts(self) -> list[dict[str, object]]:
        """Every compute host with state and usage (admins only)."""
        ctx = await self.context()
        self.api.authorize(ctx, "os_compute_api:os-hypervisors:list", ctx.project_id)
        return list(await self.api.scheduler.all_hosts(ctx))

    async def audit(self, *, heal: bool = False, stuck_after: float = 300.0) -> dict[str, Any]:
        """The audit of the cloud's books, repaired with `heal` (admins only; see audit.py)."""
        ctx = await self.context()
        self.api.authorize(ctx, "os_compute_api:audit", ctx.project_id)
        auditor = Audit(self.api.transport, self.api.config, stuck_after=stuck_after)
        report = await (auditor.heal(ctx) if heal else auditor.run(ctx))
        return report.to_dict()
