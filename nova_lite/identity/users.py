"""Users and groups (Keystone's identity API), group membership and password changes.

A user belongs to a domain, has a name unique in it, a scrypt password hash (never
shown, never logged), an enabled flag and an optional default project; other
attributes (``email``, ``description``, ...) are kept as given, as Keystone keeps
them. Changing a user's password (by an administrator, or by the user with the
original one), disabling or deleting them revokes every token they hold. Groups
belong to a domain too; a role given to a group is held by each of its members.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotAuthorized, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.passwords import Hasher
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore, new_id
from nova_lite.identity.tokens import TokenStore
from nova_lite.rpc.endpoint import endpoint

__all__ = ["Groups", "Memberships", "Users"]

log = structlog.get_logger(__name__)

_USER_FIELDS = ("name", "domain_id", "enabled", "password", "default_project_id", "options")
_GROUP_FIELDS = ("name", "domain_id", "description")


def _duplicate(kind: str, name: str, domain_id: str) -> Conflict:
    return Conflict(
        f"Conflict occurred attempting to store {kind} - Duplicate entry found with name"
        f" {name} at domain ID {domain_id}.",
        name=name,
    )


def _user_target(row: sqlite3.Row) -> dict[str, Any]:
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
        await self.access.authorize(ctx, "identity:get_user", _user_target(row))
        return self.store.user(row)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        await self.access.authorize(
            ctx, "identity:list_users", {"target.domain_id": filters.get("domain_id")}
        )
        sql, params = "SELECT * FROM users WHERE 1 = 1", list[Any]()
        for column in ("name", "domain_id"):
            if column in filters:
                sql += f" AND {column} = ?"
                params.append(filters[column])
        if "enabled" in filters:
            sql += " AND enabled = ?"
            params.append(int(checks.query_bool(filters["enabled"])))
        rows = await self.store.db.fetchall(sql + " ORDER BY name", params)
        return [self.store.user(row) for row in rows]

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        row = await self.store.user_row(ident)
        await self.access.authorize(ctx, "identity:update_user", _user_target(row))
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
        try:
            async with self.store.db.transaction() as conn:
                for column, value in changes.items():
                    await conn.execute(
                        f"UPDATE users SET {column} = ? WHERE id = ?", (value, ident)
                    )
        except sqlite3.IntegrityError:
            raise _duplicate("user", changes.get("name", row["name"]), row["domain_id"]) from None
        if "password_hash" in changes or changes.get("enabled") == 0:
            await self.tokens.revoke_user(ident)
        return self.store.user(await self.store.user_row(ident))

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        row = await self.store.user_row(ident)
        await self.access.authorize(ctx, "identity:delete_user", _user_target(row))
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


class Groups:
    """The ``group`` collection: create, get, list, update, delete."""

    kind = "group"

    def __init__(self, store: IdentityStore, access: IdentityAccess) -> None:
        self.store = store
        self.access = access

    def __repr__(self) -> str:
        return f"<Groups {self.store!r}>"

    @staticmethod
    def _target(row: sqlite3.Row) -> dict[str, Any]:
        return {"target.group.id": row["id"], "target.group.domain_id": row["domain_id"]}

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        domain_id = checks.identifier("domain_id", body.get("domain_id") or DEFAULT_DOMAIN_ID)
        await self.access.authorize(
            ctx, "identity:create_group", {"target.group.domain_id": domain_id}
        )
        domain = await self.store.domain_row(domain_id)
        name = checks.name("name", body.get("name"), kind="group")
        group_id = new_id()
        try:
            await self.store.db.execute(
                "INSERT INTO groups (id, domain_id, name, description, extra, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    group_id,
                    domain["id"],
                    name,
                    checks.optional_text("description", body.get("description")),
                    checks.encode_extra(checks.extras(body, _GROUP_FIELDS)),
                    self.store.timestamp(),
                ),
            )
        except sqlite3.IntegrityError:
            raise _duplicate("group", name, domain["id"]) from None
        return self.store.group(await self.store.group_row(group_id))

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        row = await self.store.group_row(ident)
        await self.access.authorize(ctx, "identity:get_group", self._target(row))
        return self.store.group(row)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        target = {"target.group.domain_id": filters.get("domain_id")}
        await self.access.authorize(ctx, "identity:list_groups", target)
        sql, params = "SELECT * FROM groups WHERE 1 = 1", []
        for column in ("name", "domain_id"):
            if column in filters:
                sql += f" AND {column} = ?"
                params.append(filters[column])
        rows = await self.store.db.fetchall(sql + " ORDER BY name", params)
        return [self.store.group(row) for row in rows]

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        row = await self.store.group_row(ident)
        await self.access.authorize(ctx, "identity:update_group", self._target(row))
        if "domain_id" in body and body["domain_id"] != row["domain_id"]:
            raise Invalid("A group's domain_id cannot be changed.")
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = checks.name("name", body["name"], kind="group")
        if "description" in body:
            changes["description"] = checks.optional_text("description", body["description"])
        extra = checks.extras(body, _GROUP_FIELDS)
        if extra:
            changes["extra"] = checks.encode_extra({**checks.decode(row["extra"]), **extra})
        try:
            async with self.store.db.transaction() as conn:
                for column, value in changes.items():
                    await conn.execute(
                        f"UPDATE groups SET {column} = ? WHERE id = ?", (value, ident)
                    )
        except sqlite3.IntegrityError:
            raise _duplicate("group", changes.get("name", row["name"]), row["domain_id"]) from None
        return self.store.group(await self.store.group_row(ident))

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        row = await self.store.group_row(ident)
        await self.access.authorize(ctx, "identity:delete_group", self._target(row))
        async with self.store.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM assignments WHERE actor_type = 'group' AND actor_id = ?", (ident,)
            )
            await conn.execute("DELETE FROM groups WHERE id = ?", (ident,))


class Memberships:
    """Endpoints for group membership: who is in a group, and which groups a user is in."""

    def __init__(self, store: IdentityStore, access: IdentityAccess) -> None:
        self.store = store
        self.access = access

    def __repr__(self) -> str:
        return f"<Memberships {self.store!r}>"

    @endpoint
    async def group_member(self, ctx: RequestContext, group_id: str, user_id: str, op: str) -> None:
        """``add``, ``check`` (`NotFound` unless a member) or ``remove`` a user of a group."""
        rules = {
            "add": "identity:add_user_to_group",
            "check": "identity:check_user_in_group",
            "remove": "identity:remove_user_from_group",
        }
        if op not in rules:
            raise Invalid(f"Unknown membership operation {op!r}; use add, check or remove.")
        group = await self.store.group_row(group_id)
        user = await self.store.user_row(user_id)
        target = {**_user_target(user), **Groups._target(group)}
        await self.access.authorize(ctx, rules[op], target)
        if op == "add":
            await self.store.db.execute(
                "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)",
                (group_id, user_id),
            )
            return
        held = await self.store.db.fetchone(
            "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user_id)
        )
        if held is None:
            raise NotFound(f"User {user_id} is not a member of group {group_id}.")
        if op == "remove":
            await self.store.db.execute(
                "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            )

    @endpoint
    async def group_users(self, ctx: RequestContext, group_id: str) -> list[dict[str, Any]]:
        """The users of a group."""
        group = await self.store.group_row(group_id)
        await self.access.authorize(ctx, "identity:list_users_in_group", Groups._target(group))
        rows = await self.store.db.fetchall(
            "SELECT u.* FROM users AS u JOIN group_members AS m ON m.user_id = u.id"
            " WHERE m.group_id = ? ORDER BY u.name",
            (group_id,),
        )
        return [self.store.user(row) for row in rows]

    @endpoint
    async def user_groups(self, ctx: RequestContext, user_id: str) -> list[dict[str, Any]]:
        """The groups a user is in."""
        user = await self.store.user_row(user_id)
        await self.access.authorize(ctx, "identity:list_groups_for_user", _user_target(user))
        rows = await self.store.db.fetchall(
            "SELECT g.* FROM groups AS g JOIN group_members AS m ON m.group_id = g.id"
            " WHERE m.user_id = ? ORDER BY g.name",
            (user_id,),
        )
        return [self.store.group(row) for row in rows]
