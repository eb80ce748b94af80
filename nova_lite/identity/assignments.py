"""Role assignments (grants): a role for a user or a group on a project, a domain or the system.

Grants are made, checked, listed and revoked as Keystone's ``/v3/projects/{p}/users/
{u}/roles/{r}`` family does (and ``/v3/system/...``), under its rule names: a project
or domain grant is ``identity:create_grant`` and its siblings, a system grant
``identity:create_system_grant_for_user`` (or ``_for_group``). A domain-specific
role can be granted only on its own domain or its projects. ``GET
/v3/role_assignments`` lists them with Keystone's filters; ``effective`` expands
group grants into their members and adds the roles each grant implies, as tokens
see them. Taking a role away takes effect on tokens already issued (they re-read
their roles at each validation).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden, Invalid, NotFound
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.effective import EffectiveRoles
from nova_lite.identity.store import IdentityStore
from nova_lite.rpc.endpoint import endpoint

__all__ = ["Assignments"]

log = structlog.get_logger(__name__)

_GRANT = (
    "actor_type = ? AND actor_id = ? AND target_type = ? AND target_id = ? AND role_id = ?"
    " AND inherited = ?"
)
_HELD = "SELECT 1 FROM assignments WHERE " + _GRANT
_REVOKE = "DELETE FROM assignments WHERE " + _GRANT
# The name of an entity, and of its domain: one statement per table, never a caller's text.
_NAMED = {
    table: f"SELECT e.name, d.id AS domain_id, d.name AS domain_name FROM {table} AS e"
    " LEFT JOIN projects AS d ON d.id = e.domain_id WHERE e.id = ?"
    for table in ("users", "groups", "projects")
}
ACTORS = ("user", "group")
TARGETS = ("project", "domain", "system")


def _rule(op: str, actor_type: str, target_type: str) -> str:
    if target_type == "system":
        verb = "list" if op == "list" else op
        return f"identity:{verb}_system_grant{'s' if op == 'list' else ''}_for_{actor_type}"
    return "identity:list_grants" if op == "list" else f"identity:{op}_grant"


INHERITED_TO = "OS-INHERIT:inherited_to"
# Every project below a domain or a project (what an inherited grant reaches).
_BELOW = (
    "WITH RECURSIVE below(id) AS (SELECT id FROM projects WHERE parent_id = ? AND is_domain = 0"
    " UNION SELECT p.id FROM projects AS p JOIN below ON p.parent_id = below.id)"
    " SELECT id FROM below ORDER BY id"
)


def _scope(target_type: str, target_id: str, inherited: bool = False) -> dict[str, Any]:
    if target_type == "system":
        return {"system": {"all": True}}
    scope: dict[str, Any] = {target_type: {"id": target_id}}
    return {**scope, INHERITED_TO: "projects"} if inherited else scope


class Assignments:
    """Endpoints for grants, the role assignment list, and the projects of a user."""

    def __init__(
        self, store: IdentityStore, access: IdentityAccess, effective: EffectiveRoles
    ) -> None:
        self.store = store
        self.access = access
        self.effective = effective

    def __repr__(self) -> str:
        return f"<Assignments {self.store!r}>"

    async def _facts(
        self, actor_type: str, actor_id: str, target_type: str, target_id: str
    ) -> tuple[dict[str, Any], sqlite3.Row | None]:
        """The policy target of a grant (`NotFound` if its actor or target does not
        exist), and the target's row (None for the system)."""
        if actor_type not in ACTORS or target_type not in TARGETS:
            raise Invalid(f"A grant is for a user or a group on {', '.join(TARGETS)}.")
        actor = await (
            self.store.user_row(actor_id)
            if actor_type == "user"
            else self.store.group_row(actor_id)
        )
        facts: dict[str, Any] = {
            f"target.{actor_type}.id": actor["id"],
            f"target.{actor_type}.domain_id": actor["domain_id"],
        }
        row: sqlite3.Row | None = None
        if target_type == "project":
            row = await self.store.project_row(target_id)
            facts |= {"target.project.id": row["id"], "target.project.domain_id": row["domain_id"]}
        elif target_type == "domain":
            row = await self.store.domain_row(target_id)
            facts["target.domain.id"] = row["id"]
        elif target_id != "system":
            raise Invalid("The system's target id is 'system'.")
        return facts, row

    @endpoint
    async def grant(
        self,
        ctx: RequestContext,
        op: str,
        actor_type: str,
        actor_id: str,
        target_type: str,
        target_id: str,
        role_id: str,
        inherited: bool = False,
    ) -> None:
        """``create``, ``check`` (`NotFound` if absent) or ``revoke`` one grant;
        `inherited`: the grant the projects below the target inherit (OS-INHERIT)."""
        if op not in ("create", "check", "revoke"):
            raise Invalid(f"Unknown grant operation {op!r}; use create, check or revoke.")
        if inherited and target_type == "system":
            raise Invalid("Only a domain's or a project's grants are inherited.")
        facts, target = await self._facts(actor_type, actor_id, target_type, target_id)
        role = await self.store.role_row(role_id)
        facts |= {"target.role.id": role["id"], "target.role.name": role["name"]}
        await self.access.authorize(ctx, _rule(op, actor_type, target_type), facts)
        key = (actor_type, actor_id, target_type, target_id, role_id, int(inherited))
        if op == "create":
            self._check_role_domain(role, target_type, target)
            await self.store.db.execute(
                "INSERT OR IGNORE INTO assignments (actor_type, actor_id, target_type,"
                " target_id, role_id, inherited) VALUES (?, ?, ?, ?, ?, ?)",
                key,
            )
            log.info("identity.role_granted", actor_id=actor_id, target_id=target_id)
            return
        if await self.store.db.fetchone(_HELD, key) is None:
            raise NotFound(f"Could not find role assignment with role: {role_id}.")
        if op == "revoke":
            await self.store.db.execute(_REVOKE, key)
            log.info("identity.role_revoked", actor_id=actor_id, target_id=target_id)

    @staticmethod
    def _check_role_domain(role: sqlite3.Row, target_type: str, target: sqlite3.Row | None) -> None:
        if role["domain_id"] is None:
            return
        domain = None
        if target is not None:
            domain = target["id"] if target_type == "domain" else target["domain_id"]
        if domain != role["domain_id"]:
            raise Forbidden(
                f"Role {role['id']} belongs to domain {role['domain_id']}; it can only be"
                " granted in that domain."
            )

    @endpoint
    async def grants(
        self,
        ctx: RequestContext,
        actor_type: str,
        actor_id: str,
        target_type: str,
        target_id: str,
        inherited: bool = False,
    ) -> list[dict[str, Any]]:
        """The roles given directly to the actor on the target (`inherited`: those the
        projects below it inherit)."""
        facts, _target = await self._facts(actor_type, actor_id, target_type, target_id)
        await self.access.authorize(ctx, _rule("list", actor_type, target_type), facts)
        rows = await self.store.db.fetchall(
            "SELECT r.* FROM roles AS r JOIN assignments AS a ON a.role_id = r.id"
            " WHERE a.actor_type = ? AND a.actor_id = ? AND a.target_type = ?"
            " AND a.target_id = ? AND a.inherited = ? ORDER BY r.name",
            (actor_type, actor_id, target_type, target_id, int(inherited)),
        )
        return [self.store.role(row) for row in rows]

    @endpoint
    async def role_assignments(
        self, ctx: RequestContext, filters: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Keystone's role assignment list. Filters: ``user.id``, ``group.id``,
        ``role.id``, ``scope.project.id``, ``scope.domain.id``, ``scope.system``,
        ``effective`` (any value), ``include_names``. Each entry: ``role``, ``user`` or
        ``group``, ``scope``, and ``prior_role`` / ``group_id`` it came from."""
        await self.access.authorize(
            ctx,
            "identity:list_role_assignments",
            {"target.domain_id": filters.get("scope.domain.id")},
        )
        rows = await self.store.db.fetchall(
            "SELECT a.*, r.domain_id AS role_domain FROM assignments AS a"
            " JOIN roles AS r ON r.id = a.role_id ORDER BY a.target_type, a.target_id, a.role_id"
        )
        entries = [
            {
                "role": {"id": row["role_id"]},
                row["actor_type"]: {"id": row["actor_id"]},
                "scope": _scope(row["target_type"], row["target_id"], bool(row["inherited"])),
                "role_domain": row["role_domain"],
            }
            for row in rows
        ]
        if "effective" in filters:
            entries = await self._effective(entries)
        entries = [entry for entry in entries if _matches(entry, filters)]
        if "include_names" in filters:
            await self._names(entries)
        for entry in entries:
            entry.pop("role_domain", None)
        return entries

    async def _effective(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Group grants as their members', inherited grants on each project below their
        target, with the roles each implies, and no domain-specific roles (they only
        stand for what they imply)."""
        found: list[dict[str, Any]] = []
        for entry in await self._inherited(entries):
            holders = [(entry.get("user", {}).get("id"), None)]
            if "group" in entry:
                members = await self.store.db.fetchall(
                    "SELECT user_id FROM group_members WHERE group_id = ?", (entry["group"]["id"],)
                )
                holders = [(row["user_id"], entry["group"]["id"]) for row in members]
            roles = await self.effective.implied_closure([entry["role"]["id"]])
            global_ids = {row["id"] for row in await self.effective.global_roles(roles)}
            for user_id, group_id in holders:
                for role_id in sorted(global_ids):
                    effective: dict[str, Any] = {
                        "role": {"id": role_id},
                        "user": {"id": user_id},
                        "scope": entry["scope"],
                    }
                    if role_id != entry["role"]["id"]:
                        effective["prior_role"] = entry["role"]["id"]
                    if group_id is not None:
                        effective["group_id"] = group_id
                    found.append(effective)
        return found

    async def _inherited(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each inherited grant as one grant per project below its target."""
        held = []
        for entry in entries:
            scope = entry["scope"]
            if INHERITED_TO not in scope:
                held.append(entry)
                continue
            target = scope.get("project", scope.get("domain", {})).get("id")
            for row in await self.store.db.fetchall(_BELOW, (target,)):
                held.append({**entry, "scope": {"project": {"id": row["id"]}}})
        return held

    async def _names(self, entries: list[dict[str, Any]]) -> None:
        """Keystone's ``include_names``: names (and domains) beside every id."""
        names = await self.effective.role_names({entry["role"]["id"] for entry in entries})
        for entry in entries:
            entry["role"]["name"] = names.get(entry["role"]["id"])
            for actor, table in (("user", "users"), ("group", "groups")):
                if actor in entry:
                    entry[actor] |= await self._named(table, entry[actor]["id"])
            scope = entry["scope"]
            for kind in ("project", "domain"):
                if kind in scope:
                    scope[kind] |= await self._named("projects", scope[kind]["id"])

    async def _named(self, table: str, ident: str) -> dict[str, Any]:
        """The name of an entity of `table`, and of its domain (none for a domain)."""
        row = await self.store.db.fetchone(_NAMED[table], (ident,))
        if row is None:
            return {}
        named: dict[str, Any] = {"name": row["name"]}
        if row["domain_id"] is not None:
            named["domain"] = {"id": row["domain_id"], "name": row["domain_name"]}
        return named

    @endpoint
    async def user_projects(self, ctx: RequestContext, user_id: str) -> list[dict[str, Any]]:
        """The projects a user holds a role on (directly or through a group)."""
        user = await self.store.user_row(user_id)
        target = {
            "target.user.id": user["id"],
            "target.user.domain_id": user["domain_id"],
            "user_id": user["id"],
        }
        await self.access.authorize(ctx, "identity:list_user_projects", target)
        projects = []
        for project_id in await self.effective.targets(user_id, "project"):
            try:
                projects.append(await self.store.project(await self.store.project_row(project_id)))
            except NotFound:
                continue
        return sorted(projects, key=lambda project: project["name"])


def _matches(entry: dict[str, Any], filters: dict[str, str]) -> bool:
    scope = entry["scope"]
    wanted = {
        "user.id": entry.get("user", {}).get("id"),
        "group.id": entry.get("group", {}).get("id"),
        "role.id": entry["role"]["id"],
        "scope.project.id": scope.get("project", {}).get("id"),
        "scope.domain.id": scope.get("domain", {}).get("id"),
    }
    for key, value in wanted.items():
        if key in filters and filters[key] != value:
            return False
    return not ("scope.system" in filters and "system" not in scope)
