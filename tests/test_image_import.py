"""Interoperable import over RPC (``glance-direct``): staging, importing, tasks, restarts."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from nova_lite.exceptions import Conflict, Invalid, RemoteError
from tests.conftest import TransportFactory
from tests.test_image import ALICE, CHUNK, DATA, Images, files_in, make_config, running

DIRECT = {"method": {"name": "glance-direct"}}


@pytest.fixture
async def images(tmp_path: Path) -> AsyncIterator[Images]:
    """An image service on the in-memory broker."""
    broker = TransportFactory("memory", "memory://")
    try:
        async with running(make_config(tmp_path, broker), await broker.connect()) as service:
            yield service
    finally:
        await broker.aclose()


async def test_staged_data_becomes_the_image_when_imported(images: Images) -> None:
    """Staging leaves the image uploading with no data; import makes it active, verified."""
    api = images.api
    image = await api.create(ALICE, "imported")
    staged = await api.upload(ALICE, image.id, DATA, stage=True)
    assert staged.status == "uploading" and staged.size is None
    assert files_in(images.store) == [f"{image.id}.staged"]

    ctx = attrs.evolve(ALICE, request_id="req-import-1")
    task = await api.import_image(ctx, image.id, DIRECT)
    active = await api.get(ALICE, image.id)

    assert (task.status, task.result, task.request_id) == (
        "success",
        {"image_id": image.id},
        "req-import-1",
    )
    assert (active.status, active.size) == ("active", len(DATA))
    assert active.checksum == hashlib.md5(DATA).hexdigest()
    assert active.os_hash_value == hashlib.sha512(DATA).hexdigest()
    assert files_in(images.store) == [image.id]
    assert await api.list_tasks(ALICE, image.id) == [task]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({}, "requires a 'method' field"),
        ({"method": {}}, "requires a 'name' field"),
        ({"method": {"name": "web-download", "uri": "http://x/"}}, "Unknown import method"),
        ({**DIRECT, "stores": ["ceph"]}, "Unknown store 'ceph'"),
        ({**DIRECT, "all_stores": "yes"}, "'all_stores' must be boolean"),
    ],
)
async def test_bad_import_requests_are_invalid(
    images: Images, request_body: dict[str, object], message: str
) -> None:
    """Glance's import request checks: method, name, stores, booleans."""
    image = await images.api.create(ALICE, "img")
    await images.api.upload(ALICE, image.id, DATA, stage=True)
    with pytest.raises(Invalid, match=message):
        await images.api.import_image(ALICE, image.id, request_body)
    assert (await images.api.get(ALICE, image.id)).status == "uploading"


async def test_only_staged_data_is_imported(images: Images) -> None:
    """Import before staging, during it, or of an active image is a Conflict."""
    api = images.api
    image = await api.create(ALICE, "img")
    with pytest.raises(Conflict, match="needs to be staged"):
        await api.import_image(ALICE, image.id, DIRECT)
    await api.stage_begin(ALICE, image.id)
    await api.upload_chunk(ALICE, image.id, 0, DATA[:CHUNK])
    with pytest.raises(Conflict, match="needs to be staged"):
        await api.import_image(ALICE, image.id, DIRECT)
    with pytest.raises(Conflict):
        await api.upload_end(ALICE, image.id)  # a staging is ended by stage_end
    await api.stage_end(ALICE, image.id)
    await api.import_image(ALICE, image.id, DIRECT)
    with pytest.raises(Conflict, match="status active cannot be target"):
        await api.import_image(ALICE, image.id, DIRECT)
    with pytest.raises(Conflict):
        await api.stage_begin(ALICE, image.id)


async def test_an_abandoned_staging_returns_the_image_to_queued(images: Images) -> None:
    """Chunks that stop coming are reaped as an upload's: the image is queued, nothing left."""
    api = images.api
    image = await api.create(ALICE, "img")
    await api.stage_begin(ALICE, image.id)
    await api.upload_chunk(ALICE, image.id, 0, DATA[:CHUNK])

    later = time.monotonic() + images.manager.upload_idle_timeout + 1
    assert await images.manager.reap_idle_uploads(later) == 1
    assert (await api.get(ALICE, image.id)).status == "queued"
    assert files_in(images.store) == []


async def test_staged_data_survives_a_restart(tmp_path: Path) -> None:
    """After a restart a staged image is still uploading and imports; a half-staged one is
    queued again with no partial file."""
    broker = TransportFactory("memory", "memory://")
    config = make_config(tmp_path, broker)
    transport = await broker.connect()
    try:
        async with running(config, transport) as first:
            staged = await first.api.create(ALICE, "staged")
            await first.api.upload(ALICE, staged.id, DATA, stage=True)
            half = await first.api.create(ALICE, "half")
            await first.api.stage_begin(ALICE, half.id)
            await first.api.upload_chunk(ALICE, half.id, 0, DATA[:CHUNK])
        async with running(config, transport) as second:
            assert (await second.api.get(ALICE, staged.id)).status == "uploading"
            assert (await second.api.get(ALICE, half.id)).status == "queued"
            assert files_in(second.store) == [f"{staged.id}.staged"]
            await second.api.import_image(ALICE, staged.id, DIRECT)
            assert (await second.api.get(ALICE, staged.id)).size == len(DATA)
    finally:
        await broker.aclose()


async def test_an_import_cut_short_by_a_restart_is_finished(tmp_path: Path) -> None:
    """A crash after the staged data moved into place but before the record said so: the
    restart finishes the import (active, the task a success)."""
    broker = TransportFactory("memory", "memory://")
    config = make_config(tmp_path, broker)
    transport = await broker.connect()
    try:
        async with running(config, transport) as first:
            image = await first.api.create(ALICE, "cut")
            await first.api.upload(ALICE, image.id, DATA, stage=True)
            imports = first.manager.imports

            async def crash(*args: object, **kwargs: object) -> None:
                await first.manager.store.promote(image.id)  # the data moved ...
                raise ConnectionResetError("crash")  # ... and the process died

            imports._finish = crash  # type: ignore[assignment,method-assign]
            with pytest.raises(RemoteError, match="ConnectionResetError"):
                await first.api.import_image(ALICE, image.id, DIRECT)
            assert (await first.api.get(ALICE, image.id)).status == "importing"
        async with running(config, transport) as second:
            active = await second.api.get(ALICE, image.id)
            (task,) = await second.api.list_tasks(ALICE, image.id)
            assert (active.status, active.size) == ("active", len(DATA))
            assert task.status == "success"
            assert files_in(second.store) == [image.id]
    finally:
        await broker.aclose()
