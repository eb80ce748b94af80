"""Uploading a volume to a new image (Cinder's ``os-volume_upload_image``).

The volume goes ``uploading`` while the image service is filled, and back to the
status it had. No storage holds a volume's bytes, so what is uploaded is the data of
the image the volume was made from (copied through this service's scratch
directory), or nothing for a blank volume. The copy runs after the call returns, as
Cinder's does: the caller gets the new image's id at once and waits for it to go
``active``. `drain` waits for the copies under way (the service's stop).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, VolumeInvalidState
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume.store import VolumeStore

__all__ = ["ImageUploads"]

log = structlog.get_logger(__name__)

RULES = {
    "upload": "volume_extension:volume_actions:upload_image",
    "upload_public": "volume_extension:volume_actions:upload_public",
}
DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "ploop")


class ImageUploads:
    """The upload endpoint and the copies it starts (see the module docstring)."""

    def __init__(
        self, store: VolumeStore, policy: Enforcer, images: ImageAPI, scratch: Path
    ) -> None:
        self.store = store
        self.policy = policy
        self.images = images
        self.scratch = scratch
        self._copies: set[asyncio.Task[None]] = set()

    @endpoint
    async def upload_to_image(
        self,
        ctx: RequestContext,
        volume_id: str,
        image_name: str,
        disk_format: str = "raw",
        container_format: str = "bare",
        visibility: str = "private",
        force: bool = False,
    ) -> dict[str, Any]:
        """Start copying a volume into a new image; what Cinder answers about it."""
        volume = await self.store.volume(ctx, check.text("volume_id", volume_id))
        self.policy.authorize(ctx, RULES["upload"], {"project_id": volume.project_id})
        if visibility == "public":
            self.policy.authorize(ctx, RULES["upload_public"], {"project_id": None})
        if disk_format not in DISK_FORMATS:
            raise Invalid(f"Invalid disk-format {disk_format!r}; one of {', '.join(DISK_FORMATS)}.")
        allowed = ("available", "in-use") if check.boolean("force", force) else ("available",)
        image = await self.images.create(
            ctx,
            check.text("image_name", image_name),
            disk_format=disk_format,
            container_format=container_format,
            visibility=visibility,
        )
        try:
            async with self.store.db.transaction() as conn:
                await self.store.swap_status(
                    conn, ctx, volume.id, allowed, "uploading", "upload_to_image"
                )
        except VolumeInvalidState:
            await self.images.delete(ctx, image.id)
            raise
        task = asyncio.create_task(self._copy(ctx, volume, image.id))
        self._copies.add(task)
        task.add_done_callback(self._copies.discard)
        return {
            "id": volume.id,
            "updated_at": None,
            "status": "uploading",
            "display_description": volume.description,
            "size": volume.size,
            "volume_type": None,
            "image_id": image.id,
            "container_format": container_format,
            "disk_format": disk_format,
            "image_name": image.name,
            "visibility": visibility,
            "protected": False,
        }

    async def _copy(self, ctx: RequestContext, volume: objects.Volume, image_id: str) -> None:
        """Fill the image, then give the volume its status back (whatever happened)."""
        try:
            if volume.image_id is None:
                await self.images.upload(ctx, image_id, b"")
            else:
                await self._copy_image(ctx, volume.image_id, image_id)
            log.info("volume.uploaded", volume_id=volume.id, image_id=image_id)
        except Exception as exc:  # the image stays unfilled; the volume is released
            log.warning("volume.upload_failed", volume_id=volume.id, error=str(exc))
        finally:
            async with self.store.db.transaction() as conn:
                await self.store.swap_status(
                    conn, ctx, volume.id, ("uploading",), volume.status, "upload_done"
                )

    async def _copy_image(self, ctx: RequestContext, source: str, image_id: str) -> None:
        path = self.scratch / f"{uuid.uuid4().hex}.img"
        try:
            await self.images.download_to(ctx, source, path)
            await self.images.upload(ctx, image_id, path)
        finally:
            path.unlink(missing_ok=True)

    async def drain(self) -> None:
        """Wait for the copies under way."""
        if self._copies:
            await asyncio.gather(*self._copies, return_exceptions=True)
