"""Groups (Keystone's ``/v3/groups``) and their members.

A group belongs to a domain and has a name unique in it; a role given to a group is
held by each of its members (``effective.py``). Deleting a group takes its grants
with it; deleting a user takes them out of their groups.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore, new_id
from nova_lite.identity.users import user_target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["Groups", "Memberships"]

_GROUP_FIELDS = ("name", "domain_id", "description")


def _duplicate(name: str, domain_id: str) -> Conflict:
    return Conflict(
        "Conflict occurred attempting to store group - Duplicate entry found with name"
        f" {name} at domain ID {domain_id}.",
        name=name,
    )


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
            raise _duplicate(name, domain["id"]) from None
        return self.store.group(await self.store.group_row(group_id))

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        row = await self.store.group_row(ident)
        await self.access.authorize(ctx, "identity:get_group", self._target(row))
        return self.store.group(row)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        target = {"target.group.domain_id": filters.get("domain_id")}
        await self.access.authorize(ctx, "identity:list_groups", target)
        rows = await self.store.db.fetchall(
            "SELECT * FROM groups WHERE (?1 IS NULL OR name = ?1)"
            " AND (?2 IS NULL OR domain_id = ?2) ORDER BY name",
            (filters.get("name"), filters.get("domain_id")),
        )
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
            await self.store.db.execute(
                "UPDATE groups SET name = ?, description = ?, extra = ? WHERE id = ?",
                (*(changes.get(c, row[c]) for c in ("name", "description", "extra")), ident),
            )
        except sqlite3.IntegrityError:
            raise _duplicate(changes.get("name", row["name"]), row["domain_id"]) from None
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
        target = {**user_target(user), **Groups._target(group)}
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
        await self.access.authorize(ctx, "identity:list_groups_for_user", user_target(user))
        rows = await self.store.db.fetchall(
            "SELECT g.* FROM groups AS g JOIN group_members AS m ON m.group_id = g.id"
            " WHERE m.user_id = ? ORDER BY g.name",
            (user_id,),
        )
        return [self.store.group(row) for row in rows]
