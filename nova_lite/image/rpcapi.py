"""The client side of the image service: `ImageAPI`, its endpoints and streaming helpers.

Besides one method per endpoint, `ImageAPI` streams data: `upload` sends bytes or a
file in base64 chunks, `download_to` fetches an image into a local file, checking
its MD5 and SHA-512 before the file appears under its final name, and
`create_from_bytes` creates and uploads in one go.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import os
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import structlog

from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.image.checks import chunk_limit
from nova_lite.image.transfer import (
    Digests,
    abort_quietly,
    chunks,
    close_synced,
    opened_partial,
    verify,
    write_digested,
)
from nova_lite.objects import Image, ImageChange, ImageMember, ImageQuery, ImageTask
from nova_lite.rpc import ObjectSerializer
from nova_lite.rpcapi import RPCAPI
from nova_lite.transport import Transport

log = structlog.get_logger(__name__)

__all__ = ["ImageAPI"]


class ImageAPI(RPCAPI):
    """How other services reach the image service (topic ``image``, API 1.1).

    1.1: protected, hidden and tagged images, Glance's visibilities and update
    operations, list queries, members, deactivate/reactivate.
    """

    topic: ClassVar[str] = "image"
    version: ClassVar[str] = "1.1"

    def __init__(
        self,
        transport: Transport,
        config: Config,
        *,
        serializer: ObjectSerializer | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(transport, config, serializer=serializer, timeout=timeout)
        self.chunk_bytes = chunk_limit(config)

    # -- endpoints: records ------------------------------------------------------

    async def create(
        self,
        ctx: RequestContext,
        name: str | None,
        *,
        disk_format: str = "raw",
        container_format: str = "bare",
        visibility: str = "private",
        min_disk: int = 0,
        min_ram: int = 0,
        properties: dict[str, str] | None = None,
        protected: bool = False,
        os_hidden: bool = False,
        tags: list[str] | None = None,
        owner: str | None = None,
        image_id: str | None = None,
    ) -> Image:
        """A new ``queued`` image owned by `owner` (default: the caller's project).

        Public images need an administrator (``publicize_image``), as does another
        project as `owner`; `image_id` chooses the id (a new lowercase UUID).
        """
        image: Image = await self.invoker.call(
            ctx,
            "create",
            name=name,
            disk_format=disk_format,
            container_format=container_format,
            visibility=visibility,
            min_disk=min_disk,
            min_ram=min_ram,
            properties=properties,
            protected=protected,
            os_hidden=os_hidden,
            tags=tags,
            owner=owner,
            image_id=image_id,
        )
        return image

    async def get(self, ctx: RequestContext, image_id: str) -> Image:
        """The image `image_id`; `ImageNotFound` if it is missing or not visible."""
        image: Image = await self.invoker.call(ctx, "get", image_id=image_id)
        return image

    async def list(
        self, ctx: RequestContext, query: ImageQuery | None = None
    ) -> builtins.list[Image]:
        """The images `query` asks for (Glance's list parameters), or, without one, the
        images Glance lists by default (no hidden ones), oldest first."""
        images: builtins.list[Image] = await self.invoker.call(ctx, "list", query=query)
        return images

    async def update(
        self,
        ctx: RequestContext,
        image_id: str,
        *,
        name: str | None = None,
        properties: dict[str, str | None] | None = None,
        purge_properties: bool = False,
    ) -> Image:
        """Rename an image and/or set properties (a None value removes a key); with
        `purge_properties` the extra properties become exactly `properties`."""
        image: Image = await self.invoker.call(
            ctx,
            "update",
            image_id=image_id,
            name=name,
            properties=properties,
            purge_properties=purge_properties,
        )
        return image

    async def update_image(
        self,
        ctx: RequestContext,
        image_id: str,
        changes: builtins.list[ImageChange],
        *,
        strict_add: bool = False,
    ) -> Image:
        """Apply Glance's update operations to an image, all or none."""
        image: Image = await self.invoker.call(
            ctx, "update_image", image_id=image_id, changes=changes, strict_add=strict_add
        )
        return image

    async def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Tag an image (again: no change)."""
        image: Image = await self.invoker.call(ctx, "add_tag", image_id=image_id, tag=tag)
        return image

    async def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Take a tag off an image; `NotFound` if it does not have it."""
        image: Image = await self.invoker.call(ctx, "delete_tag", image_id=image_id, tag=tag)
        return image

    async def deactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """Make an active image's data unavailable (but to administrators)."""
        image: Image = await self.invoker.call(ctx, "deactivate", image_id=image_id)
        return image

    async def reactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """Make a deactivated image's data available again."""
        image: Image = await self.invoker.call(ctx, "reactivate", image_id=image_id)
        return image

    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image and its data (owner project or administrator; not protected)."""
        await self.invoker.call(ctx, "delete", image_id=image_id)

    # -- endpoints: members ------------------------------------------------------

    async def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
        """Share a ``shared`` image with project `member_id` (``pending``)."""
        member: ImageMember = await self.invoker.call(
            ctx, "add_member", image_id=image_id, member_id=member_id
        )
        return member

    async def list_members(self, ctx: RequestContext, image_id: str) -> builtins.list[ImageMember]:
        """The image's members (a member project sees only its own membership)."""
        members: builtins.list[ImageMember] = await self.invoker.call(
            ctx, "list_members", image_id=image_id
        )
        return members

    async def get_member(self, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
        """One membership of an image."""
        member: ImageMember = await self.invoker.call(
            ctx, "get_member", image_id=image_id, member_id=member_id
        )
        return member

    async def update_member(
        self, ctx: RequestContext, image_id: str, member_id: str, status: str
    ) -> ImageMember:
        """Accept, reject (or leave pending) an image shared with the caller's project."""
        member: ImageMember = await self.invoker.call(
            ctx, "update_member", image_id=image_id, member_id=member_id, status=status
        )
        return member

    async def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        """Stop sharing an image with `member_id`."""
        await self.invoker.call(ctx, "delete_member", image_id=image_id, member_id=member_id)

    # -- endpoints: import ---------------------------------------------------------

    async def stage_begin(self, ctx: RequestContext, image_id: str) -> Image:
        """Start staging a ``queued`` image's data (chunks as an upload's); → ``uploading``."""
        image: Image = await self.invoker.call(ctx, "stage_begin", image_id=image_id)
        return image

    async def stage_end(self, ctx: RequestContext, image_id: str) -> Image:
        """Finish staging; the data waits for `import_image`."""
        image: Image = await self.invoker.call(ctx, "stage_end", image_id=image_id)
        return image

    async def import_image(
        self, ctx: RequestContext, image_id: str, request: dict[str, Any]
    ) -> ImageTask:
        """Import an image's staged data (`request` is Glance's import body); the task."""
        task: ImageTask = await self.invoker.call(
            ctx, "import_image", image_id=image_id, request=request
        )
        return task

    async def list_tasks(self, ctx: RequestContext, image_id: str) -> builtins.list[ImageTask]:
        """The image's tasks (its imports), oldest first."""
        tasks: builtins.list[ImageTask] = await self.invoker.call(
            ctx, "list_tasks", image_id=image_id
        )
        return tasks

    # -- endpoints: the tasks API ------------------------------------------------------

    async def task_create(
        self, ctx: RequestContext, type: str, input: dict[str, Any]
    ) -> dict[str, Any]:
        """A new task (admins; Glance's deprecated ``POST /v2/tasks``)."""
        result: dict[str, Any] = await self.invoker.call(ctx, "task_create", type=type, input=input)
        return result

    async def task_get(self, ctx: RequestContext, task_id: str) -> dict[str, Any]:
        """One task (admins)."""
        result: dict[str, Any] = await self.invoker.call(ctx, "task_get", task_id=task_id)
        return result

    async def task_list(
        self, ctx: RequestContext, *, status: str | None = None, type: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The tasks not yet expired, newest first (admins)."""
        result: builtins.list[dict[str, Any]] = await self.invoker.call(
            ctx, "task_list", status=status, type=type
        )
        return result

    # -- endpoints: metadata definitions -----------------------------------------------

    async def metadef_list_namespaces(
        self,
        ctx: RequestContext,
        *,
        visibility: str | None = None,
        resource_types: builtins.list[str] | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """The metadata-definition namespaces the caller may see."""
        found: builtins.list[dict[str, Any]] = await self.invoker.call(
            ctx, "metadef_list_namespaces", visibility=visibility, resource_types=resource_types
        )
        return found

    async def metadef_create_namespace(
        self, ctx: RequestContext, values: dict[str, Any]
    ) -> dict[str, Any]:
        """A new namespace (Glance's namespace document, elements included)."""
        found: dict[str, Any] = await self.invoker.call(
            ctx, "metadef_create_namespace", values=values
        )
        return found

    async def metadef_get_namespace(self, ctx: RequestContext, namespace: str) -> dict[str, Any]:
        """A namespace with its elements."""
        found: dict[str, Any] = await self.invoker.call(
            ctx, "metadef_get_namespace", namespace=namespace
        )
        return found

    async def metadef_update_namespace(
        self, ctx: RequestContext, namespace: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a namespace's fields (its name too)."""
        found: dict[str, Any] = await self.invoker.call(
            ctx, "metadef_update_namespace", namespace=namespace, values=values
        )
        return found

    async def metadef_delete_namespace(self, ctx: RequestContext, namespace: str) -> None:
        """Delete a namespace (403 while protected)."""
        await self.invoker.call(ctx, "metadef_delete_namespace", namespace=namespace)

    async def metadef_list_resource_types(
        self, ctx: RequestContext
    ) -> builtins.list[dict[str, Any]]:
        """The resource types namespaces may be associated with."""
        found: builtins.list[dict[str, Any]] = await self.invoker.call(
            ctx, "metadef_list_resource_types"
        )
        return found

    async def metadef_list_elements(
        self, ctx: RequestContext, namespace: str, kind: str
    ) -> builtins.list[dict[str, Any]]:
        """A namespace's elements of `kind` (object, property, tag, resource_type)."""
        found: builtins.list[dict[str, Any]] = await self.invoker.call(
            ctx, "metadef_list_elements", namespace=namespace, kind=kind
        )
        return found

    async def metadef_get_element(
        self, ctx: RequestContext, namespace: str, kind: str, name: str
    ) -> dict[str, Any]:
        """One element of a namespace."""
        found: dict[str, Any] = await self.invoker.call(
            ctx, "metadef_get_element", namespace=namespace, kind=kind, name=name
        )
        return found

    async def metadef_put_element(
        self,
        ctx: RequestContext,
        namespace: str,
        kind: str,
        name: str,
        body: dict[str, Any],
        *,
        create: bool,
    ) -> dict[str, Any]:
        """Create (`create`) or replace an element of a namespace."""
        found: dict[str, Any] = await self.invoker.call(
            ctx,
            "metadef_put_element",
            namespace=namespace,
            kind=kind,
            name=name,
            body=body,
            create=create,
        )
        return found

    async def metadef_delete_element(
        self, ctx: RequestContext, namespace: str, kind: str, name: str | None = None
    ) -> None:
        """Delete an element of a namespace (every one of `kind`, without `name`)."""
        await self.invoker.call(
            ctx, "metadef_delete_element", namespace=namespace, kind=kind, name=name
        )

    async def metadef_create_tags(
        self, ctx: RequestContext, namespace: str, names: builtins.list[str], *, append: bool
    ) -> builtins.list[dict[str, Any]]:
        """Set (or, with `append`, add to) a namespace's tags."""
        found: builtins.list[dict[str, Any]] = await self.invoker.call(
            ctx, "metadef_create_tags", namespace=namespace, names=names, append=append
        )
        return found

    # -- endpoints: data -----------------------------------------------------------

    async def upload_begin(self, ctx: RequestContext, image_id: str) -> Image:
        """Start (or restart) an upload; the image turns ``saving``."""
        image: Image = await self.invoker.call(ctx, "upload_begin", image_id=image_id)
        return image

    async def upload_chunk(
        self, ctx: RequestContext, image_id: str, offset: int, data: bytes
    ) -> int:
        """Send one chunk, which must start at `offset` (the size so far); the new size."""
        data_b64 = base64.b64encode(data).decode("ascii")
        size: int = await self.invoker.call(
            ctx, "upload_chunk", image_id=image_id, offset=offset, data_b64=data_b64
        )
        return size

    async def upload_end(self, ctx: RequestContext, image_id: str) -> Image:
        """Finish an upload; the image turns ``active`` with its size and checksums."""
        image: Image = await self.invoker.call(ctx, "upload_end", image_id=image_id)
        return image

    async def upload_abort(self, ctx: RequestContext, image_id: str) -> Image:
        """Give up an upload: its data is dropped and the image is ``queued`` again."""
        image: Image = await self.invoker.call(ctx, "upload_abort", image_id=image_id)
        return image

    async def download_chunk(
        self, ctx: RequestContext, image_id: str, offset: int, length: int
    ) -> tuple[bytes, bool]:
        """Up to `length` bytes of image data from `offset`, and whether that is the end."""
        reply: dict[str, Any] = await self.invoker.call(
            ctx, "download_chunk", image_id=image_id, offset=offset, length=length
        )
        return base64.b64decode(reply["data"]), bool(reply["eof"])

    # -- streaming helpers -----------------------------------------------------

    async def upload(
        self, ctx: RequestContext, image_id: str, source: bytes | Path, *, stage: bool = False
    ) -> Image:
        """Upload all of `source` (bytes, or a file's contents) in chunks; the active image
        (with `stage`: staged for `import_image`, the image still ``uploading``)."""
        begin, end = (
            (self.stage_begin, self.stage_end)
            if stage
            else (
                self.upload_begin,
                self.upload_end,
            )
        )
        await begin(ctx, image_id)
        try:
            offset = 0
            async for chunk in chunks(source, self.chunk_bytes):
                offset = await self.upload_chunk(ctx, image_id, offset, chunk)
            return await end(ctx, image_id)
        except BaseException:
            await abort_quietly(self.upload_abort(ctx, image_id), image_id)
            raise

    async def create_from_bytes(
        self, ctx: RequestContext, name: str, data: bytes, **kwargs: Any
    ) -> Image:
        """Create an image (`kwargs` as for `create`) and upload `data` into it."""
        image = await self.create(ctx, name, **kwargs)
        return await self.upload(ctx, image.id, data)

    async def download_to(
        self,
        ctx: RequestContext,
        image_id: str,
        dest: Path,
        *,
        expected_checksum: str | None = None,
    ) -> Image:
        """Stream an image into `dest`, verified; `ImageChecksumMismatch` leaves no file.

        The data goes to a temporary file beside `dest`, is checked against
        `expected_checksum` (MD5), the image's recorded MD5 and, when recorded, its
        SHA-512, and only then renamed to `dest`.
        """
        image = await self.get(ctx, image_id)
        partial, handle = await opened_partial(dest)
        try:
            digests = await self._download_into(ctx, image, handle)
            await asyncio.to_thread(close_synced, handle)
            verify(image, digests, expected_checksum)
            await asyncio.to_thread(os.replace, partial, dest)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        return image

    async def _download_into(self, ctx: RequestContext, image: Image, handle: BinaryIO) -> Digests:
        digests = Digests()
        eof = False
        while not eof:
            data, eof = await self.download_chunk(ctx, image.id, digests.size, self.chunk_bytes)
            if not data and not eof:
                break  # the store has less than the image claims; _verify reports it
            await asyncio.to_thread(write_digested, handle, digests, data)
        return digests
