"""The identity service's first administration endpoints, by name in the default domain.

`nova-lite project create`, `user create`, the testing helpers and the conformance
runner's pre-provisioned accounts call these: projects and users are named, live
in the default domain, and a user is made with one role on one project. They are
written over the same tables and rules as the Keystone API's endpoints, so both
see the same users and projects.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import structlog

from nova_lite import validators
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, UserNotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.resources import Projects
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore
from nova_lite.identity.users import Users
from nova_lite.rpc.endpoint import endpoint

__all__ = ["NamedAdmin"]

log = structlog.get_logger(__name__)

# A user or project of a domain, by name: one statement per table.
_NAMED = {
    "users": "SELECT * FROM users WHERE domain_id = ? AND name = ?",
    "projects": "SELECT * FROM projects WHERE domain_id = ? AND name = ? AND is_domain = 0",
}


class NamedAdmin:
    """Endpoints that manage projects, users and grants by name (the default domain)."""

    def __init__(
        self, store: IdentityStore, access: IdentityAccess, projects: Projects, users: Users
    ) -> None:
        self.store = store
        self.access = access
        self.projects = projects
        self.users = users

    def __repr__(self) -> str:
        return f"<NamedAdmin {self.store!r}>"

    async def _named(self, table: str, name: str, kind: str) -> sqlite3.Row:
        row = await self.store.db.fetchone(_NAMED[table], (DEFAULT_DOMAIN_ID, name))
        if row is None:
            raise UserNotFound(f"No {kind} is named {name!r}.", **{kind: name})
        return row

    async def _role(self, name: str) -> sqlite3.Row:
        row = await self.store.db.fetchone(
            "SELECT * FROM roles WHERE domain_id IS NULL AND name = ?", (name,)
        )
        if row is None:
            rows = await self.store.db.fetchall(
                "SELECT name FROM roles WHERE domain_id IS NULL ORDER BY name"
            )
            known = ", ".join(r["name"] for r in rows)
            raise Invalid(f"Unknown role {name!r}; the roles are: {known}.", role=str(name))
        return row

    @endpoint
    async def create_project(
        self, ctx: RequestContext, name: str, description: str = ""
    ) -> dict[str, Any]:
        """Create project `name` in the default domain; `Conflict` if the name is taken."""
        name = validators.project_name(name)
        project = await self.projects.create(ctx, {"name": name, "description": description})
        row = await self.store.project_row(project["id"])
        return {k: row[k] for k in ("id", "name", "description", "created_at")}

    @endpoint
    async def list_projects(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every project (no domains), by name: ``{"id", "name", "description", "created_at"}``."""
        await self.access.authorize(ctx, "identity:list_projects")
        rows = await self.store.db.fetchall(
            "SELECT id, name, description, created_at FROM projects WHERE is_domain = 0"
            " ORDER BY name"
        )
        return [dict(row) for row in rows]

    @endpoint
    async def create_user(
        self,
        ctx: RequestContext,
        name: str,
        password: str,
        project_name: str,
        role: str = "member",
    ) -> dict[str, Any]:
        """Create user `name` with `password` and give them `role` on `project_name`."""
        await self.access.authorize(ctx, "identity:create_user")
        name = validators.user_name(name)
        checks.check_secret("password", password)
        project = await self._named(
            "projects", validators.project_name(project_name, "project_name"), "project"
        )
        granted = await self._role(checks.check_text("role", role))
        user = await self.users.create(ctx, {"name": name, "password": password})
        await self._grant(user["id"], project["id"], granted["id"])
        row = await self.store.user_row(user["id"])
        created = {k: row[k] for k in ("id", "name", "created_at")}
        return {**created, "assignments": [{"project": project["name"], "role": granted["name"]}]}

    async def _grant(self, user_id: str, project_id: str, role_id: str) -> None:
        await self.store.db.execute(
            "INSERT OR IGNORE INTO assignments (actor_type, actor_id, target_type, target_id,"
            " role_id) VALUES ('user', ?, 'project', ?, ?)",
            (user_id, project_id, role_id),
        )

    @endpoint
    async def assign_role(
        self, ctx: RequestContext, user_name: str, project_name: str, role: str
    ) -> None:
        """Give `user_name` `role` on `project_name` (tokens already issued see it too)."""
        await self.access.authorize(ctx, "identity:create_grant")
        granted = await self._role(checks.check_text("role", role))
        user = await self._named("users", validators.user_name(user_name, "user_name"), "user")
        project = await self._named(
            "projects", validators.project_name(project_name, "project_name"), "project"
        )
        await self._grant(user["id"], project["id"], granted["id"])
        log.info("identity.role_assigned", user_id=user["id"], project_id=project["id"])

    @endpoint
    async def list_users(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every user, by name, with their project roles; never their password hashes."""
        await self.access.authorize(ctx, "identity:list_users")
        rows = await self.store.db.fetchall(
            "SELECT u.id, u.name, u.created_at, p.name AS project, r.name AS role"
            " FROM users AS u"
            " LEFT JOIN assignments AS a ON a.actor_type = 'user' AND a.actor_id = u.id"
            " AND a.target_type = 'project'"
            " LEFT JOIN projects AS p ON p.id = a.target_id"
            " LEFT JOIN roles AS r ON r.id = a.role_id"
            " ORDER BY u.name, p.name, r.name"
        )
        users: dict[str, dict[str, Any]] = {}
        for row in rows:
            user = users.setdefault(
                row["id"],
                {"id": row["id"], "name": row["name"], "created_at": row["created_at"]},
            )
            assignments = user.setdefault("assignments", [])
            if row["role"] is not None and row["project"] is not None:
                assignments.append({"project": row["project"], "role": row["role"]})
        return list(users.values())

    @endpoint
    async def delete_user(self, ctx: RequestContext, user_name: str) -> None:
        """Delete `user_name` and their assignments, and revoke every token they hold."""
        await self.access.authorize(ctx, "identity:delete_user")
        user = await self._named("users", validators.user_name(user_name, "user_name"), "user")
        await self.users.delete(ctx, user["id"])
