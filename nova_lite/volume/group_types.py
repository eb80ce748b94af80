"""Group types (Cinder's generic volume group types, API 3.11): create, show, list,
update, delete, and their group specs.

Administrators manage them (``group:group_types_manage``) and their specs
(``group:group_types_specs``); everyone may list and show the public ones, as in
Cinder, where those two reads have no rule. A type some group has cannot be
deleted. The specs are recorded and shown (to administrators), and change nothing
else: there is one backend.
"""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from typing import Any

import orjson
import structlog

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume import validation
from nova_lite.volume.group_rows import group_type_in, type_record
from nova_lite.volume.store import VolumeStore, dumps, now, write

__all__ = ["GroupTypeRecords", "parse_sort"]

log = structlog.get_logger(__name__)

MANAGE = "group:group_types_manage"
SPECS = "group:group_types_specs"
_ANY = {"project_id": None}
_SORT_KEYS = ("name", "id", "created_at", "description", "is_public")


# Every listing's statement, made here from the allowed sort keys: no caller's text
# is ever spliced into SQL. Keyed by (every type or only public ones, key, direction).
_LIST_SQL = {
    (every, key, direction): (
        f"SELECT * FROM group_types {'' if every else 'WHERE is_public = ?'} "
        f"ORDER BY {key} {direction}, rowid"
    )
    for every in (True, False)
    for key in _SORT_KEYS
    for direction in ("ASC", "DESC")
}


def parse_sort(sort: str | None) -> tuple[str, str]:
    """Cinder's ``sort=key:dir`` (the first key only): the column and ASC or DESC."""
    if not sort:
        return "created_at", "ASC"
    key, _, direction = sort.split(",")[0].partition(":")
    direction = (direction or "asc").lower()
    if key not in _SORT_KEYS or direction not in ("asc", "desc"):
        raise Invalid(
            f"Invalid sort {sort!r}: the keys are {', '.join(_SORT_KEYS)}, the directions"
            " asc and desc."
        )
    return key, direction.upper()


def _specs(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("group_specs must be an object of strings.")
    return validation.metadata(value)


class GroupTypeRecords:
    """The group type endpoints (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer) -> None:
        self.store = store
        self.policy = policy

    @endpoint
    async def group_type_create(
        self,
        ctx: RequestContext,
        name: str,
        description: str | None = None,
        is_public: bool = True,
        group_specs: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A new group type (admins); `Conflict` if the name is taken."""
        self.policy.authorize(ctx, MANAGE, _ANY)
        type_id = str(uuid.uuid4())
        values = (
            type_id,
            check.text("name", name, max_length=255),
            validation.description(description),
            check.boolean("is_public", is_public),
            dumps(_specs(group_specs)),
            now(),
        )
        async with self.store.db.transaction() as conn:
            try:
                await write(
                    conn,
                    "INSERT INTO group_types (id, name, description, is_public, group_specs,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    values,
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"Group Type {values[1]} already exists.") from None
            created = await group_type_in(conn, ctx, type_id)
        log.info("volume.group_type_created", group_type_id=type_id)
        return created

    @endpoint
    async def group_type_get(self, ctx: RequestContext, type_id: str) -> dict[str, Any]:
        """One group type the caller may see (a private one: admins only)."""
        async with self.store.db.transaction() as conn:
            return await group_type_in(conn, ctx, check.text("type_id", type_id))

    @endpoint
    async def group_type_list(
        self, ctx: RequestContext, is_public: bool | None = True, sort: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The group types the caller may see (admins: public, private or, None, both)."""
        key, direction = parse_sort(sort)
        if not ctx.is_admin:
            is_public = True
        params = () if is_public is None else (is_public,)
        rows = await self.store.db.fetchall(_LIST_SQL[is_public is None, key, direction], params)
        return [type_record(row) for row in rows]

    @endpoint
    async def group_type_update(
        self, ctx: RequestContext, type_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a group type's name, description or publicity (admins)."""
        self.policy.authorize(ctx, MANAGE, _ANY)
        columns = _changes(changes)
        async with self.store.db.transaction() as conn:
            found = await group_type_in(conn, ctx, check.text("type_id", type_id))
            try:
                for column, value in columns.items():
                    await write(
                        conn,
                        f"UPDATE group_types SET {column} = ?, updated_at = ? WHERE id = ?",
                        (value, now(), found["id"]),
                    )
            except sqlite3.IntegrityError:
                raise Conflict(f"Group Type {columns['name']} already exists.") from None
            return await group_type_in(conn, ctx, found["id"])

    @endpoint
    async def group_type_delete(self, ctx: RequestContext, type_id: str) -> None:
        """Delete a group type no group has (admins)."""
        self.policy.authorize(ctx, MANAGE, _ANY)
        async with self.store.db.transaction() as conn:
            found = await group_type_in(conn, ctx, check.text("type_id", type_id))
            async with conn.execute(
                "SELECT count(*) FROM volume_groups WHERE group_type_id = ?", (found["id"],)
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and row[0]:
                raise Invalid(
                    f"Group Type {found['id']} deletion is not allowed with groups present"
                    " with the type."
                )
            await write(conn, "DELETE FROM group_types WHERE id = ?", (found["id"],))
        log.info("volume.group_type_deleted", group_type_id=found["id"])

    # -- group specs ------------------------------------------------------------------

    @endpoint
    async def group_specs_get(self, ctx: RequestContext, type_id: str) -> dict[str, str]:
        """A group type's specs (admins)."""
        self.policy.authorize(ctx, SPECS, _ANY)
        async with self.store.db.transaction() as conn:
            found = await group_type_in(conn, ctx, check.text("type_id", type_id))
        specs: dict[str, str] = found["group_specs"]
        return specs

    @endpoint
    async def group_specs_set(
        self, ctx: RequestContext, type_id: str, specs: dict[str, str]
    ) -> dict[str, str]:
        """Add or change some of a group type's specs (admins); those given."""
        self.policy.authorize(ctx, SPECS, _ANY)
        given = _specs(specs)
        async with self.store.db.transaction() as conn:
            found = await group_type_in(conn, ctx, check.text("type_id", type_id))
            merged = {**found["group_specs"], **given}
            await self._save_specs(conn, found["id"], merged)
        return given

    @endpoint
    async def group_specs_delete(self, ctx: RequestContext, type_id: str, key: str) -> None:
        """Remove one spec of a group type (admins); `NotFound` if it has none by `key`."""
        self.policy.authorize(ctx, SPECS, _ANY)
        async with self.store.db.transaction() as conn:
            found = await group_type_in(conn, ctx, check.text("type_id", type_id))
            specs = dict(found["group_specs"])
            if specs.pop(key, None) is None:
                raise NotFound(f"Group Type {found['id']} has no specs with key {key}.")
            await self._save_specs(conn, found["id"], specs)

    async def _save_specs(self, conn: Any, type_id: str, specs: dict[str, str]) -> None:
        await write(
            conn,
            "UPDATE group_types SET group_specs = ?, updated_at = ? WHERE id = ?",
            (orjson.dumps(specs).decode(), now(), type_id),
        )


def _changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The columns a group type update sets; `Invalid` when it sets none."""
    columns: dict[str, Any] = {}
    if changes.get("name") is not None:
        columns["name"] = check.text("name", changes["name"], max_length=255)
    if "description" in changes:
        columns["description"] = validation.description(changes["description"])
    if changes.get("is_public") is not None:
        columns["is_public"] = check.boolean("is_public", changes["is_public"])
    if not columns:
        raise Invalid("Specify group type name, description or a combination thereof.")
    return columns
