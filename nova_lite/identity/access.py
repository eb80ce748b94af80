"""The identity service's policy checks, with what it alone knows about the caller's token.

Keystone's rules look at more than a request context carries: the scope of the
caller's token (``system_scope:all``, a domain-scoped token's ``domain_id``) and the
domain of its project (``token.project.domain.id``). The identity service holds
every token, so `IdentityAccess` reads the caller's own token (the context's
``auth_token``) and passes those facts to the rule as credentials. A context
without a token (a service's own) is judged on its roles alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import NotAuthorized
from nova_lite.identity.tokens import TokenStore
from nova_lite.policy import Enforcer

__all__ = ["IdentityAccess"]


class IdentityAccess:
    """`authorize` with Keystone's token facts; `facts` says what they are for a caller."""

    def __init__(
        self,
        policy: Enforcer,
        tokens: TokenStore,
        db: Database,
        now: Callable[[], datetime.datetime],
    ) -> None:
        self.policy = policy
        self.tokens = tokens
        self.db = db
        self.now = now

    def __repr__(self) -> str:
        return f"<IdentityAccess {self.policy!r}>"

    async def facts(self, ctx: RequestContext) -> dict[str, Any]:
        """The scope facts of the caller's token (none without a valid one)."""
        if not ctx.auth_token:
            return {}
        try:
            record = await self.tokens.lookup(ctx.auth_token, self.now())
        except NotAuthorized:
            return {}
        if record.scope_type == "system":
            return {"system_scope": "all"}
        if record.scope_type == "domain":
            return {"domain_id": record.scope_id, "token.domain.id": record.scope_id}
        if record.scope_type == "project" and record.scope_id:
            row = await self.db.fetchone(
                "SELECT domain_id FROM projects WHERE id = ?", (record.scope_id,)
            )
            return {"token.project.domain.id": row["domain_id"]} if row else {}
        return {}

    async def authorize(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> None:
        """`PolicyNotAuthorized` (403) unless `rule` lets the caller act on `target`."""
        self.policy.authorize(ctx, rule, target, creds=await self.facts(ctx))

    async def check(
        self, ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None
    ) -> bool:
        """Whether `rule` lets the caller act on `target`."""
        return self.policy.check(ctx, rule, target, creds=await self.facts(ctx))
