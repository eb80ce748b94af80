"""Block Storage API v3 (Cinder) subset: volumes (list, detail, show, create, delete).

Volumes live under ``/volume/v3/{project_id}``; the project in the URL must be the
token's (administrators may name any). Attaching goes through the compute API's
``os-volume_attachments``, as with Nova and Cinder.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import (
    API,
    base_url,
    body_of,
    check_fields,
    context_of,
    json,
    public,
)
from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden, Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()
PREFIX = "/volume/v3/{project_id}"


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": "3.0",
        "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/volume/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


@routes.get("/volume")
@routes.get("/volume/")
@public
async def versions(request: web.Request) -> web.Response:
    """The block storage API versions served (v3, without microversions beyond 3.0)."""
    return json({"versions": [_version_doc(base_url(request))]})


@routes.get("/volume/v3")
@routes.get("/volume/v3/")
@public
async def version(request: web.Request) -> web.Response:
    """The v3 version document."""
    return json({"versions": [_version_doc(base_url(request))]})


def _project_context(request: web.Request) -> RequestContext:
    ctx = context_of(request)
    if not ctx.is_admin and request.match_info["project_id"] != ctx.project_id:
        raise Forbidden("The project in the URL is not the token's project.")
    return ctx


def volume_view(request: web.Request, volume: objects.Volume) -> dict[str, Any]:
    """A volume as Cinder shows it."""
    attachments = []
    if volume.attached_to:
        attachments.append(
            {
                "id": volume.id,
                "attachment_id": volume.id,
                "volume_id": volume.id,
                "server_id": volume.attached_to,
                "device": volume.mountpoint,
                "host_name": None,
                "attached_at": None,
            }
        )
    self_href = f"{base_url(request)}/volume/v3/{volume.project_id}/volumes/{volume.id}"
    return {
        "id": volume.id,
        "name": volume.name,
        "size": volume.size,
        "status": volume.status,
        "bootable": "true" if volume.bootable else "false",
        "attachments": attachments,
        "availability_zone": "nova",
        "os-vol-tenant-attr:tenant_id": volume.project_id,
        "volume_image_metadata": {"image_id": volume.image_id} if volume.image_id else {},
        "volume_type": "__DEFAULT__",
        "description": None,
        "metadata": {},
        "encrypted": False,
        "multiattach": False,
        "snapshot_id": None,
        "source_volid": None,
        "replication_status": None,
        "consistencygroup_id": None,
        "user_id": None,
        "created_at": None,
        "updated_at": None,
        "links": [{"rel": "self", "href": self_href}],
    }


async def _list(request: web.Request, *, detail: bool) -> web.Response:
    found = await request.app[API].volume.list(_project_context(request))
    if "name" in request.query:
        found = [v for v in found if v.name == request.query["name"]]
    if "status" in request.query:
        found = [v for v in found if v.status == request.query["status"]]
    views = [volume_view(request, v) for v in found]
    if not detail:
        views = [{k: v[k] for k in ("id", "name", "links")} for v in views]
    return json({"volumes": views})


@routes.get(PREFIX + "/volumes")
async def list_volumes(request: web.Request) -> web.Response:
    """The project's volumes (id, name, links); ``name`` and ``status`` filter."""
    return await _list(request, detail=False)


@routes.get(PREFIX + "/volumes/detail")
async def list_volumes_detail(request: web.Request) -> web.Response:
    """The project's volumes in full."""
    return await _list(request, detail=True)


@routes.get(PREFIX + "/volumes/{volume_id}")
async def show_volume(request: web.Request) -> web.Response:
    """One volume."""
    volume = await request.app[API].volume.get(
        _project_context(request), request.match_info["volume_id"]
    )
    return json({"volume": volume_view(request, volume)})


VOLUME_FIELDS = ("name", "imageRef", "description", "volume_type", "availability_zone", "metadata")
# Sources clients send as null: accepted only as null.
UNSUPPORTED = ("snapshot_id", "source_volid", "backup_id", "consistencygroup_id")


@routes.post(PREFIX + "/volumes")
async def create_volume(request: web.Request) -> web.Response:
    """Create a volume of ``size`` GiB (from ``imageRef``: bootable); 202."""
    body = await body_of(request, "volume")
    check_fields(body, allowed=VOLUME_FIELDS + UNSUPPORTED, required=("size",), where="volume")
    given = [name for name in UNSUPPORTED if body.get(name) is not None]
    if given:
        raise Invalid(f"Creating a volume from {given[0]!r} is not supported.")
    size = body["size"]
    if isinstance(size, str) and size.isdigit():
        size = int(size)
    if isinstance(size, bool) or not isinstance(size, int):
        raise Invalid(f"Invalid input for field/attribute size. Value: {body['size']!r}.")
    volume = await request.app[API].volume.create(
        _project_context(request), size, name=body.get("name"), image_id=body.get("imageRef")
    )
    return json({"volume": volume_view(request, volume)}, status=202)


@routes.delete(PREFIX + "/volumes/{volume_id}")
async def delete_volume(request: web.Request) -> web.Response:
    """Delete an available volume; 202."""
    await request.app[API].volume.delete(_project_context(request), request.match_info["volume_id"])
    return web.Response(status=202)


@routes.get(PREFIX + "/limits")
async def limits(request: web.Request) -> web.Response:
    """The project's volume usage and its volume quota (``[quota] volumes``)."""
    found = await request.app[API].volume.list(_project_context(request))
    absolute = {
        "maxTotalVolumes": request.app[API].config.volume.quota_volumes,
        "maxTotalVolumeGigabytes": -1,
        "maxTotalSnapshots": -1,
        "maxTotalBackups": -1,
        "maxTotalBackupGigabytes": -1,
        "totalVolumesUsed": len(found),
        "totalGigabytesUsed": sum(v.size for v in found),
        "totalSnapshotsUsed": 0,
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }
    return json({"limits": {"rate": [], "absolute": absolute}})
