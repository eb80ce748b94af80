"""Roles and implied roles (Keystone's role API).

A role is global (no ``domain_id``) or specific to a domain; its name is unique in
its domain, or among global roles. An implication rule (``prior`` implies
``implied``) makes whoever holds the prior role hold the implied one too, so a token
lists both. As in Keystone, a global role cannot imply a domain-specific one, and
no role may imply ``admin`` (its ``prohibited_implied_role``). The bootstrap rules
are admin ⊃ manager ⊃ member ⊃ reader.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Forbidden, Invalid, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.store import IdentityStore, new_id
from nova_lite.rpc.endpoint import endpoint

__all__ = ["PROHIBITED_IMPLIED_ROLES", "ImpliedRoles", "Roles"]

log = structlog.get_logger(__name__)

PROHIBITED_IMPLIED_ROLES = ("admin",)
_ROLE_FIELDS = ("name", "domain_id", "description", "options")


def _rule(action: str, row_or_domain: sqlite3.Row | str | None) -> str:
    """Keystone's rule for `action` on a global role, or its ``*_domain_role`` twin."""
    domain = row_or_domain["domain_id"] if isinstance(row_or_domain, sqlite3.Row) else row_or_domain
    return f"identity:{action}_domain_role" if domain else f"identity:{action}_role"


def _duplicate(name: str) -> Conflict:
    return Conflict(
        f"Conflict occurred attempting to store role - Duplicate entry found with name {name}.",
        name=name,
    )


class Roles:
    """The ``role`` collection: create, get, list, update, delete."""

    kind = "role"

    def __init__(self, store: IdentityStore, access: IdentityAccess) -> None:
        self.store = store
        self.access = access

    def __repr__(self) -> str:
        return f"<Roles {self.store!r}>"

    @staticmethod
    def _target(row: sqlite3.Row) -> dict[str, Any]:
        return {"target.role.name": row["name"], "target.role.domain_id": row["domain_id"]}

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        domain_id = body.get("domain_id")
        await self.access.authorize(ctx, _rule("create", domain_id))
        checks.options(body.get("options"))
        if domain_id is not None:
            domain_id = (await self.store.domain_row(checks.identifier("domain_id", domain_id)))[
                "id"
            ]
        name = checks.name("name", body.get("name"), kind="role")
        role_id = new_id()
        try:
            await self.store.db.execute(
                "INSERT INTO roles (id, name, domain_id, description, extra, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    role_id,
                    name,
                    domain_id,
                    checks.optional_text("description", body.get("description")),
                    checks.encode_extra(checks.extras(body, _ROLE_FIELDS)),
                    self.store.timestamp(),
                ),
            )
        except sqlite3.IntegrityError:
            raise _duplicate(name) from None
        log.info("identity.role_created", role_id=role_id, role_name=name)
        return self.store.role(await self.store.role_row(role_id))

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        row = await self.store.role_row(ident)
        await self.access.authorize(ctx, _rule("get", row), self._target(row))
        return self.store.role(row)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        """Global roles, or with ``domain_id`` that domain's roles; ``name`` filters."""
        domain_id = filters.get("domain_id")
        await self.access.authorize(
            ctx,
            "identity:list_domain_roles" if domain_id else ("identity:list_roles"),
            {"domain_id": domain_id},
        )
        rows = await self.store.db.fetchall(
            "SELECT * FROM roles WHERE coalesce(domain_id, '') = ?1"
            " AND (?2 IS NULL OR name = ?2) ORDER BY name",
            (domain_id or "", filters.get("name")),
        )
        return [self.store.role(row) for row in rows]

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        row = await self.store.role_row(ident)
        await self.access.authorize(ctx, _rule("update", row), self._target(row))
        if "domain_id" in body and body["domain_id"] != row["domain_id"]:
            raise Invalid("A role's domain_id cannot be changed.")
        checks.options(body.get("options"))
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = checks.name("name", body["name"], kind="role")
        if "description" in body:
            changes["description"] = checks.optional_text("description", body["description"])
        extra = checks.extras(body, _ROLE_FIELDS)
        if extra:
            changes["extra"] = checks.encode_extra({**checks.decode(row["extra"]), **extra})
        try:
            await self.store.db.execute(
                "UPDATE roles SET name = ?, description = ?, extra = ? WHERE id = ?",
                (*(changes.get(c, row[c]) for c in ("name", "description", "extra")), ident),
            )
        except sqlite3.IntegrityError:
            raise _duplicate(changes.get("name", row["name"])) from None
        return self.store.role(await self.store.role_row(ident))

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        row = await self.store.role_row(ident)
        await self.access.authorize(ctx, _rule("delete", row), self._target(row))
        await self.store.db.execute("DELETE FROM roles WHERE id = ?", (ident,))
        log.info("identity.role_deleted", role_id=ident)


class ImpliedRoles:
    """Endpoints for implication rules between roles."""

    def __init__(self, store: IdentityStore, access: IdentityAccess) -> None:
        self.store = store
        self.access = access

    def __repr__(self) -> str:
        return f"<ImpliedRoles {self.store!r}>"

    @staticmethod
    def _ref(row: sqlite3.Row) -> dict[str, Any]:
        return {"id": row["id"], "name": row["name"]}

    @endpoint
    async def implied_role(
        self, ctx: RequestContext, prior_role_id: str, implied_role_id: str, op: str
    ) -> dict[str, Any] | None:
        """``create``, ``get``, ``check`` or ``delete`` the rule that `prior` implies
        `implied`; ``{"prior_role", "implies"}`` for create and get."""
        rules = {
            "create": "identity:create_implied_role",
            "get": "identity:get_implied_role",
            "check": "identity:check_implied_role",
            "delete": "identity:delete_implied_role",
        }
        if op not in rules:
            raise Invalid(f"Unknown implied role operation {op!r}.")
        await self.access.authorize(ctx, rules[op])
        prior = await self.store.role_row(prior_role_id)
        implied = await self.store.role_row(implied_role_id)
        if op == "create":
            await self._create(prior, implied)
        else:
            held = await self.store.db.fetchone(
                "SELECT 1 FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?",
                (prior_role_id, implied_role_id),
            )
            if held is None:
                raise NotFound(
                    f"{prior_role_id} does not imply {implied_role_id}.",
                    prior=prior_role_id,
                    implied=implied_role_id,
                )
            if op == "delete":
                await self.store.db.execute(
                    "DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?",
                    (prior_role_id, implied_role_id),
                )
        if op in ("create", "get"):
            return {"prior_role": self._ref(prior), "implies": self._ref(implied)}
        return None

    async def _create(self, prior: sqlite3.Row, implied: sqlite3.Row) -> None:
        if implied["name"] in PROHIBITED_IMPLIED_ROLES and implied["domain_id"] is None:
            raise Forbidden(f"{implied['name']} is not permitted to be an implied role.")
        if prior["domain_id"] is None and implied["domain_id"] is not None:
            raise Forbidden("A global role cannot imply a domain-specific role.")
        if prior["id"] == implied["id"]:
            raise Forbidden("A role cannot imply itself.")
        await self.store.db.execute(
            "INSERT OR IGNORE INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?)",
            (prior["id"], implied["id"]),
        )

    @endpoint
    async def role_inferences(
        self, ctx: RequestContext, prior_role_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every implication rule, one entry per prior role (only `prior_role_id`'s if
        given): ``[{"prior_role", "implies": [...]}]``."""
        rule = (
            "identity:list_implied_roles" if prior_role_id else "identity:list_role_inference_rules"
        )
        await self.access.authorize(ctx, rule)
        if prior_role_id:
            await self.store.role_row(prior_role_id)
        rows = await self.store.db.fetchall(
            "SELECT p.id AS prior_id, p.name AS prior_name, i.id AS implied_id,"
            " i.name AS implied_name FROM implied_roles AS r"
            " JOIN roles AS p ON p.id = r.prior_role_id"
            " JOIN roles AS i ON i.id = r.implied_role_id"
            " WHERE ?1 IS NULL OR p.id = ?1 ORDER BY p.name, i.name",
            (prior_role_id,),
        )
        grouped: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = grouped.setdefault(
                row["prior_id"],
                {"prior_role": {"id": row["prior_id"], "name": row["prior_name"]}, "implies": []},
            )
            entry["implies"].append({"id": row["implied_id"], "name": row["implied_name"]})
        if prior_role_id and not grouped:
            prior = await self.store.role_row(prior_role_id)
            return [{"prior_role": self._ref(prior), "implies": []}]
        return list(grouped.values())
