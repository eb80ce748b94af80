"""Volume transfers (Cinder's os-volume-transfer and volume-transfers): a volume handed
from one project to another.

The owner offers an available volume (it goes ``awaiting-transfer``) and gets a
one-time key, shown only then and stored only as a salted SHA-256. Any project that
knows the transfer's id and key may accept it: the volume (and, unless
``no_snapshots``, its snapshots) becomes the acceptor's, within the acceptor's quota,
and ``available`` again; the offer is gone. Deleting the offer gives the volume back
its status.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
import uuid
from typing import Any

import aiosqlite
import structlog

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume.quotas import QuotaBook
from nova_lite.volume.store import VolumeStore, now, write

__all__ = ["TransferRecords"]

log = structlog.get_logger(__name__)

RULES = {
    "create": "volume:create_transfer",
    "get": "volume:get_transfer",
    "get_all": "volume:get_all_transfers",
    "delete": "volume:delete_transfer",
    "accept": "volume:accept_transfer",
}


def _digest(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}{key}".encode()).hexdigest()


class TransferRecords:
    """The transfer endpoints (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer, quotas: QuotaBook) -> None:
        self.store = store
        self.policy = policy
        self.quotas = quotas

    @endpoint
    async def transfer_create(
        self,
        ctx: RequestContext,
        volume_id: str,
        name: str | None = None,
        no_snapshots: bool = False,
    ) -> dict[str, Any]:
        """Offer an available volume to another project; the offer, with its key."""
        volume = await self.store.volume(ctx, check.text("volume_id", volume_id))
        self.policy.authorize(ctx, RULES["create"], {"project_id": volume.project_id})
        name = None if name is None else check.volume_name(name)
        key = secrets.token_hex(8)
        salt = secrets.token_hex(8)
        transfer_id = str(uuid.uuid4())
        async with self.store.db.transaction() as conn:
            await self.store.swap_status(
                conn, ctx, volume.id, ("available",), "awaiting-transfer", "transfer"
            )
            await write(
                conn,
                "INSERT INTO transfers (id, volume_id, name, project_id, salt, key_hash, "
                "no_snapshots, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    transfer_id,
                    volume.id,
                    name,
                    volume.project_id,
                    salt,
                    _digest(salt, key),
                    check.boolean("no_snapshots", no_snapshots),
                    now(),
                ),
            )
            offer = await self._row(conn, transfer_id)
        log.info("volume.transfer_offered", transfer_id=transfer_id, volume_id=volume.id)
        return {**offer, "auth_key": key}

    @endpoint
    async def transfer_get(self, ctx: RequestContext, transfer_id: str) -> dict[str, Any]:
        """One offer of the caller's project (any, for admins)."""
        offer = await self._visible(ctx, check.text("transfer_id", transfer_id))
        self.policy.authorize(ctx, RULES["get"], {"project_id": offer["source_project_id"]})
        return offer

    @endpoint
    async def transfer_list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """The offers of the caller's project (every project's, for admins), oldest first."""
        self.policy.authorize(ctx, RULES["get_all"], {"project_id": ctx.project_id})
        rows = await self.store.db.fetchall(
            "SELECT * FROM transfers WHERE ? OR project_id = ? ORDER BY rowid",
            (ctx.is_admin, ctx.project_id),
        )
        return [_shown(row) for row in rows]

    @endpoint
    async def transfer_delete(self, ctx: RequestContext, transfer_id: str) -> None:
        """Withdraw an offer: the volume is available again."""
        offer = await self._visible(ctx, check.text("transfer_id", transfer_id))
        self.policy.authorize(ctx, RULES["delete"], {"project_id": offer["source_project_id"]})
        async with self.store.db.transaction() as conn:
            await write(conn, "DELETE FROM transfers WHERE id = ?", (offer["id"],))
            await write(
                conn,
                "UPDATE volumes SET status = 'available', updated_at = ? "
                "WHERE id = ? AND status = 'awaiting-transfer'",
                (now(), offer["volume_id"]),
            )

    @endpoint
    async def transfer_accept(
        self, ctx: RequestContext, transfer_id: str, auth_key: str
    ) -> dict[str, Any]:
        """Take the offered volume into the caller's project, if `auth_key` is the offer's."""
        self.policy.authorize(ctx, RULES["accept"], {"project_id": ctx.project_id})
        transfer_id = check.text("transfer_id", transfer_id)
        async with self.store.db.transaction() as conn:
            async with conn.execute("SELECT * FROM transfers WHERE id = ?", (transfer_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFound(f"Transfer {transfer_id} could not be found.")
            given = _digest(row["salt"], check.text("auth_key", auth_key))
            if not hmac.compare_digest(given, row["key_hash"]):
                raise Invalid(f"Attempt to transfer {row['volume_id']} with invalid auth key.")
            await self._move(conn, ctx, row)
            offer = _shown(row)
        log.info("volume.transfer_accepted", transfer_id=transfer_id, project_id=ctx.project_id)
        return offer

    async def _move(self, conn: aiosqlite.Connection, ctx: RequestContext, row: Any) -> None:
        """Give the volume (and its snapshots) to the caller's project, within its quota."""
        volume_id = row["volume_id"]
        async with conn.execute(
            "SELECT size, (SELECT count(*) FROM snapshots WHERE volume_id = ?1), "
            "(SELECT coalesce(sum(size), 0) FROM snapshots WHERE volume_id = ?1) "
            "FROM volumes WHERE id = ?1",
            (volume_id,),
        ) as cursor:
            size, snapshots, snapshot_gb = await cursor.fetchone() or (0, 0, 0)
        moved = 0 if row["no_snapshots"] else snapshots
        await self.quotas.check(
            conn,
            ctx.project_id,
            volumes=1,
            snapshots=moved,
            gigabytes=size + (0 if row["no_snapshots"] else snapshot_gb),
        )
        await write(conn, "DELETE FROM transfers WHERE id = ?", (row["id"],))
        await write(
            conn,
            "UPDATE volumes SET project_id = ?, user_id = ?, status = 'available', "
            "updated_at = ? WHERE id = ? AND status = 'awaiting-transfer'",
            (ctx.project_id, ctx.user_id, now(), volume_id),
        )
        if not row["no_snapshots"]:
            await write(
                conn,
                "UPDATE snapshots SET project_id = ?, user_id = ? WHERE volume_id = ?",
                (ctx.project_id, ctx.user_id, volume_id),
            )

    async def _visible(self, ctx: RequestContext, transfer_id: str) -> dict[str, Any]:
        row = await self.store.db.fetchone(
            "SELECT * FROM transfers WHERE id = ? AND (? OR project_id = ?)",
            (transfer_id, ctx.is_admin, ctx.project_id),
        )
        if row is None:
            raise NotFound(f"Transfer {transfer_id} could not be found.")
        return _shown(row)

    async def _row(self, conn: aiosqlite.Connection, transfer_id: str) -> dict[str, Any]:
        async with conn.execute("SELECT * FROM transfers WHERE id = ?", (transfer_id,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return _shown(row)


def _shown(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "volume_id": row["volume_id"],
        "name": row["name"],
        "source_project_id": row["project_id"],
        "no_snapshots": bool(row["no_snapshots"]),
        "created_at": row["created_at"],
    }
