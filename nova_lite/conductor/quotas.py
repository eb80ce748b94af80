"""Compute quotas: limits per project (and per user), the default class, usage, checks.

A limit comes from, in order: the user's own limit (``user_quotas``), the project's
(``quotas``), the ``default`` quota class (``quota_classes``, what
``os-quota-class-sets/default`` changes), then ``[quota]`` in the configuration, as
Nova's DB quota driver reads them; -1 is unlimited. Usage is counted from the
records themselves (instances, cores and RAM of undeleted instances; server groups
and their members), so there is nothing to reserve or to get out of step.
`QuotaBook` owns the tables; `QuotaRecords` serves them over RPC. The checks made
while writing (an instance create, a new group or member) run inside the writer's
own transaction, so two requests cannot both take the last unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import aiosqlite
import attrs

from nova_lite.admin import require_admin
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.config import QuotaConfig
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Forbidden, Invalid, QuotaExceeded
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["NETWORK_DEFAULTS", "RESOURCES", "QuotaBook", "QuotaRecords"]

# The limits Nova keeps for Neutron's resources (shown below microversion 2.36, never
# enforced here: Neutron, the network service, counts its own), with Nova's defaults.
NETWORK_DEFAULTS = {
    "floating_ips": 10,
    "fixed_ips": -1,
    "security_groups": 10,
    "security_group_rules": 20,
}
RESOURCES: tuple[str, ...] = (*attrs.fields_dict(QuotaConfig), *NETWORK_DEFAULTS)
UNLIMITED = -1

# Every level of limits in one read: the default class (0), the project's (1), the user's (2).
_LIMITS = (
    "SELECT 0 AS level, resource, hard_limit FROM quota_classes WHERE class_name = 'default' "
    "UNION ALL "
    "SELECT 1, resource, hard_limit FROM quotas WHERE project_id = ? UNION ALL "
    "SELECT 2, resource, hard_limit FROM user_quotas WHERE project_id = ? AND user_id = ? "
    "ORDER BY level"
)
_INSTANCE_USAGE = (
    "SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(memory_mb), 0) FROM instances "
    "WHERE project_id = ? AND deleted = 0"
)
# The same counts for one user of the project (the texts are constants, as all SQL here).
_INSTANCE_USAGE_OF_USER = (
    "SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(memory_mb), 0) FROM instances "
    "WHERE project_id = ? AND deleted = 0 AND user_id = ?"
)
_GROUP_USAGE_OF_USER = "SELECT COUNT(*) FROM server_groups WHERE project_id = ? AND user_id = ?"
_USAGE = {
    "instances": "SELECT COUNT(*) FROM instances WHERE project_id = ? AND deleted = 0",
    "cores": "SELECT COALESCE(SUM(vcpus), 0) FROM instances WHERE project_id = ? AND deleted = 0",
    "ram": "SELECT COALESCE(SUM(memory_mb), 0) FROM instances WHERE project_id = ? AND deleted = 0",
    "server_groups": "SELECT COUNT(*) FROM server_groups WHERE project_id = ?",
}


def _limit(resource: str, value: object) -> int:
    """A limit as given over RPC or HTTP: an integer (or its digits) of at least -1."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < UNLIMITED:
        raise Invalid(
            f"Invalid input for field/attribute {resource}. Value: {value!r:.40}. A quota "
            "limit is an integer of at least -1 (unlimited)."
        )
    return value


def _checked(values: Mapping[str, object]) -> dict[str, int]:
    unknown = sorted(set(values) - set(RESOURCES))
    if unknown:
        raise Invalid(
            f"Unknown quota resources {unknown}; the compute quotas are {', '.join(RESOURCES)}."
        )
    return {resource: _limit(resource, value) for resource, value in values.items()}


def exceeded(resource: str, requested: int, used: int, limit: int) -> QuotaExceeded:
    """The error of a request for `requested` more of `resource` than `limit` allows."""
    return QuotaExceeded(
        f"Quota exceeded for {resource}: Requested {requested}, but already used {used} of "
        f"{limit} {resource}.",
        resource=resource,
        requested=requested,
        used=used,
        limit=limit,
    )


class QuotaBook:
    """Reads and writes the conductor's quota tables, and counts usage."""

    def __init__(self, db: Database, defaults: QuotaConfig) -> None:
        self.db = db
        self.config_defaults = {**attrs.asdict(defaults), **NETWORK_DEFAULTS}

    async def defaults(self) -> dict[str, int]:
        """The default limits: the ``default`` class over the configuration's."""
        return {**self.config_defaults, **await self.class_limits("default", overrides_only=True)}

    async def class_limits(self, name: str, *, overrides_only: bool = False) -> dict[str, int]:
        """A quota class's limits (a class with no rows has the configuration's)."""
        rows = await self.db.fetchall(
            "SELECT resource, hard_limit FROM quota_classes WHERE class_name = ?", (name,)
        )
        stored = {r["resource"]: r["hard_limit"] for r in rows}
        return stored if overrides_only else {**self.config_defaults, **stored}

    async def set_class(self, name: str, values: Mapping[str, object]) -> dict[str, int]:
        """Change a quota class's limits; its limits after the change."""
        checked = _checked(values)
        async with self.db.transaction() as conn:
            for resource, limit in checked.items():
                await conn.execute(
                    "INSERT OR REPLACE INTO quota_classes (class_name, resource, hard_limit) "
                    "VALUES (?, ?, ?)",
                    (name, resource, limit),
                )
        return await self.class_limits(name)

    async def limits(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        """The limits of a project (or of one of its users), read in one query."""
        project, user = await self._levels(project_id, user_id)
        return project if user is None else user

    async def _levels(
        self, project_id: str, user_id: str | None
    ) -> tuple[dict[str, int], dict[str, int] | None]:
        """The project's limits (the defaults, then its own), and its user's (the project's,
        then the user's own) if the user has limits of their own, from one read."""
        rows = await self.db.fetchall(_LIMITS, (project_id, project_id, user_id or ""))
        project = dict(self.config_defaults)
        own: dict[str, int] = {}
        for row in rows:  # ordered by level: a later level overrides
            target = own if row["level"] == 2 else project
            target[row["resource"]] = row["hard_limit"]
        return project, ({**project, **own} if own and user_id is not None else None)

    async def usage(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        """What a project (or one of its users) uses of each resource counted here."""
        used = dict.fromkeys(RESOURCES, 0)
        for resource, sql in _USAGE.items():
            params: tuple[str, ...] = (project_id,)
            if user_id is not None:
                sql, params = sql + " AND user_id = ?", (project_id, user_id)
            row = await self.db.fetchone(sql, params)
            used[resource] = int(row[0]) if row is not None else 0
        return used

    async def set_limits(
        self,
        project_id: str,
        values: Mapping[str, object],
        *,
        user_id: str | None = None,
        force: bool = False,
    ) -> dict[str, int]:
        """Change a project's (or user's) limits; the limits after the change.

        Unless `force`, a limit below what is in use is refused, as Nova does; a
        user's limit may not exceed the project's.
        """
        checked = _checked(values)
        if not force:
            used = await self.usage(project_id, user_id)
            for resource, limit in checked.items():
                if limit != UNLIMITED and limit < used[resource]:
                    raise Invalid(
                        f"Quota limit {limit} for {resource} must be greater than or equal to "
                        f"already used and reserved {used[resource]}."
                    )
        if user_id is not None:
            project = await self.limits(project_id)
            for resource, limit in checked.items():
                ceiling = project[resource]
                if ceiling != UNLIMITED and (limit == UNLIMITED or limit > ceiling):
                    raise Invalid(
                        f"Quota limit {limit} for {resource} of user {user_id} cannot exceed "
                        f"the project's limit {ceiling}."
                    )
        await self._write(project_id, user_id, checked)
        return await self.limits(project_id, user_id)

    async def _write(self, project_id: str, user_id: str | None, values: dict[str, int]) -> None:
        async with self.db.transaction() as conn:
            for resource, limit in values.items():
                if user_id is None:
                    await conn.execute(
                        "INSERT OR REPLACE INTO quotas (project_id, resource, hard_limit) "
                        "VALUES (?, ?, ?)",
                        (project_id, resource, limit),
                    )
                else:
                    await conn.execute(
                        "INSERT OR REPLACE INTO user_quotas (project_id, user_id, resource, "
                        "hard_limit) VALUES (?, ?, ?, ?)",
                        (project_id, user_id, resource, limit),
                    )

    async def delete(self, project_id: str, user_id: str | None = None) -> None:
        """Forget a project's (or user's) own limits: the defaults apply again."""
        async with self.db.transaction() as conn:
            if user_id is None:
                await conn.execute("DELETE FROM quotas WHERE project_id = ?", (project_id,))
                await conn.execute("DELETE FROM user_quotas WHERE project_id = ?", (project_id,))
            else:
                await conn.execute(
                    "DELETE FROM user_quotas WHERE project_id = ? AND user_id = ?",
                    (project_id, user_id),
                )

    async def check(
        self,
        conn: aiosqlite.Connection,
        project_id: str,
        user_id: str | None,
        wanted: Mapping[str, int],
    ) -> None:
        """`QuotaExceeded` unless `wanted` more of each resource fits (inside `conn`'s write).

        Both the project's limits and, when the user has limits of their own, the user's
        apply. Unlimited resources are not counted at all.
        """
        unknown = sorted(set(wanted) - set(RESOURCES))
        if unknown:
            raise Invalid(f"Unknown quota resources {unknown}; the compute quotas are {RESOURCES}.")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in wanted.values()):
            raise Invalid(
                f"Quota amounts must be integers of at least 0, not {dict(wanted)!r:.80}."
            )
        project_limits, user_limits = await self._levels(project_id, user_id)
        scopes: list[tuple[str | None, dict[str, int]]] = [(None, project_limits)]
        if user_limits is not None:
            scopes.append((user_id, user_limits))
        for who, limits in scopes:
            counted = [r for r in wanted if r in _USAGE and limits[r] != UNLIMITED]
            if not counted:
                continue
            used = await _used(conn, project_id, who, counted)
            for resource in counted:
                if used[resource] + wanted[resource] > limits[resource]:
                    raise exceeded(resource, wanted[resource], used[resource], limits[resource])


async def _used(
    conn: aiosqlite.Connection, project_id: str, user_id: str | None, resources: list[str]
) -> dict[str, int]:
    """What a project (or user) uses of `resources`, in as few reads as they need."""
    params = [project_id] if user_id is None else [project_id, user_id]
    used: dict[str, int] = {}
    if {"instances", "cores", "ram"} & set(resources):
        sql = _INSTANCE_USAGE if user_id is None else _INSTANCE_USAGE_OF_USER
        cursor = await conn.execute(sql, params)
        row = await cursor.fetchone()
        counts = tuple(row) if row is not None else (0, 0, 0)
        used.update(zip(("instances", "cores", "ram"), map(int, counts), strict=True))
    if "server_groups" in resources:
        sql = _USAGE["server_groups"] if user_id is None else _GROUP_USAGE_OF_USER
        cursor = await conn.execute(sql, params)
        row = await cursor.fetchone()
        used["server_groups"] = int(row[0]) if row is not None else 0
    return used


class QuotaRecords:
    """The conductor endpoints of compute quotas and quota classes."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(self, book: QuotaBook) -> None:
        self.book = book

    def __repr__(self) -> str:
        return "<QuotaRecords>"

    @endpoint
    async def quota_get(
        self, ctx: RequestContext, project_id: str, user_id: str | None = None
    ) -> dict[str, Any]:
        """A project's (or user's) limits and usage; only administrators ask for others'."""
        if not ctx.is_admin and project_id != ctx.project_id:
            raise Forbidden(f"Only administrators may read project {project_id}'s quotas.")
        return {
            "limits": await self.book.limits(project_id, user_id),
            "usage": await self.book.usage(project_id, user_id),
        }

    @endpoint
    async def quota_check(
        self, ctx: RequestContext, project_id: str, user_id: str | None, wanted: dict[str, int]
    ) -> None:
        """`QuotaExceeded` unless `wanted` more of each resource fits now (a resize asks this).

        A check, not a claim: usage follows the records, so what a resize takes is counted
        once its new flavor is recorded, as in Nova.
        """
        async with self.book.db.transaction() as conn:
            await self.book.check(conn, project_id, user_id, wanted)

    @endpoint
    async def quota_defaults(self, ctx: RequestContext) -> dict[str, int]:
        return await self.book.defaults()

    @endpoint
    async def quota_set(
        self, ctx: RequestContext, project_id: str, resource: str, limit: int
    ) -> None:
        """Set one limit of a project, whatever is in use (administrators)."""
        require_admin(ctx, "set quotas")
        await self.book.set_limits(project_id, {resource: limit}, force=True)

    @endpoint
    async def quota_update(
        self,
        ctx: RequestContext,
        project_id: str,
        limits: dict[str, int],
        user_id: str | None = None,
        force: bool = False,
    ) -> dict[str, int]:
        """Set several limits of a project or user (administrators); the limits after."""
        require_admin(ctx, "update quotas")
        return await self.book.set_limits(project_id, limits, user_id=user_id, force=force)

    @endpoint
    async def quota_delete(
        self, ctx: RequestContext, project_id: str, user_id: str | None = None
    ) -> None:
        require_admin(ctx, "delete quotas")
        await self.book.delete(project_id, user_id)

    @endpoint
    async def quota_class_get(self, ctx: RequestContext, class_name: str) -> dict[str, int]:
        require_admin(ctx, "read quota classes")
        return await self.book.class_limits(class_name)

    @endpoint
    async def quota_class_update(
        self, ctx: RequestContext, class_name: str, limits: dict[str, int]
    ) -> dict[str, int]:
        require_admin(ctx, "update quota classes")
        return await self.book.set_class(class_name, limits)
