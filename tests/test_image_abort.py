"""Uploads are transactional: one cut off or abandoned returns the image to ``queued``.

As Glance does, an image whose upload failed can be uploaded again, and the partial
data is freed: an HTTP body cut off mid-way (the client closes its connection) and an
RPC chunk stream that stops (no chunk for ``[image] upload_idle_timeout``) both end
with the image ``queued`` and no partial file left.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from nova_lite.cloud import Cloud
from nova_lite.image.manager import ImageManager
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.testing import WAIT, CloudFactory, add_user
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)
CHUNK = 16 * 1024


def image_service(cloud: Cloud) -> ImageManager:
    """The cloud's image manager (to look at its store)."""
    return next(s.manager for s in cloud.services if isinstance(s.manager, ImageManager))


def assert_clean(cloud: Cloud, image_id: str) -> None:
    """No upload in progress and no partial file left for the image."""
    store = image_service(cloud).store
    assert store is not None and store.upload(image_id) is None
    assert not list(store.root.glob(f"{image_id}*"))


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A cloud with small upload chunks behind the HTTP front end."""
    cloud = await clouds.start(computes=1, image={"chunk_bytes": CHUNK})
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


async def test_an_http_upload_cut_off_mid_body_returns_the_image_to_queued(
    front: FrontEnd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that sends part of a PUT .../file body and closes leaves a queued image."""
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "mia", project="demo")
    token = await front.token("mia", "demo")
    created = await front.call("POST", "/image/v2/images", token=token, json={"name": "cut"})
    image_id = created.body["id"]
    aborted = asyncio.Event()
    original = ImageAPI.upload_abort

    async def abort_and_tell(self: ImageAPI, ctx: Any, image_id: str) -> Any:
        try:
            return await original(self, ctx, image_id)
        finally:
            aborted.set()

    monkeypatch.setattr(ImageAPI, "upload_abort", abort_and_tell)
    url = urlsplit(front.url)
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        f"PUT /image/v2/images/{image_id}/file HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"X-Auth-Token: {token}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {100 * CHUNK}\r\n\r\n".encode()
        + b"x" * (3 * CHUNK + 5)
    )
    await writer.drain()
    writer.close()  # mid-body: 97 chunks never come
    await writer.wait_closed()
    await asyncio.wait_for(aborted.wait(), WAIT)

    shown = await front.call("GET", f"/image/v2/images/{image_id}", token=token)
    assert shown.body["status"] == "queued" and shown.body["size"] is None
    assert_clean(front.cloud, image_id)
    again = await front.call("PUT", f"/image/v2/images/{image_id}/file", token=token, data=b"ok")
    assert again.status == 204


async def test_an_rpc_chunk_stream_abandoned_mid_way_is_reaped(front: FrontEnd) -> None:
    """Chunks that stop coming: past the idle timeout the upload is dropped, image queued."""
    cloud = front.cloud
    ctx = await (await cloud.login_admin()).context()
    image = await cloud.api.image.create(ctx, "abandoned")
    await cloud.api.image.upload_begin(ctx, image.id)
    await cloud.api.image.upload_chunk(ctx, image.id, 0, b"y" * CHUNK)
    manager = image_service(cloud)

    assert await manager.reap_idle_uploads(time.monotonic()) == 0  # not idle yet
    later = time.monotonic() + manager.upload_idle_timeout + 1
    assert await manager.reap_idle_uploads(later) == 1

    assert (await cloud.api.image.get(ctx, image.id)).status == "queued"
    assert_clean(cloud, image.id)
    assert (await cloud.api.image.upload(ctx, image.id, b"whole")).status == "active"


async def test_a_failing_source_aborts_the_library_upload(front: FrontEnd) -> None:
    """ImageAPI.upload whose source fails mid-way gives the image back as queued."""
    cloud = front.cloud
    ctx = await (await cloud.login_admin()).context()
    image = await cloud.api.image.create(ctx, "broken")
    source = front.cloud.config.service_dir("test") / "gone.img"  # no such file

    with pytest.raises(FileNotFoundError):
        await cloud.api.image.upload(ctx, image.id, source)

    assert (await cloud.api.image.get(ctx, image.id)).status == "queued"
    assert_clean(cloud, image.id)
