"""A compute host's cache of verified image files, for the driver to boot from.

Each image is downloaded once per host (checksum verified by the image client) into
``<state_path>/compute/<host>/images/<image id>``; concurrent builds of one image
wait for the first download instead of fetching it twice.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.virt.driver import ComputeDriver

__all__ = ["ImageCache"]


class ImageCache:
    """The images an instance boots from, fetched into one host's cache directory."""

    def __init__(self, image: ImageAPI, driver: ComputeDriver, cache_dir: Path) -> None:
        self.image = image
        self.driver = driver
        self.cache_dir = cache_dir
        self._locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )
        self._present: set[str] = set()  # images whose file this cache has seen in place

    def __repr__(self) -> str:
        return f"<ImageCache {self.cache_dir}>"

    async def fetch(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        *,
        known: objects.Image | None = None,
    ) -> tuple[objects.Image | None, Path | None]:
        """The instance's image and its cached file (none for a volume-booted instance).

        A driver that boots images needing other images (a kernel and a ramdisk named
        by ``kernel_id``/``ramdisk_id``) gets them fetched the same way, through its
        optional ``prepare_image_files(image, fetch)`` hook.

        `known` is the image's metadata as the caller already has it (the request
        spec's, checked by the API): used instead of asking the image service again
        when it is that image, active, with a checksum to verify the copy against.
        """
        if not instance.image_ref:
            return None, None
        usable = (
            known is not None
            and known.id == instance.image_ref
            and known.status == "active"
            and known.checksum is not None
        )
        image, path = await self._cached(ctx, instance.image_ref, known if usable else None)
        prepare = getattr(self.driver, "prepare_image_files", None)
        if prepare is not None:

            async def fetch(image_id: str) -> Path:
                return (await self._cached(ctx, image_id))[1]

            await prepare(image, fetch)
        return image, path

    async def _cached(
        self, ctx: RequestContext, image_id: str, known: objects.Image | None = None
    ) -> tuple[objects.Image, Path]:
        """One image's metadata and its verified copy in this host's cache."""
        image = known if known is not None else await self.image.get(ctx, image_id)
        path = self.cache_dir / image.id
        if image.id in self._present:
            return image, path
        async with self._locks[image.id]:
            if not path.exists():
                await self.image.download_to(ctx, image.id, path, expected_checksum=image.checksum)
            self._present.add(image.id)
        return image, path
