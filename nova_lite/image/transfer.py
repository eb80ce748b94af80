"""Moving image data on the client side: chunks of a source, running digests, checks.

`ImageAPI` streams with these: `chunks` cuts bytes or a file into pieces, `Digests`
measures what arrives, `verify` compares it with the image's recorded checksums, and
`abort_quietly` gives back a failed upload without hiding the original failure.
A download's file work (`opened_partial`, `write_digested`, `close_synced`) runs on
a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import BinaryIO

import structlog

from nova_lite.exceptions import ImageChecksumMismatch
from nova_lite.objects import Image

__all__ = [
    "Digests",
    "abort_quietly",
    "chunks",
    "close_synced",
    "open_partial",
    "opened_partial",
    "verify",
    "write_digested",
]

log = structlog.get_logger(__name__)


class Digests:
    """The running size, MD5 and SHA-512 of downloaded data."""

    def __init__(self) -> None:
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()

    def update(self, data: bytes) -> None:
        self.size += len(data)
        self.md5.update(data)
        self.sha512.update(data)


async def abort_quietly(abort: Awaitable[object], image_id: str) -> None:
    """Return a failed upload's image to ``queued`` (`abort`, the call doing it); a
    failure to do so is only logged (the image service's idle-upload reaper will)."""
    try:
        await asyncio.shield(abort)
    except Exception as exc:  # the original failure is what the caller must see
        log.warning("image.upload_abort_failed", image_id=image_id, error=str(exc))


def verify(image: Image, digests: Digests, expected_checksum: str | None) -> None:
    """Raise `ImageChecksumMismatch` unless the data matches every known checksum."""
    md5 = digests.md5.hexdigest()
    for expected in {expected_checksum, image.checksum} - {None}:
        if md5 != expected:
            raise ImageChecksumMismatch(
                f"Image {image.id}: downloaded data has MD5 {md5}, expected {expected}.",
                image_id=image.id,
            )
    sha512 = digests.sha512.hexdigest()
    if image.os_hash_value is not None and sha512 != image.os_hash_value:
        raise ImageChecksumMismatch(
            f"Image {image.id}: downloaded data has SHA-512 {sha512}, "
            f"expected {image.os_hash_value}.",
            image_id=image.id,
        )


def write_digested(handle: BinaryIO, digests: Digests, data: bytes) -> None:
    """Write `data` and take it into `digests`, on a worker thread: hashlib lets go of
    the GIL for buffers this large, so the hashing runs beside the event loop (a
    host's first boot of an image hashed every chunk twice on the loop)."""
    handle.write(data)
    digests.update(data)


def open_partial(dest: Path) -> tuple[Path, BinaryIO]:
    """A new temporary file beside `dest`, its directory made if need be (for a worker
    thread: the directories of a host's first download are several syscalls)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
    return partial, partial.open("xb")


async def opened_partial(dest: Path) -> tuple[Path, BinaryIO]:
    """`open_partial` on a worker thread, safe to cancel: a download cancelled while
    the thread runs (its host stopped mid-build) has the file the thread goes on to
    open closed and removed when it does, not left open and on disk."""
    opening = asyncio.get_running_loop().run_in_executor(None, open_partial, dest)
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_drop_opened)
        raise


def _drop_opened(opening: asyncio.Future[tuple[Path, BinaryIO]]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    partial, handle = opening.result()
    handle.close()
    partial.unlink(missing_ok=True)


def close_synced(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


async def chunks(source: bytes | Path, size: int) -> AsyncIterator[bytes]:
    """`source` in pieces of at most `size` bytes (none for empty data)."""
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
        return
    handle: BinaryIO = await asyncio.to_thread(source.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, size):
            yield chunk
    finally:
        handle.close()
