"""Image API v2 (Glance) subset: images (list, show, create, delete) and their data.

``PUT /v2/images/{id}/file`` streams the request body into the image service in
``[image] chunk_bytes`` pieces (``upload_begin``/``upload_chunk``/``upload_end``),
so an upload never sits in memory whole; ``GET .../file`` streams it back. Extra
image properties appear as top-level fields, as in Glance.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import web

from nova_lite.api.http.common import (
    API,
    REQUEST_ID,
    base_url,
    body_of,
    check_fields,
    context_of,
    json,
    public,
    query_int,
)
from nova_lite.api.http.views import isotime
from nova_lite.exceptions import ImageNotFound, Invalid
from nova_lite.objects import Image

__all__ = ["routes"]

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
PREFIX = "/image/v2"

CREATE_FIELDS = (
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "min_disk",
    "min_ram",
    "tags",
    "protected",
)
_CORE = frozenset({"id", *CREATE_FIELDS})


@routes.get("/image")
@routes.get("/image/")
@public
async def versions(request: web.Request) -> web.Response:
    """The image API versions served (v2)."""
    href = f"{base_url(request)}{PREFIX}/"
    values = [
        {"id": version, "status": status, "links": [{"rel": "self", "href": href}]}
        for version, status in (("v2.16", "CURRENT"), ("v2.0", "SUPPORTED"))
    ]
    return json({"versions": values})


def image_view(image: Image) -> dict[str, Any]:
    """An image as Glance shows it (extra properties as top-level fields)."""
    created = isotime(image.created_at)
    view: dict[str, Any] = {
        **{k: v for k, v in image.properties.items() if k not in _CORE},
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "protected": False,
        "os_hidden": False,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "size": image.size,
        "virtual_size": None,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "owner": image.owner,
        "tags": [],
        "created_at": created,
        "updated_at": created,
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    return view


def _matches(request: web.Request, image: Image) -> bool:
    return all(
        request.query.get(field) in (None, getattr(image, field))
        for field in ("id", "name", "status", "visibility", "disk_format", "owner")
    )


@routes.get(PREFIX + "/images")
async def list_images(request: web.Request) -> web.Response:
    """The images the caller can see; filters by field, ``limit`` and ``marker``."""
    images = await request.app[API].image.list(context_of(request))
    found = [i for i in images if _matches(request, i)]
    marker = request.query.get("marker")
    if marker is not None:
        ids = [i.id for i in found]
        if marker not in ids:
            raise Invalid(f"Invalid marker: image {marker} could not be found.")
        found = found[ids.index(marker) + 1 :]
    limit = query_int(request, "limit")
    page = found if limit is None else found[:limit]
    body: dict[str, Any] = {
        "images": [image_view(i) for i in page],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if limit is not None and page and len(page) == limit:
        body["next"] = f"/v2/images?marker={page[-1].id}&limit={limit}"
    return json(body)


@routes.get(PREFIX + "/images/{image_id}")
async def show_image(request: web.Request) -> web.Response:
    """One image."""
    image = await request.app[API].image.get(context_of(request), request.match_info["image_id"])
    return json(image_view(image))


def _int_field(body: dict[str, Any], field: str) -> int:
    value = body.get(field, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"Invalid value for {field}: {value!r} is not a non-negative integer.")
    return value


@routes.post(PREFIX + "/images")
async def create_image(request: web.Request) -> web.Response:
    """Create a ``queued`` image (upload its data with ``PUT .../file``); 201."""
    body = await body_of(request)
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    if "id" in body:
        raise Invalid("Choosing an image's id is not supported; leave 'id' out.")
    properties = {k: v for k, v in body.items() if k not in CREATE_FIELDS}
    bad = [k for k, v in properties.items() if not isinstance(v, str)]
    if bad:
        raise Invalid(f"Image property {bad[0]!r} must be a string, not {properties[bad[0]]!r}.")
    check_fields({k: v for k, v in body.items() if k in CREATE_FIELDS}, allowed=CREATE_FIELDS)
    name: Any = body.get("name")  # as sent: the image service applies Glance's name rule
    image = await request.app[API].image.create(
        context_of(request),
        name,
        disk_format=str(body.get("disk_format") or "raw"),
        container_format=str(body.get("container_format") or "bare"),
        visibility=str(body.get("visibility") or "private"),
        min_disk=_int_field(body, "min_disk"),
        min_ram=_int_field(body, "min_ram"),
        properties=properties,
    )
    location = f"{base_url(request)}{PREFIX}/images/{image.id}"
    return json(image_view(image), status=201, headers={"Location": location})


@routes.delete(PREFIX + "/images/{image_id}")
async def delete_image(request: web.Request) -> web.Response:
    """Delete an image and its data; 204."""
    await request.app[API].image.delete(context_of(request), request.match_info["image_id"])
    return web.Response(status=204)


@routes.put(PREFIX + "/images/{image_id}/file")
async def upload_image(request: web.Request) -> web.Response:
    """Store the request body as the image's data, streamed in chunks; 204."""
    images, ctx = request.app[API].image, context_of(request)
    image_id = request.match_info["image_id"]
    await images.upload_begin(ctx, image_id)
    try:
        await _stream_upload(request, image_id)
    except BaseException:
        # A body cut off (or any failure): as Glance, the image goes back to queued
        # and its partial data is freed, even if this handler is being cancelled.
        await asyncio.shield(_abort(request, image_id))
        raise
    return web.Response(status=204)


async def _stream_upload(request: web.Request, image_id: str) -> None:
    images, ctx = request.app[API].image, context_of(request)
    offset = 0
    buffer = bytearray()
    async for data in request.content.iter_chunked(images.chunk_bytes):
        buffer += data
        while len(buffer) >= images.chunk_bytes:
            chunk, buffer = bytes(buffer[: images.chunk_bytes]), buffer[images.chunk_bytes :]
            offset = await images.upload_chunk(ctx, image_id, offset, chunk)
    if buffer:
        await images.upload_chunk(ctx, image_id, offset, bytes(buffer))
    await images.upload_end(ctx, image_id)


async def _abort(request: web.Request, image_id: str) -> None:
    try:
        await request.app[API].image.upload_abort(context_of(request), image_id)
    except Exception as exc:  # the reaper of idle uploads will finish the job
        log.warning("image.upload_abort_failed", image_id=image_id, error=str(exc))


@routes.get(PREFIX + "/images/{image_id}/file")
async def download_image(request: web.Request) -> web.StreamResponse:
    """The image's data, streamed (204 if it has none yet)."""
    images, ctx = request.app[API].image, context_of(request)
    image = await images.get(ctx, request.match_info["image_id"])
    if image.status != "active":
        if image.status in ("queued", "saving"):
            return web.Response(status=204)
        raise ImageNotFound(f"Image {image.id} has no data (status {image.status}).")
    response = web.StreamResponse(
        headers={"Content-Type": "application/octet-stream", "Content-MD5": image.checksum or ""}
    )
    if image.size is not None:
        response.content_length = image.size
    response.headers["X-Openstack-Request-Id"] = request[REQUEST_ID]
    await response.prepare(request)
    offset, done = 0, False
    while not done:
        data, done = await images.download_chunk(ctx, image.id, offset, images.chunk_bytes)
        offset += len(data)
        await response.write(data)
    await response.write_eof()
    return response
