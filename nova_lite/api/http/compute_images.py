"""The compute API's image proxy (``/compute/v2.1/images``), up to microversion 2.35.

Nova once fronted Glance with its own image API, and still serves it below 2.36:
images listed (``name``, ``status``, ``server``, ``type``, ``changes-since``,
``minRam``, ``minDisk``, ``limit``, ``marker``, any ``property-*``) and shown in
Nova's shape (``minRam``, ``metadata`` for the extra properties, status ``SAVING``
while Glance's is queued or saving, a ``server`` link for a snapshot, sizes as
``OS-EXT-IMG-SIZE:size``), deleted, and their metadata read and written
(``/images/{id}/metadata[/{key}]``). Every call goes to the image service as the
caller, so Glance's own rules decide who sees or changes what. From 2.36 these
routes are gone (404), as in Nova.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import (
    API,
    base_url,
    body_of,
    context_of,
    json,
    microversion_of,
    query_int,
)
from nova_lite.api.http.compute import MAX_LIMIT, PREFIX
from nova_lite.api.http.server_filters import parse_time
from nova_lite.api.http.views import isotime
from nova_lite.exceptions import ImageLimitExceeded, Invalid, NotFound, QuotaExceeded

__all__ = ["routes"]

routes = web.RouteTableDef()
IMAGES = PREFIX + "/images"
STATUSES = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "killed": "ERROR",
}
PROGRESS = {"queued": 25, "saving": 50, "active": 100}
FILTERS = {"name": "name", "server": "instance_uuid", "type": "image_type"}


def _served(request: web.Request) -> None:
    if microversion_of(request).at_least("2.36"):
        raise NotFound("The image proxy API is not served from microversion 2.36: use Glance.")


def _links(base: str, image_id: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base}{IMAGES}/{image_id}"},
        {"rel": "bookmark", "href": f"{base}/compute/images/{image_id}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{base}/image/images/{image_id}",
        },
    ]


def image_brief(base: str, image: objects.Image) -> dict[str, Any]:
    """The list entry: id, name and links."""
    return {"id": image.id, "name": image.name, "links": _links(base, image.id)}


def image_detail(base: str, image: objects.Image) -> dict[str, Any]:
    """An image as Nova's proxy shows it."""
    view: dict[str, Any] = {
        **image_brief(base, image),
        "minRam": image.min_ram,
        "minDisk": image.min_disk,
        "metadata": dict(image.properties),
        "created": isotime(image.created_at),
        "updated": isotime(image.updated_at or image.created_at),
        "status": STATUSES.get(image.status, "UNKNOWN"),
        "progress": PROGRESS.get(image.status, 0),
        "OS-EXT-IMG-SIZE:size": image.size,
    }
    server = image.properties.get("instance_uuid")
    if server:
        view["server"] = {
            "id": server,
            "links": [
                {"rel": "self", "href": f"{base}{PREFIX}/servers/{server}"},
                {"rel": "bookmark", "href": f"{base}/compute/servers/{server}"},
            ],
        }
    disk_config = image.properties.get("auto_disk_config")
    if disk_config is not None:
        auto = disk_config.lower() in ("true", "1", "yes", "on", "t", "y")
        view["OS-DCF:diskConfig"] = "AUTO" if auto else "MANUAL"
    return view


def _query(request: web.Request) -> objects.ImageQuery:
    """Glance's list parameters for the proxy's filters."""
    query = request.query
    filters = {glance: query[ours] for ours, glance in FILTERS.items() if ours in query}
    filters.update(
        {k[len("property-") :]: v for k, v in query.items() if k.startswith("property-")}
    )
    if "instance_uuid" in filters:
        filters["instance_uuid"] = filters["instance_uuid"].rsplit("/", 1)[-1]
    if "status" in query:
        filters["status"] = query["status"].lower()
    if "changes-since" in query:
        since = parse_time("changes-since", query["changes-since"])
        filters["updated_at"] = f"gte:{since.isoformat()}"
    limit = query_int(request, "limit")
    return objects.ImageQuery(
        filters=filters,
        marker=query.get("marker"),
        limit=None if limit is None else min(limit, MAX_LIMIT),
    )


async def _list(request: web.Request, *, detail: bool) -> web.Response:
    _served(request)
    query = _query(request)
    images = await request.app[API].image.list(context_of(request), query)
    min_ram, min_disk = query_int(request, "minRam") or 0, query_int(request, "minDisk") or 0
    images = [i for i in images if i.min_ram >= min_ram and i.min_disk >= min_disk]
    base = base_url(request)
    view = image_detail if detail else image_brief
    body: dict[str, Any] = {"images": [view(base, i) for i in images]}
    if query.limit is not None and len(images) == query.limit and images:
        params = {**request.query, "marker": images[-1].id}
        href = f"{base}{request.path}?{urlencode(params)}"
        body["images_links"] = [{"rel": "next", "href": href}]
    return json(body)


@routes.get(IMAGES)
async def list_images(request: web.Request) -> web.Response:
    """The images the caller may see (id, name, links)."""
    return await _list(request, detail=False)


@routes.get(IMAGES + "/detail")
async def list_images_detail(request: web.Request) -> web.Response:
    """The images in full."""
    return await _list(request, detail=True)


async def _image(request: web.Request) -> objects.Image:
    _served(request)
    return await request.app[API].image.get(context_of(request), request.match_info["image_id"])


@routes.get(IMAGES + "/{image_id}")
async def show_image(request: web.Request) -> web.Response:
    """One image."""
    return json({"image": image_detail(base_url(request), await _image(request))})


@routes.delete(IMAGES + "/{image_id}")
async def delete_image(request: web.Request) -> web.Response:
    """Delete an image (Glance's rules: its owner, or an administrator); 204."""
    _served(request)
    await request.app[API].image.delete(context_of(request), request.match_info["image_id"])
    return web.Response(status=204)


# -- image metadata (the extra properties) ------------------------------------------------


@routes.get(IMAGES + "/{image_id}/metadata")
async def list_image_metadata(request: web.Request) -> web.Response:
    """The image's extra properties."""
    return json({"metadata": dict((await _image(request)).properties)})


async def _set_properties(
    request: web.Request, items: dict[str, str | None], *, replace: bool = False
) -> objects.Image:
    image = await _image(request)
    try:
        return await request.app[API].image.update(
            context_of(request), image.id, properties=items, purge_properties=replace
        )
    except ImageLimitExceeded as exc:
        raise QuotaExceeded(f"Quota exceeded for metadata items: {exc}") from None


async def _wrapped(request: web.Request, wrapper: str) -> dict[str, Any]:
    body = await body_of(request)
    if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
        raise Invalid(f"Malformed request body: it must be an object with an object {wrapper!r}.")
    items: dict[str, Any] = body[wrapper]
    return items


@routes.post(IMAGES + "/{image_id}/metadata")
async def create_image_metadata(request: web.Request) -> web.Response:
    """Add or change properties; 200 with all of them."""
    items = await _wrapped(request, "metadata")
    image = await _set_properties(request, items)
    return json({"metadata": dict(image.properties)})


@routes.put(IMAGES + "/{image_id}/metadata")
async def replace_image_metadata(request: web.Request) -> web.Response:
    """Replace the properties with the body's; 200 with them."""
    items = await _wrapped(request, "metadata")
    image = await _set_properties(request, items, replace=True)
    return json({"metadata": dict(image.properties)})


@routes.get(IMAGES + "/{image_id}/metadata/{key}")
async def show_image_metadata_item(request: web.Request) -> web.Response:
    """One property."""
    key = request.match_info["key"]
    properties = (await _image(request)).properties
    if key not in properties:
        raise NotFound(f"Image {request.match_info['image_id']} has no metadata key {key!r}.")
    return json({"meta": {key: properties[key]}})


@routes.put(IMAGES + "/{image_id}/metadata/{key}")
async def set_image_metadata_item(request: web.Request) -> web.Response:
    """Set one property (the body's only key must be the URL's); 200 with it."""
    key = request.match_info["key"]
    meta = await _wrapped(request, "meta")
    if key not in meta:
        raise Invalid("Request body and URI mismatch")
    if len(meta) > 1:
        raise Invalid("Request body contains too many items")
    await _set_properties(request, meta)
    return json({"meta": meta})


@routes.delete(IMAGES + "/{image_id}/metadata/{key}")
async def delete_image_metadata_item(request: web.Request) -> web.Response:
    """Remove one property; 204."""
    key = request.match_info["key"]
    if key not in (await _image(request)).properties:
        raise NotFound(f"Image {request.match_info['image_id']} has no metadata key {key!r}.")
    await _set_properties(request, {key: None})
    return web.Response(status=204)
