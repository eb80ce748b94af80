"""Application credentials: a secret a user makes to let an application act in one project.

A user with a token scoped to a project creates one for that project, naming the
roles it may use (by default all they hold there); its secret is shown once, at
creation, and stored only as a scrypt hash. Authenticating with it gives a token
for that project with those of its roles the user still holds, until it expires.
Deleting one revokes the tokens it issued. Access rules are not served.
"""

from __future__ import annotations

import datetime
import secrets
import sqlite3
from typing import Any

import orjson
import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Forbidden, Invalid, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.effective import EffectiveRoles
from nova_lite.identity.passwords import Hasher
from nova_lite.identity.store import IdentityStore, new_id
from nova_lite.identity.tokens import TokenStore, isoformat

__all__ = ["ApplicationCredentials", "parse_time"]

log = structlog.get_logger(__name__)


def parse_time(value: Any, field: str) -> datetime.datetime:
    """An ISO 8601 time (no offset means UTC), as a timezone-aware UTC datetime."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be an ISO 8601 time.", field=field)
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{field} {value!r:.40} is not an ISO 8601 time.", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def _shown_time(stored: str | None) -> str | None:
    """How Keystone shows an expiry: ISO 8601 in UTC without an offset."""
    if stored is None:
        return None
    return datetime.datetime.fromisoformat(stored).replace(tzinfo=None).isoformat()


class ApplicationCredentials:
    """The ``application_credential`` collection: create, get, list, delete (no update)."""

    kind = "application_credential"

    def __init__(
        self,
        store: IdentityStore,
        access: IdentityAccess,
        effective: EffectiveRoles,
        hasher: Hasher,
        tokens: TokenStore,
    ) -> None:
        self.store = store
        self.access = access
        self.effective = effective
        self.hasher = hasher
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"<ApplicationCredentials {self.store!r}>"

    async def _row(self, ident: str) -> sqlite3.Row:
        row = await self.store.db.fetchone(
            "SELECT * FROM application_credentials WHERE id = ?", (ident,)
        )
        if row is None:
            raise NotFound(f"Could not find application credential: {ident}.")
        return row

    async def _view(self, row: sqlite3.Row) -> dict[str, Any]:
        names = await self.effective.role_names(orjson.loads(row["roles"]))
        return {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"] or None,
            "user_id": row["user_id"],
            "project_id": row["project_id"],
            "roles": [{"id": i, "name": n, "domain_id": None} for i, n in sorted(names.items())],
            "expires_at": _shown_time(row["expires_at"]),
            "unrestricted": bool(row["unrestricted"]),
            "access_rules": [],
        }

    async def _roles(self, user_id: str, project_id: str, wanted: Any) -> list[str]:
        held = {r["id"]: r for r in await self.effective.roles_on(user_id, "project", project_id)}
        if wanted is None:
            return sorted(held)
        if not isinstance(wanted, list) or len(wanted) > len(held) + 16:
            raise Invalid("roles is a list of {'id'} or {'name'} references.")
        chosen = []
        for ref in wanted:
            match = [
                role_id
                for role_id, role in held.items()
                if isinstance(ref, dict)
                and (ref.get("id") == role_id or ref.get("name") == role["name"])
            ]
            if not match:
                raise Forbidden(f"Role {ref!r:.80} is not held on project {project_id}.")
            chosen.append(match[0])
        return sorted(set(chosen))

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        user_id = checks.identifier("user_id", body.get("user_id"))
        target = {"user_id": user_id, "target.user.id": user_id}
        await self.access.authorize(ctx, "identity:create_application_credential", target)
        if ctx.project_id is None:
            raise Forbidden("An application credential is made with a project-scoped token.")
        await self.store.user_row(user_id)
        if body.get("access_rules"):
            raise Invalid("Access rules of application credentials are not served.")
        expires = body.get("expires_at")
        expires_at = None if expires is None else parse_time(expires, "expires_at")
        if expires_at is not None and expires_at <= self.store.now():
            raise Invalid("expires_at must be in the future.")
        secret = body.get("secret")
        secret = (
            secrets.token_urlsafe(64) if secret is None else checks.check_secret("secret", secret)
        )
        ident, name = new_id(), checks.name("name", body.get("name"), kind="application_credential")
        roles = await self._roles(user_id, ctx.project_id, body.get("roles"))
        try:
            await self.store.db.execute(
                "INSERT INTO application_credentials (id, user_id, project_id, name, description,"
                " secret_hash, roles, unrestricted, expires_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ident,
                    user_id,
                    ctx.project_id,
                    name,
                    checks.optional_text("description", body.get("description")),
                    await self.hasher.hash(secret),
                    orjson.dumps(roles).decode(),
                    int(checks.boolean("unrestricted", body.get("unrestricted", False))),
                    None if expires_at is None else isoformat(expires_at),
                    self.store.timestamp(),
                ),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"An application credential named {name} already exists.") from None
        log.info("identity.app_cred_created", app_cred_id=ident, user_id=user_id)
        return {**await self._view(await self._row(ident)), "secret": secret}

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        row = await self._row(ident)
        target = {"user_id": row["user_id"], "target.user.id": row["user_id"]}
        await self.access.authorize(ctx, "identity:get_application_credential", target)
        return await self._view(row)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        user_id = checks.identifier("user_id", filters.get("user_id"))
        target = {"user_id": user_id, "target.user.id": user_id}
        await self.access.authorize(ctx, "identity:list_application_credentials", target)
        rows = await self.store.db.fetchall(
            "SELECT * FROM application_credentials WHERE user_id = ?1"
            " AND (?2 IS NULL OR name = ?2) ORDER BY name",
            (user_id, filters.get("name")),
        )
        return [await self._view(row) for row in rows]

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        raise Invalid("Application credentials cannot be changed; delete and make another.")

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        row = await self._row(ident)
        target = {"user_id": row["user_id"], "target.user.id": row["user_id"]}
        await self.access.authorize(ctx, "identity:delete_application_credential", target)
        await self.store.db.execute("DELETE FROM application_credentials WHERE id = ?", (ident,))
        await self.tokens.revoke_app_cred(ident)
        log.info("identity.app_cred_deleted", app_cred_id=ident)
