"""The image service: records, chunked uploads and downloads, visibility, the store."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

import attrs
import pytest

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    ImageChecksumMismatch,
    ImageNotFound,
    Invalid,
)
from nova_lite.image import transfer
from nova_lite.image.manager import ImageManager
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.image.store import ImageStore
from nova_lite.image.transfer import open_partial
from nova_lite.service import Service
from nova_lite.testing import TransportFactory
from nova_lite.transport import Transport

CHUNK = 1000
LIMIT = 5000
DATA = bytes(range(256)) * 13 + b"tail" * 43  # 3500 bytes: three full chunks and a half
ALICE = RequestContext(user_id="alice", project_id="proj-a", roles=("member", "reader"))
BOB = RequestContext(user_id="bob", project_id="proj-b", roles=("member", "reader"))
ADMIN = RequestContext.admin(user_id="root", project_id="proj-admin")


@attrs.define
class Images:
    """A running image service, a client of it, and where its store lives."""

    config: Config
    manager: ImageManager
    api: ImageAPI
    store: Path


def make_config(tmp_path: Path, broker: TransportFactory) -> Config:
    return Config.load(
        environ={},
        state_path=str(tmp_path / "state"),
        rpc={**broker.rpc_options(), "timeout": 10.0},
        image={"chunk_bytes": CHUNK, "max_image_bytes": LIMIT},
    )


def files_in(directory: Path) -> list[str]:
    """The names of the files in `directory`, sorted."""
    return sorted(path.name for path in directory.iterdir())


@asynccontextmanager
async def running(config: Config, transport: Transport) -> AsyncIterator[Images]:
    """Start an image service on `transport` and hand out a client for it."""
    manager = ImageManager(config, transport, "host1")
    async with Service(manager, serializer=objects.serializer()):
        store = config.service_dir("images")
        yield Images(config, manager, ImageAPI(transport, config), store)


@pytest.fixture
async def images(broker: TransportFactory, tmp_path: Path) -> AsyncIterator[Images]:
    """An image service on the parametrized broker, with 1000-byte chunks and a 5000-byte cap."""
    async with running(make_config(tmp_path, broker), await broker.connect()) as service:
        yield service


@pytest.fixture
async def local_images(tmp_path: Path) -> AsyncIterator[Images]:
    """The same image service on the in-memory broker, for tests not about the transport."""
    broker = TransportFactory("memory", "memory://")
    try:
        async with running(make_config(tmp_path, broker), await broker.connect()) as service:
            yield service
    finally:
        await broker.aclose()


async def test_upload_and_download_round_trip(images: Images, tmp_path: Path) -> None:
    """Uploaded bytes come back identical, with MD5 and SHA-512 recorded and verified."""
    image = await images.api.create_from_bytes(ALICE, "cirros", DATA, disk_format="qcow2")
    assert image.status == "active" and image.size == len(DATA)
    assert image.checksum == hashlib.md5(DATA).hexdigest()
    assert image.os_hash_algo == "sha512"
    assert image.os_hash_value == hashlib.sha512(DATA).hexdigest()
    assert (image.owner, image.visibility, image.disk_format) == ("proj-a", "private", "qcow2")
    dest = tmp_path / "cache" / "cirros.img"
    await images.api.download_to(ALICE, image.id, dest, expected_checksum=image.checksum)
    assert dest.read_bytes() == DATA
    assert files_in(dest.parent) == ["cirros.img"]
    assert await images.api.get(ALICE, image.id) == image


async def test_data_moves_in_chunks_of_chunk_bytes(images: Images, tmp_path: Path) -> None:
    """A file uploads chunk by chunk and downloads in chunks capped at chunk_bytes."""
    source = tmp_path / "disk.raw"
    source.write_bytes(DATA)
    image = await images.api.create(ALICE, "from-file")
    assert image.status == "queued"
    assert (await images.api.upload(ALICE, image.id, source)).size == len(DATA)
    pieces = []
    for offset in (0, 1000, 2000, 3000, 3500):
        pieces.append(await images.api.download_chunk(ALICE, image.id, offset, 10**6))
    assert [(len(data), eof) for data, eof in pieces] == [
        (1000, False),
        (1000, False),
        (1000, False),
        (500, True),
        (0, True),
    ]
    assert b"".join(data for data, _eof in pieces) == DATA


async def test_chunks_report_the_size_so_far(local_images: Images) -> None:
    """upload_begin turns the image saving, and each chunk returns the new total size."""
    api = local_images.api
    image = await api.create(ALICE, "manual")
    assert (await api.upload_begin(ALICE, image.id)).status == "saving"
    sizes = [await api.upload_chunk(ALICE, image.id, n, DATA[n : n + 1000]) for n in (0, 1000)]
    assert sizes == [1000, 2000]
    assert (await api.get(ALICE, image.id)).status == "saving"
    assert (await api.upload_end(ALICE, image.id)).checksum == hashlib.md5(DATA[:2000]).hexdigest()


async def test_exceeding_the_size_limit_discards_the_upload(images: Images) -> None:
    """Going past max_image_bytes is Invalid naming the limit; the image is queued again."""
    image = await images.api.create(ALICE, "too-big")
    with pytest.raises(Invalid, match="5000 bytes"):
        await images.api.upload(ALICE, image.id, DATA * 2)
    assert (await images.api.get(ALICE, image.id)).status == "queued"
    assert files_in(images.store) == []
    with pytest.raises(Conflict):
        await images.api.upload_chunk(ALICE, image.id, 5000, b"more")
    assert (await images.api.upload(ALICE, image.id, DATA)).status == "active"


async def test_wrong_offset_is_invalid(images: Images) -> None:
    """A chunk whose offset is not the size received so far is Invalid and not stored."""
    image = await images.api.create(ALICE, "offsets")
    await images.api.upload_begin(ALICE, image.id)
    await images.api.upload_chunk(ALICE, image.id, 0, b"abc")
    for offset in (0, 2, 10):
        with pytest.raises(Invalid, match=f"offset {offset}"):
            await images.api.upload_chunk(ALICE, image.id, offset, b"xyz")
    await images.api.upload_chunk(ALICE, image.id, 3, b"def")
    assert (await images.api.upload_end(ALICE, image.id)).size == 6


async def test_private_images_of_other_projects_are_invisible(images: Images) -> None:
    """Another project's private image is ImageNotFound; public images are visible to all."""
    api = images.api
    private = await api.create_from_bytes(ALICE, "alice-only", b"secret bits")
    public = await api.create_from_bytes(ADMIN, "shared", b"public bits", visibility="public")
    with pytest.raises(ImageNotFound):
        await api.get(BOB, private.id)
    with pytest.raises(ImageNotFound):
        await api.download_chunk(BOB, private.id, 0, 10)
    assert [i.name for i in await api.list(BOB)] == ["shared"]
    assert [i.name for i in await api.list(ALICE)] == ["alice-only", "shared"]
    assert [i.name for i in await api.list(ADMIN)] == ["alice-only", "shared"]
    assert (await api.get(BOB, public.id)).name == "shared"
    assert (await api.get(ADMIN, private.id)).owner == "proj-a"


async def test_only_admins_create_public_images(images: Images) -> None:
    """A non-admin asking for a public image is Forbidden."""
    with pytest.raises(Forbidden, match="public"):
        await images.api.create(ALICE, "mine", visibility="public")


async def test_only_the_owner_or_admin_changes_an_image(local_images: Images) -> None:
    """Another project may see a public image but not update, upload to or delete it."""
    api = local_images.api
    public = await api.create(ADMIN, "base", visibility="public")
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: api.update(BOB, public.id, name="mine-now"),
        lambda: api.upload_begin(BOB, public.id),
        lambda: api.delete(BOB, public.id),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            await call()
    assert (await api.get(BOB, public.id)).name == "base"


async def test_tampered_data_fails_the_checksum(images: Images, tmp_path: Path) -> None:
    """If the stored bytes change, download_to raises ImageChecksumMismatch and leaves no file."""
    image = await images.api.create_from_bytes(ALICE, "victim", DATA)
    stored = images.store / image.id
    stored.write_bytes(b"X" + DATA[1:])
    dest_dir = tmp_path / "cache"
    with pytest.raises(ImageChecksumMismatch, match=image.id):
        await images.api.download_to(ALICE, image.id, dest_dir / "victim.img")
    assert files_in(dest_dir) == []


async def test_a_download_cancelled_while_its_file_opens_leaves_no_file(
    images: Images, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download cancelled while the worker thread makes its directory and opens its
    partial file (a host stopped mid-build) leaves nothing open and nothing on disk:
    the file the thread goes on to open is closed and removed once it has."""
    image = await images.api.create_from_bytes(ALICE, "img", DATA)
    entered, release = threading.Event(), threading.Event()
    opened: list[BinaryIO] = []

    def held_open(dest: Path) -> tuple[Path, BinaryIO]:
        entered.set()
        release.wait(5)
        partial, handle = open_partial(dest)
        opened.append(handle)
        return partial, handle

    dropped = asyncio.Event()
    drop = transfer._drop_opened

    def drop_and_tell(opening: asyncio.Future[tuple[Path, BinaryIO]]) -> None:
        drop(opening)
        dropped.set()

    monkeypatch.setattr(transfer, "open_partial", held_open)
    monkeypatch.setattr(transfer, "_drop_opened", drop_and_tell)
    dest_dir = tmp_path / "cache"
    download = asyncio.create_task(images.api.download_to(ALICE, image.id, dest_dir / "img"))
    await asyncio.to_thread(entered.wait, 5)  # the thread is in, the file not yet opened
    download.cancel()
    with pytest.raises(asyncio.CancelledError):
        await download
    release.set()
    await asyncio.wait_for(dropped.wait(), 5)  # the thread opened it; the loop closed it
    assert opened and opened[0].closed
    assert files_in(dest_dir) == []


async def test_expected_checksum_is_checked(local_images: Images, tmp_path: Path) -> None:
    """A caller's expected checksum that the data does not match is a mismatch too."""
    image = await local_images.api.create_from_bytes(ALICE, "img", DATA)
    with pytest.raises(ImageChecksumMismatch):
        await local_images.api.download_to(
            ALICE, image.id, tmp_path / "img", expected_checksum="0" * 32
        )
    assert not (tmp_path / "img").exists()


@pytest.mark.parametrize(
    "bogus",
    [
        "../../etc/passwd",
        "../sentinel",
        "/etc/passwd",
        "00000000-0000-4000-8000-000000000000/../../sentinel",
        "00000000-0000-4000-8000-00000000000A",
        "",
    ],
)
async def test_bogus_ids_never_reach_the_filesystem(
    local_images: Images, tmp_path: Path, bogus: str
) -> None:
    """Ids that are not canonical UUIDs are ImageNotFound everywhere; no file is touched."""
    sentinel = tmp_path / "state" / "sentinel"
    sentinel.write_bytes(b"keep me")
    api = local_images.api
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: api.get(ADMIN, bogus),
        lambda: api.delete(ADMIN, bogus),
        lambda: api.update(ADMIN, bogus, name="x"),
        lambda: api.upload_begin(ADMIN, bogus),
        lambda: api.upload_chunk(ADMIN, bogus, 0, b"evil"),
        lambda: api.upload_end(ADMIN, bogus),
        lambda: api.download_chunk(ADMIN, bogus, 0, 100),
    ]
    for call in calls:
        with pytest.raises(ImageNotFound):
            await call()
    assert sentinel.read_bytes() == b"keep me"
    assert files_in(local_images.store) == []


async def test_delete_removes_the_record_and_the_data(images: Images) -> None:
    """After delete the image is not found and its file is gone from the store."""
    image = await images.api.create_from_bytes(ALICE, "doomed", DATA)
    assert files_in(images.store) == [image.id]
    await images.api.delete(ALICE, image.id)
    with pytest.raises(ImageNotFound):
        await images.api.get(ALICE, image.id)
    assert files_in(images.store) == []


async def test_update_renames_and_merges_properties(local_images: Images) -> None:
    """update renames, sets the given properties, and removes those given as None."""
    api = local_images.api
    image = await api.create(ALICE, "old", properties={"os_distro": "cirros", "arch": "x86_64"})
    updated = await api.update(
        ALICE, image.id, name="new", properties={"arch": None, "hw_disk_bus": "virtio"}
    )
    assert updated.name == "new"
    assert updated.properties == {"os_distro": "cirros", "hw_disk_bus": "virtio"}
    assert await api.get(ALICE, image.id) == updated


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("disk_format", "exe", "disk_format 'exe' is not one of: ami, ari, aki, vhd"),
        ("container_format", "zip", "container_format 'zip' is not one of: ami, ari, aki, bare"),
        ("visibility", "secret", "visibility 'secret' is not one of: community, public, private"),
        ("min_disk", -1, "min_disk must be an integer of at least 0, not -1"),
        # Wrong types are refused at the RPC boundary, from the endpoint's annotations.
        ("min_ram", "lots", "min_ram must be an integer, not 'lots'"),
        ("properties", {"key": 3}, "properties['key'] must be a string, not 3"),
    ],
)
async def test_bad_create_arguments_are_invalid(
    local_images: Images, field: str, value: object, message: str
) -> None:
    """Each bad create argument is Invalid with a message naming the field and value."""
    with pytest.raises(Invalid) as caught:
        await local_images.api.create(ALICE, "img", **{field: value})  # type: ignore[arg-type]
    assert message in str(caught.value)


async def test_a_queued_image_has_no_data(local_images: Images) -> None:
    """Downloading or ending an upload of an image with no data is a Conflict."""
    image = await local_images.api.create(ALICE, "empty")
    with pytest.raises(Conflict):
        await local_images.api.download_chunk(ALICE, image.id, 0, 10)
    with pytest.raises(Conflict):
        await local_images.api.upload_end(ALICE, image.id)


async def test_active_image_data_cannot_be_replaced(local_images: Images) -> None:
    """upload_begin on an active image is a Conflict; the data stays as it was."""
    image = await local_images.api.create_from_bytes(ALICE, "frozen", DATA)
    with pytest.raises(Conflict, match="active"):
        await local_images.api.upload_begin(ALICE, image.id)
    assert (await local_images.api.get(ALICE, image.id)).checksum == image.checksum


async def test_bad_base64_is_invalid(local_images: Images) -> None:
    """A chunk whose data is not base64 is Invalid."""
    image = await local_images.api.create(ALICE, "b64")
    await local_images.api.upload_begin(ALICE, image.id)
    with pytest.raises(Invalid, match="base64"):
        # ImageAPI always encodes correctly, so send the raw call a broken client would.
        await local_images.api.invoker.call(
            ALICE, "upload_chunk", image_id=image.id, offset=0, data_b64="not base64!"
        )


async def test_restart_forgets_unfinished_uploads(tmp_path: Path) -> None:
    """An upload cut off by a restart leaves the image queued and no partial file."""
    broker = TransportFactory("memory", "memory://")
    config = make_config(tmp_path, broker)
    transport = await broker.connect()
    try:
        async with running(config, transport) as first:
            image = await first.api.create(ALICE, "interrupted")
            await first.api.upload_begin(ALICE, image.id)
            await first.api.upload_chunk(ALICE, image.id, 0, DATA[:1000])
            assert files_in(first.store) == [f"{image.id}.partial"]
        async with running(config, transport) as second:
            assert (await second.api.get(ALICE, image.id)).status == "queued"
            assert files_in(second.store) == []
            assert (await second.api.upload(ALICE, image.id, DATA)).size == len(DATA)
    finally:
        await broker.aclose()


def test_store_names_files_by_canonical_uuid_only(tmp_path: Path) -> None:
    """The store refuses to build a path from anything but a canonical UUID."""
    store = ImageStore(tmp_path)
    good = "3f1e2d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"
    assert store.path(good) == tmp_path / good
    for bad in ("..", "../x", good.upper(), good + os.sep + "x", f"{{{good}}}"):
        with pytest.raises(ImageNotFound):
            store.path(bad)
