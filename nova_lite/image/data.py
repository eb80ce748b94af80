"""The image service's endpoints for image data: chunked uploads and downloads.

An image is created ``queued``; its data arrives in base64 chunks (``upload_begin``
→ ``saving``, ``upload_chunk`` …, ``upload_end`` → ``active``) and leaves the same
way (``download_chunk``), so no host needs a path shared with the store. Uploads are
transactional, as Glance's: one given up (``upload_abort``), one that stops sending
chunks (reaped after ``[image] upload_idle_timeout``) and one a restart cut short all
leave the image ``queued`` again with no partial data. A deactivated image's data is
for administrators only (403 for anyone else).
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

import attrs
import structlog

from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Forbidden, ImageNotFound, Invalid
from nova_lite.image import checks
from nova_lite.image.access import ImageAccess, is_admin
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.image.schema import isotext
from nova_lite.image.store import ImageStore, Upload
from nova_lite.objects import Image, utcnow
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["DEACTIVATED", "ImageData", "current_upload", "upload_of"]

log = structlog.get_logger(__name__)

DEACTIVATED = "The requested image has been deactivated. Image data download is forbidden."
# The status of an image whose data (or staged data) is arriving, by kind of upload.
_UPLOADING = ("saving", "uploading")


def upload_of(store: ImageStore, image: Image, *, staging: bool | None = None) -> Upload:
    """The upload in progress for `image` (of the kind asked for); `Conflict` if none."""
    upload = store.upload(image.id)
    wanted = (False, True) if staging is None else (staging,)
    ok = upload is not None and upload.staging in wanted
    status = "uploading" if upload is not None and upload.staging else "saving"
    if upload is None or not ok or image.status != status:
        raise Conflict(f"Image {image.id} has no upload in progress (it is {image.status}).")
    return upload


def current_upload(store: ImageStore, image: Image, upload: Upload) -> None:
    """Raise if `upload` was restarted, finished or dropped while we waited for it."""
    if store.upload(image.id) is not upload:
        raise Conflict(f"The upload of image {image.id} was restarted or ended.")


class ImageData:
    """The endpoints that move image data in and out, and the reaper of idle uploads."""

    target: ClassVar[Target] = Target(version=ImageAPI.version)

    def __init__(
        self,
        db: Database,
        access: ImageAccess,
        store: ImageStore,
        *,
        max_image_bytes: int,
        chunk_bytes: int,
        upload_idle_timeout: float,
    ) -> None:
        self.db = db
        self.access = access
        self.store = store
        self.max_image_bytes = max_image_bytes
        self.chunk_bytes = chunk_bytes
        self.upload_idle_timeout = upload_idle_timeout

    def __repr__(self) -> str:
        return f"<ImageData {self.store!r}>"

    # -- upload ----------------------------------------------------------------

    @endpoint
    async def upload_begin(self, ctx: RequestContext, image_id: str) -> Image:
        """Start (or restart) the upload of a ``queued`` image's data: → ``saving``."""
        image = await self.access.authorized(ctx, image_id, "upload_image")
        if image.status not in ("queued", "saving"):
            raise Conflict(f"Image {image.id} is {image.status}; its data cannot be replaced.")
        await self.store.begin(image.id)
        await self._set_status(image.id, "saving")
        return attrs.evolve(image, status="saving")

    @endpoint
    async def upload_chunk(
        self, ctx: RequestContext, image_id: str, offset: int, data_b64: str
    ) -> int:
        """Append a base64 chunk at `offset` (the size so far); returns the new size."""
        image = await self.access.authorized(ctx, image_id, "upload_image")
        offset = checks.check_count("offset", offset)
        data = checks.decode_chunk(data_b64)
        upload = upload_of(self.store, image)
        async with upload.lock:
            current_upload(self.store, image, upload)
            if offset != upload.size:
                raise Invalid(
                    f"Chunk offset {offset} for image {image.id} does not match the "
                    f"{upload.size} bytes received so far."
                )
            if upload.size + len(data) > self.max_image_bytes:
                await self._abort_upload(image.id)
                raise Invalid(
                    f"Image {image.id} exceeds the maximum image size of "
                    f"{self.max_image_bytes} bytes; its upload was discarded."
                )
            await self.store.append(image.id, upload, data)
            return upload.size

    @endpoint
    async def upload_end(self, ctx: RequestContext, image_id: str) -> Image:
        """Finish an upload: the data goes into place, and the image turns ``active``."""
        image = await self.access.authorized(ctx, image_id, "upload_image")
        upload = upload_of(self.store, image, staging=False)
        async with upload.lock:
            current_upload(self.store, image, upload)
            digests = await self.store.finish(image.id, upload)
            active = attrs.evolve(
                image,
                status="active",
                size=digests.size,
                checksum=digests.checksum,
                os_hash_algo="sha512",
                os_hash_value=digests.os_hash_value,
                updated_at=utcnow(),
            )
            await self.db.execute(
                "UPDATE images SET status = ?, size = ?, checksum = ?, os_hash_algo = ?,"
                " os_hash_value = ?, updated_at = ? WHERE id = ?",
                (
                    active.status,
                    active.size,
                    active.checksum,
                    active.os_hash_algo,
                    active.os_hash_value,
                    isotext(active.updated_at or utcnow()),
                    image.id,
                ),
            )
        log.info("image.uploaded", image_id=image.id, size=active.size)
        return active

    @endpoint
    async def upload_abort(self, ctx: RequestContext, image_id: str) -> Image:
        """Give up an upload (the client went away): the data goes, the image is ``queued``.

        As Glance does when an upload fails, the image can be uploaded again. An image
        with no upload in progress is left as it is.
        """
        image = await self.access.authorized(ctx, image_id, "upload_image")
        upload = self.store.upload(image.id)
        if upload is None or image.status not in _UPLOADING:
            return image
        async with upload.lock:
            if self.store.upload(image.id) is upload:
                await self._abort_upload(image.id)
        return attrs.evolve(image, status="queued")

    async def reap_idle_uploads(self, now: float) -> int:
        """Return every upload idle past the timeout (at `now`) to ``queued``; how many."""
        idle = self.store.idle_uploads(self.upload_idle_timeout, now)
        for image_id in idle:
            upload = self.store.upload(image_id)
            if upload is None:
                continue
            async with upload.lock:
                if self.store.upload(image_id) is upload:
                    await self._abort_upload(image_id)
        return len(idle)

    # -- download --------------------------------------------------------------

    @endpoint
    async def download_chunk(
        self, ctx: RequestContext, image_id: str, offset: int, length: int
    ) -> dict[str, Any]:
        """Up to `length` bytes (capped) from `offset`: ``{"data": base64, "eof": bool}``."""
        image = await self.access.authorized(ctx, image_id, "download_image")
        offset = checks.check_count("offset", offset)
        length = min(checks.check_count("length", length, minimum=1), self.chunk_bytes)
        if image.status == "deactivated" and not is_admin(ctx):
            raise Forbidden(DEACTIVATED)
        if image.status not in ("active", "deactivated") or image.size is None:
            raise Conflict(f"Image {image.id} is {image.status}, so it has no data yet.")
        if offset > image.size:
            raise Invalid(f"offset {offset} is beyond the end of image {image.id}.")
        try:
            data = await self.store.read(image.id, offset, length)
        except FileNotFoundError:
            log.error("image.data_missing", image_id=image.id)
            raise ImageNotFound(f"Image {image.id} has no data in the store.") from None
        eof = offset + len(data) >= image.size
        return {"data": base64.b64encode(data).decode("ascii"), "eof": eof}

    # -- helpers ---------------------------------------------------------------

    async def _abort_upload(self, image_id: str) -> None:
        await self.store.discard(image_id)
        await self._set_status(image_id, "queued")
        log.info("image.upload_discarded", image_id=image_id)

    async def _set_status(self, image_id: str, status: str) -> None:
        await self.db.execute(
            "UPDATE images SET status = ?, updated_at = ? WHERE id = ?",
            (status, isotext(utcnow()), image_id),
        )
