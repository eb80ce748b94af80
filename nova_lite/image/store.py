"""The image data store: one file per image under one directory, named by image id.

Only canonical UUID strings (which the image service generates) ever become file
names, so no caller-supplied text can reach outside the store. An upload writes to
``<id>.partial`` while hashing incrementally, and is renamed to ``<id>`` only when
complete: a half-written image never looks like a whole one. Staged data (Glance's
``glance-direct`` import) is renamed to ``<id>.staged`` instead, and becomes
``<id>`` when the import is asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import attrs

from nova_lite import clock
from nova_lite.exceptions import ImageNotFound
from nova_lite.image.checks import is_image_id

__all__ = ["Digests", "ImageStore", "Upload"]

_PARTIAL = ".partial"
_STAGED = ".staged"


@attrs.define(eq=False)
class Upload:
    """An upload in progress: bytes received so far and their running hashes.

    Whoever appends to, finishes or discards it holds `lock` while doing so.
    """

    staging: bool = False  # bound for ``<id>.staged`` (an import), not ``<id>``
    size: int = 0
    touched: float = attrs.field(factory=clock.monotonic)  # when a chunk last arrived
    md5: Any = attrs.field(factory=lambda: hashlib.md5(usedforsecurity=False))
    sha512: Any = attrs.field(factory=hashlib.sha512)
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)


@attrs.frozen
class Digests:
    """What a finished upload measured: its size, MD5 and SHA-512 (hex)."""

    size: int
    checksum: str
    os_hash_value: str


class ImageStore:
    """Image data files under `root`; tracks the uploads in progress."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._uploads: dict[str, Upload] = {}

    def __repr__(self) -> str:
        return f"<ImageStore {self.root} uploads={len(self._uploads)}>"

    def path(self, image_id: str) -> Path:
        """The data file of `image_id`; `ImageNotFound` unless it is a canonical UUID."""
        if not is_image_id(image_id):
            raise ImageNotFound(f"Image {image_id!r:.80} could not be found.")
        return self.root / image_id

    def _partial(self, image_id: str) -> Path:
        return self.path(image_id).with_name(image_id + _PARTIAL)

    def staged_path(self, image_id: str) -> Path:
        """Where `image_id`'s staged data is kept until it is imported."""
        return self.path(image_id).with_name(image_id + _STAGED)

    async def recover(self) -> None:
        """Delete partial files left by uploads a previous run did not finish."""
        await asyncio.to_thread(_remove_partials, self.root)

    def upload(self, image_id: str) -> Upload | None:
        """The upload in progress for `image_id`, if any."""
        return self._uploads.get(image_id)

    async def begin(self, image_id: str, *, staging: bool = False) -> Upload:
        """Start (or restart, dropping what came before) an upload for `image_id`
        (`staging`: its data is staged for an import, not the image's data yet)."""
        partial = self._partial(image_id)
        previous = self._uploads.get(image_id)
        upload = self._uploads[image_id] = Upload(staging=staging)
        async with upload.lock:
            if previous is not None:
                async with previous.lock:  # let an in-flight chunk finish first
                    pass
            await asyncio.to_thread(partial.write_bytes, b"")
        return upload

    async def append(self, image_id: str, upload: Upload, data: bytes) -> None:
        """Append `data` to the upload's partial file; the caller holds its lock."""
        await asyncio.to_thread(_append, self._partial(image_id), upload, data)
        upload.size += len(data)
        upload.touched = clock.monotonic()

    def idle_uploads(self, idle_for: float, now: float) -> list[str]:
        """The images whose upload has had no chunk for `idle_for` seconds (at `now`)."""
        return [i for i, up in self._uploads.items() if now - up.touched >= idle_for]

    async def finish(self, image_id: str, upload: Upload) -> Digests:
        """Move a complete upload into place (staged or final); the caller holds its lock."""
        self._uploads.pop(image_id, None)
        final = self.staged_path(image_id) if upload.staging else self.path(image_id)
        await asyncio.to_thread(_commit, self._partial(image_id), final)
        return Digests(upload.size, upload.md5.hexdigest(), upload.sha512.hexdigest())

    async def promote(self, image_id: str) -> None:
        """Make the staged data the image's data (an import)."""
        await asyncio.to_thread(os.replace, self.staged_path(image_id), self.path(image_id))

    async def holds(self, image_id: str, *, staged: bool = False) -> bool:
        """Whether the image's data (or its staged data) is in the store."""
        path = self.staged_path(image_id) if staged else self.path(image_id)
        return await asyncio.to_thread(path.exists)

    async def discard(self, image_id: str) -> None:
        """Drop an upload and its partial file; the caller holds its lock (if any)."""
        self._uploads.pop(image_id, None)
        await asyncio.to_thread(self._partial(image_id).unlink, missing_ok=True)

    async def remove(self, image_id: str) -> None:
        """Delete everything stored for `image_id`: its data, staged data and any upload."""
        upload = self._uploads.get(image_id)
        if upload is not None:
            async with upload.lock:
                await self.discard(image_id)
        await self.unstage(image_id)
        await asyncio.to_thread(self.path(image_id).unlink, missing_ok=True)

    async def unstage(self, image_id: str) -> None:
        """Delete `image_id`'s staged data, if any."""
        await asyncio.to_thread(self.staged_path(image_id).unlink, missing_ok=True)

    async def read(self, image_id: str, offset: int, length: int) -> bytes:
        """Up to `length` bytes of the image's data from `offset`."""
        return await asyncio.to_thread(_read, self.path(image_id), offset, length)


def _append(path: Path, upload: Upload, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)
    upload.md5.update(data)
    upload.sha512.update(data)


def _commit(partial: Path, final: Path) -> None:
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, final)


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def _remove_partials(root: Path) -> None:
    for partial in root.glob("*" + _PARTIAL):
        partial.unlink(missing_ok=True)
