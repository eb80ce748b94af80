"""Which roles a user holds where: assignments, group membership and implied roles.

A user holds a role on a target (a project, a domain, the system) when it is given
to them or to a group they belong to, or when a role they hold there implies it
(``admin`` implies ``manager``, which implies ``member``, which implies ``reader``,
as Keystone's bootstrap makes them; administrators add more). Domain-specific roles
are never held themselves: they stand for the global roles they imply, as in
Keystone. This module only reads; `assignments` writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from nova_lite.db import Database

__all__ = ["EffectiveRoles"]

_DIRECT = (
    "SELECT role_id FROM assignments WHERE target_type = ? AND target_id = ? AND ("
    " (actor_type = 'user' AND actor_id = ?) OR (actor_type = 'group' AND actor_id IN"
    " (SELECT group_id FROM group_members WHERE user_id = ?)))"
)


def _ids(ids: Iterable[str]) -> str:
    """A set of ids as one JSON parameter, for ``IN (SELECT value FROM json_each(?))``."""
    return orjson.dumps(sorted(set(ids))).decode()


class EffectiveRoles:
    """Reads the roles in effect for a user, with what they imply."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"<EffectiveRoles {self.db.name}>"

    async def direct_ids(self, user_id: str, target_type: str, target_id: str) -> set[str]:
        """The role ids given on the target to the user or to a group of theirs."""
        rows = await self.db.fetchall(_DIRECT, (target_type, target_id, user_id, user_id))
        return {row["role_id"] for row in rows}

    async def implied_closure(self, role_ids: Iterable[str]) -> set[str]:
        """`role_ids` with every role they imply, transitively."""
        found = set(role_ids)
        frontier = set(found)
        while frontier:
            rows = await self.db.fetchall(
                "SELECT implied_role_id FROM implied_roles"
                " WHERE prior_role_id IN (SELECT value FROM json_each(?))",
                (_ids(frontier),),
            )
            frontier = {row["implied_role_id"] for row in rows} - found
            found |= frontier
        return found

    async def global_roles(self, role_ids: Iterable[str]) -> list[sqlite3.Row]:
        """The global roles among `role_ids`, by name (domain-specific ones dropped)."""
        return await self.db.fetchall(
            "SELECT * FROM roles WHERE id IN (SELECT value FROM json_each(?))"
            " AND domain_id IS NULL ORDER BY name",
            (_ids(role_ids),),
        )

    async def roles_on(self, user_id: str, target_type: str, target_id: str) -> list[sqlite3.Row]:
        """The roles `user_id` holds on the target, implied ones included, by name."""
        direct = await self.direct_ids(user_id, target_type, target_id)
        return await self.global_roles(await self.implied_closure(direct))

    async def targets(self, user_id: str, target_type: str) -> list[str]:
        """The ids of the targets of `target_type` where the user has some assignment."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT target_id FROM assignments WHERE target_type = ? AND ("
            " (actor_type = 'user' AND actor_id = ?) OR (actor_type = 'group' AND actor_id IN"
            " (SELECT group_id FROM group_members WHERE user_id = ?)))",
            (target_type, user_id, user_id),
        )
        return [row["target_id"] for row in rows]

    async def role_names(self, role_ids: Iterable[str]) -> dict[str, Any]:
        """Role id → name, for the given ids that exist."""
        rows = await self.db.fetchall(
            "SELECT id, name FROM roles WHERE id IN (SELECT value FROM json_each(?))",
            (_ids(role_ids),),
        )
        return {row["id"]: row["name"] for row in rows}
