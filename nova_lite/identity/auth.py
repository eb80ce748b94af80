"""Authentication and tokens: Keystone's ``POST /v3/auth/tokens`` and what checks tokens.

`Authenticator` takes Keystone's auth request as it is sent (``auth.identity`` with
one method, ``auth.scope``), reads who and which scope with `AuthMethods`
(``methods.py``), and issues a token: the usual lifetime, or the re-scoped token's
own expiry (the token method also adds ``token`` to its methods and chains its
audit id), or an application credential's earlier expiry. The token's meaning is
checked before it is issued (`TokenDescriber`), so a scope the user holds no role
on is the same 401 as a wrong password. Validation, the body of a token named by
``X-Subject-Token`` (404 once it is not valid, as in Keystone), revocation, and
the scopes a user may ask for are here too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotAuthorized, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.describe import TokenDescriber
from nova_lite.identity.effective import EffectiveRoles
from nova_lite.identity.methods import AUTH_FAILED, AuthMethods, auth_failed, obj
from nova_lite.identity.passwords import Hasher
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore
from nova_lite.identity.tokens import TokenRecord, TokenStore, new_audit_id
from nova_lite.objects import TokenInfo
from nova_lite.rpc.endpoint import endpoint

__all__ = ["AUTH_FAILED", "Authenticator", "obj"]

log = structlog.get_logger(__name__)

SCOPE_RULES = {
    "projects": "identity:get_auth_projects",
    "domains": "identity:get_auth_domains",
    "system": "identity:get_auth_system",
}
SUBJECT_RULES = ("identity:validate_token", "identity:check_token", "identity:revoke_token")


class Authenticator:
    """The token endpoints: issue (any method), validate, describe, revoke, scopes."""

    def __init__(
        self,
        store: IdentityStore,
        tokens: TokenStore,
        describer: TokenDescriber,
        effective: EffectiveRoles,
        hasher: Hasher,
        access: IdentityAccess,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.describer = describer
        self.effective = effective
        self.access = access
        self.methods = AuthMethods(store, tokens, describer, effective, hasher)

    def __repr__(self) -> str:
        return f"<Authenticator {self.store!r}>"

    @property
    def now(self) -> Callable[[], datetime.datetime]:
        return self.store.now

    # -- endpoints ------------------------------------------------------------------

    @endpoint
    async def authenticate(
        self, ctx: RequestContext, username: str, password: str, project_name: str
    ) -> dict[str, Any]:
        """A token for `username` on `project_name`, both in the default domain:
        ``{"token", "token_info"}``."""
        default = {"id": DEFAULT_DOMAIN_ID}
        for field, value in (("username", username), ("project_name", project_name)):
            checks.check_text(field, value, max_length=checks.MAX_SECRET)
        user = {"name": username, "password": password, "domain": default}
        auth = {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": project_name, "domain": default}},
        }
        result = await self.issue_token(ctx, auth)
        return {"token": result["token"], "token_info": result["token_info"]}

    @endpoint
    async def issue_token(self, ctx: RequestContext, auth: dict[str, Any]) -> dict[str, Any]:
        """A new token for Keystone's ``auth`` body: ``{"token", "token_info", "data",
        "catalog"}`` (data is the token body without its catalog)."""
        auth = obj(auth, "auth")
        identified = await self.methods.identify(obj(auth.get("identity"), "auth.identity"))
        scope_type, scope_id = await self.methods.scope(identified, auth.get("scope", None))
        now = self.now()
        expires = now + self.tokens.ttl
        if identified.expires_at is not None:
            expires = min(expires, identified.expires_at)
        audit_ids = (new_audit_id(),) + (
            (identified.parent_audit_id,) if identified.parent_audit_id else ()
        )
        record = TokenRecord(
            user_id=identified.user["id"],
            scope_type=scope_type,
            scope_id=scope_id,
            methods=identified.methods,
            audit_ids=audit_ids,
            issued_at=now,
            expires_at=expires,
            app_cred_id=identified.app_cred["id"] if identified.app_cred is not None else None,
        )
        try:
            described = await self.describer.describe(record)
        except NotAuthorized:
            raise auth_failed() from None
        token = await self.tokens.issue(record)
        log.info("identity.authenticated", user_id=record.user_id, scope=scope_type)
        return {
            "token": token,
            "token_info": described.info,
            "data": described.data,
            "catalog": described.catalog,
        }

    @endpoint
    async def validate_token(self, ctx: RequestContext, token: str) -> TokenInfo:
        """Who `token` stands for; `NotAuthorized` if it is unknown, expired or revoked."""
        record = await self.tokens.lookup(checks.check_secret("token", token), self.now())
        return (await self.describer.describe(record)).info

    @endpoint
    async def token_data(self, ctx: RequestContext, subject: str, rule: str) -> dict[str, Any]:
        """Keystone's body of token `subject`, for a caller `rule` allows (validate or check):
        ``{"data", "catalog"}``; `NotFound` if the token is not valid."""
        record = await self._subject(ctx, subject, rule)
        try:
            described = await self.describer.describe(record)
        except NotAuthorized as exc:
            raise NotFound(f"Could not find token: {exc}") from None
        return {"data": described.data, "catalog": described.catalog}

    @endpoint
    async def revoke_subject(self, ctx: RequestContext, subject: str) -> None:
        """Revoke token `subject` for a caller ``identity:revoke_token`` allows."""
        await self._subject(ctx, subject, "identity:revoke_token")
        await self.tokens.revoke(subject)
        log.info("identity.token_revoked")

    @endpoint
    async def revoke_token(self, ctx: RequestContext, token: str) -> None:
        """Revoke `token` (holding it is the right to revoke it); revoking twice is harmless."""
        if await self.tokens.revoke(checks.check_secret("token", token)):
            log.info("identity.token_revoked")

    @endpoint
    async def auth_scopes(self, ctx: RequestContext, kind: str) -> list[dict[str, Any]]:
        """What the caller may scope a token to: ``projects``, ``domains`` or ``system``."""
        rule = SCOPE_RULES.get(kind)
        if rule is None:
            raise Invalid(f"Unknown scope kind {kind!r}; use projects, domains or system.")
        await self.access.authorize(ctx, rule)
        if ctx.user_id is None:
            raise auth_failed()
        if kind == "system":
            held = await self.effective.roles_on(ctx.user_id, "system", "system")
            return [{"all": True}] if held else []
        target = "project" if kind == "projects" else "domain"
        found = []
        for target_id in await self.effective.targets(ctx.user_id, target):
            try:
                if target == "project":
                    project, _domain = await self.describer.project(target_id)
                    if await self.effective.roles_on(ctx.user_id, "project", target_id):
                        found.append(await self.store.project(project))
                else:
                    domain = await self.store.domain_row(target_id)
                    if domain["enabled"]:
                        found.append(await self.store.domain(domain))
            except (NotAuthorized, NotFound):
                continue
        return sorted(found, key=lambda entity: entity["name"])

    # -- helpers --------------------------------------------------------------------

    async def _subject(self, ctx: RequestContext, subject: str, rule: str) -> TokenRecord:
        if rule not in SUBJECT_RULES:
            raise Invalid(f"Unknown token rule {rule!r}.")
        try:
            record = await self.tokens.lookup(checks.check_secret("token", subject), self.now())
            await self.describer.user(record.user_id)
        except NotAuthorized as exc:
            raise NotFound(f"Could not find token: {exc}") from None
        await self.access.authorize(ctx, rule, {"target.token.user_id": record.user_id})
        return record
