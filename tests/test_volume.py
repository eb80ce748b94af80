"""The volume service (Cinder's statuses, attachments, visibility), driven over RPC.

As in test_network, the service runs on a topic unique to the test: worker queues
are named after the topic alone, and a shared RabbitMQ must not mix two runs.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import attrs
import orjson
import pytest

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    ImageNotFound,
    Invalid,
    QuotaExceeded,
    UnsupportedVersion,
    VolumeInvalidState,
    VolumeNotFound,
    VolumeSnapshotNotFound,
    VolumeTypeNotFound,
)
from nova_lite.rpc import Target
from nova_lite.service import Service
from nova_lite.testing import TransportFactory
from nova_lite.volume.manager import VolumeManager
from nova_lite.volume.rpcapi import VolumeAPI
from nova_lite.volume.volumes import VolumeRecords

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
        environ={},
        state_path=str(tmp_path),
        rpc={**broker.rpc_options(), "timeout": 15},
        volume={"quota_gigabytes": -1, "quota_backup_gigabytes": -1},
    )
    manager = TestManager(config, transport, "host1")
    manager.volumes.images = _Images()  # type: ignore[assignment]
    async with Service(manager, serializer=objects.serializer()):
        yield TestAPI(transport, config)


class _Images:
    """The image service as the volume service sees it: only ``img-1`` exists (for ALICE)."""

    async def get(self, ctx: RequestContext, image_id: str) -> objects.Image:
        if image_id != "img-1" or ctx.project_id != ALICE.project_id:
            raise ImageNotFound(f"Image {image_id} could not be found.")
        return objects.Image(id=image_id, name="cirros", status="active", size=1024)


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


async def test_a_list_by_server_gives_its_attached_volumes_only(api: VolumeAPI) -> None:
    """``list(attached_to=...)`` (1.1): the server's volumes now attached, visible to
    the caller; not another server's, not a detached one, not another project's."""
    server, other = new_uuid(), new_uuid()
    first = await attached_volume(api, server)
    await attached_volume(api, other)
    await api.create(ALICE, 1)  # attached to nothing
    second = await attached_volume(api, server)
    assert [v.id for v in await api.list(ALICE, attached_to=server)] == [first.id, second.id]
    assert [v.id for v in await api.list(ADMIN, attached_to=server)] == [first.id, second.id]
    assert await api.list(BOB, attached_to=server) == []
    await api.begin_detaching(ALICE, first.id)
    await api.detach(ALICE, first.id, server)
    assert [v.id for v in await api.list(ALICE, attached_to=server)] == [second.id]
    assert await api.list(ALICE, attached_to=new_uuid()) == []
    assert len(await api.list(ALICE)) == 4  # the unfiltered list (1.0) is unchanged


async def test_a_1_0_volume_service_still_answers_the_unfiltered_list(
    api: VolumeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The filter is sent as 1.1 only: a service serving 1.0 answers ``list`` as
    before and refuses the filtered one (the caller learns it is too old)."""
    volume = await api.create(ALICE, 1)
    monkeypatch.setattr(VolumeRecords, "target", Target(version="1.0"))
    assert [v.id for v in await api.list(ALICE)] == [volume.id]
    with pytest.raises(UnsupportedVersion):
        await api.list(ALICE, attached_to=new_uuid())


async def test_unreserve_and_roll_detaching_undo_their_steps(api: VolumeAPI) -> None:
    """unreserve returns attaching to available; roll_detaching returns detaching to in-use."""
    volume = await api.create(ALICE, 1)
    await api.reserve(ALICE, volume.id)
    assert (await api.unreserve(ALICE, volume.id)).status == "available"
    attached = await attached_volume(api, new_uuid())
    await api.begin_detaching(ALICE, attached.id)
    rolled = await api.roll_detaching(ALICE, attached.id)
    assert attrs.evolve(rolled, updated_at=None) == attrs.evolve(attached, updated_at=None)


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


# -- Cinder's API beyond attachments: sources, updates, snapshots, types, quotas ---------


async def test_update_and_metadata_merge_or_replace(api: VolumeAPI) -> None:
    """An update renames and describes; metadata is merged by POST-like calls, replaced by PUT."""
    volume = await api.create(ALICE, 1, name="data", metadata={"a": "1"})
    updated = await api.update(ALICE, volume.id, {"name": "new", "description": "about"})
    merged = await api.set_metadata(ALICE, volume.id, {"b": "2"}, replace=False)
    replaced = await api.set_metadata(ALICE, volume.id, {"c": "3"}, replace=True)
    await api.delete_metadata(ALICE, volume.id, "c")

    assert (updated.name, updated.description, updated.metadata) == ("new", "about", {"a": "1"})
    assert merged == {"a": "1", "b": "2"} and replaced == {"c": "3"}
    assert (await api.get(ALICE, volume.id)).metadata == {}
    with pytest.raises(Invalid, match="only name, description, metadata"):
        await api.update(ALICE, volume.id, {"size": 5})


async def test_extend_grows_an_available_volume_only(api: VolumeAPI) -> None:
    """Extend needs a bigger size and an available volume; an in-use one is refused."""
    volume = await api.create(ALICE, 1)
    assert (await api.extend(ALICE, volume.id, 3)).size == 3
    with pytest.raises(Invalid, match="greater than current size"):
        await api.extend(ALICE, volume.id, 3)
    attached = await attached_volume(api, new_uuid())
    with pytest.raises(VolumeInvalidState, match="'in-use'"):
        await api.extend(ALICE, attached.id, 2)


async def test_a_snapshot_of_an_in_use_volume_needs_force(api: VolumeAPI) -> None:
    """An available volume is snapshotted at once; an in-use one only with force."""
    idle = await api.create(ALICE, 2)
    attached = await attached_volume(api, new_uuid())
    snapshot = await api.snapshot_create(ALICE, idle.id, name="s", metadata={"k": "v"})
    with pytest.raises(VolumeInvalidState, match="with force"):
        await api.snapshot_create(ALICE, attached.id)
    forced = await api.snapshot_create(ALICE, attached.id, force=True)

    assert (snapshot.status, snapshot.size, snapshot.metadata) == ("available", 2, {"k": "v"})
    assert forced.volume_id == attached.id
    assert {s.id for s in await api.snapshot_list(ALICE)} == {snapshot.id, forced.id}
    assert await api.snapshot_list(BOB) == []


async def test_a_volume_with_snapshots_is_deleted_only_with_cascade(api: VolumeAPI) -> None:
    """A plain delete is refused while snapshots exist; a cascading one takes them along."""
    volume = await api.create(ALICE, 1)
    snapshot = await api.snapshot_create(ALICE, volume.id)
    with pytest.raises(VolumeInvalidState, match="1 dependent snapshots"):
        await api.delete(ALICE, volume.id)
    assert (await api.get(ALICE, volume.id)).status == "available"
    await api.delete(ALICE, volume.id, cascade=True)

    assert await api.list(ALICE) == [] and await api.snapshot_list(ALICE) == []
    with pytest.raises(VolumeSnapshotNotFound):
        await api.snapshot_get(ALICE, snapshot.id)


async def test_volumes_from_a_snapshot_or_a_volume_take_their_source(api: VolumeAPI) -> None:
    """A new volume from a snapshot or a clone records its source and is at least as big."""
    source = await api.create(ALICE, 2, image_id="img-1")
    snapshot = await api.snapshot_create(ALICE, source.id)
    from_snapshot = await api.create(ALICE, None, snapshot_id=snapshot.id)
    clone = await api.create(ALICE, 4, source_volid=source.id)
    with pytest.raises(Invalid, match="smaller than its source"):
        await api.create(ALICE, 1, snapshot_id=snapshot.id)
    with pytest.raises(VolumeSnapshotNotFound):
        await api.create(BOB, None, snapshot_id=snapshot.id)

    assert (from_snapshot.size, from_snapshot.snapshot_id, from_snapshot.bootable) == (
        2,
        snapshot.id,
        True,
    )
    assert (clone.size, clone.source_volid, clone.image_metadata["image_id"]) == (
        4,
        source.id,
        "img-1",
    )


async def test_racing_creates_never_pass_the_volume_quota(api: VolumeAPI) -> None:
    """Six concurrent creates against a limit of three: exactly three volumes are made."""
    await api.quota_update(ADMIN, "p-alice", {"volumes": 3})
    results = await asyncio.gather(
        *(api.create(ALICE, 1) for _ in range(6)), return_exceptions=True
    )

    assert sum(isinstance(r, objects.Volume) for r in results) == 3
    assert sum(isinstance(r, QuotaExceeded) for r in results) == 3
    assert len(await api.list(ALICE)) == 3


async def test_gigabytes_count_volumes_and_snapshots(api: VolumeAPI) -> None:
    """The gigabytes quota counts snapshots too; extends and snapshots past it are refused."""
    await api.quota_update(ADMIN, "p-alice", {"gigabytes": 3})
    volume = await api.create(ALICE, 2)
    with pytest.raises(QuotaExceeded, match="gigabytes"):
        await api.snapshot_create(ALICE, volume.id)
    with pytest.raises(QuotaExceeded, match="gigabytes"):
        await api.extend(ALICE, volume.id, 4)
    usage = await api.quota_show(ALICE, "p-alice", usage=True)

    assert usage["gigabytes"] == {"limit": 3, "in_use": 2, "reserved": 0}
    assert usage["volumes"]["in_use"] == 1
    await api.quota_delete(ADMIN, "p-alice")
    assert (await api.quota_show(ALICE, "p-alice"))["gigabytes"] == -1


async def test_quotas_are_set_by_admins_with_valid_limits(api: VolumeAPI) -> None:
    """A member may read its quotas, not set them; limits below -1 or unknown names are Invalid."""
    with pytest.raises(Forbidden, match="quotas:update"):
        await api.quota_update(ALICE, "p-alice", {"volumes": 50})
    with pytest.raises(Invalid, match="-1"):
        await api.quota_update(ADMIN, "p-alice", {"volumes": -2})
    with pytest.raises(Invalid, match="Bad key"):
        await api.quota_update(ADMIN, "p-alice", {"instances": 2})

    assert (await api.quota_show(ALICE, "p-alice"))["volumes"] == 10


async def test_private_types_are_seen_only_where_given(api: VolumeAPI) -> None:
    """A private type is invisible to a project until an admin gives it access."""
    private = await api.type_create(ADMIN, "gold", is_public=False, extra_specs={"tier": "1"})
    with pytest.raises(VolumeTypeNotFound):
        await api.create(ALICE, 1, volume_type="gold")
    await api.type_access_add(ADMIN, private.id, "p-alice")
    volume = await api.create(ALICE, 1, volume_type="gold")

    assert (volume.volume_type, volume.volume_type_id) == ("gold", private.id)
    assert [t.name for t in await api.type_list(BOB)] == ["__DEFAULT__"]
    assert {t.name for t in await api.type_list(ALICE)} == {"__DEFAULT__", "gold"}
    assert await api.type_access_list(ADMIN, private.id) == ["p-alice"]


async def test_types_in_use_and_the_default_type_stay(api: VolumeAPI) -> None:
    """A type some volume has, and the default type, cannot be deleted; names are unique."""
    silver = await api.type_create(ADMIN, "silver")
    volume = await api.create(ALICE, 1, volume_type=silver.id)
    with pytest.raises(Invalid, match="not allowed with volumes"):
        await api.type_delete(ADMIN, silver.id)
    with pytest.raises(Invalid, match="default volume type"):
        await api.type_delete(ADMIN, "__DEFAULT__")
    with pytest.raises(Conflict, match="already exists"):
        await api.type_create(ADMIN, "silver")
    with pytest.raises(Forbidden):
        await api.type_create(ALICE, "bronze")
    await api.delete(ALICE, volume.id)
    await api.type_delete(ADMIN, silver.id)

    assert (await api.create(ALICE, 1)).volume_type == "__DEFAULT__"


async def test_retype_changes_the_type_of_available_or_in_use_volumes(api: VolumeAPI) -> None:
    """Retype moves a volume to another type; to its own type is Invalid."""
    await api.type_create(ADMIN, "fast")
    volume = await api.create(ALICE, 1)
    retyped = await api.retype(ALICE, volume.id, "fast")
    with pytest.raises(Invalid, match="already has type"):
        await api.retype(ALICE, volume.id, "fast")

    assert retyped.volume_type == "fast"


async def test_force_delete_and_force_detach_are_admin_only(api: VolumeAPI) -> None:
    """Admins force-delete a volume in any status and force-detach an attached one."""
    stuck = await api.create(ALICE, 1)
    await api.reset_status(ADMIN, stuck.id, "maintenance")
    attached = await attached_volume(api, new_uuid())
    with pytest.raises(Forbidden):
        await api.force_delete(ALICE, stuck.id)
    with pytest.raises(VolumeInvalidState, match="detach it first"):
        await api.force_delete(ADMIN, attached.id)
    await api.force_delete(ADMIN, stuck.id)
    detached = await api.force_detach(ADMIN, attached.id)

    assert (detached.status, detached.attached_to) == ("available", None)
    assert [v.id for v in await api.list(ALICE)] == [attached.id]


async def test_snapshot_status_actions(api: VolumeAPI) -> None:
    """Admins reset a snapshot's status; owners move creating on; force delete takes any."""
    volume = await api.create(ALICE, 1)
    snapshot = await api.snapshot_create(ALICE, volume.id)
    with pytest.raises(Invalid, match="cannot be updated"):
        await api.snapshot_update_status(ALICE, snapshot.id, "error")
    await api.snapshot_reset_status(ADMIN, snapshot.id, "creating")
    moved = await api.snapshot_update_status(ALICE, snapshot.id, "error", "80%")
    with pytest.raises(VolumeInvalidState, match="'deleting'"):
        await api.snapshot_reset_status(ADMIN, snapshot.id, "deleting")
        await api.snapshot_delete(ALICE, snapshot.id)
    await api.snapshot_force_delete(ADMIN, snapshot.id)

    assert (moved.status, moved.progress) == ("error", "80%")
    assert await api.snapshot_list(ALICE) == []


async def test_a_type_no_backend_fits_makes_an_errored_volume_and_a_message(
    api: VolumeAPI,
) -> None:
    """A type asking for another vendor gets its volume in error and a message about it."""
    bogus = await api.type_create(ADMIN, "bogus", extra_specs={"vendor_name": "Nobody"})
    fitting = await api.type_create(
        ADMIN, "lvm", extra_specs={"capabilities:storage_protocol": "<in> iSCSI"}
    )
    failed = await api.create(ALICE, 1, volume_type=bogus.id)
    made = await api.create(ALICE, 1, volume_type=fitting.id)
    (message,) = await api.message_list(ALICE)

    assert (failed.status, made.status) == ("error", "available")
    assert message["resource_uuid"] == failed.id
    assert message["event_id"] == "VOLUME_VOLUME_001_003"
    assert await api.message_list(BOB) == []
    await api.message_delete(ALICE, message["id"])
    await api.delete(ALICE, failed.id)
    assert await api.message_list(ALICE) == []


async def test_backups_restore_what_their_volume_was(api: VolumeAPI) -> None:
    """A backup records its volume; restoring makes a volume with its size and metadata."""
    volume = await api.create(ALICE, 2, image_id="img-1", metadata={"k": "v"})
    backup = await api.backup_create(ALICE, volume.id, name="b1")
    restored = await api.backup_restore(ALICE, backup["id"])
    made = await api.get(ALICE, restored["volume_id"])

    assert (backup["status"], backup["size"], backup["is_incremental"]) == ("available", 2, False)
    assert (made.size, made.metadata, made.bootable) == (2, {"k": "v"}, True)
    assert made.image_metadata["image_id"] == "img-1"
    assert [b["id"] for b in await api.backup_list(ALICE)] == [backup["id"]]
    assert await api.backup_list(BOB) == []


async def test_incremental_backups_depend_on_the_last_one(api: VolumeAPI) -> None:
    """An incremental backup needs a full one; a backup another depends on stays."""
    volume = await api.create(ALICE, 1)
    with pytest.raises(Invalid, match="No backups available"):
        await api.backup_create(ALICE, volume.id, incremental=True)
    full = await api.backup_create(ALICE, volume.id)
    incremental = await api.backup_create(ALICE, volume.id, incremental=True)
    with pytest.raises(Invalid, match="Incremental backups exist"):
        await api.backup_delete(ALICE, full["id"])
    await api.backup_delete(ALICE, incremental["id"])
    await api.backup_delete(ALICE, full["id"])

    assert incremental["is_incremental"] and incremental["parent_id"] == full["id"]
    assert await api.backup_list(ALICE) == []


async def test_backups_count_against_their_quota(api: VolumeAPI) -> None:
    """The backups quota refuses one backup too many."""
    await api.quota_update(ADMIN, "p-alice", {"backups": 1})
    volume = await api.create(ALICE, 1)
    await api.backup_create(ALICE, volume.id)
    with pytest.raises(QuotaExceeded, match="backups"):
        await api.backup_create(ALICE, volume.id)

    assert (await api.quota_show(ALICE, "p-alice", usage=True))["backups"]["in_use"] == 1


async def test_an_exported_backup_imports_under_a_new_id(api: VolumeAPI) -> None:
    """Admins export a backup's record and import it again; the same id twice is Conflict."""
    volume = await api.create(ALICE, 1)
    backup = await api.backup_create(ALICE, volume.id)
    record = await api.backup_export(ADMIN, backup["id"])
    with pytest.raises(Forbidden):
        await api.backup_export(ALICE, backup["id"])
    with pytest.raises(Conflict):
        await api.backup_import(ADMIN, record["backup_service"], record["backup_url"])
    fields = orjson.loads(base64.b64decode(record["backup_url"]))
    url = base64.b64encode(orjson.dumps({**fields, "id": new_uuid()})).decode()
    imported = await api.backup_import(ADMIN, record["backup_service"], url)

    assert imported["volume_id"] == volume.id and imported["status"] == "available"
    assert imported["project_id"] == ADMIN.project_id
    assert [b["id"] for b in await api.backup_list(ALICE)] == [backup["id"]]
