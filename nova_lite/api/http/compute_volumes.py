"""The compute API's volume proxy (``os-volumes``, ``os-snapshots``), up to microversion 2.35.

Nova once fronted Cinder with its own volume API, and still serves it below 2.36:
volumes listed (``limit``, ``offset``), created (``size``, ``display_name``,
``display_description``, ``volume_type``, ``metadata``, ``availability_zone``,
``snapshot_id``), shown and deleted, and their snapshots likewise, in Nova's shape
(``displayName``, ``availabilityZone``, ``createdAt``; a volume attached to nothing
shows ``attachments: [{}]``, as Nova's). Nova's rules (``os_compute_api:os-volumes``)
are checked first; then every call goes to the volume service as the caller, so
Cinder's own rules decide too. From 2.36 these routes are gone (404), as in Nova.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, body_of, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.http.views import isotime
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
VOLUMES = PREFIX + "/os-volumes"
SNAPSHOTS = PREFIX + "/os-snapshots"
_RULE = "os_compute_api:os-volumes:"


def _served(request: web.Request, rule: str) -> None:
    """404 from 2.36 (the proxy is gone); else Nova's rule for `rule` must pass."""
    if microversion_of(request).at_least("2.36"):
        raise NotFound("The volume proxy API is not served from microversion 2.36: use Cinder.")
    ctx = context_of(request)
    request.app[API].authorize(ctx, _RULE + rule, ctx.project_id)


def _volume_view(volume: objects.Volume) -> dict[str, Any]:
    attachment: dict[str, str] = {}
    if volume.attached_to is not None:
        attachment = {
            "id": volume.id,
            "volumeId": volume.id,
            "serverId": volume.attached_to,
            "device": volume.mountpoint or "",
        }
    return {
        "id": volume.id,
        "status": volume.status,
        "size": volume.size,
        "availabilityZone": volume.availability_zone,
        "createdAt": isotime(volume.created_at),
        "displayName": volume.name,
        "displayDescription": volume.description,
        "volumeType": volume.volume_type,
        "snapshotId": volume.snapshot_id,
        "metadata": dict(volume.metadata),
        "attachments": [attachment],
    }


def _snapshot_view(snapshot: objects.VolumeSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "volumeId": snapshot.volume_id,
        "status": snapshot.status,
        "size": snapshot.size,
        "createdAt": isotime(snapshot.created_at),
        "displayName": snapshot.name,
        "displayDescription": snapshot.description,
    }


def _count(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise Invalid(f"{name} param must be a non-negative integer, not {raw!r}.")
    return int(raw)


def _limited(request: web.Request, items: list[Any]) -> list[Any]:
    """Nova's ``offset`` and ``limit`` over a whole list."""
    offset, limit = _count(request, "offset") or 0, _count(request, "limit")
    return items[offset:] if limit is None else items[offset : offset + limit]


def _size(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(f"Invalid input for field/attribute size. Value: {value!r}.")
    return value


async def _list_volumes(request: web.Request, rule: str) -> web.Response:
    _served(request, rule)
    found = await request.app[API].volume.list(context_of(request))
    return json({"volumes": [_volume_view(v) for v in _limited(request, found)]})


@routes.get(VOLUMES)
async def list_proxy_volumes(request: web.Request) -> web.Response:
    """The project's volumes (``limit``, ``offset``), to 2.35."""
    return await _list_volumes(request, "list")


@routes.get(VOLUMES + "/detail")
async def list_proxy_volumes_detail(request: web.Request) -> web.Response:
    """The project's volumes in detail (the same view), to 2.35."""
    return await _list_volumes(request, "detail")


@routes.post(VOLUMES)
async def create_proxy_volume(request: web.Request) -> web.Response:
    """A new volume of ``size`` GiB (blank or from ``snapshot_id``), to 2.35."""
    _served(request, "create")
    body = await body_of(request, "volume")
    volume = await request.app[API].volume.create(
        context_of(request),
        _size(body.get("size")),
        name=body.get("display_name"),
        description=body.get("display_description"),
        metadata=body.get("metadata"),
        volume_type=body.get("volume_type"),
        availability_zone=body.get("availability_zone"),
        snapshot_id=body.get("snapshot_id"),
    )
    return json({"volume": _volume_view(volume)})


@routes.get(VOLUMES + "/{volume_id}")
async def show_proxy_volume(request: web.Request) -> web.Response:
    """One volume, to 2.35."""
    _served(request, "show")
    volume = await request.app[API].volume.get(context_of(request), request.match_info["volume_id"])
    return json({"volume": _volume_view(volume)})


@routes.delete(VOLUMES + "/{volume_id}")
async def delete_proxy_volume(request: web.Request) -> web.Response:
    """Delete an available volume; 202, to 2.35."""
    _served(request, "delete")
    await request.app[API].volume.delete(context_of(request), request.match_info["volume_id"])
    return web.Response(status=202)


async def _list_snapshots(request: web.Request, rule: str) -> web.Response:
    _served(request, rule)
    found = await request.app[API].volume.snapshot_list(context_of(request))
    return json({"snapshots": [_snapshot_view(s) for s in _limited(request, found)]})


@routes.get(SNAPSHOTS)
async def list_proxy_snapshots(request: web.Request) -> web.Response:
    """The project's volume snapshots (``limit``, ``offset``), to 2.35."""
    return await _list_snapshots(request, "snapshots:list")


@routes.get(SNAPSHOTS + "/detail")
async def list_proxy_snapshots_detail(request: web.Request) -> web.Response:
    """The project's volume snapshots in detail (the same view), to 2.35."""
    return await _list_snapshots(request, "snapshots:detail")


def _force(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise Invalid(f"Invalid value {value!r} for force: it must be a boolean.")


@routes.post(SNAPSHOTS)
async def create_proxy_snapshot(request: web.Request) -> web.Response:
    """Snapshot a volume (``volume_id``; an in-use one with ``force``), to 2.35."""
    _served(request, "snapshots:create")
    body = await body_of(request, "snapshot")
    if not isinstance(body.get("volume_id"), str):
        raise Invalid("'volume_id' is a required property of snapshot.")
    snapshot = await request.app[API].volume.snapshot_create(
        context_of(request),
        body["volume_id"],
        name=body.get("display_name"),
        description=body.get("display_description"),
        force=_force(body.get("force", False)),
    )
    return json({"snapshot": _snapshot_view(snapshot)})


@routes.get(SNAPSHOTS + "/{snapshot_id}")
async def show_proxy_snapshot(request: web.Request) -> web.Response:
    """One volume snapshot, to 2.35."""
    _served(request, "snapshots:show")
    snapshot = await request.app[API].volume.snapshot_get(
        context_of(request), request.match_info["snapshot_id"]
    )
    return json({"snapshot": _snapshot_view(snapshot)})


@routes.delete(SNAPSHOTS + "/{snapshot_id}")
async def delete_proxy_snapshot(request: web.Request) -> web.Response:
    """Delete a volume snapshot; 202, to 2.35."""
    _served(request, "snapshots:delete")
    await request.app[API].volume.snapshot_delete(
        context_of(request), request.match_info["snapshot_id"]
    )
    return web.Response(status=202)
