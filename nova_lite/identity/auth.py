"""Authentication and tokens: Keystone's ``POST /v3/auth/tokens`` and what checks tokens.

`Authenticator` takes Keystone's auth request as it is sent (``auth.identity`` with
one method, ``auth.scope``): the password method by user id, or by user name and
domain (its id or name; no domain means the default one); the token method, which
re-scopes a token (keeping its expiry, adding ``token`` to its methods, chaining
its audit id); the application credential method, by id or by name and user, scoped
to the credential's project. A scope is a project (by id, or by name and domain), a
domain (by id or name), the system, ``"unscoped"``, or absent: then the user's
default project if they hold a role there, else no scope. Every refusal of a
credential is the same 401, whatever was wrong, so callers cannot tell which users
exist; a token method naming an unknown or revoked token is a 404, as in Keystone.
"""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Callable
from typing import Any

import attrs
import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotAuthorized, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.describe import TokenDescriber
from nova_lite.identity.effective import EffectiveRoles
from nova_lite.identity.passwords import Hasher
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore
from nova_lite.identity.tokens import TokenRecord, TokenStore, new_audit_id
from nova_lite.objects import TokenInfo
from nova_lite.rpc.endpoint import endpoint

__all__ = ["AUTH_FAILED", "Authenticator", "obj"]

log = structlog.get_logger(__name__)

AUTH_FAILED = "The request you have made requires authentication."
SCOPE_RULES = {
    "projects": "identity:get_auth_projects",
    "domains": "identity:get_auth_domains",
    "system": "identity:get_auth_system",
}
SUBJECT_RULES = ("identity:validate_token", "identity:check_token", "identity:revoke_token")


def _auth_failed() -> NotAuthorized:
    # One message for every cause, so callers cannot tell which users exist.
    return NotAuthorized(AUTH_FAILED)


def obj(value: Any, where: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else `Invalid` naming where it was expected."""
    if not isinstance(value, dict):
        raise Invalid(f"Invalid input for field '{where}': an object is required.")
    return value


@attrs.frozen
class Identified:
    """Who authenticated, and what the method decides for the new token."""

    user: sqlite3.Row
    methods: tuple[str, ...]
    expires_at: datetime.datetime | None = None  # None: the usual lifetime
    parent_audit_id: str | None = None
    inherited_scope: tuple[str, str | None] | None = None  # a re-scoped token's own
    app_cred: sqlite3.Row | None = None


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
        self.hasher = hasher
        self.access = access

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
        identified = await self._identify(obj(auth.get("identity"), "auth.identity"))
        scope_type, scope_id = await self._scope(identified, auth.get("scope", None))
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
            raise _auth_failed() from None
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
            raise _auth_failed()
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

    async def _identify(self, identity: dict[str, Any]) -> Identified:
        methods = identity.get("methods")
        if methods == ["password"]:
            return await self._password(obj(identity.get("password"), "auth.identity.password"))
        if methods == ["token"]:
            return await self._token(obj(identity.get("token"), "auth.identity.token"))
        if methods == ["application_credential"]:
            where = "auth.identity.application_credential"
            return await self._app_cred(obj(identity.get("application_credential"), where))
        raise Invalid(
            f"Unsupported auth methods {methods!r:.80}; use one of ['password'], ['token']"
            " or ['application_credential']."
        )

    async def _user_by_ref(self, user: dict[str, Any], where: str) -> sqlite3.Row | None:
        """The user a ``{"id"}`` or ``{"name", "domain"}`` reference names, if any."""
        if "id" in user:
            ident = checks.check_text(f"{where}.id", user["id"], max_length=checks.MAX_SECRET)
            return await self.store.db.fetchone("SELECT * FROM users WHERE id = ?", (ident,))
        name = checks.check_text(f"{where}.name", user.get("name"), max_length=checks.MAX_SECRET)
        domain = await self._domain_by_ref(user.get("domain"), f"{where}.domain")
        if domain is None:
            return None
        return await self.store.db.fetchone(
            "SELECT * FROM users WHERE domain_id = ? AND name = ?", (domain["id"], name)
        )

    async def _domain_by_ref(self, ref: Any, where: str) -> sqlite3.Row | None:
        if ref is None:
            return await self.store.db.fetchone(
                "SELECT * FROM projects WHERE id = ? AND is_domain = 1", (DEFAULT_DOMAIN_ID,)
            )
        ref = obj(ref, where)
        if "id" in ref:
            ident = checks.check_text(f"{where}.id", ref["id"], max_length=checks.MAX_SECRET)
            return await self.store.db.fetchone(
                "SELECT * FROM projects WHERE id = ? AND is_domain = 1", (ident,)
            )
        name = checks.check_text(f"{where}.name", ref.get("name"), max_length=checks.MAX_SECRET)
        return await self.store.domain_by_name(name)

    async def _enabled(self, user: sqlite3.Row | None) -> sqlite3.Row:
        if user is None:
            raise _auth_failed()
        try:
            await self.describer.user(user["id"])
        except NotAuthorized:
            raise _auth_failed() from None
        return user

    async def _password(self, password: dict[str, Any]) -> Identified:
        user_ref = obj(password.get("user"), "auth.identity.password.user")
        secret = checks.check_secret(
            "auth.identity.password.user.password", user_ref.get("password")
        )
        user = await self._user_by_ref(user_ref, "auth.identity.password.user")
        encoded = user["password_hash"] if user is not None else None
        if not await self.hasher.verify(encoded, secret) or user is None:
            raise _auth_failed()
        user = await self._enabled(user)
        if encoded is not None and self.hasher.outdated(encoded):
            await self.store.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?",
                (await self.hasher.hash(secret), user["id"]),
            )
            log.info("identity.password_rehashed", user_id=user["id"])
        return Identified(user, ("password",))

    async def _token(self, body: dict[str, Any]) -> Identified:
        token = checks.check_secret("auth.identity.token.id", body.get("id"))
        try:
            record = await self.tokens.lookup(token, self.now())
            await self.describer.describe(record)
        except NotAuthorized as exc:
            raise NotFound(f"Could not find token: {exc}") from None
        if record.app_cred_id is not None:
            raise _auth_failed()  # Keystone: an application credential's token is final
        user = await self.store.user_row(record.user_id)
        methods = tuple(dict.fromkeys((*record.methods, "token")))
        return Identified(
            user,
            methods,
            expires_at=record.expires_at,
            parent_audit_id=record.audit_ids[-1],
            inherited_scope=(record.scope_type, record.scope_id),
        )

    async def _app_cred(self, body: dict[str, Any]) -> Identified:
        secret = checks.check_secret("application_credential.secret", body.get("secret"))
        row: sqlite3.Row | None = None
        if "id" in body:
            ident = checks.check_text("application_credential.id", body["id"])
            row = await self.store.db.fetchone(
                "SELECT * FROM application_credentials WHERE id = ?", (ident,)
            )
        else:
            where = "auth.identity.application_credential.user"
            owner = await self._user_by_ref(obj(body.get("user"), where), where)
            name = checks.check_text("application_credential.name", body.get("name"))
            if owner is not None:
                row = await self.store.db.fetchone(
                    "SELECT * FROM application_credentials WHERE user_id = ? AND name = ?",
                    (owner["id"], name),
                )
        encoded = row["secret_hash"] if row is not None else None
        if not await self.hasher.verify(encoded, secret) or row is None:
            raise _auth_failed()
        expires = row["expires_at"]
        expires_at = datetime.datetime.fromisoformat(expires) if expires else None
        if expires_at is not None and expires_at <= self.now():
            raise _auth_failed()
        user = await self._enabled(await self.store.user_row(row["user_id"]))
        return Identified(
            user,
            ("application_credential",),
            expires_at=expires_at,
            inherited_scope=("project", row["project_id"]),
            app_cred=row,
        )

    async def _scope(self, identified: Identified, scope: Any) -> tuple[str, str | None]:
        """The scope the new token gets (`NotAuthorized` if it cannot have it)."""
        if identified.app_cred is not None:
            if scope is not None:
                raise _auth_failed()  # an application credential's scope is its own
            return ("project", identified.app_cred["project_id"])
        if scope is None:
            if identified.inherited_scope is not None:
                return identified.inherited_scope
            return await self._default_scope(identified.user)
        if scope == "unscoped":
            return ("unscoped", None)
        scope = obj(scope, "auth.scope")
        if "project" in scope:
            return ("project", await self._project_id(obj(scope["project"], "auth.scope.project")))
        if "domain" in scope:
            domain = await self._domain_by_ref(scope["domain"], "auth.scope.domain")
            if domain is None:
                raise _auth_failed()
            return ("domain", domain["id"])
        if "system" in scope:
            if obj(scope["system"], "auth.scope.system") != {"all": True}:
                raise Invalid("A system scope is {'all': true}.")
            return ("system", "system")
        raise Invalid("auth.scope names a project, a domain or the system.")

    async def _project_id(self, project: dict[str, Any]) -> str:
        if "id" in project:
            return checks.check_text("auth.scope.project.id", project["id"])
        name = checks.check_text("auth.scope.project.name", project.get("name"))
        domain = await self._domain_by_ref(project.get("domain"), "auth.scope.project.domain")
        row = None
        if domain is not None:
            row = await self.store.db.fetchone(
                "SELECT id FROM projects WHERE domain_id = ? AND name = ? AND is_domain = 0",
                (domain["id"], name),
            )
        if row is None:
            raise _auth_failed()
        return str(row["id"])

    async def _default_scope(self, user: sqlite3.Row) -> tuple[str, str | None]:
        """The user's default project if they hold a role there, else no scope."""
        project_id = user["default_project_id"]
        if project_id is None:
            return ("unscoped", None)
        try:
            await self.describer.project(project_id)
        except NotAuthorized:
            return ("unscoped", None)
        if not await self.effective.roles_on(user["id"], "project", project_id):
            return ("unscoped", None)
        return ("project", project_id)
