"""The host's base-image cache and the qcow2 files made on it, through ``qemu-img``.

Nova's layout: every image a guest boots from (root image, kernel, ramdisk) is kept
once per host under ``images_path`` by image id, and each root disk is a qcow2
overlay whose backing file is that base, so a hundred guests of one image share its
bytes. Volumes (which have no real storage in nova_lite) get a blank qcow2 each.
``qemu-img`` runs as an asyncio subprocess and file copies in a worker thread:
nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from nova_lite.exceptions import HypervisorError, Invalid

__all__ = ["GiB", "ImageCache", "QemuImg"]

GiB = 1024**3
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class QemuImg:
    """The ``qemu-img`` command: create, inspect, resize and convert disk images."""

    def __init__(self, binary: str = "qemu-img") -> None:
        self.binary = binary

    def __repr__(self) -> str:
        return f"<QemuImg {self.binary}>"

    async def run(self, *args: str) -> str:
        """Run ``qemu-img args``; its output, or `HypervisorError` with its message."""
        try:
            process = await asyncio.create_subprocess_exec(
                self.binary,
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise HypervisorError(
                f"{self.binary} is not installed; the libvirt driver needs it for disks "
                "(Debian: apt-get install qemu-utils)."
            ) from None
        out, err = await process.communicate()
        if process.returncode != 0:
            raise HypervisorError(
                f"qemu-img {args[0]} failed: {err.decode(errors='replace').strip()}"
            )
        return out.decode(errors="replace")

    async def virtual_size(self, path: Path, fmt: str) -> int:
        """The size in bytes the guest sees of the image at `path`."""
        info = json.loads(await self.run("info", "--output=json", "-f", fmt, str(path)))
        return int(info["virtual-size"])

    async def create_overlay(self, base: Path, fmt: str, dest: Path, size: int | None) -> None:
        """A qcow2 file at `dest` backed by `base` (of format `fmt`), `size` bytes if given."""
        args = ["create", "-q", "-f", "qcow2", "-F", fmt, "-b", str(base), str(dest)]
        await self.run(*args, *([str(size)] if size else []))

    async def create_blank(self, dest: Path, size: int) -> None:
        """An empty qcow2 file of `size` bytes (it takes almost no space until written)."""
        await self.run("create", "-q", "-f", "qcow2", str(dest), str(size))

    async def grow(self, path: Path, size: int) -> None:
        """Make the qcow2 image at `path` `size` bytes, if it is smaller."""
        if await self.virtual_size(path, "qcow2") < size:
            await self.run("resize", "-q", "-f", "qcow2", str(path), str(size))

    async def export(self, path: Path, fmt: str = "qcow2") -> bytes:
        """The image at `path` with its backing chain flattened, as `fmt` bytes."""
        dest = path.with_name(f".{path.name}.{uuid.uuid4().hex}.export")
        try:
            # -U: read even while a running guest holds the image's lock.
            await self.run("convert", "-U", "-O", fmt, str(path), str(dest))
            return await asyncio.to_thread(dest.read_bytes)
        finally:
            await asyncio.to_thread(dest.unlink, missing_ok=True)


class ImageCache:
    """Base images by id under `images_path`, and volume disks under `volumes_path`."""

    def __init__(self, images_path: Path, volumes_path: Path, qemu_img: QemuImg) -> None:
        self.images_path = images_path
        self.volumes_path = volumes_path
        self.qemu_img = qemu_img
        self._locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )

    def __repr__(self) -> str:
        return f"<ImageCache {self.images_path}>"

    def base_path(self, image_id: str) -> Path:
        """Where the base of image `image_id` is (or will be) kept."""
        return self.images_path / _safe(image_id, "image id")

    def volume_path(self, volume_id: str) -> Path:
        """The disk file of volume `volume_id`."""
        return self.volumes_path / f"{_safe(volume_id, 'volume id')}.qcow2"

    async def add(self, image_id: str, source: Path) -> Path:
        """The base of `image_id`, taken from the verified download `source` if new.

        A hard link when both are on one filesystem, else a copy; it appears under its
        final name only once complete, so a crash never leaves half a base behind.
        """
        base = self.base_path(image_id)
        async with self._locks[image_id]:
            if not base.exists():
                await asyncio.to_thread(_link_or_copy, source, base)
        return base

    async def overlay(self, image_id: str, fmt: str, dest: Path, root_gb: int) -> None:
        """A root disk at `dest` on the base of `image_id`: the flavor's size, or the image's.

        `Invalid` if the image is larger than the flavor's root disk.
        """
        base = self.base_path(image_id)
        image_size = await self.qemu_img.virtual_size(base, fmt)
        size = root_gb * GiB
        if size and image_size > size:
            raise Invalid(
                f"Image {image_id} is {image_size} bytes, larger than the flavor's root "
                f"disk of {root_gb} GiB."
            )
        await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
        await self.qemu_img.create_overlay(base, fmt, dest, size or None)

    async def volume_disk(self, volume_id: str, size_gb: int) -> Path:
        """The disk of volume `volume_id`, created blank (`size_gb` GiB) on first use."""
        path = self.volume_path(volume_id)
        async with self._locks[f"volume:{volume_id}"]:
            if not path.exists():
                await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
                await self.qemu_img.create_blank(path, max(size_gb, 1) * GiB)
        return path


def _safe(name: str, what: str) -> str:
    """`name` if it is usable as a file name, else `Invalid`."""
    if not _SAFE_NAME.match(name):
        raise Invalid(f"The {what} {name!r} cannot name a file on the host.")
    return name


def _link_or_copy(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, dest)
