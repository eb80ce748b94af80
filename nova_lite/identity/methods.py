"""What an auth request says: who authenticates, by which method, and for which scope.

`AuthMethods` reads Keystone's ``auth.identity`` (one method: ``password`` by user id
or by name and domain, ``token`` to re-scope, ``application_credential`` by id or by
name and user) and ``auth.scope`` (a project by id or by name and domain, a domain, the
system, ``"unscoped"``, or none: the user's default project if they hold a role
there). Every refused credential is the same `auth_failed` 401, after the same scrypt
work whether or not the user exists.
"""

from __future__ import annotations

import datetime
import sqlite3
from typing import Any

import attrs
import structlog

from nova_lite.exceptions import Invalid, NotAuthorized, NotFound
from nova_lite.identity import checks
from nova_lite.identity.describe import TokenDescriber
from nova_lite.identity.effective import EffectiveRoles
from nova_lite.identity.passwords import Hasher
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore
from nova_lite.identity.tokens import TokenStore

__all__ = ["AUTH_FAILED", "AuthMethods", "Identified", "auth_failed", "obj"]

log = structlog.get_logger(__name__)

AUTH_FAILED = "The request you have made requires authentication."


def auth_failed() -> NotAuthorized:
    """The one refusal of every credential, so callers cannot tell which users exist."""
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


class AuthMethods:
    """Reads the identity and the scope of an auth request against the tables."""

    def __init__(
        self,
        store: IdentityStore,
        tokens: TokenStore,
        describer: TokenDescriber,
        effective: EffectiveRoles,
        hasher: Hasher,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.describer = describer
        self.effective = effective
        self.hasher = hasher

    def __repr__(self) -> str:
        return f"<AuthMethods {self.store!r}>"

    def now(self) -> datetime.datetime:
        return self.store.now()

    async def identify(self, identity: dict[str, Any]) -> Identified:
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
            raise auth_failed()
        try:
            await self.describer.user(user["id"])
        except NotAuthorized:
            raise auth_failed() from None
        return user

    async def _password(self, password: dict[str, Any]) -> Identified:
        user_ref = obj(password.get("user"), "auth.identity.password.user")
        secret = checks.check_secret(
            "auth.identity.password.user.password", user_ref.get("password")
        )
        user = await self._user_by_ref(user_ref, "auth.identity.password.user")
        encoded = user["password_hash"] if user is not None else None
        if not await self.hasher.verify(encoded, secret) or user is None:
            raise auth_failed()
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
            raise auth_failed()  # Keystone: an application credential's token is final
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
            raise auth_failed()
        expires = row["expires_at"]
        expires_at = datetime.datetime.fromisoformat(expires) if expires else None
        if expires_at is not None and expires_at <= self.now():
            raise auth_failed()
        user = await self._enabled(await self.store.user_row(row["user_id"]))
        return Identified(
            user,
            ("application_credential",),
            expires_at=expires_at,
            inherited_scope=("project", row["project_id"]),
            app_cred=row,
        )

    async def scope(self, identified: Identified, scope: Any) -> tuple[str, str | None]:
        """The scope the new token gets (`NotAuthorized` if it cannot have it)."""
        if identified.app_cred is not None:
            if scope is not None:
                raise auth_failed()  # an application credential's scope is its own
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
                raise auth_failed()
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
            raise auth_failed()
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
