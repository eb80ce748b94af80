"""A project's tags (Keystone's ``/v3/projects/{id}/tags``): list, replace, add, check, remove.

Tags follow the API working group's rule (1-255 characters, no ``/`` or ``,``), at
most 80 per project, each once; they also come with the project's body and filter
the project list (``tags``).
"""

from __future__ import annotations

import sqlite3

from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.store import IdentityStore
from nova_lite.rpc.endpoint import endpoint

__all__ = ["ProjectTags"]


class ProjectTags:
    """Endpoints for a project's tags: list, replace, add, check, remove, clear."""

    def __init__(self, store: IdentityStore, access: IdentityAccess) -> None:
        self.store = store
        self.access = access

    def __repr__(self) -> str:
        return f"<ProjectTags {self.store!r}>"

    async def _project(self, ctx: RequestContext, project_id: str, rule: str) -> sqlite3.Row:
        row = await self.store.project_row(project_id)
        target = {"target.project.id": row["id"], "target.project.domain_id": row["domain_id"]}
        await self.access.authorize(ctx, rule, target)
        return row

    @endpoint
    async def project_tags(
        self, ctx: RequestContext, project_id: str, op: str, tags: list[str] | None = None
    ) -> list[str]:
        """``list``, ``replace`` (with `tags`) or ``clear`` a project's tags; the tags after."""
        rules = {
            "list": "identity:list_project_tags",
            "replace": "identity:update_project_tags",
            "clear": "identity:delete_project_tags",
        }
        if op not in rules:
            raise Invalid(f"Unknown tags operation {op!r}; use list, replace or clear.")
        await self._project(ctx, project_id, rules[op])
        if op != "list":
            checked = checks.tags(tags or []) if op == "replace" else []
            async with self.store.db.transaction():
                conn = self.store.db.conn
                await conn.execute("DELETE FROM project_tags WHERE project_id = ?", (project_id,))
                await conn.executemany(
                    "INSERT INTO project_tags (project_id, name) VALUES (?, ?)",
                    [(project_id, tag) for tag in checked],
                )
        return await self.store.tags_of(project_id)

    @endpoint
    async def project_tag(self, ctx: RequestContext, project_id: str, op: str, tag: str) -> None:
        """``add``, ``check`` (`NotFound` if absent) or ``remove`` one tag of a project."""
        rules = {
            "add": "identity:create_project_tag",
            "check": "identity:get_project_tag",
            "remove": "identity:delete_project_tag",
        }
        if op not in rules:
            raise Invalid(f"Unknown tag operation {op!r}; use add, check or remove.")
        await self._project(ctx, project_id, rules[op])
        tag = checks.tag(tag)
        held = await self.store.tags_of(project_id)
        if op == "add":
            if tag not in held and len(held) >= checks.MAX_TAGS:
                raise Invalid(f"A project has at most {checks.MAX_TAGS} tags.")
            await self.store.db.execute(
                "INSERT OR IGNORE INTO project_tags (project_id, name) VALUES (?, ?)",
                (project_id, tag),
            )
        elif tag not in held:
            raise NotFound(f"Tag {tag} could not be found for project {project_id}.")
        elif op == "remove":
            await self.store.db.execute(
                "DELETE FROM project_tags WHERE project_id = ? AND name = ?", (project_id, tag)
            )
