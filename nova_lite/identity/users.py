"""Users (Keystone's ``/v3/users``) and their own password changes.

A user belongs to a domain, has a name unique in it, a scrypt password hash (never
shown, never logged), an enabled flag and an optional default project; other
attributes (``email``, ``description``, ...) are kept as given, as Keystone keeps
them. Changing a user's password (by an administrator, or by the user with the
original one), disabling or deleting them revokes every token they hold. Groups
are in ``groups.py``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotAuthorized
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.passwords import Hasher
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore, new_id
from nova_lite.identity.tokens import TokenStore
from nova_lite.rpc.endpoint import endpoint

__all__ = ["Users", "user_target"]

log = structlog.get_logger(__name__)

_USER_FIELDS = ("name", "domain_id", "enabled", "password", "default_project_id", "options")


def _duplicate(kind: str, name: str, domain_id: str) -> Conflict:
    return Conflict(
        f"Conflict occurred attempting to store {kind} - Duplicate entry found with name"
        f" {name} at domain ID {domain_id}.",
        name=name,
    )


def user_target(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "target.user.id": row["id"],
        "target.user.domain_id": row["domain_id"],
        "user_id": row["id"],
    }


class Users:
    """The ``user`` collection: create, get, list, update, delete."""

    kind = "user"

    def __init__(
        self, store: IdentityStore, access: IdentityAccess, hasher: Hasher, tokens: TokenStore
    ) -> None:
        self.store = store
        self.access = access
        self.hasher = hasher
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"<Users {self.store!r}>"

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        domain_id = checks.identifier("domain_id", body.get("domain_id") or DEFAULT_DOMAIN_ID)
        await self.access.authorize(
            ctx, "identity:create_user", {"target.user.domain_id": domain_id}
        )
        checks.options(body.get("options"))
        domain = await self.store.domain_row(domain_id)
        name = checks.name("name", body.get("name"), kind="user")
        password = body.get("password")
        encoded = (
            None
            if password is None
            else await self.hasher.hash(checks.check_secret("password", password))
        )
        default_project = body.get("default_project_id")
        user_id, now = new_id(), self.store.timestamp()
        try:
            await self.store.db.execute(
                "INSERT INTO users (id, domain_id, name, enabled, default_project_id,"
                " password_hash, password_changed_at, extra, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    domain["id"],
                    name,
                    int(checks.boolean("enabled", body.get("enabled", True))),
                    None
                    if default_project is None
                    else checks.identifier("default_project_id", default_project),
                    encoded,
                    now if encoded else None,
                    checks.encode_extra(checks.extras(body, _USER_FIELDS)),
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            raise _duplicate("user", name, domain["id"]) from None
        log.info("identity.user_created", user_id=user_id, domain_id=domain["id"])
        return self.store.user(await self.store.user_row(user_id))

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        row = await self.store.user_row(ident)
        await self.access.authorize(ctx, "identity:get_user", user_target(row))
        return self.store.user(row)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        await self.access.authorize(
            ctx, "identity:list_users", {"target.domain_id": filters.get("domain_id")}
        )
        enabled = filters.get("enabled")
        rows = await self.store.db.fetchall(
            "SELECT * FROM users WHERE (?1 IS NULL OR name = ?1)"
            " AND (?2 IS NULL OR domain_id = ?2) AND (?3 IS NULL OR enabled = ?3) ORDER BY name",
            (
                filters.get("name"),
                filters.get("domain_id"),
                None if enabled is None else int(checks.query_bool(enabled)),
            ),
        )
        return [self.store.user(row) for row in rows]

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        row = await self.store.user_row(ident)
        await self.access.authorize(ctx, "identity:update_user", user_target(row))
        if "domain_id" in body and body["domain_id"] != row["domain_id"]:
            raise Invalid("A user's domain_id cannot be changed.")
        checks.options(body.get("options"))
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = checks.name("name", body["name"], kind="user")
        if "enabled" in body:
            changes["enabled"] = int(checks.boolean("enabled", body["enabled"]))
        if "default_project_id" in body:
            value = body["default_project_id"]
            changes["default_project_id"] = (
                None if value is None else checks.identifier("default_project_id", value)
            )
        if "password" in body:
            secret = checks.check_secret("password", body["password"])
            changes["password_hash"] = await self.hasher.hash(secret)
            changes["password_changed_at"] = self.store.timestamp()
        extra = checks.extras(body, _USER_FIELDS)
        if extra:
            changes["extra"] = checks.encode_extra({**checks.decode(row["extra"]), **extra})
        columns = ("name", "enabled", "default_project_id", "password_hash")
        values = [changes.get(c, row[c]) for c in (*columns, "password_changed_at", "extra")]
        try:
            await self.store.db.execute(
                "UPDATE users SET name = ?, enabled = ?, default_project_id = ?,"
                " password_hash = ?, password_changed_at = ?, extra = ? WHERE id = ?",
                (*values, ident),
            )
        except sqlite3.IntegrityError:
            raise _duplicate("user", changes.get("name", row["name"]), row["domain_id"]) from None
        if "password_hash" in changes or changes.get("enabled") == 0:
            await self.tokens.revoke_user(ident)
        return self.store.user(await self.store.user_row(ident))

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        row = await self.store.user_row(ident)
        await self.access.authorize(ctx, "identity:delete_user", user_target(row))
        async with self.store.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM assignments WHERE actor_type = 'user' AND actor_id = ?", (ident,)
            )
            await conn.execute(
                "DELETE FROM records WHERE kind = 'credential'"
                " AND json_extract(body, '$.user_id') = ?",
                (ident,),
            )
            await conn.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", (ident,))
            await conn.execute("DELETE FROM users WHERE id = ?", (ident,))
        log.info("identity.user_deleted", user_id=ident)

    @endpoint
    async def user_change_password(
        self, ctx: RequestContext, user_id: str, original_password: str, password: str
    ) -> None:
        """A user's own password change: the original password is the authority."""
        original = checks.check_secret("original_password", original_password)
        new = checks.check_secret("password", password)
        row = await self.store.db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
        encoded = row["password_hash"] if row is not None else None
        if not await self.hasher.verify(encoded, original) or row is None:
            raise NotAuthorized("The request you have made requires authentication.")
        await self.store.db.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
            (await self.hasher.hash(new), self.store.timestamp(), user_id),
        )
        await self.tokens.revoke_user(user_id)
        log.info("identity.password_changed", user_id=user_id)
