"""Host aggregates, and the availability zones they define (Nova's os-aggregates).

An aggregate is a named set of compute hosts with free-form metadata; the metadata
key ``availability_zone`` puts its hosts in that zone (a host in no such aggregate
is in its own ``[compute] availability_zone``, Nova's ``default_availability_zone``).
As in Nova, a host is in one zone at most: adding it to a second aggregate of
another zone, or giving an aggregate a zone its hosts' other aggregates contradict,
is refused, and so is changing the zone of an aggregate whose hosts run servers
(adding a host that runs servers is not: Nova allows it too). The zone of
every aggregated host (`host_zones`) goes into each request spec, where the
scheduler's AvailabilityZoneFilter reads it.
"""

from __future__ import annotations

import builtins
import datetime
import sqlite3
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.admin import require_admin
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Invalid, NotFound
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["ZONE_KEY", "AggregateRecords", "AggregateStore"]

ZONE_KEY = "availability_zone"


def _time(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value)


def _not_found(aggregate_id: int) -> NotFound:
    return NotFound(f"Aggregate {aggregate_id} could not be found.", aggregate_id=aggregate_id)


class AggregateStore:
    """Reads and writes the conductor's aggregate tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str, zone: str | None) -> objects.Aggregate:
        """A new aggregate; `Conflict` if the name is taken (in any letter case)."""
        now = objects.utcnow().isoformat()
        async with self.db.transaction() as conn:
            try:
                cursor = await conn.execute(
                    "INSERT INTO aggregates (uuid, name, created_at) VALUES (?, ?, ?)",
                    (str(uuid.uuid4()), name, now),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"Aggregate {name} already exists.") from None
            aggregate_id = cursor.lastrowid
            if zone is not None:
                await conn.execute(
                    "INSERT INTO aggregate_metadata (aggregate_id, key, value) VALUES (?, ?, ?)",
                    (aggregate_id, ZONE_KEY, zone),
                )
        assert aggregate_id is not None
        return await self.get(aggregate_id)

    async def get(self, aggregate_id: int) -> objects.Aggregate:
        row = await self.db.fetchone("SELECT * FROM aggregates WHERE id = ?", (aggregate_id,))
        if row is None:
            raise _not_found(aggregate_id)
        return await self._aggregate(row)

    async def _aggregate(self, row: Any) -> objects.Aggregate:
        hosts = await self.db.fetchall(
            "SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY host", (row["id"],)
        )
        metadata = await self.db.fetchall(
            "SELECT key, value FROM aggregate_metadata WHERE aggregate_id = ?", (row["id"],)
        )
        return objects.Aggregate(
            id=row["id"],
            uuid=row["uuid"],
            name=row["name"],
            hosts=tuple(h["host"] for h in hosts),
            metadata={m["key"]: m["value"] for m in metadata},
            created_at=datetime.datetime.fromisoformat(row["created_at"]),
            updated_at=_time(row["updated_at"]),
        )

    async def list(self) -> builtins.list[objects.Aggregate]:
        rows = await self.db.fetchall("SELECT * FROM aggregates ORDER BY id")
        return [await self._aggregate(row) for row in rows]

    async def host_zones(self) -> dict[str, str]:
        """The zone of every host in an aggregate that has one."""
        rows = await self.db.fetchall(
            "SELECT h.host, m.value FROM aggregate_hosts h JOIN aggregate_metadata m "
            "ON m.aggregate_id = h.aggregate_id AND m.key = ?",
            (ZONE_KEY,),
        )
        return {r["host"]: r["value"] for r in rows}

    async def rename(self, aggregate_id: int, name: str) -> None:
        try:
            changed = await self.db.execute(
                "UPDATE aggregates SET name = ?, updated_at = ? WHERE id = ?",
                (name, objects.utcnow().isoformat(), aggregate_id),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"Aggregate {name} already exists.") from None
        if changed == 0:
            raise _not_found(aggregate_id)

    async def set_metadata(self, aggregate_id: int, changes: Mapping[str, str | None]) -> None:
        """Set (or, for None, remove) metadata keys, after checking a zone change is safe."""
        aggregate = await self.get(aggregate_id)
        if ZONE_KEY in changes and changes[ZONE_KEY] != aggregate.availability_zone:
            await self._check_zone_change(aggregate, changes[ZONE_KEY])
        async with self.db.transaction() as conn:
            for key, value in changes.items():
                if value is None:
                    await conn.execute(
                        "DELETE FROM aggregate_metadata WHERE aggregate_id = ? AND key = ?",
                        (aggregate_id, key),
                    )
                else:
                    await conn.execute(
                        "INSERT OR REPLACE INTO aggregate_metadata (aggregate_id, key, value) "
                        "VALUES (?, ?, ?)",
                        (aggregate_id, key, value),
                    )
            await conn.execute(
                "UPDATE aggregates SET updated_at = ? WHERE id = ?",
                (objects.utcnow().isoformat(), aggregate_id),
            )

    async def _check_zone_change(self, aggregate: objects.Aggregate, zone: str | None) -> None:
        for host in aggregate.hosts:
            others = await self._zones_of(host, but=aggregate.id)
            if zone is not None and others - {zone}:
                raise Invalid(
                    f"Cannot update aggregate {aggregate.id}: host {host} is already in "
                    f"availability zone(s) {', '.join(sorted(others))}."
                )
        busy = await self._hosts_with_servers(aggregate.hosts)
        if busy:
            raise Invalid(
                f"Cannot update aggregate {aggregate.id}: one or more hosts contain "
                f"instances in this zone ({', '.join(busy)})."
            )

    async def _zones_of(self, host: str, *, but: int) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT m.value FROM aggregate_hosts h JOIN aggregate_metadata m "
            "ON m.aggregate_id = h.aggregate_id AND m.key = ? "
            "WHERE h.host = ? AND h.aggregate_id != ?",
            (ZONE_KEY, host, but),
        )
        return {r["value"] for r in rows}

    async def _hosts_with_servers(self, hosts: tuple[str, ...]) -> builtins.list[str]:
        busy = []
        for host in hosts:
            row = await self.db.fetchone(
                "SELECT 1 FROM instances WHERE host = ? AND deleted = 0 LIMIT 1", (host,)
            )
            if row is not None:
                busy.append(host)
        return busy

    async def add_host(self, aggregate_id: int, host: str) -> None:
        """Put a host in the aggregate (and its zone, if it has one)."""
        aggregate = await self.get(aggregate_id)
        if host in aggregate.hosts:
            raise Conflict(f"Aggregate {aggregate_id} already has host {host}.")
        zone = aggregate.availability_zone
        others = await self._zones_of(host, but=aggregate_id)
        if zone is not None and others - {zone}:
            raise Invalid(
                f"Cannot add host to aggregate {aggregate_id}. Reason: One or more hosts "
                f"already in availability zone(s) {sorted(others)}."
            )
        await self.db.execute(
            "INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)", (aggregate_id, host)
        )

    async def remove_host(self, aggregate_id: int, host: str) -> None:
        await self.get(aggregate_id)
        removed = await self.db.execute(
            "DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?",
            (aggregate_id, host),
        )
        if removed == 0:
            raise NotFound(f"Cannot remove host {host} in aggregate {aggregate_id}: not found.")

    async def delete(self, aggregate_id: int) -> None:
        aggregate = await self.get(aggregate_id)
        if aggregate.hosts:
            raise Invalid(
                f"Cannot delete aggregate {aggregate_id}. Reason: Host aggregate is not empty."
            )
        await self.db.execute("DELETE FROM aggregates WHERE id = ?", (aggregate_id,))


class AggregateRecords:
    """The conductor endpoints of host aggregates (administrators only, but the zones)."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(self, store: AggregateStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return "<AggregateRecords>"

    @endpoint
    async def aggregate_create(
        self, ctx: RequestContext, name: str, availability_zone: str | None = None
    ) -> objects.Aggregate:
        require_admin(ctx, "create aggregates")
        return await self.store.create(name, availability_zone)

    @endpoint
    async def aggregate_get(self, ctx: RequestContext, aggregate_id: int) -> objects.Aggregate:
        require_admin(ctx, "read aggregates")
        return await self.store.get(aggregate_id)

    @endpoint
    async def aggregate_list(self, ctx: RequestContext) -> list[objects.Aggregate]:
        require_admin(ctx, "list aggregates")
        return await self.store.list()

    @endpoint
    async def aggregate_update(
        self,
        ctx: RequestContext,
        aggregate_id: int,
        name: str | None = None,
        metadata: dict[str, str | None] | None = None,
    ) -> objects.Aggregate:
        """Rename the aggregate and/or change its metadata (None values remove keys)."""
        require_admin(ctx, "update aggregates")
        if name is not None:
            await self.store.rename(aggregate_id, name)
        if metadata:
            await self.store.set_metadata(aggregate_id, metadata)
        return await self.store.get(aggregate_id)

    @endpoint
    async def aggregate_add_host(
        self, ctx: RequestContext, aggregate_id: int, host: str
    ) -> objects.Aggregate:
        require_admin(ctx, "add hosts to aggregates")
        await self.store.add_host(aggregate_id, host)
        return await self.store.get(aggregate_id)

    @endpoint
    async def aggregate_remove_host(
        self, ctx: RequestContext, aggregate_id: int, host: str
    ) -> objects.Aggregate:
        require_admin(ctx, "remove hosts from aggregates")
        await self.store.remove_host(aggregate_id, host)
        return await self.store.get(aggregate_id)

    @endpoint
    async def aggregate_delete(self, ctx: RequestContext, aggregate_id: int) -> None:
        require_admin(ctx, "delete aggregates")
        await self.store.delete(aggregate_id)

    @endpoint
    async def host_zones(self, ctx: RequestContext) -> dict[str, str]:
        """The availability zone of every host an aggregate puts in one (anyone may ask)."""
        return await self.store.host_zones()
