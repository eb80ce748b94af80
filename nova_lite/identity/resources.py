"""Domains and projects (Keystone's resource API), and project tags.

Both live in the ``projects`` table, a domain being a project that acts as one
(``is_domain``), as in Keystone: creating a project with ``is_domain: true`` makes a
domain. Names are unique among domains and, for projects, within their domain. A
project's parent is its domain unless another project of that domain is named. A
project with children cannot be deleted; a domain must be disabled first, and
deleting it deletes everything in it (projects, users, groups, domain roles) with
their assignments. Tokens scoped to anything deleted or disabled stop validating.
A project's tags are in ``tags.py``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Forbidden, Invalid, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore, new_id

__all__ = ["Domains", "Projects"]

log = structlog.get_logger(__name__)

_PROJECT_FIELDS = (
    "name",
    "description",
    "domain_id",
    "parent_id",
    "enabled",
    "is_domain",
    "tags",
    "options",
)
_COLUMNS = (
    "id",
    "name",
    "description",
    "enabled",
    "is_domain",
    "domain_id",
    "parent_id",
    "extra",
    "created_at",
)
_INSERT = (
    "INSERT INTO projects (id, name, description, enabled, is_domain, domain_id, parent_id,"
    " extra, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The project list's filters, each ignored when its parameter is NULL; tags: all of them.
_LIST_PROJECTS = (
    "SELECT * FROM projects WHERE is_domain = ?1 AND (?2 IS NULL OR name = ?2)"
    " AND (?3 IS NULL OR domain_id = ?3) AND (?4 IS NULL OR parent_id = ?4)"
    " AND (?5 IS NULL OR enabled = ?5) AND (?6 IS NULL OR NOT EXISTS ("
    "SELECT 1 FROM json_each(?6) AS t WHERE t.value NOT IN"
    " (SELECT name FROM project_tags WHERE project_id = projects.id))) ORDER BY name"
)
_DOMAIN_FIELDS = ("name", "description", "enabled", "tags", "options", "explicit_domain_id")


def _duplicate(kind: str, name: str, domain_id: str | None) -> Conflict:
    where = f" at domain ID {domain_id}" if domain_id else ""
    return Conflict(
        f"Conflict occurred attempting to store {kind} - Duplicate entry found with name"
        f" {name}{where}.",
        name=name,
    )


class _Resources:
    """What domains and projects share: inserting, updating, tags and cascades."""

    def __init__(self, store: IdentityStore, access: IdentityAccess) -> None:
        self.store = store
        self.access = access

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.store!r}>"

    async def _insert(self, values: dict[str, Any], tags: list[str], kind: str) -> None:
        try:
            async with self.store.db.transaction() as conn:
                await conn.execute(_INSERT, tuple(values.get(column) for column in _COLUMNS))
                await conn.executemany(
                    "INSERT INTO project_tags (project_id, name) VALUES (?, ?)",
                    [(values["id"], tag) for tag in tags],
                )
        except sqlite3.IntegrityError:
            raise _duplicate(kind, values["name"], values.get("domain_id")) from None

    async def _update(
        self, row: sqlite3.Row, body: dict[str, Any], known: tuple[str, ...], kind: str
    ) -> None:
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = checks.name("name", body["name"], kind=kind)
        if "description" in body:
            changes["description"] = checks.optional_text("description", body["description"])
        if "enabled" in body:
            changes["enabled"] = int(checks.boolean("enabled", body["enabled"]))
        checks.options(body.get("options"))
        extra = checks.extras(body, known)
        if extra:
            changes["extra"] = checks.encode_extra({**checks.decode(row["extra"]), **extra})
        tags = checks.tags(body["tags"]) if "tags" in body else None
        updated = [changes.get(c, row[c]) for c in ("name", "description", "enabled", "extra")]
        try:
            async with self.store.db.transaction() as conn:
                await conn.execute(
                    "UPDATE projects SET name = ?, description = ?, enabled = ?, extra = ?"
                    " WHERE id = ?",
                    (*updated, row["id"]),
                )
                if tags is not None:
                    await self._replace_tags(row["id"], tags)
        except sqlite3.IntegrityError:
            raise _duplicate(kind, changes.get("name", row["name"]), row["domain_id"]) from None

    async def _replace_tags(self, project_id: str, tags: list[str]) -> None:
        conn = self.store.db.conn
        await conn.execute("DELETE FROM project_tags WHERE project_id = ?", (project_id,))
        await conn.executemany(
            "INSERT INTO project_tags (project_id, name) VALUES (?, ?)",
            [(project_id, tag) for tag in tags],
        )

    async def _forget(
        self, project_ids: list[str], user_ids: list[str], group_ids: list[str]
    ) -> None:
        """Drop the assignments whose target or actor is about to go (caller's transaction)."""
        conn = self.store.db.conn
        for target in project_ids:
            await conn.execute(
                "DELETE FROM assignments WHERE target_type IN ('project', 'domain')"
                " AND target_id = ?",
                (target,),
            )
        for actor_type, ids in (("user", user_ids), ("group", group_ids)):
            for actor in ids:
                await conn.execute(
                    "DELETE FROM assignments WHERE actor_type = ? AND actor_id = ?",
                    (actor_type, actor),
                )
        for user_id in user_ids:
            await conn.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", (user_id,))
            await conn.execute(
                "DELETE FROM records WHERE kind = 'credential'"
                " AND json_extract(body, '$.user_id') = ?",
                (user_id,),
            )


class Domains(_Resources):
    """The ``domain`` collection: create, get, list, update, delete."""

    kind = "domain"

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        await self.access.authorize(ctx, "identity:create_domain")
        checks.options(body.get("options"))
        name = checks.name("name", body.get("name"), kind="domain")
        ident = checks.identifier("explicit_domain_id", body.get("explicit_domain_id") or new_id())
        values: dict[str, Any] = {
            "id": ident,
            "name": name,
            "description": checks.optional_text("description", body.get("description")),
            "enabled": int(checks.boolean("enabled", body.get("enabled", True))),
            "is_domain": 1,
            "extra": checks.encode_extra(checks.extras(body, _DOMAIN_FIELDS)),
            "created_at": self.store.timestamp(),
        }
        await self._insert(values, checks.tags(body.get("tags", [])), "domain")
        log.info("identity.domain_created", domain_id=values["id"])
        return await self.store.domain(await self.store.domain_row(ident))

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        row = await self.store.domain_row(ident)
        await self.access.authorize(ctx, "identity:get_domain", {"target.domain.id": row["id"]})
        return await self.store.domain(row)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        await self.access.authorize(ctx, "identity:list_domains")
        enabled = filters.get("enabled")
        rows = await self.store.db.fetchall(
            "SELECT * FROM projects WHERE is_domain = 1 AND (?1 IS NULL OR name = ?1)"
            " AND (?2 IS NULL OR enabled = ?2) ORDER BY name",
            (filters.get("name"), None if enabled is None else int(checks.query_bool(enabled))),
        )
        return [await self.store.domain(row) for row in rows]

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        row = await self.store.domain_row(ident)
        await self.access.authorize(ctx, "identity:update_domain", {"target.domain.id": ident})
        await self._update(row, body, _DOMAIN_FIELDS, "domain")
        return await self.store.domain(await self.store.domain_row(ident))

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        row = await self.store.domain_row(ident)
        await self.access.authorize(ctx, "identity:delete_domain", {"target.domain.id": ident})
        if row["enabled"]:
            raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
        if ident == DEFAULT_DOMAIN_ID:
            raise Forbidden("The default domain cannot be deleted.")
        async with self.store.db.transaction() as conn:
            projects = await self._ids("SELECT id FROM projects WHERE domain_id = ?", ident)
            users = await self._ids("SELECT id FROM users WHERE domain_id = ?", ident)
            groups = await self._ids("SELECT id FROM groups WHERE domain_id = ?", ident)
            await self._forget([ident, *projects], users, groups)
            await conn.execute("DELETE FROM projects WHERE id = ?", (ident,))
        log.info("identity.domain_deleted", domain_id=ident, projects=len(projects))

    async def _ids(self, sql: str, ident: str) -> list[str]:
        return [row[0] for row in await self.store.db.fetchall(sql, (ident,))]


class Projects(_Resources):
    """The ``project`` collection: create, get, list, update, delete."""

    kind = "project"

    def __init__(self, store: IdentityStore, access: IdentityAccess, domains: Domains) -> None:
        super().__init__(store, access)
        self.domains = domains

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("is_domain") is True:
            created = await self.domains.create(
                ctx, checks.extras(body, ("is_domain", "domain_id"))
            )
            return await self.store.project(await self._row(created["id"]))
        checks.boolean("is_domain", body.get("is_domain", False))
        checks.options(body.get("options"))
        domain_id = checks.identifier("domain_id", body.get("domain_id") or DEFAULT_DOMAIN_ID)
        target = {"target.project.domain_id": domain_id}
        await self.access.authorize(ctx, "identity:create_project", target)
        domain = await self.store.domain_row(domain_id)
        parent_id = await self._parent(body.get("parent_id"), domain["id"])
        values: dict[str, Any] = {
            "id": new_id(),
            "name": checks.name("name", body.get("name"), kind="project"),
            "description": checks.optional_text("description", body.get("description")),
            "enabled": int(checks.boolean("enabled", body.get("enabled", True))),
            "is_domain": 0,
            "domain_id": domain["id"],
            "parent_id": parent_id,
            "extra": checks.encode_extra(checks.extras(body, _PROJECT_FIELDS)),
            "created_at": self.store.timestamp(),
        }
        await self._insert(values, checks.tags(body.get("tags", [])), "project")
        log.info("identity.project_created", project_id=values["id"], domain_id=domain["id"])
        return await self.store.project(await self.store.project_row(values["id"]))

    async def _parent(self, parent_id: Any, domain_id: str) -> str:
        if parent_id is None or parent_id == domain_id:
            return domain_id
        try:
            parent = await self.store.project_row(checks.identifier("parent_id", parent_id))
        except NotFound:
            raise NotFound(f"Could not find project: {parent_id}.") from None
        if parent["domain_id"] != domain_id:
            raise Forbidden("A project's parent must be in the project's domain.")
        return str(parent["id"])

    @staticmethod
    def _target(row: sqlite3.Row) -> dict[str, Any]:
        return {"target.project.id": row["id"], "target.project.domain_id": row["domain_id"]}

    async def _row(self, ident: str) -> sqlite3.Row:
        """The project `ident`, or the domain acting as one (Keystone shows both here)."""
        row = await self.store.db.fetchone("SELECT * FROM projects WHERE id = ?", (ident,))
        if row is None:
            raise NotFound(f"Could not find project: {ident}.", kind="project", id=ident)
        return row

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        row = await self._row(ident)
        await self.access.authorize(ctx, "identity:get_project", self._target(row))
        return await self.store.project(row)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        await self.access.authorize(
            ctx, "identity:list_projects", {"target.domain_id": filters.get("domain_id")}
        )
        enabled, tags = filters.get("enabled"), filters.get("tags")
        rows = await self.store.db.fetchall(
            _LIST_PROJECTS,
            (
                int(checks.query_bool(filters.get("is_domain", "false"))),
                filters.get("name"),
                filters.get("domain_id"),
                filters.get("parent_id"),
                None if enabled is None else int(checks.query_bool(enabled)),
                None if tags is None else orjson.dumps(tags.split(",")).decode(),
            ),
        )
        return [await self.store.project(row) for row in rows]

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        row = await self._row(ident)
        if row["is_domain"]:
            await self.domains.update(ctx, ident, checks.extras(body, ("is_domain", "domain_id")))
            return await self.store.project(await self._row(ident))
        await self.access.authorize(ctx, "identity:update_project", self._target(row))
        current = {"domain_id": row["domain_id"], "parent_id": row["parent_id"], "is_domain": False}
        for fixed, value in current.items():
            if fixed in body and body[fixed] != value:
                raise Invalid(f"A project's {fixed} cannot be changed.")
        await self._update(row, body, _PROJECT_FIELDS, "project")
        return await self.store.project(await self.store.project_row(ident))

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        row = await self._row(ident)
        if row["is_domain"]:
            await self.domains.delete(ctx, ident)
            return
        await self.access.authorize(ctx, "identity:delete_project", self._target(row))
        async with self.store.db.transaction() as conn:
            child = await self.store.db.fetchone(
                "SELECT id FROM projects WHERE parent_id = ? AND is_domain = 0", (ident,)
            )
            if child is not None:
                raise Forbidden(
                    f"Cannot delete the project {ident} since it is not a leaf in the"
                    " hierarchy. Delete its children first."
                )
            await self._forget([ident], [], [])
            await conn.execute("DELETE FROM projects WHERE id = ?", (ident,))
        log.info("identity.project_deleted", project_id=ident)
