"""QoS specs (Cinder's qos-specs): named sets of limits for a consumer, associated
with volume types.

Administrators create, change and delete them and associate them with types; a type
has at most one. There is no data path to limit, so the specs are recorded and
shown (and each type shows its ``qos_specs_id``); a spec still associated with a type
is deleted only with ``force``, which dissociates it first.
"""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from typing import Any

import orjson

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume.store import VolumeStore, dumps, now, write

__all__ = ["CONSUMERS", "QosRecords"]

CONSUMERS = ("front-end", "back-end", "both")
_M = "volume_extension:qos_specs_manage:"
_ANY = {"project_id": None}


class QosRecords:
    """The QoS specs endpoints (see the module docstring); administrators only."""

    def __init__(self, store: VolumeStore, policy: Enforcer) -> None:
        self.store = store
        self.policy = policy

    @endpoint
    async def qos_create(
        self,
        ctx: RequestContext,
        name: str,
        consumer: str = "back-end",
        specs: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """New QoS specs named `name` for `consumer` (front-end, back-end or both)."""
        self.policy.authorize(ctx, _M + "create", _ANY)
        name = check.text("name", name)
        if consumer not in CONSUMERS:
            raise Invalid(f"consumer must be one of {', '.join(CONSUMERS)}, not {consumer!r}.")
        qos_id = str(uuid.uuid4())
        async with self.store.db.transaction() as conn:
            try:
                await write(
                    conn,
                    "INSERT INTO qos_specs (id, name, consumer, specs, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (qos_id, name, consumer, dumps(_specs(specs or {})), now()),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"QoS Specs {name} already exists.") from None
        return await self._get(qos_id)

    @endpoint
    async def qos_get(self, ctx: RequestContext, qos_id: str) -> dict[str, Any]:
        """One QoS specs."""
        self.policy.authorize(ctx, _M + "get", _ANY)
        return await self._get(check.text("qos_id", qos_id))

    @endpoint
    async def qos_list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """Every QoS specs, oldest first."""
        self.policy.authorize(ctx, _M + "get_all", _ANY)
        rows = await self.store.db.fetchall("SELECT * FROM qos_specs ORDER BY rowid")
        return [_shown(row) for row in rows]

    @endpoint
    async def qos_set_keys(
        self, ctx: RequestContext, qos_id: str, specs: dict[str, str]
    ) -> dict[str, str]:
        """Add or change keys of QoS specs; those given."""
        self.policy.authorize(ctx, _M + "update", _ANY)
        current = await self._get(check.text("qos_id", qos_id))
        given = _specs(specs)
        await self._write_specs(current["id"], {**current["specs"], **given})
        return given

    @endpoint
    async def qos_unset_keys(self, ctx: RequestContext, qos_id: str, keys: list[str]) -> None:
        """Remove keys of QoS specs (`NotFound` for one it does not have)."""
        self.policy.authorize(ctx, _M + "update", _ANY)
        current = await self._get(check.text("qos_id", qos_id))
        missing = [k for k in keys if k not in current["specs"]]
        if missing:
            raise NotFound(f"QoS spec {current['id']} has no key {missing[0]!r}.")
        remaining = {k: v for k, v in current["specs"].items() if k not in keys}
        await self._write_specs(current["id"], remaining)

    @endpoint
    async def qos_delete(self, ctx: RequestContext, qos_id: str, force: bool = False) -> None:
        """Delete QoS specs no type uses (with `force`: dissociating them first)."""
        self.policy.authorize(ctx, _M + "delete", _ANY)
        current = await self._get(check.text("qos_id", qos_id))
        async with self.store.db.transaction() as conn:
            if force:
                await write(
                    conn,
                    "UPDATE volume_types SET qos_specs_id = NULL WHERE qos_specs_id = ?",
                    (current["id"],),
                )
            async with conn.execute(
                "SELECT count(*) FROM volume_types WHERE qos_specs_id = ?", (current["id"],)
            ) as cursor:
                row = await cursor.fetchone()
            if row and row[0]:
                raise Invalid(f"QoS Specs {current['id']} is still associated with entities.")
            await write(conn, "DELETE FROM qos_specs WHERE id = ?", (current["id"],))

    @endpoint
    async def qos_associate(self, ctx: RequestContext, qos_id: str, type_id: str) -> None:
        """Associate QoS specs with a volume type (which has none yet)."""
        self.policy.authorize(ctx, _M + "update", _ANY)
        current = await self._get(check.text("qos_id", qos_id))
        volume_type = await self.store.volume_type(ctx, check.text("vol_type_id", type_id))
        if volume_type.qos_specs_id not in (None, current["id"]):
            raise Invalid(f"Type {volume_type.id} is already associated with other QoS specs.")
        await self._set_type(volume_type.id, current["id"])

    @endpoint
    async def qos_disassociate(self, ctx: RequestContext, qos_id: str, type_id: str) -> None:
        """Dissociate QoS specs from one volume type."""
        self.policy.authorize(ctx, _M + "update", _ANY)
        current = await self._get(check.text("qos_id", qos_id))
        volume_type = await self.store.volume_type(ctx, check.text("vol_type_id", type_id))
        if volume_type.qos_specs_id != current["id"]:
            raise Invalid(f"Type {volume_type.id} is not associated with QoS specs {qos_id}.")
        await self._set_type(volume_type.id, None)

    @endpoint
    async def qos_disassociate_all(self, ctx: RequestContext, qos_id: str) -> None:
        """Dissociate QoS specs from every volume type."""
        self.policy.authorize(ctx, _M + "update", _ANY)
        current = await self._get(check.text("qos_id", qos_id))
        async with self.store.db.transaction() as conn:
            await write(
                conn,
                "UPDATE volume_types SET qos_specs_id = NULL WHERE qos_specs_id = ?",
                (current["id"],),
            )

    @endpoint
    async def qos_associations(
        self, ctx: RequestContext, qos_id: str
    ) -> builtins.list[dict[str, str]]:
        """The volume types QoS specs are associated with."""
        self.policy.authorize(ctx, _M + "get", _ANY)
        current = await self._get(check.text("qos_id", qos_id))
        rows = await self.store.db.fetchall(
            "SELECT id, name FROM volume_types WHERE qos_specs_id = ? ORDER BY rowid",
            (current["id"],),
        )
        return [
            {"association_type": "volume_type", "id": row["id"], "name": row["name"]}
            for row in rows
        ]

    async def _get(self, qos_id: str) -> dict[str, Any]:
        row = await self.store.db.fetchone("SELECT * FROM qos_specs WHERE id = ?", (qos_id,))
        if row is None:
            raise NotFound(f"QoS Specs {qos_id} could not be found.")
        return _shown(row)

    async def _write_specs(self, qos_id: str, specs: dict[str, str]) -> None:
        async with self.store.db.transaction() as conn:
            await write(conn, "UPDATE qos_specs SET specs = ? WHERE id = ?", (dumps(specs), qos_id))

    async def _set_type(self, type_id: str, qos_id: str | None) -> None:
        async with self.store.db.transaction() as conn:
            await write(
                conn, "UPDATE volume_types SET qos_specs_id = ? WHERE id = ?", (qos_id, type_id)
            )


def _specs(value: dict[str, Any]) -> dict[str, str]:
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise Invalid(f"QoS specs must map names to strings, not {key!r}: {item!r}.")
    return dict(value)


def _shown(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "consumer": row["consumer"],
        "specs": orjson.loads(row["specs"]),
    }
