"""Rows of the identity database as Keystone's entities, and the lookups every part uses.

`IdentityStore` reads domains, projects, users, groups and roles by id (raising
Keystone's 404, "Could not find project: <id>.") and turns rows into the dicts the
API shows, extra attributes included, password hashes never. Every part of the
identity service reads through it, so an entity has one shape wherever it appears.
"""

from __future__ import annotations

import datetime
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from nova_lite.db import Database
from nova_lite.exceptions import NotFound
from nova_lite.identity.checks import decode
from nova_lite.identity.tokens import isoformat

__all__ = ["DEFAULT_DOMAIN_ID", "IdentityStore", "new_id"]

DEFAULT_DOMAIN_ID = "default"


# One statement per table (never a caller's text in SQL).
_BY_ID = {table: f"SELECT * FROM {table} WHERE id = ?" for table in ("users", "groups", "roles")}


def new_id() -> str:
    """A new entity id: a UUID4 without dashes, as Keystone makes them."""
    return uuid.uuid4().hex


def _not_found(kind: str, ident: str) -> NotFound:
    return NotFound(f"Could not find {kind}: {ident}.", kind=kind, id=ident)


class IdentityStore:
    """The identity database, read as Keystone's entities; `now` is the service's clock."""

    def __init__(self, db: Database, now: Callable[[], datetime.datetime]) -> None:
        self.db = db
        self.now = now

    def __repr__(self) -> str:
        return f"<IdentityStore {self.db.name}>"

    def timestamp(self) -> str:
        """The current time as stored (fixed-width ISO 8601, UTC)."""
        return isoformat(self.now())

    # -- rows -----------------------------------------------------------------------

    async def project_row(self, project_id: str) -> sqlite3.Row:
        """The project (not a domain) `project_id`, or `NotFound`."""
        row = await self.db.fetchone(
            "SELECT * FROM projects WHERE id = ? AND is_domain = 0", (project_id,)
        )
        if row is None:
            raise _not_found("project", project_id)
        return row

    async def domain_row(self, domain_id: str) -> sqlite3.Row:
        """The domain `domain_id`, or `NotFound`."""
        row = await self.db.fetchone(
            "SELECT * FROM projects WHERE id = ? AND is_domain = 1", (domain_id,)
        )
        if row is None:
            raise _not_found("domain", domain_id)
        return row

    async def user_row(self, user_id: str) -> sqlite3.Row:
        """The user `user_id`, or `NotFound`."""
        return await self._row("users", "user", user_id)

    async def group_row(self, group_id: str) -> sqlite3.Row:
        """The group `group_id`, or `NotFound`."""
        return await self._row("groups", "group", group_id)

    async def role_row(self, role_id: str) -> sqlite3.Row:
        """The role `role_id`, or `NotFound`."""
        return await self._row("roles", "role", role_id)

    async def _row(self, table: str, kind: str, ident: str) -> sqlite3.Row:
        row = await self.db.fetchone(_BY_ID[table], (ident,))
        if row is None:
            raise _not_found(kind, ident)
        return row

    async def domain_by_name(self, name: str) -> sqlite3.Row | None:
        """The domain called `name`, if any."""
        return await self.db.fetchone(
            "SELECT * FROM projects WHERE is_domain = 1 AND name = ?", (name,)
        )

    async def tags_of(self, project_id: str) -> list[str]:
        """The project's tags, sorted."""
        rows = await self.db.fetchall(
            "SELECT name FROM project_tags WHERE project_id = ? ORDER BY name", (project_id,)
        )
        return [row["name"] for row in rows]

    # -- entities -------------------------------------------------------------------

    async def project(self, row: sqlite3.Row) -> dict[str, Any]:
        """A project (or a domain acting as one) as Keystone shows it."""
        return {
            **decode(row["extra"]),
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "enabled": bool(row["enabled"]),
            "domain_id": row["domain_id"],
            "parent_id": row["parent_id"],
            "is_domain": bool(row["is_domain"]),
            "tags": await self.tags_of(row["id"]),
            "options": {},
        }

    async def domain(self, row: sqlite3.Row) -> dict[str, Any]:
        """A domain as Keystone shows it."""
        return {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "enabled": bool(row["enabled"]),
            "tags": await self.tags_of(row["id"]),
            "options": {},
        }

    @staticmethod
    def user(row: sqlite3.Row) -> dict[str, Any]:
        """A user as Keystone shows it: no password, nor its hash."""
        user = {
            **decode(row["extra"]),
            "id": row["id"],
            "name": row["name"],
            "domain_id": row["domain_id"],
            "enabled": bool(row["enabled"]),
            "password_expires_at": None,
            "options": {},
        }
        if row["default_project_id"] is not None:
            user["default_project_id"] = row["default_project_id"]
        return user

    @staticmethod
    def group(row: sqlite3.Row) -> dict[str, Any]:
        """A group as Keystone shows it."""
        return {
            **decode(row["extra"]),
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "domain_id": row["domain_id"],
        }

    @staticmethod
    def role(row: sqlite3.Row) -> dict[str, Any]:
        """A role as Keystone shows it."""
        return {
            **decode(row["extra"]),
            "id": row["id"],
            "name": row["name"],
            "domain_id": row["domain_id"],
            "description": row["description"],
            "options": {},
        }
