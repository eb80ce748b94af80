"""Image API v2 (Glance): an image's data, streamed in and out.

``PUT /v2/images/{id}/file`` streams the request body into the image service in
``[image] chunk_bytes`` pieces (``upload_begin``/``upload_chunk``/``upload_end``),
so an upload never sits in memory whole; a body cut off (or any failure) returns the
image to ``queued`` with its partial data freed, as Glance does. ``GET .../file``
streams it back: 204 while the image has no data, 403 for a deactivated image (but
to administrators); the first chunk is read before the response starts, so every
refusal is a proper error response.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from nova_lite.api.http.common import API, REQUEST_ID, context_of
from nova_lite.api.http.images import PREFIX
from nova_lite.exceptions import ImageNotFound

__all__ = ["routes"]

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
_NO_DATA_YET = ("queued", "saving", "uploading", "importing")


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
