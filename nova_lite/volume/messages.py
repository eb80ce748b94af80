"""User messages (Cinder's messages API, 3.3): what went wrong with a caller's request.

A volume no backend can hold (its type's extra specs ask for another backend) is
created in ``error``, and its project gets a message saying so, kept for
`MESSAGE_TTL` (Cinder's ``message_ttl``, 30 days); readers of the project list and
show them, members delete them.
"""

from __future__ import annotations

import builtins
import datetime
import sqlite3
import uuid
from typing import Any

import aiosqlite

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import NotFound
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume.store import VolumeStore, write

__all__ = ["MESSAGE_TTL", "MessageRecords", "record"]

MESSAGE_TTL = datetime.timedelta(days=30)
NO_BACKEND = (
    "VOLUME_VOLUME_001_003",
    "schedule allocate volume:Could not find any available weighted backend.",
)


async def record(
    conn: aiosqlite.Connection,
    ctx: RequestContext,
    resource_uuid: str,
    event: tuple[str, str] = NO_BACKEND,
) -> None:
    """Leave the caller's project a message about `resource_uuid` (in `conn`'s write)."""
    created = objects.utcnow()
    event_id, text = event
    await write(
        conn,
        "INSERT INTO messages (id, project_id, request_id, resource_type, resource_uuid, "
        "event_id, message_level, user_message, created_at, expires_at) "
        "VALUES (?, ?, ?, 'VOLUME', ?, ?, 'ERROR', ?, ?, ?)",
        (
            str(uuid.uuid4()),
            ctx.project_id,
            ctx.request_id,
            resource_uuid,
            event_id,
            text,
            created.isoformat(),
            (created + MESSAGE_TTL).isoformat(),
        ),
    )


class MessageRecords:
    """The user message endpoints (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer) -> None:
        self.store = store
        self.policy = policy

    @endpoint
    async def message_list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """The caller's project's messages not yet expired (every project's, for admins)."""
        self.policy.authorize(ctx, "message:get_all", {"project_id": ctx.project_id})
        rows = await self.store.db.fetchall(
            "SELECT * FROM messages WHERE (? OR project_id = ?) AND expires_at > ? ORDER BY rowid",
            (ctx.is_admin, ctx.project_id, objects.utcnow().isoformat()),
        )
        return [_shown(row) for row in rows]

    @endpoint
    async def message_get(self, ctx: RequestContext, message_id: str) -> dict[str, Any]:
        """One message of the caller's project."""
        message = await self._visible(ctx, check.text("message_id", message_id))
        self.policy.authorize(ctx, "message:get", {"project_id": message["project_id"]})
        return message

    @endpoint
    async def message_delete(self, ctx: RequestContext, message_id: str) -> None:
        """Delete one message of the caller's project."""
        message = await self._visible(ctx, check.text("message_id", message_id))
        self.policy.authorize(ctx, "message:delete", {"project_id": message["project_id"]})
        async with self.store.db.transaction() as conn:
            await write(conn, "DELETE FROM messages WHERE id = ?", (message["id"],))

    async def _visible(self, ctx: RequestContext, message_id: str) -> dict[str, Any]:
        row = await self.store.db.fetchone(
            "SELECT * FROM messages WHERE id = ? AND (? OR project_id = ?)",
            (message_id, ctx.is_admin, ctx.project_id),
        )
        if row is None:
            raise NotFound(f"Message {message_id} could not be found.")
        return _shown(row)


def _shown(row: sqlite3.Row) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
