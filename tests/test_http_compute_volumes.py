"""Nova's volume proxy (``os-volumes``, ``os-snapshots``) below 2.36, and ``/extensions``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite.testing import CloudFactory, NotificationTap, add_user
from tests.http_fixtures import FrontEnd, Reply

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)
COMPUTE = "/compute/v2.1"
VOLUMES, SNAPSHOTS = f"{COMPUTE}/os-volumes", f"{COMPUTE}/os-snapshots"
# The keys of Nova's volume view (Tempest's schema allows no other).
VOLUME_KEYS = {
    "id", "status", "size", "availabilityZone", "createdAt", "attachments", "displayName",
    "displayDescription", "volumeType", "snapshotId", "metadata",
}  # fmt: skip
SNAPSHOT_KEYS = {
    "id", "volumeId", "status", "size", "createdAt", "displayName", "displayDescription"
}  # fmt: skip


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end, with members of ``demo`` and ``beta``."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        admin = await cloud.login_admin()
        await add_user(cloud, admin, "mia", project="demo")
        await add_user(cloud, admin, "sam", project="beta")
        yield front
    finally:
        await front.aclose()


async def _create(front: FrontEnd, token: str, **fields: Any) -> dict[str, Any]:
    reply = await front.call("POST", VOLUMES, token=token, json={"volume": {"size": 1, **fields}})
    assert reply.status == 200, reply.body
    volume: dict[str, Any] = reply.body["volume"]
    return volume


async def _create_status(front: FrontEnd, token: str, volume: dict[str, Any]) -> Reply:
    return await front.call("POST", VOLUMES, token=token, json={"volume": volume})


async def test_a_volume_is_created_and_shown_in_novas_view(front: FrontEnd) -> None:
    """POST answers 200 with a Location; show, list and detail give Nova's keys only."""
    mia = await front.token("mia", "demo")
    body = {"size": "1", "display_name": "data", "display_description": "d", "metadata": {"k": "v"}}
    created = await front.call("POST", VOLUMES, token=mia, json={"volume": body})
    volume = created.body["volume"]
    shown = await front.call("GET", f"{VOLUMES}/{volume['id']}", token=mia)
    listed = await front.call("GET", VOLUMES, token=mia)
    detail = await front.call("GET", f"{VOLUMES}/detail", token=mia)

    assert created.status == 200
    assert created.headers["Location"].endswith(f"{VOLUMES}/{volume['id']}")
    assert set(volume) == VOLUME_KEYS
    assert (volume["displayName"], volume["displayDescription"], volume["size"]) == ("data", "d", 1)
    assert volume["metadata"] == {"k": "v"} and volume["attachments"] == [{}]
    assert volume["volumeType"] == "__DEFAULT__" and volume["snapshotId"] is None
    assert shown.body["volume"]["id"] == volume["id"]
    assert shown.body["volume"]["status"] == "available"
    assert [v["id"] for v in listed.body["volumes"]] == [volume["id"]]
    assert listed.body["volumes"] == detail.body["volumes"] == [shown.body["volume"]]


async def test_the_lists_hold_the_projects_volumes_paged_by_offset_and_limit(
    front: FrontEnd,
) -> None:
    """Newest first; offset and limit as Nova's common.limited; another project's unseen."""
    mia, sam = await front.token("mia", "demo"), await front.token("sam", "beta")
    made = [(await _create(front, mia, display_name=f"v{i}"))["id"] for i in range(3)]
    await _create(front, sam, display_name="theirs")

    every = await front.call("GET", VOLUMES, token=mia)
    page = await front.call("GET", f"{VOLUMES}?offset=1&limit=1", token=mia)
    two = await front.call("GET", f"{VOLUMES}/detail?limit=2", token=mia)
    negative = await front.call("GET", f"{VOLUMES}?offset=-1", token=mia)
    admins = await front.call("GET", VOLUMES, token=await front.token())

    ids = [v["id"] for v in every.body["volumes"]]
    assert sorted(ids) == sorted(made)
    assert [v["id"] for v in page.body["volumes"]] == ids[1:2]
    assert [v["id"] for v in two.body["volumes"]] == ids[:2]
    assert negative.status == 400 and "offset" in negative.body["badRequest"]["message"]
    assert admins.body["volumes"] == []  # an administrator's list is its own project's


@pytest.mark.parametrize(
    ("size", "why"),
    [("#$%", "size"), ("", "size"), (0, "size"), ("0", "size"), (None, "size"), (-1, "size")],
)
async def test_a_bad_size_is_a_400_naming_it(front: FrontEnd, size: Any, why: str) -> None:
    """Not digits, empty, zero, missing or negative: 400, and nothing is created."""
    mia = await front.token("mia", "demo")
    volume = {"display_name": "v"} if size is None else {"size": size, "display_name": "v"}

    reply = await _create_status(front, mia, volume)
    listed = await front.call("GET", VOLUMES, token=mia)

    assert reply.status == 400, reply.body
    assert why in reply.body["badRequest"]["message"]
    assert listed.body["volumes"] == []


async def test_unknown_ids_other_projects_and_new_microversions_are_404(front: FrontEnd) -> None:
    """An unknown id, another project's volume and any 2.36+ request answer 404."""
    mia, sam = await front.token("mia", "demo"), await front.token("sam", "beta")
    theirs = await _create(front, sam)
    v236 = {"OpenStack-API-Version": "compute 2.36"}

    unknown = await front.call("GET", f"{VOLUMES}/no-such-volume", token=mia)
    gone = await front.call("DELETE", f"{VOLUMES}/no-such-volume", token=mia)
    other = await front.call("GET", f"{VOLUMES}/{theirs['id']}", token=mia)
    delete_other = await front.call("DELETE", f"{VOLUMES}/{theirs['id']}", token=mia)
    modern = await front.call("GET", VOLUMES, token=mia, headers=v236)
    modern_snapshots = await front.call("GET", SNAPSHOTS, token=mia, headers=v236)
    still = await front.call("GET", f"{VOLUMES}/{theirs['id']}", token=sam)

    assert [r.status for r in (unknown, gone, other, delete_other)] == [404] * 4
    assert (modern.status, modern_snapshots.status) == (404, 404)
    assert still.status == 200


async def test_a_reader_may_list_but_not_create_or_delete(front: FrontEnd) -> None:
    """The proxy's own rules: readers read, members write (403 otherwise)."""
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "rex", project="demo", role="reader")
    mia, rex = await front.token("mia", "demo"), await front.token("rex", "demo")
    volume = await _create(front, mia)

    listed = await front.call("GET", VOLUMES, token=rex)
    created = await _create_status(front, rex, {"size": 1})
    deleted = await front.call("DELETE", f"{VOLUMES}/{volume['id']}", token=rex)

    assert listed.status == 200 and [v["id"] for v in listed.body["volumes"]] == [volume["id"]]
    assert (created.status, deleted.status) == (403, 403)


async def test_an_attached_volume_shows_its_server_and_is_not_deleted(front: FrontEnd) -> None:
    """The attachment in Nova's shape; deleting a volume in use is a 400 and keeps it."""
    mia = await front.token("mia", "demo")
    server = await front.boot(mia)
    volume = await _create(front, mia)
    tap = await NotificationTap.attach(front.cloud)
    attach = {"volumeAttachment": {"volumeId": volume["id"], "device": "/dev/vdb"}}
    made = await front.call(
        "POST", f"{COMPUTE}/servers/{server}/os-volume_attachments", token=mia, json=attach
    )
    assert made.status == 200, made.body
    await tap.wait_event(server, "instance.attach_volume.end")
    shown = (await front.call("GET", f"{VOLUMES}/{volume['id']}", token=mia)).body["volume"]

    refused = await front.call("DELETE", f"{VOLUMES}/{volume['id']}", token=mia)
    after = await front.call("GET", f"{VOLUMES}/{volume['id']}", token=mia)

    (attachment,) = shown["attachments"]
    assert attachment == {
        "id": volume["id"], "volumeId": volume["id"], "serverId": server, "device": "/dev/vdb"
    }  # fmt: skip
    assert refused.status == 400, refused.body
    assert after.body["volume"]["status"] == "in-use"


async def test_a_snapshot_is_made_shown_listed_and_deleted(front: FrontEnd) -> None:
    """os-snapshots in Nova's view; a volume made from it takes its size when none is given."""
    mia = await front.token("mia", "demo")
    volume = await _create(front, mia, size=2)
    body = {"snapshot": {"volume_id": volume["id"], "display_name": "s1", "force": "false"}}

    created = await front.call("POST", SNAPSHOTS, token=mia, json=body)
    snapshot = created.body["snapshot"]
    shown = await front.call("GET", f"{SNAPSHOTS}/{snapshot['id']}", token=mia)
    listed = await front.call("GET", SNAPSHOTS, token=mia)
    detail = await front.call("GET", f"{SNAPSHOTS}/detail?limit=5", token=mia)
    restored = await _create_status(front, mia, {"snapshot_id": snapshot["id"]})
    restored_sized = await _create(front, mia, snapshot_id=snapshot["id"], size=3)
    busy = await front.call("DELETE", f"{VOLUMES}/{volume['id']}", token=mia)
    deleted = await front.call("DELETE", f"{SNAPSHOTS}/{snapshot['id']}", token=mia)
    after = await front.call("GET", f"{SNAPSHOTS}/{snapshot['id']}", token=mia)

    assert created.status == 200 and set(snapshot) == SNAPSHOT_KEYS
    assert (snapshot["volumeId"], snapshot["displayName"], snapshot["size"]) == (
        volume["id"], "s1", 2
    )  # fmt: skip
    assert shown.body["snapshot"]["id"] == snapshot["id"]
    assert [s["id"] for s in listed.body["snapshots"]] == [snapshot["id"]]
    assert detail.body["snapshots"] == listed.body["snapshots"]
    assert restored.status == 400  # Nova's schema: size is required
    assert restored_sized["snapshotId"] == snapshot["id"] and restored_sized["size"] == 3
    assert busy.status == 400  # a volume with snapshots is Cinder's to refuse
    assert deleted.status == 202 and after.status == 404


async def test_snapshot_refusals(front: FrontEnd) -> None:
    """An unknown or another project's volume is a 404; a bad force or a missing id a 400."""
    mia, sam = await front.token("mia", "demo"), await front.token("sam", "beta")
    theirs = await _create(front, sam)

    unknown = await front.call(
        "POST", SNAPSHOTS, token=mia, json={"snapshot": {"volume_id": "nope"}}
    )
    other = await front.call(
        "POST", SNAPSHOTS, token=mia, json={"snapshot": {"volume_id": theirs["id"]}}
    )
    bad_force = await front.call(
        "POST", SNAPSHOTS, token=sam, json={"snapshot": {"volume_id": theirs["id"], "force": 2}}
    )
    missing = await front.call("POST", SNAPSHOTS, token=mia, json={"snapshot": {}})

    assert (unknown.status, other.status) == (404, 404)
    assert bad_force.status == 400 and "force" in bad_force.body["badRequest"]["message"]
    assert missing.status == 400 and "volume_id" in missing.body["badRequest"]["message"]


async def test_the_extension_list_is_novas(front: FrontEnd) -> None:
    """The frozen v2.0 list: Hosts in it, os-consoles shown by alias, an unknown alias 404."""
    mia = await front.token("mia", "demo")

    listed = await front.call("GET", f"{COMPUTE}/extensions", token=mia)
    consoles = await front.call("GET", f"{COMPUTE}/extensions/os-consoles", token=mia)
    unknown = await front.call("GET", f"{COMPUTE}/extensions/os-nothing", token=mia)

    aliases = [e["alias"] for e in listed.body["extensions"]]
    assert "Hosts" in [e["name"] for e in listed.body["extensions"]]
    assert aliases == sorted(set(aliases))
    assert consoles.body["extension"]["alias"] == "os-consoles"
    assert set(consoles.body["extension"]) == {
        "alias", "name", "description", "links", "namespace", "updated"
    }  # fmt: skip
    assert unknown.status == 404
