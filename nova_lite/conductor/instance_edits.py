"""The conductor's edits of a server's metadata and tags, each one compare-and-swap.

``PUT /servers/{id}/metadata/{key}`` or ``PUT /servers/{id}/tags/{tag}`` changes one
item of a collection the record holds. Reading the record in the API and writing
the whole collection back would lose a concurrent edit, so the edit is sent here
and merged into the record as it is when it is saved (`InstanceStore.edit`), the
limits checked on the merged result: at most ``MAX_SERVER_META`` metadata items
(403, Nova's ``metadata_items`` quota) and ``MAX_TAGS`` tags (400).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.conductor.instance_store import InstanceStore
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound, QuotaExceeded
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["MAX_SERVER_META", "MAX_TAGS", "InstanceEdits"]

MAX_SERVER_META = 128  # maxServerMeta in /limits: Nova's metadata_items quota
MAX_TAGS = 50  # Nova's per-server limit of tags


class InstanceEdits:
    """The conductor endpoints that edit a server's metadata and tags in place."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(self, store: InstanceStore, notifier: Notifier) -> None:
        self.store = store
        self.notifier = notifier

    def __repr__(self) -> str:
        return "<InstanceEdits>"

    @endpoint
    async def instance_edit_metadata(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        items: dict[str, str],
        remove: list[str],
        replace: bool = False,
    ) -> objects.Instance:
        """Set `items` (all of the metadata if `replace`) and drop the keys in `remove`."""

        def change(current: objects.Instance) -> Mapping[str, Any]:
            merged = {} if replace else dict(current.metadata)
            for key in remove:
                if key not in merged:
                    raise NotFound("Metadata item was not found")
                del merged[key]
            merged.update(items)
            _check_metadata_count(len(merged))
            return {"metadata": merged}

        return await self._save(ctx, instance_uuid, change)

    @endpoint
    async def instance_edit_tags(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        add: list[str],
        remove: list[str],
        replace: bool = False,
    ) -> objects.Instance:
        """Add the tags `add` (the only tags if `replace`) and drop those in `remove`."""

        def change(current: objects.Instance) -> Mapping[str, Any]:
            tags = [] if replace else list(current.tags)
            for tag in remove:
                if tag not in tags:
                    raise NotFound(f"Tag {tag!r} of instance {instance_uuid} was not found.")
                tags.remove(tag)
            tags.extend(t for t in dict.fromkeys(add) if t not in tags)
            if len(tags) > MAX_TAGS:
                raise Invalid(f"The number of tags exceeded the per-server limit {MAX_TAGS}.")
            return {"tags": tuple(tags)}

        return await self._save(ctx, instance_uuid, change)

    async def _save(self, ctx: RequestContext, instance_uuid: str, change: Any) -> objects.Instance:
        instance = await self.store.edit(instance_uuid, change)
        await self.notifier.info(ctx, "instance.update", instance_payload(instance))
        return instance


def _check_metadata_count(count: int) -> None:
    if count > MAX_SERVER_META:
        raise QuotaExceeded(
            f"Quota exceeded for metadata_items: {count} metadata items are more than the "
            f"{MAX_SERVER_META} allowed (maxServerMeta).",
            resource="metadata_items",
        )
