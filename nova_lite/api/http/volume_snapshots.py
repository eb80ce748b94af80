"""Block Storage API v3 (Cinder): volume snapshots, their metadata and their actions.

Lists are filtered by ``name``, ``status`` and ``volume_id``, sorted and paged as
Cinder's (``limit``, ``offset``, ``marker``, ``sort``); an administrator sees every
project's snapshots with ``all_tenants``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import PREFIX, accepted, page, project_context, query_bool
from nova_lite.api.http.volume_views import snapshot_view
from nova_lite.exceptions import Invalid, NotFound, VolumeNotFound

__all__ = ["ACTION_RULES", "routes"]

routes = web.RouteTableDef()
SORT_KEYS = ("id", "name", "status", "size", "created_at", "updated_at", "volume_id")
ACTION_RULES = {
    "os-reset_status": "volume_extension:snapshot_admin_actions:reset_status",
    "os-force_delete": "volume_extension:snapshot_admin_actions:force_delete",
    "os-update_snapshot_status": "snapshot_extension:snapshot_actions:update_snapshot_status",
}
_SUMMARY = (
    "os-extended-snapshot-attributes:progress",
    "os-extended-snapshot-attributes:project_id",
)


def _aliased(body: dict[str, Any]) -> dict[str, Any]:
    given = dict(body)
    for old, new in (("display_name", "name"), ("display_description", "description")):
        if old in given:
            given.setdefault(new, given.pop(old))
    return given


async def _list(request: web.Request, *, detail: bool) -> web.Response:
    ctx = project_context(request)
    everyone = ctx.is_admin and bool(query_bool(request, "all_tenants"))
    project = None if everyone else request.match_info["project_id"]
    views = [
        snapshot_view(request, s)
        for s in await request.app[API].volume.snapshot_list(ctx)
        if project is None or s.project_id == project
    ]
    wanted = {k: request.query[k] for k in ("status", "volume_id") if k in request.query}
    name = request.query.get("name", request.query.get("display_name"))
    if name is not None:
        wanted["name"] = name
    views = [v for v in views if all(v.get(k) == value for k, value in wanted.items())]
    body = page(
        request,
        views,
        collection="snapshots",
        sort_keys=SORT_KEYS,
        shown=(lambda v: v) if detail else (lambda v: {k: v[k] for k in v if k not in _SUMMARY}),
    )
    return json(body)


@routes.get(PREFIX + "/snapshots")
async def list_snapshots(request: web.Request) -> web.Response:
    """The project's snapshots."""
    return await _list(request, detail=False)


@routes.get(PREFIX + "/snapshots/detail")
async def list_snapshots_detail(request: web.Request) -> web.Response:
    """The project's snapshots, with their project and progress."""
    return await _list(request, detail=True)


@routes.post(PREFIX + "/snapshots")
async def create_snapshot(request: web.Request) -> web.Response:
    """Snapshot a volume (an in-use one with ``force``); 202."""
    body = _aliased(await body_of(request, "snapshot"))
    force = body.get("force", False)
    if body["volume_id"] is None:
        raise VolumeNotFound("Volume None could not be found.")
    snapshot = await request.app[API].volume.snapshot_create(
        project_context(request),
        body["volume_id"],
        name=body.get("name"),
        description=body.get("description"),
        force=force is True or str(force).lower() in ("true", "1", "yes"),
        metadata=body.get("metadata"),
    )
    return json({"snapshot": snapshot_view(request, snapshot, detail=False)}, status=202)


@routes.get(PREFIX + "/snapshots/{snapshot_id}")
async def show_snapshot(request: web.Request) -> web.Response:
    """One snapshot."""
    snapshot = await request.app[API].volume.snapshot_get(
        project_context(request), request.match_info["snapshot_id"]
    )
    return json({"snapshot": snapshot_view(request, snapshot)})


@routes.put(PREFIX + "/snapshots/{snapshot_id}")
async def update_snapshot(request: web.Request) -> web.Response:
    """Rename a snapshot or change its description."""
    body = _aliased(await body_of(request, "snapshot"))
    snapshot = await request.app[API].volume.snapshot_update(
        project_context(request), request.match_info["snapshot_id"], body
    )
    return json({"snapshot": snapshot_view(request, snapshot, detail=False)})


@routes.delete(PREFIX + "/snapshots/{snapshot_id}")
async def delete_snapshot(request: web.Request) -> web.Response:
    """Delete an available snapshot; 202."""
    await request.app[API].volume.snapshot_delete(
        project_context(request), request.match_info["snapshot_id"]
    )
    return accepted()


@routes.post(PREFIX + "/snapshots/{snapshot_id}/action")
async def snapshot_action(request: web.Request) -> web.Response:
    """``os-reset_status``, ``os-force_delete`` (admins) or ``os-update_snapshot_status``."""
    body = await body_of(request)
    name, args = next(iter(body.items()))
    api = request.app[API].volume
    ctx = project_context(request)
    snapshot_id = request.match_info["snapshot_id"]
    if name == "os-reset_status":
        await api.snapshot_reset_status(ctx, snapshot_id, args["status"])
    elif name == "os-force_delete":
        await api.snapshot_force_delete(ctx, snapshot_id)
    elif name == "os-update_snapshot_status":
        await api.snapshot_update_status(ctx, snapshot_id, args["status"], args.get("progress"))
    else:
        raise Invalid(f"There is no such action: {name}.")
    return accepted()


# -- metadata -------------------------------------------------------------------------


def _wrapped(body: Any, wrapper: str) -> dict[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
        raise Invalid(f"The request body must be an object with an object {wrapper!r}.")
    given: dict[str, str] = body[wrapper]
    return given


async def _snapshot_metadata(request: web.Request) -> dict[str, str]:
    snapshot = await request.app[API].volume.snapshot_get(
        project_context(request), request.match_info["snapshot_id"]
    )
    return dict(snapshot.metadata)


@routes.get(PREFIX + "/snapshots/{snapshot_id}/metadata")
async def show_snapshot_metadata(request: web.Request) -> web.Response:
    """A snapshot's metadata."""
    return json({"metadata": await _snapshot_metadata(request)})


async def _set(request: web.Request, *, replace: bool) -> web.Response:
    metadata = _wrapped(await body_of(request), "metadata")
    result = await request.app[API].volume.snapshot_set_metadata(
        project_context(request), request.match_info["snapshot_id"], metadata, replace=replace
    )
    return json({"metadata": result})


@routes.post(PREFIX + "/snapshots/{snapshot_id}/metadata")
async def create_snapshot_metadata(request: web.Request) -> web.Response:
    """Add keys to a snapshot's metadata; all of it afterwards."""
    return await _set(request, replace=False)


@routes.put(PREFIX + "/snapshots/{snapshot_id}/metadata")
async def update_snapshot_metadata(request: web.Request) -> web.Response:
    """Replace a snapshot's metadata."""
    return await _set(request, replace=True)


@routes.get(PREFIX + "/snapshots/{snapshot_id}/metadata/{key}")
async def show_snapshot_metadata_item(request: web.Request) -> web.Response:
    """One key of a snapshot's metadata."""
    metadata = await _snapshot_metadata(request)
    key = request.match_info["key"]
    if key not in metadata:
        raise NotFound(f"Snapshot has no metadata with key {key!r}.")
    return json({"meta": {key: metadata[key]}})


@routes.put(PREFIX + "/snapshots/{snapshot_id}/metadata/{key}")
async def update_snapshot_metadata_item(request: web.Request) -> web.Response:
    """Set one key of a snapshot's metadata (the body holds exactly that key)."""
    key = request.match_info["key"]
    meta = _wrapped(await body_of(request), "meta")
    if list(meta) != [key]:
        raise Invalid("The request body must hold exactly the metadata key of the URL.")
    await request.app[API].volume.snapshot_set_metadata(
        project_context(request), request.match_info["snapshot_id"], meta, replace=False
    )
    return json({"meta": meta})


@routes.delete(PREFIX + "/snapshots/{snapshot_id}/metadata/{key}")
async def delete_snapshot_metadata_item(request: web.Request) -> web.Response:
    """Remove one key of a snapshot's metadata."""
    await request.app[API].volume.snapshot_delete_metadata(
        project_context(request), request.match_info["snapshot_id"], request.match_info["key"]
    )
    return web.Response(status=200)
