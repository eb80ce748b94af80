"""Block Storage API v3 (Cinder): volume backups, kept as records (no backup store).

Create, list (and detail), show, update (3.9), delete, restore, and for administrators
``os-reset_status``, ``os-force_delete``, ``export_record`` and ``import_record``.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import (
    PREFIX,
    accepted,
    iso,
    page,
    project_context,
    query_bool,
    self_links,
)
from nova_lite.api.http.volume_version import version_of
from nova_lite.exceptions import Invalid

__all__ = ["ACTION_RULES", "routes"]

routes = web.RouteTableDef()
BACKUPS = PREFIX + "/backups"
SORT_KEYS = ("id", "name", "status", "size", "created_at", "updated_at", "volume_id")
ACTION_RULES = {
    "os-reset_status": "volume_extension:backup_admin_actions:reset_status",
    "os-force_delete": "volume_extension:backup_admin_actions:force_delete",
}


def _time(value: str | None) -> str | None:
    return iso(datetime.datetime.fromisoformat(value)) if value else None


def _view(request: web.Request, backup: dict[str, Any]) -> dict[str, Any]:
    version = version_of(request)
    view: dict[str, Any] = {
        "id": backup["id"],
        "name": backup["name"],
        "description": backup["description"],
        "volume_id": backup["volume_id"],
        "snapshot_id": backup["snapshot_id"],
        "size": backup["size"],
        "status": backup["status"],
        "object_count": 0,
        "container": backup["container"],
        "availability_zone": backup["availability_zone"],
        "fail_reason": None,
        "is_incremental": backup["is_incremental"],
        "has_dependent_backups": backup["has_dependent_backups"],
        "created_at": _time(backup["created_at"]),
        "updated_at": _time(backup["updated_at"]),
        "data_timestamp": _time(backup["created_at"]),
        "links": self_links(request, backup["project_id"], "backups", backup["id"]),
    }
    if version.at_least("3.18"):
        view["os-backup-project-attr:project_id"] = backup["project_id"]
    if version.at_least("3.43"):
        view["metadata"] = backup["metadata"]
    if version.at_least("3.56"):
        view["user_id"] = backup["user_id"]
    return view


def _brief(request: web.Request, backup: dict[str, Any]) -> dict[str, Any]:
    brief = {"id": backup["id"], "name": backup["name"], "links": backup["links"]}
    if version_of(request).at_least("3.43"):
        brief["metadata"] = backup.get("metadata", {})
    return brief


async def _list(request: web.Request, *, detail: bool) -> web.Response:
    ctx = project_context(request)
    everyone = ctx.is_admin and bool(query_bool(request, "all_tenants"))
    project = None if everyone else request.match_info["project_id"]
    views = [
        _view(request, b)
        for b in await request.app[API].volume.backup_list(ctx)
        if project is None or b["project_id"] == project
    ]
    wanted = {k: request.query[k] for k in ("status", "volume_id", "name") if k in request.query}
    views = [v for v in views if all(v.get(k) == value for k, value in wanted.items())]
    summary = ("id", "name", "links")
    body = page(
        request,
        views,
        collection="backups",
        sort_keys=SORT_KEYS,
        shown=(lambda v: v) if detail else (lambda v: {k: v[k] for k in summary}),
    )
    return json(body)


@routes.get(BACKUPS)
async def list_backups(request: web.Request) -> web.Response:
    """The project's backups (id, name, links)."""
    return await _list(request, detail=False)


@routes.get(BACKUPS + "/detail")
async def list_backups_detail(request: web.Request) -> web.Response:
    """The project's backups in full."""
    return await _list(request, detail=True)


@routes.post(BACKUPS)
async def create_backup(request: web.Request) -> web.Response:
    """Back a volume up (an in-use one with ``force``; ``incremental`` on the last); 202."""
    body = await body_of(request, "backup")
    backup = await request.app[API].volume.backup_create(
        project_context(request),
        body["volume_id"],
        name=body.get("name"),
        description=body.get("description"),
        incremental=bool(body.get("incremental", False)),
        force=bool(body.get("force", False)),
        snapshot_id=body.get("snapshot_id"),
        container=body.get("container"),
        metadata=body.get("metadata"),
    )
    view = _view(request, backup)
    return json({"backup": _brief(request, view)}, status=202)


@routes.post(BACKUPS + "/import_record")
async def import_backup(request: web.Request) -> web.Response:
    """Make a backup from an exported record (admins); 201."""
    body = await body_of(request, "backup-record")
    backup = await request.app[API].volume.backup_import(
        project_context(request), body["backup_service"], body["backup_url"]
    )
    return json({"backup": _brief(request, _view(request, backup))}, status=201)


@routes.get(BACKUPS + "/{backup_id}")
async def show_backup(request: web.Request) -> web.Response:
    """One backup."""
    backup = await request.app[API].volume.backup_get(
        project_context(request), request.match_info["backup_id"]
    )
    return json({"backup": _view(request, backup)})


@routes.put(BACKUPS + "/{backup_id}")
async def update_backup(request: web.Request) -> web.Response:
    """Change a backup's name, description or metadata (3.9)."""
    if not version_of(request).at_least("3.9"):
        raise web.HTTPNotFound(text="Updating a backup needs microversion 3.9.")
    body = await body_of(request, "backup")
    backup = await request.app[API].volume.backup_update(
        project_context(request), request.match_info["backup_id"], body
    )
    return json({"backup": _brief(request, _view(request, backup))})


@routes.delete(BACKUPS + "/{backup_id}")
async def delete_backup(request: web.Request) -> web.Response:
    """Delete a backup no other backup depends on; 202."""
    await request.app[API].volume.backup_delete(
        project_context(request), request.match_info["backup_id"]
    )
    return accepted()


@routes.post(BACKUPS + "/{backup_id}/restore")
async def restore_backup(request: web.Request) -> web.Response:
    """Restore a backup into a new volume (or ``volume_id``); 202."""
    body = await body_of(request, "restore")
    restored = await request.app[API].volume.backup_restore(
        project_context(request),
        request.match_info["backup_id"],
        volume_id=body.get("volume_id"),
        name=body.get("name"),
    )
    return json({"restore": restored}, status=202)


@routes.get(BACKUPS + "/{backup_id}/export_record")
async def export_backup(request: web.Request) -> web.Response:
    """A backup's record, to import again (admins)."""
    record = await request.app[API].volume.backup_export(
        project_context(request), request.match_info["backup_id"]
    )
    return json({"backup-record": record})


@routes.post(BACKUPS + "/{backup_id}/action")
async def backup_action(request: web.Request) -> web.Response:
    """``os-reset_status`` or ``os-force_delete`` (admins); 202."""
    body = await body_of(request)
    name, args = next(iter(body.items()))
    api = request.app[API].volume
    ctx = project_context(request)
    backup_id = request.match_info["backup_id"]
    if name == "os-reset_status":
        await api.backup_reset_status(ctx, backup_id, args["status"])
    elif name == "os-force_delete":
        await api.backup_force_delete(ctx, backup_id)
    else:
        raise Invalid(f"There is no such action: {name}.")
    return accepted()
