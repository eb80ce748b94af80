"""The conductor's key pairs (Nova keeps them in its API database): each user's, by name.

A key pair belongs to a user, not a project, and its name is unique for that user
(a second one is a `Conflict`, 409). Only the public half is kept. The count of a
user's key pairs is checked against its ``key_pairs`` quota (the quota book's: the
project's or the user's own limit, ``[quota] key_pairs`` by default, as ``/limits``
and ``os-quota-sets`` show it) in the same write transaction as the insert, so two
racing creates cannot both take the last one.
Lists are ordered by name, paged with a name as the marker (microversion 2.35).
"""

from __future__ import annotations

import sqlite3
from typing import ClassVar

import attrs

from nova_lite import objects
from nova_lite.conductor.quotas import QuotaBook
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Invalid, KeypairNotFound, QuotaExceeded
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["KeypairRecords"]


class KeypairRecords:
    """The conductor endpoints that keep users' key pairs."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(self, db: Database, *, quotas: QuotaBook) -> None:
        self.db = db
        self.quotas = quotas

    def __repr__(self) -> str:
        return f"<KeypairRecords {self.db!r}>"

    @endpoint
    async def keypair_create(
        self, ctx: RequestContext, keypair: objects.KeyPair
    ) -> objects.KeyPair:
        """Keep `keypair` (its id is given here), within its user's quota."""
        limits = await self.quotas.limits(ctx.project_id or "", keypair.user_id)
        limit = limits["key_pairs"]
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "SELECT COUNT(*) FROM key_pairs WHERE user_id = ?", (keypair.user_id,)
            )
            row = await cursor.fetchone()
            count = row[0] if row is not None else 0
            if 0 <= limit <= count:
                raise QuotaExceeded(
                    f"Quota exceeded, too many key pairs: user {keypair.user_id} has {count} "
                    f"of the {limit} allowed (the key_pairs quota).",
                    resource="key_pairs",
                )
            try:
                cursor = await conn.execute(
                    "INSERT INTO key_pairs (user_id, name, data) VALUES (?, ?, '')",
                    (keypair.user_id, keypair.name),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"Key pair '{keypair.name}' already exists.") from None
            created = attrs.evolve(keypair, id=cursor.lastrowid or 0)
            await conn.execute(
                "UPDATE key_pairs SET data = ? WHERE id = ?", (objects.dump(created), created.id)
            )
        return created

    @endpoint
    async def keypair_get(self, ctx: RequestContext, user_id: str, name: str) -> objects.KeyPair:
        """The user's key pair `name`, or `KeypairNotFound` (404)."""
        row = await self.db.fetchone(
            "SELECT data FROM key_pairs WHERE user_id = ? AND name = ?", (user_id, name)
        )
        if row is None:
            raise KeypairNotFound(f"Keypair {name} not found for user {user_id}")
        return objects.load(objects.KeyPair, row["data"])

    @endpoint
    async def keypair_list(
        self,
        ctx: RequestContext,
        user_id: str,
        limit: int | None = None,
        marker: str | None = None,
    ) -> list[objects.KeyPair]:
        """The user's key pairs by name, after `marker` (a name), at most `limit` of them."""
        if marker is not None:
            await self._check_marker(user_id, marker)
        rows = await self.db.fetchall(
            "SELECT data FROM key_pairs WHERE user_id = ? AND (? IS NULL OR name > ?) "
            "ORDER BY name LIMIT ?",
            (user_id, marker, marker, -1 if limit is None else limit),
        )
        return [objects.load(objects.KeyPair, r["data"]) for r in rows]

    async def _check_marker(self, user_id: str, marker: str) -> None:
        row = await self.db.fetchone(
            "SELECT 1 FROM key_pairs WHERE user_id = ? AND name = ?", (user_id, marker)
        )
        if row is None:
            raise Invalid(f"marker [{marker}] not found")

    @endpoint
    async def keypair_delete(self, ctx: RequestContext, user_id: str, name: str) -> None:
        """Forget the user's key pair `name` (servers booted with it keep their copy)."""
        deleted = await self.db.execute(
            "DELETE FROM key_pairs WHERE user_id = ? AND name = ?", (user_id, name)
        )
        if not deleted:
            raise KeypairNotFound(f"Keypair {name} not found for user {user_id}")
