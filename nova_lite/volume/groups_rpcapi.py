"""The client side of the volume service's generic volume groups: group types and
their specs, groups, group snapshots (the API calls these; every method is a call).

A mixin of `VolumeAPI` (``rpcapi.py``), kept apart so that each module stays small:
the methods are named as the endpoints `GroupTypeRecords`, `GroupRecords` and
`GroupSnapshotRecords` serve on the ``volume`` topic.
"""

from __future__ import annotations

import builtins
from typing import Any

from nova_lite.context import RequestContext
from nova_lite.rpc import Invoker

__all__ = ["VolumeGroupCalls"]

Record = dict[str, Any]


class VolumeGroupCalls:
    """The volume service's group endpoints (mixed into `VolumeAPI`, which holds the
    Invoker aimed at the volume topic)."""

    invoker: Invoker

    async def _call(self, ctx: RequestContext, method: str, **kwargs: Any) -> Any:
        return await self.invoker.call(ctx, method, **kwargs)

    # -- group types ----------------------------------------------------------------

    async def group_type_create(self, ctx: RequestContext, name: str, **fields: Any) -> Record:
        """A new group type (``description``, ``is_public``, ``group_specs``; admins)."""
        result: Record = await self._call(ctx, "group_type_create", name=name, **fields)
        return result

    async def group_type_get(self, ctx: RequestContext, type_id: str) -> Record:
        """One group type."""
        result: Record = await self._call(ctx, "group_type_get", type_id=type_id)
        return result

    async def group_type_list(
        self, ctx: RequestContext, *, is_public: bool | None = True, sort: str | None = None
    ) -> builtins.list[Record]:
        """The group types the caller may see."""
        result: builtins.list[Record] = await self._call(
            ctx, "group_type_list", is_public=is_public, sort=sort
        )
        return result

    async def group_type_update(self, ctx: RequestContext, type_id: str, changes: Record) -> Record:
        """Change a group type (admins)."""
        result: Record = await self._call(
            ctx, "group_type_update", type_id=type_id, changes=changes
        )
        return result

    async def group_type_delete(self, ctx: RequestContext, type_id: str) -> None:
        """Delete a group type no group has (admins)."""
        await self._call(ctx, "group_type_delete", type_id=type_id)

    async def group_specs_get(self, ctx: RequestContext, type_id: str) -> dict[str, str]:
        """A group type's specs (admins)."""
        result: dict[str, str] = await self._call(ctx, "group_specs_get", type_id=type_id)
        return result

    async def group_specs_set(
        self, ctx: RequestContext, type_id: str, specs: dict[str, str]
    ) -> dict[str, str]:
        """Add or change group specs (admins); those given."""
        result: dict[str, str] = await self._call(
            ctx, "group_specs_set", type_id=type_id, specs=specs
        )
        return result

    async def group_specs_delete(self, ctx: RequestContext, type_id: str, key: str) -> None:
        """Remove one group spec (admins)."""
        await self._call(ctx, "group_specs_delete", type_id=type_id, key=key)

    # -- groups -----------------------------------------------------------------------

    async def group_create(
        self, ctx: RequestContext, group_type: str, volume_types: builtins.list[str], **fields: Any
    ) -> Record:
        """A new group (``name``, ``description``, ``availability_zone``)."""
        result: Record = await self._call(
            ctx, "group_create", group_type=group_type, volume_types=volume_types, **fields
        )
        return result

    async def group_create_from_source(self, ctx: RequestContext, **fields: Any) -> Record:
        """A group copied from ``source_group_id`` or ``group_snapshot_id``."""
        result: Record = await self._call(ctx, "group_create_from_source", **fields)
        return result

    async def group_get(self, ctx: RequestContext, group_id: str) -> Record:
        """One group."""
        result: Record = await self._call(ctx, "group_get", group_id=group_id)
        return result

    async def group_list(
        self, ctx: RequestContext, *, all_projects: bool = False
    ) -> builtins.list[Record]:
        """The caller's project's groups (an admin's `all_projects`: every project's)."""
        result: builtins.list[Record] = await self._call(
            ctx, "group_list", all_projects=all_projects
        )
        return result

    async def group_update(self, ctx: RequestContext, group_id: str, **changes: Any) -> Record:
        """Rename a group, add or remove volumes."""
        result: Record = await self._call(ctx, "group_update", group_id=group_id, **changes)
        return result

    async def group_delete(
        self, ctx: RequestContext, group_id: str, *, delete_volumes: bool
    ) -> None:
        """Delete a group (and, with `delete_volumes`, its volumes)."""
        await self._call(ctx, "group_delete", group_id=group_id, delete_volumes=delete_volumes)

    async def group_reset_status(self, ctx: RequestContext, group_id: str, status: str) -> None:
        """Force a group's status (admins)."""
        await self._call(ctx, "group_reset_status", group_id=group_id, status=status)

    # -- group snapshots --------------------------------------------------------------

    async def group_snapshot_create(
        self, ctx: RequestContext, group_id: str, **fields: Any
    ) -> Record:
        """Snapshot every volume of a group (``name``, ``description``)."""
        result: Record = await self._call(ctx, "group_snapshot_create", group_id=group_id, **fields)
        return result

    async def group_snapshot_get(self, ctx: RequestContext, group_snapshot_id: str) -> Record:
        """One group snapshot."""
        result: Record = await self._call(
            ctx, "group_snapshot_get", group_snapshot_id=group_snapshot_id
        )
        return result

    async def group_snapshot_list(
        self, ctx: RequestContext, *, all_projects: bool = False
    ) -> builtins.list[Record]:
        """The caller's project's group snapshots."""
        result: builtins.list[Record] = await self._call(
            ctx, "group_snapshot_list", all_projects=all_projects
        )
        return result

    async def group_snapshot_delete(self, ctx: RequestContext, group_snapshot_id: str) -> None:
        """Delete a group snapshot and its snapshots."""
        await self._call(ctx, "group_snapshot_delete", group_snapshot_id=group_snapshot_id)

    async def group_snapshot_reset_status(
        self, ctx: RequestContext, group_snapshot_id: str, status: str
    ) -> None:
        """Force a group snapshot's status (admins)."""
        await self._call(
            ctx, "group_snapshot_reset_status", group_snapshot_id=group_snapshot_id, status=status
        )
