"""Flavors: the records, who may use a private one, and their extra specs.

A flavor is public (every project may boot from it) or private: then only the
projects on its access list, and administrators, see it at all (Nova's
``flavor_projects``); to anyone else it is "not found". `FlavorStore` owns the
``flavors`` and ``flavor_projects`` tables; `FlavorRecords` is the conductor part
that serves them over RPC. Instances embed the flavor they were built with, so a
flavor may be deleted (or its extra specs changed) while servers use it, as in Nova.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from nova_lite import objects
from nova_lite.admin import require_admin
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, FlavorNotFound, Invalid, NotFound
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["FlavorRecords", "FlavorStore"]

_UPDATABLE = frozenset({"description", "extra_specs"})


def _not_found(ref: str) -> FlavorNotFound:
    return FlavorNotFound(f"Flavor {ref} could not be found.", flavor_id=ref)


class FlavorStore:
    """Reads and writes the conductor's flavor and flavor-access tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, flavor: objects.Flavor) -> objects.Flavor:
        """Record a new flavor; `Conflict` if its id or name is taken (Nova's FlavorExists)."""
        try:
            await self.db.execute(
                "INSERT INTO flavors (flavorid, name, data) VALUES (?, ?, ?)",
                (flavor.flavorid, flavor.name, objects.dump(flavor)),
            )
        except sqlite3.IntegrityError:
            raise Conflict(
                f"Flavor with ID {flavor.flavorid} or name {flavor.name!r} already exists."
            ) from None
        return flavor

    async def get(self, ref: str, *, project_id: str | None = None) -> objects.Flavor:
        """The flavor with id `ref` (or else named `ref`).

        With `project_id`, a private flavor that project has no access to is not found.
        """
        row = await self.db.fetchone(
            "SELECT data FROM flavors WHERE flavorid = ? OR name = ? ORDER BY flavorid = ? DESC",
            (ref, ref, ref),
        )
        if row is None:
            raise _not_found(ref)
        flavor = objects.load(objects.Flavor, row["data"])
        if project_id is not None and not await self._usable(flavor, project_id):
            raise _not_found(ref)
        return flavor

    async def _usable(self, flavor: objects.Flavor, project_id: str) -> bool:
        return flavor.is_public or project_id in await self.projects(flavor.flavorid)

    async def visible(
        self, *, is_public: bool | None = True, project_id: str | None = None
    ) -> list[objects.Flavor]:
        """Flavors, by id: public ones (and those `project_id` may use), private ones, or all.

        As Nova's ``is_public`` filter: True lists the public flavors and the private
        ones `project_id` is on the access list of; False only private ones; None all.
        """
        rows = await self.db.fetchall("SELECT data FROM flavors ORDER BY flavorid")
        flavors = [objects.load(objects.Flavor, r["data"]) for r in rows]
        if is_public is None:
            return flavors
        shared: set[str] = set()
        if is_public and project_id is not None:
            found = await self.db.fetchall(
                "SELECT flavorid FROM flavor_projects WHERE project_id = ?", (project_id,)
            )
            shared = {r["flavorid"] for r in found}
        return [f for f in flavors if f.is_public == is_public or f.flavorid in shared]

    async def update(self, flavorid: str, values: Mapping[str, Any]) -> objects.Flavor:
        """Change a flavor's description or extra specs (nothing else of a flavor changes)."""
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise Invalid(f"Cannot update flavor fields {sorted(unknown)}.")
        async with self.db.transaction() as conn:
            cursor = await conn.execute("SELECT data FROM flavors WHERE flavorid = ?", (flavorid,))
            row = await cursor.fetchone()
            if row is None:
                raise _not_found(flavorid)
            flavor = attrs.evolve(objects.load(objects.Flavor, row["data"]), **values)
            await conn.execute(
                "UPDATE flavors SET data = ? WHERE flavorid = ?", (objects.dump(flavor), flavorid)
            )
        return flavor

    async def delete(self, flavorid: str) -> None:
        """Forget a flavor and its access list (servers keep the copy they embed)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM flavors WHERE flavorid = ?", (flavorid,))
            if cursor.rowcount == 0:
                raise _not_found(flavorid)
            await conn.execute("DELETE FROM flavor_projects WHERE flavorid = ?", (flavorid,))

    async def projects(self, flavorid: str) -> list[str]:
        """The projects on a flavor's access list, sorted."""
        rows = await self.db.fetchall(
            "SELECT project_id FROM flavor_projects WHERE flavorid = ? ORDER BY project_id",
            (flavorid,),
        )
        return [r["project_id"] for r in rows]

    async def add_project(self, flavorid: str, project_id: str) -> None:
        """Let a project use a private flavor; `Conflict` if it already may."""
        try:
            await self.db.execute(
                "INSERT INTO flavor_projects (flavorid, project_id) VALUES (?, ?)",
                (flavorid, project_id),
            )
        except sqlite3.IntegrityError:
            raise Conflict(
                f"Flavor access already exists for flavor {flavorid} and project {project_id} "
                "combination."
            ) from None

    async def remove_project(self, flavorid: str, project_id: str) -> None:
        """Take a project off a flavor's access list; `NotFound` if it was not on it."""
        removed = await self.db.execute(
            "DELETE FROM flavor_projects WHERE flavorid = ? AND project_id = ?",
            (flavorid, project_id),
        )
        if removed == 0:
            raise NotFound(f"Flavor access not found for {flavorid} / {project_id} combination.")


def _project_filter(ctx: RequestContext) -> str | None:
    """The project whose access counts: None (every flavor) for administrators."""
    return None if ctx.is_admin else (ctx.project_id or "")


class FlavorRecords:
    """The conductor endpoints of flavors: create, read, update, delete and access."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(self, store: FlavorStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return "<FlavorRecords>"

    @endpoint
    async def flavor_create(self, ctx: RequestContext, flavor: objects.Flavor) -> objects.Flavor:
        require_admin(ctx, "create flavors")
        return await self.store.create(flavor)

    @endpoint
    async def flavor_get(self, ctx: RequestContext, flavor_ref: str) -> objects.Flavor:
        """A flavor the caller may use (a private one only on its access list, or admins)."""
        return await self.store.get(flavor_ref, project_id=_project_filter(ctx))

    @endpoint
    async def flavor_list(
        self, ctx: RequestContext, is_public: bool | None = True
    ) -> list[objects.Flavor]:
        """The flavors the caller sees; only administrators choose `is_public` (else True)."""
        if not ctx.is_admin:
            is_public = True
        return await self.store.visible(is_public=is_public, project_id=ctx.project_id)

    @endpoint
    async def flavor_update(
        self,
        ctx: RequestContext,
        flavorid: str,
        description: str | None = None,
        extra_specs: dict[str, str] | None = None,
    ) -> objects.Flavor:
        """Set a flavor's description and/or replace its extra specs (administrators)."""
        require_admin(ctx, "update flavors")
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if extra_specs is not None:
            values["extra_specs"] = dict(extra_specs)
        return await self.store.update(flavorid, values)

    @endpoint
    async def flavor_delete(self, ctx: RequestContext, flavorid: str) -> None:
        require_admin(ctx, "delete flavors")
        await self.store.delete(flavorid)

    @endpoint
    async def flavor_access_list(self, ctx: RequestContext, flavorid: str) -> list[str]:
        """The projects that may use a private flavor (administrators)."""
        require_admin(ctx, "list flavor access")
        await self.store.get(flavorid)
        return await self.store.projects(flavorid)

    @endpoint
    async def flavor_access_add(
        self, ctx: RequestContext, flavorid: str, project_id: str
    ) -> list[str]:
        require_admin(ctx, "add flavor access")
        flavor = await self.store.get(flavorid)
        if flavor.is_public:
            raise Conflict(f"Can not add access to a public flavor ({flavorid}).")
        await self.store.add_project(flavorid, project_id)
        return await self.store.projects(flavorid)

    @endpoint
    async def flavor_access_remove(
        self, ctx: RequestContext, flavorid: str, project_id: str
    ) -> list[str]:
        require_admin(ctx, "remove flavor access")
        await self.store.get(flavorid)
        await self.store.remove_project(flavorid, project_id)
        return await self.store.projects(flavorid)
