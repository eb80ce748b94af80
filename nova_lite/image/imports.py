"""The image service's endpoints for interoperable import (Glance's ``glance-direct``).

A ``queued`` image's data is first staged: ``stage_begin`` (→ ``uploading``), the
same ``upload_chunk`` calls as an upload, ``stage_end`` (the data is complete in
``<id>.staged``, the image still ``uploading``). ``import_image`` then makes it the
image's data: a task (``api_image_import``) records the request, the image is
``importing`` and then ``active`` with the staged data's size and checksums; the
task ends ``success`` (or ``failure``, the image back to ``queued``). A staging
given up or abandoned returns the image to ``queued``, as an upload does; staged data
survives a restart. ``web-download`` and ``glance-download`` are not offered: they
fetch data from URLs or other clouds, which this image service does not do.
"""

from __future__ import annotations

import builtins
import datetime
import uuid
from typing import Any, ClassVar

import attrs
import structlog

from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, ImageNotFound, Invalid
from nova_lite.image.access import ImageAccess
from nova_lite.image.data import current_upload, upload_of
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.image.schema import TASK_COLUMNS, isotext, task_from_row, task_values
from nova_lite.image.store import ImageStore
from nova_lite.objects import Image, ImageTask, utcnow
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["IMPORT_METHODS", "STORES", "ImageImports"]

log = structlog.get_logger(__name__)

IMPORT_METHODS = ("glance-direct",)
STORES = ("file",)  # the one store: the image service's files
TASK_TIME_TO_LIVE = datetime.timedelta(hours=48)  # Glance's task_time_to_live
_INSERT_TASK = f"INSERT INTO image_tasks ({TASK_COLUMNS}) VALUES ({', '.join('?' * 13)})"


def _import_request(request: dict[str, Any]) -> tuple[str, builtins.list[str]]:
    """The method name and the stores of an import request (Glance's body); `Invalid`."""
    method = request.get("method")
    if not isinstance(method, dict):
        raise Invalid("Import request requires a 'method' field.")
    name = method.get("name")
    if name is None:
        raise Invalid("Import request requires a 'name' field.")
    if name not in IMPORT_METHODS:
        raise Invalid(f"Unknown import method name '{name}'.")
    for flag in ("all_stores", "all_stores_must_succeed"):
        if not isinstance(request.get(flag, False), bool):
            raise Invalid(f"'{flag}' must be boolean value only")
    stores = request.get("stores", list(STORES))
    if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
        raise Invalid("'stores' must be a list of store identifiers.")
    unknown = [s for s in stores if s not in STORES]
    if unknown:
        raise Invalid(f"Unknown store '{unknown[0]}': this cloud has one store, 'file'.")
    return str(name), stores or list(STORES)


class ImageImports:
    """The endpoints that stage image data and import it, and the image tasks."""

    target: ClassVar[Target] = Target(version=ImageAPI.version)

    def __init__(self, db: Database, access: ImageAccess, store: ImageStore) -> None:
        self.db = db
        self.access = access
        self.store = store

    def __repr__(self) -> str:
        return f"<ImageImports {self.store!r}>"

    # -- staging ---------------------------------------------------------------

    @endpoint
    async def stage_begin(self, ctx: RequestContext, image_id: str) -> Image:
        """Start (or restart) staging a ``queued`` image's data: → ``uploading``."""
        image = await self.access.authorized(ctx, image_id, "modify_image")
        staging = self.store.upload(image.id)
        restart = image.status == "uploading" and staging is not None and staging.staging
        if image.status != "queued" and not restart:
            raise Conflict(f"Image {image.id} is {image.status}; only a queued image is staged.")
        await self.store.begin(image.id, staging=True)
        await self._set_status(image.id, "uploading")
        return attrs.evolve(image, status="uploading")

    @endpoint
    async def stage_end(self, ctx: RequestContext, image_id: str) -> Image:
        """Finish staging: the data waits, complete, for ``import_image``."""
        image = await self.access.authorized(ctx, image_id, "modify_image")
        upload = upload_of(self.store, image, staging=True)
        async with upload.lock:
            current_upload(self.store, image, upload)
            digests = await self.store.finish(image.id, upload)
            async with self.db.transaction() as conn:  # the image may be gone by now
                cursor = await conn.execute(
                    "INSERT OR REPLACE INTO image_staging (image_id, size, checksum,"
                    " os_hash_value) SELECT ?, ?, ?, ? WHERE EXISTS"
                    " (SELECT 1 FROM images WHERE id = ?)",
                    (image.id, digests.size, digests.checksum, digests.os_hash_value, image.id),
                )
            if cursor.rowcount == 0:
                await self.store.unstage(image.id)
                raise ImageNotFound(f"Image {image.id} was deleted while it was staged.")
        log.info("image.staged", image_id=image.id, size=digests.size)
        return image

    # -- import ----------------------------------------------------------------

    @endpoint
    async def import_image(
        self, ctx: RequestContext, image_id: str, request: dict[str, Any]
    ) -> ImageTask:
        """Import the staged data of an image (Glance's import request, as sent)."""
        method, stores = _import_request(request)
        now = utcnow()
        async with self.db.transaction() as conn:
            image = await self.access.authorized(ctx, image_id, "modify_image")
            staged = await self._staged(image)
            task = ImageTask(
                id=str(uuid.uuid4()),
                image_id=image.id,
                status="processing",
                input={"image_id": image.id, "import_req": request, "backend": stores},
                owner=ctx.project_id,
                user_id=ctx.user_id,
                request_id=ctx.request_id,
                created_at=now,
                updated_at=now,
            )
            await conn.execute(_INSERT_TASK, task_values(task))
            await self._set_status(image.id, "importing")
        log.info("image.import_started", image_id=image.id, method=method, task_id=task.id)
        return await self._finish(task, staged)

    async def _staged(self, image: Image) -> tuple[int, str, str]:
        if image.status == "active":
            raise Conflict("Image with status active cannot be target for import")
        row = await self.db.fetchone(
            "SELECT size, checksum, os_hash_value FROM image_staging WHERE image_id = ?",
            (image.id,),
        )
        if image.status != "uploading" or row is None:
            raise Conflict(
                f"Image {image.id} needs to be staged before 'glance-direct' method can be used"
            )
        return int(row[0]), str(row[1]), str(row[2])

    async def _finish(
        self, task: ImageTask, staged: tuple[int, str, str], *, move: bool = True
    ) -> ImageTask:
        """Move the staged data into place (unless a crash came after it moved); the
        image turns active and the task succeeds."""
        size, checksum, os_hash_value = staged
        now = utcnow()
        try:
            if move:
                await self.store.promote(task.image_id)
        except FileNotFoundError:
            log.error("image.staged_data_missing", image_id=task.image_id)
            return await self._fail(task, "The staged data of the image is gone.")
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE images SET status = 'active', size = ?, checksum = ?,"
                " os_hash_algo = 'sha512', os_hash_value = ?, updated_at = ? WHERE id = ?",
                (size, checksum, os_hash_value, isotext(now), task.image_id),
            )
            await conn.execute("DELETE FROM image_staging WHERE image_id = ?", (task.image_id,))
            done = await self._end_task(conn, task, "success", result={"image_id": task.image_id})
        log.info("image.imported", image_id=task.image_id, size=size, task_id=task.id)
        return done

    async def _fail(self, task: ImageTask, message: str) -> ImageTask:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM image_staging WHERE image_id = ?", (task.image_id,))
            await self._set_status(task.image_id, "queued")
            return await self._end_task(conn, task, "failure", message=message)

    async def _end_task(
        self,
        conn: Any,
        task: ImageTask,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        message: str = "",
    ) -> ImageTask:
        now = utcnow()
        done = attrs.evolve(
            task,
            status=status,
            result=result,
            message=message,
            updated_at=now,
            expires_at=now + TASK_TIME_TO_LIVE,
        )
        await conn.execute("DELETE FROM image_tasks WHERE id = ?", (task.id,))
        await conn.execute(_INSERT_TASK, task_values(done))
        return done

    @endpoint
    async def list_tasks(self, ctx: RequestContext, image_id: str) -> builtins.list[ImageTask]:
        """The image's tasks (its imports), oldest first."""
        image = await self.access.authorized(ctx, image_id, "get_image")
        rows = await self.db.fetchall(
            f"SELECT {TASK_COLUMNS} FROM image_tasks WHERE image_id = ? ORDER BY created_at",
            (image.id,),
        )
        return [task_from_row(row) for row in rows]

    # -- restart ---------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart: finish imports cut short, keep staged data, drop the rest.

        An image ``uploading`` with its staged data complete stays so (the import can
        be asked for); one ``importing`` is finished if its data was moved (else it is
        staged again); one with neither is ``queued`` again, as Glance's would be.
        """
        rows = await self.db.fetchall(
            "SELECT id, status FROM images WHERE status IN ('uploading', 'importing')"
        )
        for image_id, status in rows:
            staged = await self.store.holds(image_id, staged=True)
            moved = status == "importing" and await self.store.holds(image_id)
            if moved:
                await self._recover_import(image_id)
            elif staged:
                await self._set_status(image_id, "uploading")
            else:
                await self.db.execute("DELETE FROM image_staging WHERE image_id = ?", (image_id,))
                await self._set_status(image_id, "queued")
            log.info("image.import_recovered", image_id=image_id, status=status)

    async def _recover_import(self, image_id: str) -> None:
        row = await self.db.fetchone(
            f"SELECT {TASK_COLUMNS} FROM image_tasks WHERE image_id = ? AND status ="
            " 'processing' ORDER BY created_at DESC",
            (image_id,),
        )
        staged = await self.db.fetchone(
            "SELECT size, checksum, os_hash_value FROM image_staging WHERE image_id = ?",
            (image_id,),
        )
        if row is None or staged is None:
            await self._set_status(image_id, "queued")
            return
        values = (int(staged[0]), str(staged[1]), str(staged[2]))
        await self._finish(task_from_row(row), values, move=False)

    async def _set_status(self, image_id: str, status: str) -> None:
        await self.db.execute(
            "UPDATE images SET status = ?, updated_at = ? WHERE id = ?",
            (status, isotext(utcnow()), image_id),
        )
