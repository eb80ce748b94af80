"""The image manager (Glance's role): image records, uploads and downloads.

An image is created ``queued``; its data arrives in base64 chunks (``upload_begin``
→ ``saving``, ``upload_chunk`` …, ``upload_end`` → ``active``) and leaves the same
way (``download_chunk``), so no host needs a path shared with the store. Private
images are visible only to their owner project and administrators; others get
`ImageNotFound`, exactly as if the image did not exist.
"""

from __future__ import annotations

import base64
import builtins
import json
import time
import uuid
from typing import Any, ClassVar

import attrs
import structlog

from nova_lite import validators
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, ImageNotFound, Invalid, QuotaExceeded
from nova_lite.image import checks
from nova_lite.image.schema import COLUMNS, MIGRATIONS, PLACEHOLDERS, image_from_row, row_values
from nova_lite.image.store import ImageStore, Upload
from nova_lite.objects import Image, utcnow
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport

__all__ = ["ImageManager"]

log = structlog.get_logger(__name__)


def _merge_properties(current: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > checks.MAX_PROPERTIES:
        raise Invalid(f"An image may have at most {checks.MAX_PROPERTIES} properties.")
    return merged


def _is_admin(ctx: RequestContext) -> bool:
    return ctx.is_admin or "admin" in ctx.roles


def _visible(ctx: RequestContext, image: Image) -> bool:
    owned = image.owner is not None and image.owner == ctx.project_id
    return image.visibility == "public" or owned or _is_admin(ctx)


class ImageManager(Manager):
    """The image service's endpoints: image records and their data, in chunks."""

    topic: ClassVar[str] = "image"
    target = Target(version="1.0")

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("image"), MIGRATIONS, name="image")
        self.store: ImageStore | None = None
        self.max_image_bytes = config.image.max_image_bytes
        self.chunk_bytes = checks.chunk_limit(config)
        self.policy = Enforcer.from_file(config.policy.file)
        self.max_images = config.image.image_count_total
        self.upload_idle_timeout = config.image.upload_idle_timeout

    def __repr__(self) -> str:
        return f"<ImageManager {self.host} {self.db!r}>"

    @property
    def _store(self) -> ImageStore:
        if self.store is None:
            raise RuntimeError("The image manager has not been started.")
        return self.store

    async def init_host(self) -> None:
        self.store = ImageStore(self.config.service_dir("images"))
        await self.db.open()
        try:
            # Uploads cannot resume across restarts: their hashing state is gone.
            await self._store.recover()
            await self.db.execute("UPDATE images SET status = 'queued' WHERE status = 'saving'")
        except BaseException:
            await self.db.close()
            raise

    async def cleanup_host(self) -> None:
        await self.db.close()

    # -- records ---------------------------------------------------------------

    @endpoint
    async def create(
        self,
        ctx: RequestContext,
        name: str | None,
        disk_format: str = "raw",
        container_format: str = "bare",
        visibility: str = "private",
        min_disk: int = 0,
        min_ram: int = 0,
        properties: dict[str, str] | None = None,
    ) -> Image:
        """A new ``queued`` image owned by the caller's project (public: admins only)."""
        image = Image(
            id=str(uuid.uuid4()),
            name=validators.image_name(name),
            disk_format=checks.check_choice("disk_format", disk_format, checks.DISK_FORMATS),
            container_format=checks.check_choice(
                "container_format", container_format, checks.CONTAINER_FORMATS
            ),
            visibility=checks.check_choice("visibility", visibility, checks.VISIBILITIES),
            min_disk=checks.check_count("min_disk", min_disk),
            min_ram=checks.check_count("min_ram", min_ram),
            owner=ctx.project_id,
            properties={k: str(v) for k, v in checks.check_properties(properties or {}).items()},
            created_at=utcnow(),
        )
        self.policy.authorize(ctx, "add_image", {"project_id": ctx.project_id})
        if image.visibility == "public":
            self.policy.authorize(ctx, "publicize_image", {"project_id": ctx.project_id})
        async with self.db.transaction() as conn:  # count and insert at once: no overshoot
            await self._check_image_quota(conn, ctx)
            await conn.execute(
                f"INSERT INTO images ({COLUMNS}) VALUES ({PLACEHOLDERS})", row_values(image)
            )
        log.info("image.created", image_id=image.id, owner=image.owner)
        return image

    @endpoint
    async def get(self, ctx: RequestContext, image_id: str) -> Image:
        """The image `image_id`; `ImageNotFound` if it is missing or not visible."""
        return await self._visible_image(ctx, image_id)

    @endpoint
    async def list(self, ctx: RequestContext) -> builtins.list[Image]:
        """The images the caller can see, oldest first."""
        if _is_admin(ctx):
            rows = await self.db.fetchall(f"SELECT {COLUMNS} FROM images ORDER BY created_at, id")
        else:
            rows = await self.db.fetchall(
                f"SELECT {COLUMNS} FROM images WHERE visibility = 'public' OR owner = ?"
                " ORDER BY created_at, id",
                (ctx.project_id,),
            )
        return [image_from_row(row) for row in rows]

    @endpoint
    async def update(
        self,
        ctx: RequestContext,
        image_id: str,
        name: str | None = None,
        properties: dict[str, str | None] | None = None,
    ) -> Image:
        """Rename an image and/or set its `properties` (a None value removes a key).

        `name` None leaves the name as it is; ``""`` clears it (Glance allows no name).
        """
        new_name = None if name is None else validators.image_name(name)
        changes = checks.check_properties(properties or {}, allow_none=True)
        async with self.db.transaction() as conn:  # read-modify-write, so no update is lost
            image = await self._authorized_image(ctx, image_id, "modify_image")
            merged = _merge_properties(image.properties, changes)
            renamed = image.name if new_name is None else new_name
            updated = attrs.evolve(image, name=renamed, properties=merged)
            await conn.execute(
                "UPDATE images SET name = ?, properties = ? WHERE id = ?",
                (updated.name, json.dumps(merged), image.id),
            )
        return updated

    @endpoint
    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image and its data (its owner project or an administrator only)."""
        image = await self._authorized_image(ctx, image_id, "delete_image")
        await self.db.execute("DELETE FROM images WHERE id = ?", (image.id,))
        await self._store.remove(image.id)
        log.info("image.deleted", image_id=image.id)

    # -- data ------------------------------------------------------------------

    @endpoint
    async def upload_begin(self, ctx: RequestContext, image_id: str) -> Image:
        """Start (or restart) the upload of a ``queued`` image's data: → ``saving``."""
        image = await self._authorized_image(ctx, image_id, "upload_image")
        if image.status == "active":
            raise Conflict(f"Image {image.id} is active; its data cannot be replaced.")
        await self._store.begin(image.id)
        await self._set_status(image.id, "saving")
        return attrs.evolve(image, status="saving")

    @endpoint
    async def upload_chunk(
        self, ctx: RequestContext, image_id: str, offset: int, data_b64: str
    ) -> int:
        """Append a base64 chunk at `offset` (the size so far); returns the new size."""
        image = await self._authorized_image(ctx, image_id, "upload_image")
        offset = checks.check_count("offset", offset)
        data = checks.decode_chunk(data_b64)
        upload = self._upload_of(image)
        async with upload.lock:
            self._check_current(image, upload)
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
            await self._store.append(image.id, upload, data)
            return upload.size

    @endpoint
    async def upload_end(self, ctx: RequestContext, image_id: str) -> Image:
        """Finish an upload: the data goes into place, and the image turns ``active``."""
        image = await self._authorized_image(ctx, image_id, "upload_image")
        upload = self._upload_of(image)
        async with upload.lock:
            self._check_current(image, upload)
            digests = await self._store.finish(image.id, upload)
            active = attrs.evolve(
                image,
                status="active",
                size=digests.size,
                checksum=digests.checksum,
                os_hash_algo="sha512",
                os_hash_value=digests.os_hash_value,
            )
            await self.db.execute(
                "UPDATE images SET status = ?, size = ?, checksum = ?, os_hash_algo = ?,"
                " os_hash_value = ? WHERE id = ?",
                (
                    active.status,
                    active.size,
                    active.checksum,
                    active.os_hash_algo,
                    active.os_hash_value,
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
        image = await self._authorized_image(ctx, image_id, "upload_image")
        upload = self._store.upload(image.id)
        if upload is None or image.status != "saving":
            return image
        async with upload.lock:
            if self._store.upload(image.id) is upload:
                await self._abort_upload(image.id)
        return attrs.evolve(image, status="queued")

    def periodic_tasks(self) -> builtins.list[PeriodicTask]:
        """Discard uploads abandoned mid-way (no chunk for ``[image] upload_idle_timeout``)."""
        interval = max(1.0, self.upload_idle_timeout / 4)
        return [PeriodicTask("image.reap_idle_uploads", interval, self._reap)]

    async def _reap(self, ctx: RequestContext) -> None:
        await self.reap_idle_uploads(time.monotonic())

    async def reap_idle_uploads(self, now: float) -> int:
        """Return every upload idle past the timeout (at `now`) to ``queued``; how many."""
        moment = now
        idle = self._store.idle_uploads(self.upload_idle_timeout, moment)
        for image_id in idle:
            upload = self._store.upload(image_id)
            if upload is None:
                continue
            async with upload.lock:
                if self._store.upload(image_id) is upload:
                    await self._abort_upload(image_id)
        return len(idle)

    @endpoint
    async def download_chunk(
        self, ctx: RequestContext, image_id: str, offset: int, length: int
    ) -> dict[str, Any]:
        """Up to `length` bytes (capped) from `offset`: ``{"data": base64, "eof": bool}``."""
        image = await self._authorized_image(ctx, image_id, "download_image")
        offset = checks.check_count("offset", offset)
        length = min(checks.check_count("length", length, minimum=1), self.chunk_bytes)
        if image.status != "active" or image.size is None:
            raise Conflict(f"Image {image.id} is {image.status}, so it has no data yet.")
        if offset > image.size:
            raise Invalid(f"offset {offset} is beyond the end of image {image.id}.")
        try:
            data = await self._store.read(image.id, offset, length)
        except FileNotFoundError:
            log.error("image.data_missing", image_id=image.id)
            raise ImageNotFound(f"Image {image.id} has no data in the store.") from None
        eof = offset + len(data) >= image.size
        return {"data": base64.b64encode(data).decode("ascii"), "eof": eof}

    # -- helpers ---------------------------------------------------------------

    async def _visible_image(self, ctx: RequestContext, image_id: str) -> Image:
        image_id = checks.check_image_id(image_id)
        row = await self.db.fetchone(f"SELECT {COLUMNS} FROM images WHERE id = ?", (image_id,))
        image = image_from_row(row) if row is not None else None
        if image is None or not _visible(ctx, image):
            raise ImageNotFound(f"Image {image_id} could not be found.", image_id=image_id)
        return image

    async def _authorized_image(self, ctx: RequestContext, image_id: str, rule: str) -> Image:
        """The image, if visible (else `ImageNotFound`) and `rule` allows the caller."""
        image = await self._visible_image(ctx, image_id)
        target = {"project_id": image.owner, "visibility": image.visibility}
        self.policy.authorize(ctx, rule, target)
        return image

    async def _check_image_quota(self, conn: Any, ctx: RequestContext) -> None:
        """`QuotaExceeded` if the caller's project already has ``[quota] images`` images."""
        if self.max_images < 0:
            return
        async with conn.execute(
            "SELECT count(*) FROM images WHERE owner = ?", (ctx.project_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row[0] >= self.max_images:
            raise QuotaExceeded(
                f"Quota exceeded for images: project {ctx.project_id} has {row[0]} of its "
                f"{self.max_images} images ([image] image_count_total).",
                resource="images",
            )

    def _upload_of(self, image: Image) -> Upload:
        upload = self._store.upload(image.id)
        if image.status != "saving" or upload is None:
            raise Conflict(f"Image {image.id} has no upload in progress (it is {image.status}).")
        return upload

    def _check_current(self, image: Image, upload: Upload) -> None:
        """Raise if `upload` was restarted, finished or dropped while we waited for it."""
        if self._store.upload(image.id) is not upload:
            raise Conflict(f"The upload of image {image.id} was restarted or ended.")

    async def _abort_upload(self, image_id: str) -> None:
        await self._store.discard(image_id)
        await self._set_status(image_id, "queued")
        log.info("image.upload_discarded", image_id=image_id)

    async def _set_status(self, image_id: str, status: str) -> None:
        await self.db.execute("UPDATE images SET status = ? WHERE id = ?", (status, image_id))
