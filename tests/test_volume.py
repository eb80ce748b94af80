"""The volume service (Cinder's statuses, attachments, visibility), driven over RPC.

As in test_network, the service runs on a topic unique to the test: worker queues
are named after the topic alone, and a shared RabbitMQ must not mix two runs.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Forbidden,
    ImageNotFound,
    Invalid,
    QuotaExceeded,
    VolumeInvalidState,
    VolumeNotFound,
)
from nova_lite.service import Service
from nova_lite.testing import TransportFactory
from nova_lite.volume.manager import VolumeManager
from nova_lite.volume.rpcapi import VolumeAPI

ADMIN = RequestContext.admin(user_id="admin", project_id="admin")
ALICE = RequestContext(user_id="alice", project_id="p-alice", roles=("member",))
BOB = RequestContext(user_id="bob", project_id="p-bob", roles=("member",))


@pytest.fixture
async def api(broker: TransportFactory, tmp_path: Path) -> AsyncIterator[VolumeAPI]:
    """A volume service on host1 and the VolumeAPI that reaches it."""

    class TestManager(VolumeManager):
        pass

    class TestAPI(VolumeAPI):
        pass

    TestManager.topic = TestAPI.topic = broker.name("volume")
    transport = await broker.connect()
    config = Config.load(
        environ={}, state_path=str(tmp_path), rpc={**broker.rpc_options(), "timeout": 15}
    )
    manager = TestManager(config, transport, "host1")
    manager.images = _Images()  # type: ignore[assignment]
    async with Service(manager, serializer=objects.serializer()):
        yield TestAPI(transport, config)


class _Images:
    """The image service as the volume service sees it: only ``img-1`` exists (for ALICE)."""

    async def get(self, ctx: RequestContext, image_id: str) -> SimpleNamespace:
        if image_id != "img-1" or ctx.project_id != ALICE.project_id:
            raise ImageNotFound(f"Image {image_id} could not be found.")
        return SimpleNamespace(id=image_id)


def new_uuid() -> str:
    return str(uuid.uuid4())


async def attached_volume(api: VolumeAPI, instance: str) -> objects.Volume:
    volume = await api.create(ALICE, 1)
    await api.reserve(ALICE, volume.id)
    return await api.attach(ALICE, volume.id, instance, "/dev/vdb")


async def test_volume_lifecycle(api: VolumeAPI) -> None:
    """A volume goes available, attaching, in-use, detaching, available, then away."""
    volume = await api.create(ALICE, 10, name="data")
    assert (volume.name, volume.size, volume.status) == ("data", 10, "available")
    assert (volume.project_id, volume.bootable, volume.attached_to) == ("p-alice", False, None)
    assert (await api.reserve(ALICE, volume.id)).status == "attaching"
    instance = new_uuid()
    in_use = await api.attach(ALICE, volume.id, instance, "/dev/vdb")
    assert (in_use.status, in_use.attached_to, in_use.mountpoint) == (
        "in-use",
        instance,
        "/dev/vdb",
    )
    assert await api.get(ALICE, volume.id) == in_use
    assert (await api.begin_detaching(ALICE, volume.id)).status == "detaching"
    detached = await api.detach(ALICE, volume.id, instance)
    assert (detached.status, detached.attached_to, detached.mountpoint) == (
        "available",
        None,
        None,
    )
    await api.delete(ALICE, volume.id)
    with pytest.raises(VolumeNotFound, match=volume.id):
        await api.get(ALICE, volume.id)
    assert await api.list(ALICE) == []


async def test_volume_from_an_image_is_bootable(api: VolumeAPI) -> None:
    """A volume created from an image records the image and is bootable."""
    volume = await api.create(ALICE, 20, image_id="img-1")
    assert (volume.image_id, volume.bootable, volume.status) == ("img-1", True, "available")


async def test_a_volume_needs_an_image_its_project_can_see(api: VolumeAPI) -> None:
    """Another project's private image, or a missing one, is ImageNotFound; nothing is made."""
    with pytest.raises(ImageNotFound):
        await api.create(BOB, 1, image_id="img-1")
    with pytest.raises(ImageNotFound):
        await api.create(ALICE, 1, image_id="no-such-image")

    assert await api.list(ALICE) == [] and await api.list(BOB) == []


async def test_a_project_has_at_most_its_volume_quota(api: VolumeAPI) -> None:
    """The eleventh volume of a project is QuotaExceeded naming the limit; others may go on."""
    for _ in range(10):
        await api.create(ALICE, 1)

    with pytest.raises(QuotaExceeded, match=r"\(10\).*quota_volumes"):
        await api.create(ALICE, 1)
    assert len(await api.list(ALICE)) == 10
    assert (await api.create(BOB, 1)).status == "available"


async def test_a_reader_cannot_write_volumes(api: VolumeAPI) -> None:
    """A reader of the owning project may read its volumes but not create or delete them."""
    volume = await api.create(ALICE, 1)
    reader = RequestContext(user_id="rex", project_id="p-alice", roles=("reader",))

    assert (await api.get(reader, volume.id)).id == volume.id
    with pytest.raises(Forbidden, match="volume:create"):
        await api.create(reader, 1)
    with pytest.raises(Forbidden, match="volume:delete"):
        await api.delete(reader, volume.id)


@pytest.mark.parametrize("size", [0, -1, 16385, "10", 1.5, True, None])
async def test_bad_sizes_are_invalid(api: VolumeAPI, size: object) -> None:
    """Sizes outside 1..16384 GiB, or not whole numbers, raise Invalid naming the value."""
    with pytest.raises(Invalid, match=re.escape(f"not {size!r}")):
        await api.create(ALICE, size)  # type: ignore[arg-type]


async def test_size_limits_are_inclusive(api: VolumeAPI) -> None:
    """1 GiB and 16384 GiB are both accepted and recorded."""
    assert [(await api.create(ALICE, size)).size for size in (1, 16384)] == [1, 16384]


async def test_racing_reserves_let_exactly_one_win(api: VolumeAPI) -> None:
    """Of ten concurrent reserves of one volume, one succeeds and nine see 'attaching'."""
    volume = await api.create(ALICE, 1)
    results = await asyncio.gather(
        *(api.reserve(ALICE, volume.id) for _ in range(10)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, objects.Volume)]
    lost = [r for r in results if isinstance(r, VolumeInvalidState)]
    assert len(won) == 1 and won[0].status == "attaching"
    assert len(lost) == 9 and all("'attaching'" in str(exc) for exc in lost)


async def test_invalid_transitions_name_the_status(api: VolumeAPI) -> None:
    """Each out-of-order step raises VolumeInvalidState naming the current status."""
    volume = await api.create(ALICE, 1)
    steps: list[Callable[[], Awaitable[objects.Volume]]] = [
        lambda: api.attach(ALICE, volume.id, new_uuid(), "/dev/vdb"),
        lambda: api.unreserve(ALICE, volume.id),
        lambda: api.begin_detaching(ALICE, volume.id),
        lambda: api.roll_detaching(ALICE, volume.id),
        lambda: api.detach(ALICE, volume.id, new_uuid()),
    ]
    for step in steps:
        with pytest.raises(VolumeInvalidState, match="is 'available'"):
            await step()
    in_use = await attached_volume(api, new_uuid())
    with pytest.raises(VolumeInvalidState, match="is 'in-use'; delete needs status"):
        await api.delete(ALICE, in_use.id)
    with pytest.raises(VolumeInvalidState, match="is 'in-use'"):
        await api.reserve(ALICE, in_use.id)


async def test_detach_from_another_instance_changes_nothing(api: VolumeAPI) -> None:
    """Detaching for an instance the volume is not attached to fails and keeps it in-use."""
    instance = new_uuid()
    volume = await attached_volume(api, instance)
    with pytest.raises(VolumeInvalidState, match="not attached to instance"):
        await api.detach(ALICE, volume.id, new_uuid())
    assert await api.get(ALICE, volume.id) == volume
    assert (await api.detach(ALICE, volume.id, instance)).status == "available"


async def test_unreserve_and_roll_detaching_undo_their_steps(api: VolumeAPI) -> None:
    """unreserve returns attaching to available; roll_detaching returns detaching to in-use."""
    volume = await api.create(ALICE, 1)
    await api.reserve(ALICE, volume.id)
    assert (await api.unreserve(ALICE, volume.id)).status == "available"
    attached = await attached_volume(api, new_uuid())
    await api.begin_detaching(ALICE, attached.id)
    assert await api.roll_detaching(ALICE, attached.id) == attached


async def test_volumes_are_visible_only_to_their_project(api: VolumeAPI) -> None:
    """Other projects get VolumeNotFound for every action; admins see and act on all."""
    mine = await api.create(ALICE, 1)
    theirs = await api.create(BOB, 2)
    assert [v.id for v in await api.list(ALICE)] == [mine.id]
    assert [v.id for v in await api.list(BOB)] == [theirs.id]
    assert {v.id for v in await api.list(ADMIN)} == {mine.id, theirs.id}
    for method in (api.get, api.reserve, api.delete):
        with pytest.raises(VolumeNotFound, match=mine.id):
            await method(BOB, mine.id)
    assert (await api.reserve(ADMIN, mine.id)).status == "attaching"


async def test_reset_status_is_admin_only_and_error_volumes_delete(api: VolumeAPI) -> None:
    """Admins may force a status; a volume in error can be deleted."""
    volume = await attached_volume(api, new_uuid())
    with pytest.raises(Forbidden):
        await api.reset_status(ALICE, volume.id, "error")
    with pytest.raises(Invalid, match="'broken'"):
        await api.reset_status(ADMIN, volume.id, "broken")
    assert (await api.reset_status(ADMIN, volume.id, "error")).status == "error"
    await api.delete(ALICE, volume.id)
    assert await api.list(ADMIN) == []
