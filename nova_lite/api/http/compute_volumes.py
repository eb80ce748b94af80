"""Nova's volume proxy: ``os-volumes`` and ``os-snapshots``, below microversion 2.36.

As Nova does, every call is a call to the volume service with the caller's
credentials (so Cinder's rules decide who sees what), answered in Nova's view of a
volume (``displayName``, ``availabilityZone``, ``createdAt``, ``volumeType``,
``snapshotId``, and ``attachments`` as ``[{}]`` for a volume attached nowhere) and
of a snapshot (``volumeId``, ``displayName``, the volume's ``size``). The lists are
the caller's project's, paged by ``offset`` and ``limit`` as Nova pages them; a
create answers 200 (not Cinder's 202) with a ``Location``; a delete answers 202. A
volume Cinder refuses to act on for its status (in use, say) is a 400, as Nova
reports Cinder's refusal. From 2.36 these routes answer 404, as in Nova.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.api.http.common import API, base_url, body_of, context_of, json, query_int
from nova_lite.api.http.compute import MAX_LIMIT, PREFIX
from nova_lite.api.http.compute_security_groups import proxied
from nova_lite.api.http.volume_common import iso
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, VolumeInvalidState

__all__ = ["routes", "snapshot_view", "volume_view"]

routes = web.RouteTableDef()
VOLUMES = PREFIX + "/os-volumes"
SNAPSHOTS = PREFIX + "/os-snapshots"
RULE = "os_compute_api:os-volumes:"
T = TypeVar("T", objects.Volume, objects.VolumeSnapshot)
R = TypeVar("R")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _authorize(request: web.Request, rule: str, project: str | None) -> RequestContext:
    ctx = proxied(request)
    request.app[API].authorize(ctx, RULE + rule, project)
    return ctx


def _attachments(volume: objects.Volume) -> list[dict[str, Any]]:
    if not volume.attached_to:
        return [{}]  # Nova's shape for "attached nowhere"
    attachment = {"id": volume.id, "volumeId": volume.id, "serverId": volume.attached_to}
    if volume.mountpoint:
        attachment["device"] = volume.mountpoint
    return [attachment]


def volume_view(volume: objects.Volume) -> dict[str, Any]:
    """A volume as Nova's proxy shows it (the list, the detail and a show alike)."""
    return {
        "id": volume.id,
        "status": volume.status,
        "size": volume.size,
        "availabilityZone": volume.availability_zone,
        "createdAt": iso(volume.created_at),
        "attachments": _attachments(volume),
        "displayName": volume.name,
        "displayDescription": volume.description,
        "volumeType": volume.volume_type or volume.volume_type_id,
        "snapshotId": volume.snapshot_id,
        "metadata": dict(volume.metadata),
    }


def snapshot_view(snapshot: objects.VolumeSnapshot) -> dict[str, Any]:
    """A snapshot as Nova's proxy shows it (its size is its volume's)."""
    return {
        "id": snapshot.id,
        "volumeId": snapshot.volume_id,
        "status": snapshot.status,
        "size": snapshot.size,
        "createdAt": iso(snapshot.created_at),
        "displayName": snapshot.name,
        "displayDescription": snapshot.description,
    }


def limited(request: web.Request, items: Sequence[T]) -> list[T]:
    """Nova's ``common.limited``: newest first, from ``offset``, at most ``limit`` (or
    ``[api] max_limit``) items; a negative or non-integer one is a 400."""
    ordered = sorted(items, key=lambda i: (i.created_at or EPOCH, i.id), reverse=True)
    offset = query_int(request, "offset") or 0
    limit = min(query_int(request, "limit") or MAX_LIMIT, MAX_LIMIT)
    return ordered[offset : offset + limit]


def _size(value: Any) -> int | None:
    """The schema let through an integer or a string of digits; the volume service
    checks the range (0 is refused there, as Cinder refuses it for Nova)."""
    return None if value is None else int(value)


async def _refused_for_status(call: Awaitable[R]) -> R:
    """`call`'s result; the volume service's refusal for a status is Nova's 400."""
    try:
        return await call
    except VolumeInvalidState as exc:
        raise Invalid(str(exc)) from None


# -- os-volumes -----------------------------------------------------------------------


async def _list_volumes(request: web.Request, rule: str) -> web.Response:
    ctx = _authorize(request, rule, context_of(request).project_id)
    found = await request.app[API].volume.list(ctx)
    own = [v for v in found if v.project_id == ctx.project_id]
    return json({"volumes": [volume_view(v) for v in limited(request, own)]})


@routes.get(VOLUMES)
async def list_volumes(request: web.Request) -> web.Response:
    """The project's volumes (``offset``, ``limit``), in Nova's view."""
    return await _list_volumes(request, "list")


@routes.get(VOLUMES + "/detail")
async def list_volumes_detail(request: web.Request) -> web.Response:
    """The project's volumes; Nova's detail view is its list view."""
    return await _list_volumes(request, "detail")


async def _volume(request: web.Request, rule: str) -> objects.Volume:
    volume_id = request.match_info["volume_id"]
    volume = await request.app[API].volume.get(proxied(request), volume_id)
    _authorize(request, rule, volume.project_id)
    return volume


@routes.get(VOLUMES + "/{volume_id}")
async def show_volume(request: web.Request) -> web.Response:
    """One volume."""
    return json({"volume": volume_view(await _volume(request, "show"))})


@routes.post(VOLUMES)
async def create_volume(request: web.Request) -> web.Response:
    """Create a volume (blank, or from ``snapshot_id``: its size unless one is given);
    200 with it and its ``Location``."""
    ctx = _authorize(request, "create", context_of(request).project_id)
    body = await body_of(request, "volume")
    api = request.app[API]
    size = _size(body.get("size"))
    snapshot_id = body.get("snapshot_id")
    if snapshot_id is not None and size is None:
        size = (await api.volume.snapshot_get(ctx, snapshot_id)).size
    volume = await _refused_for_status(
        api.volume.create(
            ctx,
            size,
            name=body.get("display_name"),
            description=body.get("display_description"),
            metadata=body.get("metadata"),
            volume_type=body.get("volume_type"),
            availability_zone=body.get("availability_zone"),
            snapshot_id=snapshot_id,
        )
    )
    location = f"{base_url(request)}{VOLUMES}/{volume.id}"
    return json({"volume": volume_view(volume)}, headers={"Location": location})


@routes.delete(VOLUMES + "/{volume_id}")
async def delete_volume(request: web.Request) -> web.Response:
    """Delete a volume (one in use: 400); 202."""
    volume = await _volume(request, "delete")
    await _refused_for_status(request.app[API].volume.delete(context_of(request), volume.id))
    return web.Response(status=202)


# -- os-snapshots ---------------------------------------------------------------------


async def _list_snapshots(request: web.Request, rule: str) -> web.Response:
    ctx = _authorize(request, rule, context_of(request).project_id)
    found = await request.app[API].volume.snapshot_list(ctx)
    own = [s for s in found if s.project_id == ctx.project_id]
    return json({"snapshots": [snapshot_view(s) for s in limited(request, own)]})


@routes.get(SNAPSHOTS)
async def list_snapshots(request: web.Request) -> web.Response:
    """The project's volume snapshots (``offset``, ``limit``), in Nova's view."""
    return await _list_snapshots(request, "snapshots:list")


@routes.get(SNAPSHOTS + "/detail")
async def list_snapshots_detail(request: web.Request) -> web.Response:
    """The project's volume snapshots; Nova's detail view is its list view."""
    return await _list_snapshots(request, "snapshots:detail")


async def _snapshot(request: web.Request, rule: str) -> objects.VolumeSnapshot:
    snapshot_id = request.match_info["snapshot_id"]
    snapshot = await request.app[API].volume.snapshot_get(proxied(request), snapshot_id)
    _authorize(request, rule, snapshot.project_id)
    return snapshot


@routes.get(SNAPSHOTS + "/{snapshot_id}")
async def show_snapshot(request: web.Request) -> web.Response:
    """One volume snapshot."""
    return json({"snapshot": snapshot_view(await _snapshot(request, "snapshots:show"))})


@routes.post(SNAPSHOTS)
async def create_snapshot(request: web.Request) -> web.Response:
    """Snapshot a volume of the caller's (an in-use one with ``force``); 200 with it."""
    body = await body_of(request, "snapshot")
    api, ctx = request.app[API], proxied(request)
    volume = await api.volume.get(ctx, body["volume_id"])
    _authorize(request, "snapshots:create", volume.project_id)
    force = check.loose_boolean("force", body.get("force", False))
    snapshot = await _refused_for_status(
        api.volume.snapshot_create(
            ctx,
            volume.id,
            name=body.get("display_name"),
            description=body.get("display_description"),
            force=force,
        )
    )
    return json({"snapshot": snapshot_view(snapshot)})


@routes.delete(SNAPSHOTS + "/{snapshot_id}")
async def delete_snapshot(request: web.Request) -> web.Response:
    """Delete a volume snapshot; 202."""
    snapshot = await _snapshot(request, "snapshots:delete")
    await _refused_for_status(
        request.app[API].volume.snapshot_delete(context_of(request), snapshot.id)
    )
    return web.Response(status=202)
