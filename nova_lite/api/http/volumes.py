"""Block Storage API v3 (Cinder): versions, volumes, their metadata and their actions.

Volumes live under ``/volume/v3/{project_id}``; the project in the URL must be the
token's (administrators may name any). Attaching to a server goes through the
compute API's ``os-volume_attachments``, as with Nova and Cinder; Cinder's own
attach actions (``os-reserve``, ``os-attach``, ...) only record the attachment, as
its legacy API does. Snapshots, types and the rest are in the other ``volume_*``
modules. Cinder's older spellings ``display_name`` and ``display_description`` are
taken for ``name`` and ``description`` wherever Cinder takes them.
"""

from __future__ import annotations

import ast
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, base_url, body_of, json, public
from nova_lite.api.http.volume_common import (
    PREFIX,
    accepted,
    page,
    project_context,
    query_bool,
)
from nova_lite.api.http.volume_version import MAX_VERSION, MIN_VERSION, version_of
from nova_lite.api.http.volume_views import volume_view
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
VOLUME_SORT_KEYS = (
    "id",
    "name",
    "status",
    "size",
    "availability_zone",
    "created_at",
    "updated_at",
    "bootable",
    "volume_type",
    "description",
)


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{base}/volume/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


@routes.get("/volume")
@routes.get("/volume/")
@public
async def versions(request: web.Request) -> web.Response:
    """The block storage API versions served (v3, microversions 3.0 to 3.70); 300."""
    return json({"versions": [_version_doc(base_url(request))]}, status=300)


@routes.get("/volume/v3")
@routes.get("/volume/v3/")
@public
async def version(request: web.Request) -> web.Response:
    """The v3 version document."""
    return json({"versions": [_version_doc(base_url(request))]})


def _aliased(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with Cinder's ``display_name``/``display_description`` as the new names."""
    given = dict(body)
    for old, new in (("display_name", "name"), ("display_description", "description")):
        if old in given:
            value = given.pop(old)
            given.setdefault(new, value)
    return given


# -- volumes --------------------------------------------------------------------------


def _filters(request: web.Request) -> dict[str, Any]:
    query = request.query
    wanted: dict[str, Any] = {}
    for key in ("status", "availability_zone", "volume_type"):
        if key in query:
            wanted[key] = query[key]
    name = query.get("name", query.get("display_name"))
    if name is not None:
        wanted["name"] = name
    bootable = query_bool(request, "bootable")
    if bootable is not None:
        wanted["bootable"] = "true" if bootable else "false"
    if "metadata" in query:
        wanted["metadata"] = _metadata_filter(query["metadata"])
    return wanted


def _metadata_filter(raw: str) -> dict[str, str]:
    """Cinder's ``metadata`` filter: a dict literal (``{'k': 'v'}``) or JSON."""
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise Invalid(f"Invalid metadata filter {raw!r}: it must be a dict.") from None
    if not isinstance(value, dict):
        raise Invalid(f"Invalid metadata filter {raw!r}: it must be a dict.")
    return {str(k): str(v) for k, v in value.items()}


def _matches(view: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for key, value in wanted.items():
        if key == "metadata":
            if any(view["metadata"].get(k) != v for k, v in value.items()):
                return False
        elif view.get(key) != value:
            return False
    return True


async def _list(request: web.Request, *, detail: bool) -> web.Response:
    ctx = project_context(request)
    everyone = ctx.is_admin and bool(query_bool(request, "all_tenants"))
    project = request.query.get("project_id") if everyone else request.match_info["project_id"]
    found = await request.app[API].volume.list(ctx)
    wanted = _filters(request)
    views = [volume_view(request, v) for v in found if project is None or v.project_id == project]
    views = [v for v in views if _matches(v, wanted)]
    summary = ("id", "name", "links")
    body = page(
        request,
        views,
        collection="volumes",
        sort_keys=VOLUME_SORT_KEYS,
        shown=(lambda v: v) if detail else (lambda v: {k: v[k] for k in summary}),
    )
    return json(body)


@routes.get(PREFIX + "/volumes")
async def list_volumes(request: web.Request) -> web.Response:
    """The project's volumes (id, name, links): filters, sorting and paging as Cinder's."""
    return await _list(request, detail=False)


@routes.get(PREFIX + "/volumes/detail")
async def list_volumes_detail(request: web.Request) -> web.Response:
    """The project's volumes in full."""
    return await _list(request, detail=True)


@routes.get(PREFIX + "/volumes/summary")
async def volumes_summary(request: web.Request) -> web.Response:
    """How many volumes the project has, their total size and metadata (3.12)."""
    ctx = project_context(request)
    found = [
        v
        for v in await request.app[API].volume.list(ctx)
        if v.project_id == request.match_info["project_id"]
    ]
    metadata: dict[str, list[str]] = {}
    for volume in found:
        for key, value in volume.metadata.items():
            metadata.setdefault(key, [])
            if value not in metadata[key]:
                metadata[key].append(value)
    summary = {
        "total_size": sum(v.size for v in found),
        "total_count": len(found),
        "metadata": metadata,
    }
    return json({"volume-summary": summary})


@routes.get(PREFIX + "/volumes/{volume_id}")
async def show_volume(request: web.Request) -> web.Response:
    """One volume."""
    volume = await request.app[API].volume.get(
        project_context(request), request.match_info["volume_id"]
    )
    return json({"volume": volume_view(request, volume)})


def _size(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"Invalid input for field/attribute size. Value: {value!r}.")
    return value


@routes.post(PREFIX + "/volumes")
async def create_volume(request: web.Request) -> web.Response:
    """Create a volume: blank, or from ``imageRef``, ``snapshot_id`` or ``source_volid``."""
    body = _aliased(await body_of(request, "volume"))
    if body.get("backup_id") is not None:
        raise Invalid("Creating a volume from a backup is not supported: backups are not served.")
    image = body.get("imageRef", body.get("image_id"))
    volume = await request.app[API].volume.create(
        project_context(request),
        _size(body.get("size")),
        name=body.get("name"),
        image_id=image,
        description=body.get("description"),
        metadata=body.get("metadata"),
        volume_type=body.get("volume_type"),
        availability_zone=body.get("availability_zone"),
        snapshot_id=body.get("snapshot_id"),
        source_volid=body.get("source_volid"),
        group_id=_group(request, body.get("group_id")),
    )
    return json({"volume": volume_view(request, volume, detail=False)}, status=202)


def _group(request: web.Request, group_id: Any) -> str | None:
    """The group a new volume joins: groups are 3.13's (before, as Cinder, ignored)."""
    return group_id if version_of(request).at_least("3.13") else None


@routes.put(PREFIX + "/volumes/{volume_id}")
async def update_volume(request: web.Request) -> web.Response:
    """Rename a volume, change its description or replace its metadata."""
    body = _aliased(await body_of(request, "volume"))
    volume = await request.app[API].volume.update(
        project_context(request), request.match_info["volume_id"], body
    )
    return json({"volume": volume_view(request, volume, detail=False)})


@routes.delete(PREFIX + "/volumes/{volume_id}")
async def delete_volume(request: web.Request) -> web.Response:
    """Delete an available volume (``cascade=true``: its snapshots too); 202."""
    cascade = bool(query_bool(request, "cascade"))
    await request.app[API].volume.delete(
        project_context(request), request.match_info["volume_id"], cascade=cascade
    )
    return accepted()


# -- metadata -------------------------------------------------------------------------


def _metadata_of(body: Any, wrapper: str) -> dict[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
        raise Invalid(f"The request body must be an object with an object {wrapper!r}.")
    metadata: dict[str, str] = body[wrapper]
    return metadata


@routes.get(PREFIX + "/volumes/{volume_id}/metadata")
async def show_volume_metadata(request: web.Request) -> web.Response:
    """A volume's metadata."""
    volume = await request.app[API].volume.get(
        project_context(request), request.match_info["volume_id"]
    )
    return json({"metadata": dict(volume.metadata)})


async def _set_metadata(request: web.Request, *, replace: bool) -> web.Response:
    metadata = _metadata_of(await body_of(request), "metadata")
    result = await request.app[API].volume.set_metadata(
        project_context(request), request.match_info["volume_id"], metadata, replace=replace
    )
    return json({"metadata": result})


@routes.post(PREFIX + "/volumes/{volume_id}/metadata")
async def create_volume_metadata(request: web.Request) -> web.Response:
    """Add keys to a volume's metadata; all of it afterwards."""
    return await _set_metadata(request, replace=False)


@routes.put(PREFIX + "/volumes/{volume_id}/metadata")
async def update_volume_metadata(request: web.Request) -> web.Response:
    """Replace a volume's metadata."""
    return await _set_metadata(request, replace=True)


@routes.get(PREFIX + "/volumes/{volume_id}/metadata/{key}")
async def show_volume_metadata_item(request: web.Request) -> web.Response:
    """One key of a volume's metadata."""
    volume = await request.app[API].volume.get(
        project_context(request), request.match_info["volume_id"]
    )
    key = request.match_info["key"]
    if key not in volume.metadata:
        raise NotFound(f"Volume {volume.id} has no metadata with key {key!r}.")
    return json({"meta": {key: volume.metadata[key]}})


@routes.put(PREFIX + "/volumes/{volume_id}/metadata/{key}")
async def update_volume_metadata_item(request: web.Request) -> web.Response:
    """Set one key of a volume's metadata (the body holds exactly that key)."""
    key = request.match_info["key"]
    meta = _metadata_of(await body_of(request), "meta")
    if list(meta) != [key]:
        raise Invalid("The request body must hold exactly the metadata key of the URL.")
    await request.app[API].volume.set_metadata(
        project_context(request), request.match_info["volume_id"], meta, replace=False
    )
    return json({"meta": meta})


@routes.delete(PREFIX + "/volumes/{volume_id}/metadata/{key}")
async def delete_volume_metadata_item(request: web.Request) -> web.Response:
    """Remove one key of a volume's metadata."""
    await request.app[API].volume.delete_metadata(
        project_context(request), request.match_info["volume_id"], request.match_info["key"]
    )
    return web.Response(status=200)
