"""Image API v2 (Glance): an image's data, streamed in and out, staged and imported.

``PUT /v2/images/{id}/file`` streams the request body into the image service in
``[image] chunk_bytes`` pieces (``upload_begin``/``upload_chunk``/``upload_end``),
so an upload never sits in memory whole; a body cut off (or any failure) returns the
image to ``queued`` with its partial data freed, as Glance does. ``GET .../file``
streams it back: 204 while the image has no data, 403 for a deactivated image (but
to administrators); the first chunk is read before the response starts, so every
refusal is a proper error response. ``PUT .../stage`` streams the same way into the
image's staging area, and ``POST .../import`` (``glance-direct``) makes the staged
data the image's, recorded by a task that ``GET .../tasks`` shows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import web

from nova_lite.api.http.common import API, REQUEST_ID, body_of, context_of, json
from nova_lite.api.http.images import PREFIX
from nova_lite.api.http.views import isotime
from nova_lite.exceptions import ImageNotFound, Invalid
from nova_lite.objects import ImageTask

__all__ = ["routes"]

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
_NO_DATA_YET = ("queued", "saving", "uploading", "importing")


@routes.put(PREFIX + "/images/{image_id}/file")
async def upload_image(request: web.Request) -> web.Response:
    """Store the request body as the image's data, streamed in chunks; 204."""
    return await _receive(request, stage=False)


@routes.put(PREFIX + "/images/{image_id}/stage")
async def stage_image(request: web.Request) -> web.Response:
    """Stage the request body for an import (``glance-direct``), streamed; 204."""
    return await _receive(request, stage=True)


async def _receive(request: web.Request, *, stage: bool) -> web.Response:
    images, ctx = request.app[API].image, context_of(request)
    image_id = request.match_info["image_id"]
    await (images.stage_begin if stage else images.upload_begin)(ctx, image_id)
    try:
        await _stream_upload(request, image_id)
        await (images.stage_end if stage else images.upload_end)(ctx, image_id)
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
    if image.status in _NO_DATA_YET:
        return web.Response(status=204)
    if image.size is None:
        raise ImageNotFound(f"Image {image.id} has no data (status {image.status}).")
    data, done = await images.download_chunk(ctx, image.id, 0, images.chunk_bytes)
    response = web.StreamResponse(
        headers={"Content-Type": "application/octet-stream", "Content-MD5": image.checksum or ""}
    )
    response.content_length = image.size
    response.headers["X-Openstack-Request-Id"] = request[REQUEST_ID]
    await response.prepare(request)
    offset = len(data)
    await response.write(data)
    while not done:
        data, done = await images.download_chunk(ctx, image.id, offset, images.chunk_bytes)
        if not data and not done:
            break  # the store holds less than the image claims: the client sees it short
        offset += len(data)
        await response.write(data)
    await response.write_eof()
    return response


@routes.post(PREFIX + "/images/{image_id}/import")
async def import_image(request: web.Request) -> web.Response:
    """Import the image's staged data (``{"method": {"name": "glance-direct"}}``); 202."""
    body = await body_of(request)
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    await request.app[API].image.import_image(
        context_of(request), request.match_info["image_id"], body
    )
    return web.Response(status=202)


def task_view(task: ImageTask) -> dict[str, Any]:
    """An image task as Glance lists it."""
    return {
        "id": task.id,
        "type": task.type,
        "status": task.status,
        "owner": task.owner,
        "input": task.input,
        "result": task.result,
        "message": task.message,
        "image_id": task.image_id,
        "request_id": task.request_id,
        "user_id": task.user_id,
        "created_at": isotime(task.created_at),
        "updated_at": isotime(task.updated_at),
        "expires_at": isotime(task.expires_at),
        "deleted_at": None,
        "deleted": False,
    }


@routes.get(PREFIX + "/images/{image_id}/tasks")
async def list_image_tasks(request: web.Request) -> web.Response:
    """The image's tasks (its imports)."""
    tasks = await request.app[API].image.list_tasks(
        context_of(request), request.match_info["image_id"]
    )
    return json({"tasks": [task_view(t) for t in tasks]})
