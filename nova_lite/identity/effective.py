"""Which roles a user holds where: assignments, group membership and implied roles.

A user holds a role on a target (a project, a domain, the system) when it is given
to them or to a group they belong to, or when a role they hold there implies it
(``admin`` implies ``manager``, which implies ``member``, which implies ``reader``,
as Keystone's bootstrap makes them; administrators add more). A grant on a domain
or a project may instead be inherited (OS-INHERIT): held on every project below
it, not on the target itself. Domain-specific roles are never held themselves:
they stand for the global roles they imply, as in Keystone. This module only reads;
`assignments` writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from nova_lite.db import Database

__all__ = ["EffectiveRoles"]

# The assignments of a user, directly or through a group (the user is ?9).
_ACTOR = (
    "((actor_type = 'user' AND actor_id = ?9) OR (actor_type = 'group' AND actor_id IN"
    " (SELECT group_id FROM group_members WHERE user_id = ?9)))"
)
# Held on a domain or the system itself: not the grants inherited by projects.
_HELD = (
    "SELECT role_id FROM assignments WHERE target_type = ?1 AND target_id = ?2"
    " AND inherited = 0 AND " + _ACTOR
)
# Held on a project: its own grants, and those its domain and ancestors pass down.
_HELD_ON_PROJECT = (
    "WITH RECURSIVE up(id) AS (SELECT parent_id FROM projects WHERE id = ?1 AND is_domain = 0"
    " UNION SELECT p.parent_id FROM projects AS p JOIN up ON p.id = up.id WHERE p.is_domain = 0)"
    " SELECT role_id FROM assignments WHERE ((target_type = 'project' AND target_id = ?1"
    " AND inherited = 0) OR (inherited = 1 AND target_type IN ('project', 'domain')"
    " AND target_id IN (SELECT id FROM up))) AND " + _ACTOR
)
# The projects a user holds something on: their own grants, and every project below a
# domain or project whose grant is inherited.
_PROJECT_TARGETS = (
    "WITH RECURSIVE held(id) AS (SELECT target_id FROM assignments WHERE inherited = 1"
    " AND target_type IN ('project', 'domain') AND " + _ACTOR + "),"
    " below(id) AS (SELECT p.id FROM projects AS p JOIN held ON p.parent_id = held.id"
    " WHERE p.is_domain = 0 UNION SELECT p.id FROM projects AS p JOIN below"
    " ON p.parent_id = below.id)"
    " SELECT id AS target_id FROM below UNION SELECT target_id FROM assignments"
    " WHERE target_type = 'project' AND inherited = 0 AND " + _ACTOR
)
_TARGETS = (
    "SELECT DISTINCT target_id FROM assignments WHERE target_type = ?1 AND inherited = 0"
    " AND " + _ACTOR
)


def _params(*values: str, user: str) -> tuple[str | None, ...]:
    """`values` as ?1, ?2, ..., and the user as ?9."""
    return (*values, *(None,) * (8 - len(values)), user)


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
        if target_type == "project":
            rows = await self.db.fetchall(_HELD_ON_PROJECT, _params(target_id, user=user_id))
        else:
            rows = await self.db.fetchall(_HELD, _params(target_type, target_id, user=user_id))
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
        if target_type == "project":
            rows = await self.db.fetchall(_PROJECT_TARGETS, _params(user=user_id))
        else:
            rows = await self.db.fetchall(_TARGETS, _params(target_type, user=user_id))
        return sorted({row["target_id"] for row in rows})

    async def role_names(self, role_ids: Iterable[str]) -> dict[str, Any]:
        """Role id → name, for the given ids that exist."""
        rows = await self.db.fetchall(
            "SELECT id, name FROM roles WHERE id IN (SELECT value FROM json_each(?))",
            (_ids(role_ids),),
        )
        return {row["id"]: row["name"] for row in rows}
