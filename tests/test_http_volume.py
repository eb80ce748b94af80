"""The block storage API (Cinder v3) over HTTP: shapes, microversions, codes, lists, actions.

Each test serves a whole `Cloud` through the HTTP front end on the in-memory broker
and uses only HTTP requests (the library only to wait for a server), checking the
keys, statuses and error codes Cinder's API and Tempest's response schemas have.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite.volume.manager import VolumeManager
from tests.cloud_fixtures import CloudFactory, NotificationTap, add_user
from tests.http_fixtures import FrontEnd, Reply

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

# Keys Cinder adds to a volume's show and detail views only: a create or update answer
# holding them fails Tempest's create schema (additionalProperties: false).
SHOW_ONLY = {"os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host", "volume_image_metadata"}
CREATE_KEYS = {
    "id", "name", "size", "status", "bootable", "attachments", "availability_zone",
    "volume_type", "description", "metadata", "encrypted", "multiattach", "snapshot_id",
    "source_volid", "replication_status", "consistencygroup_id", "migration_status",
    "user_id", "created_at", "updated_at", "links",
}  # fmt: skip


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end, with a member ``mia`` of ``demo``."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "mia", project="demo")
        yield front
    finally:
        await front.aclose()


class Cinder:
    """A caller of one project's block storage API."""

    def __init__(self, front: FrontEnd, token: str, project: str) -> None:
        self.front = front
        self.token = token
        self.base = f"/volume/v3/{project}"

    async def call(self, method: str, rest: str, body: Any = None, **headers: str) -> Reply:
        return await self.front.call(
            method, self.base + rest, token=self.token, json=body, headers=headers
        )

    async def volume(self, **fields: Any) -> dict[str, Any]:
        reply = await self.call("POST", "/volumes", {"volume": {"size": 1, **fields}})
        assert reply.status == 202, reply.body
        volume: dict[str, Any] = reply.body["volume"]
        return volume


async def _cinder(front: FrontEnd, user: str = "mia", project: str = "demo") -> Cinder:
    token = await front.token(user, project)
    reply = await front.call(
        "GET", "/v3/auth/tokens", token=token, headers={"X-Subject-Token": token}
    )
    return Cinder(front, token, reply.body["token"]["project"]["id"])


async def test_a_create_answers_the_create_view_and_a_show_the_full_one(front: FrontEnd) -> None:
    """POST shows none of the show-only keys; GET adds the project; display_name is an alias."""
    mia = await _cinder(front)
    created = await mia.volume(
        display_name="data", display_description="about", metadata={"a": "b"}
    )
    shown = await mia.call("GET", f"/volumes/{created['id']}")
    renamed = await mia.call("PUT", f"/volumes/{created['id']}", {"volume": {"name": "new"}})

    assert set(created) == CREATE_KEYS and not set(created) & SHOW_ONLY
    assert (created["name"], created["description"]) == ("data", "about")
    assert created["volume_type"] == "__DEFAULT__" and created["bootable"] == "false"
    volume = shown.body["volume"]
    assert volume["os-vol-tenant-attr:tenant_id"] == mia.base.rsplit("/", 1)[1]
    assert "os-vol-host-attr:host" not in volume  # administrators only
    assert renamed.status == 200 and set(renamed.body["volume"]) == CREATE_KEYS
    assert renamed.body["volume"]["name"] == "new"


async def test_microversions_are_negotiated_and_announced(front: FrontEnd) -> None:
    """A served version is echoed (and adds its keys), an unserved one is 406, none is 3.0."""
    mia = await _cinder(front)
    plain = await mia.call("GET", "/volumes")
    modern = await mia.call(
        "POST", "/volumes", {"volume": {"size": 1}}, **{"OpenStack-API-Version": "volume 3.63"}
    )
    too_new = await mia.call("GET", "/volumes", **{"OpenStack-API-Version": "volume 3.99"})
    versions = await front.call("GET", "/volume/")

    assert plain.headers["OpenStack-API-Version"] == "volume 3.0"
    assert modern.headers["OpenStack-API-Version"] == "volume 3.63"
    assert modern.body["volume"]["volume_type_id"] and "volume_type_id" not in await mia.volume()
    assert too_new.status == 406
    assert versions.status == 300
    (v3,) = versions.body["versions"]
    assert (v3["min_version"], v3["version"]) == ("3.0", "3.70")


async def test_cinder_codes_for_state_and_quota(front: FrontEnd) -> None:
    """A second reserve is 400 (Cinder's InvalidVolume), a quota exceeded 413, unknown 404."""
    mia = await _cinder(front)
    admin = await _cinder(front, "admin", "admin")
    volume = await mia.volume()
    first = await mia.call("POST", f"/volumes/{volume['id']}/action", {"os-reserve": None})
    second = await mia.call("POST", f"/volumes/{volume['id']}/action", {"os-reserve": {}})
    project = mia.base.rsplit("/", 1)[1]
    quota = {"quota_set": {"volumes": 1}}
    limited = await admin.call("PUT", f"/os-quota-sets/{project}", quota)
    over = await mia.call("POST", "/volumes", {"volume": {"size": 1}})
    missing = await mia.call("GET", "/volumes/no-such-volume")
    bad_size = await mia.call("POST", "/volumes", {"volume": {"size": -1}})

    assert (first.status, second.status) == (202, 400)
    assert "badRequest" in second.body and "'attaching'" in second.body["badRequest"]["message"]
    assert limited.status == 200 and limited.body["quota_set"]["volumes"] == 1
    assert over.status == 413 and "overLimit" in over.body
    assert (missing.status, bad_size.status) == (404, 400)


async def test_lists_filter_sort_and_page_with_next_links(front: FrontEnd) -> None:
    """Filters narrow the list; a full page links to the next one by marker, newest first."""
    mia = await _cinder(front)
    made = [await mia.volume(name=f"v{i}", metadata={"n": str(i % 2)}) for i in range(3)]
    first = await mia.call("GET", "/volumes/detail?limit=2")
    link = first.body["volumes_links"][0]["href"]
    second = await mia.front.http.get(link, headers={"X-Auth-Token": mia.token})
    rest = (await second.json())["volumes"]
    odd = await mia.call("GET", "/volumes?metadata=%7B%27n%27%3A+%271%27%7D")
    named = await mia.call("GET", "/volumes?name=v2&status=available")
    ascending = await mia.call("GET", "/volumes?sort_key=name&sort_dir=asc")
    bad = await mia.call("GET", "/volumes?limit=x")

    assert [v["name"] for v in first.body["volumes"]] == ["v2", "v1"]
    assert [v["name"] for v in rest] == ["v0"] and "marker=" in link
    assert [v["id"] for v in odd.body["volumes"]] == [made[1]["id"]]
    assert [v["name"] for v in named.body["volumes"]] == ["v2"]
    assert set(named.body["volumes"][0]) == {"id", "name", "links"}
    assert [v["name"] for v in ascending.body["volumes"]] == ["v0", "v1", "v2"]
    assert bad.status == 400


async def test_snapshots_and_a_volume_from_one(front: FrontEnd) -> None:
    """A snapshot is made, listed with its extended attributes, and a volume made from it."""
    mia = await _cinder(front)
    volume = await mia.volume(size=2)
    body = {"snapshot": {"volume_id": volume["id"], "display_name": "s1", "metadata": {"k": "v"}}}
    created = await mia.call("POST", "/snapshots", body)
    snapshot = created.body["snapshot"]
    detail = await mia.call("GET", "/snapshots/detail")
    brief = await mia.call("GET", "/snapshots")
    small = await mia.call(
        "POST", "/volumes", {"volume": {"size": 1, "snapshot_id": snapshot["id"]}}
    )
    restored = await mia.call("POST", "/volumes", {"volume": {"snapshot_id": snapshot["id"]}})
    refused = await mia.call("DELETE", f"/volumes/{volume['id']}")
    cascade = await mia.call("DELETE", f"/volumes/{volume['id']}?cascade=true")

    assert created.status == 202 and snapshot["name"] == "s1" and snapshot["size"] == 2
    assert "os-extended-snapshot-attributes:progress" not in snapshot
    assert detail.body["snapshots"][0]["os-extended-snapshot-attributes:progress"] == "100%"
    assert "os-extended-snapshot-attributes:project_id" not in brief.body["snapshots"][0]
    assert small.status == 400
    assert restored.status == 202 and restored.body["volume"]["size"] == 2
    assert restored.body["volume"]["snapshot_id"] == snapshot["id"]
    assert (refused.status, cascade.status) == (400, 202)


async def test_volume_actions_change_what_the_volume_shows(front: FrontEnd) -> None:
    """Extend, bootable, read-only and image metadata actions show in the volume."""
    mia = await _cinder(front)
    volume = await mia.volume()
    action = f"/volumes/{volume['id']}/action"
    codes = [
        (await mia.call("POST", action, body)).status
        for body in (
            {"os-extend": {"new_size": "3"}},
            {"os-set_bootable": {"bootable": "True"}},
            {"os-update_readonly_flag": {"readonly": True}},
            {"os-set_image_metadata": {"metadata": {"os": "linux"}}},
        )
    ]
    shown = (await mia.call("GET", f"/volumes/{volume['id']}")).body["volume"]
    unknown = await mia.call("POST", action, {"os-explode": {}})
    smaller = await mia.call("POST", action, {"os-extend": {"new_size": 2}})

    assert codes == [202, 200, 202, 200]
    assert (shown["size"], shown["bootable"], shown["metadata"]["readonly"]) == (3, "true", "True")
    assert shown["volume_image_metadata"] == {"os": "linux"}
    assert (unknown.status, smaller.status) == (400, 400)


async def test_types_are_managed_by_admins(front: FrontEnd) -> None:
    """Admins create types with extra specs; members list them and use them by name."""
    admin = await _cinder(front, "admin", "admin")
    mia = await _cinder(front)
    body = {"volume_type": {"name": "fast", "extra_specs": {"tier": "1"}}}
    created = await admin.call("POST", "/types", body)
    refused = await mia.call("POST", "/types", {"volume_type": {"name": "slow"}})
    listed = await mia.call("GET", "/types")
    volume = await mia.volume(volume_type="fast")
    default = await mia.call("GET", "/types/default")
    spec = await admin.call(
        "PUT", f"/types/{created.body['volume_type']['id']}/extra_specs/x", {"y": "1"}
    )

    assert created.status == 200 and created.body["volume_type"]["is_public"] is True
    assert created.body["volume_type"]["os-volume-type-access:is_public"] is True
    assert refused.status == 403
    assert [t["name"] for t in listed.body["volume_types"]] == ["__DEFAULT__", "fast"]
    assert volume["volume_type"] == "fast" and default.body["volume_type"]["name"] == "__DEFAULT__"
    assert spec.status == 400  # the body must hold the key of the URL


async def test_services_pools_and_zones_show_the_volume_backend(front: FrontEnd) -> None:
    """os-services lists the scheduler and the backend, filtered by host; pools name it."""
    admin = await _cinder(front, "admin", "admin")
    mia = await _cinder(front)
    services = (await admin.call("GET", "/os-services")).body["services"]
    host = services[0]["host"]
    on_host = await admin.call("GET", f"/os-services?host={host}&binary=cinder-volume")
    pools = await admin.call("GET", "/scheduler-stats/get_pools?detail=True")
    zones = await mia.call("GET", "/os-availability-zone")
    member = await mia.call("GET", "/os-services")

    assert [s["binary"] for s in services] == ["cinder-scheduler", "cinder-volume"]
    assert [s["host"] for s in on_host.body["services"]] == [f"{host}@lvmdriver-1"]
    (pool,) = pools.body["pools"]
    assert pool["name"] == f"{host}@lvmdriver-1#lvmdriver-1"
    assert pool["capabilities"]["vendor_name"] == "Open Source"
    assert zones.body["availabilityZoneInfo"] == [
        {"zoneName": "nova", "zoneState": {"available": True}}
    ]
    assert member.status == 403


async def test_a_volume_uploads_to_a_new_image(front: FrontEnd) -> None:
    """os-volume_upload_image makes an image that goes active; the volume is available again."""
    mia = await _cinder(front)
    volume = await mia.volume()
    body = {"os-volume_upload_image": {"image_name": "from-volume", "disk_format": "qcow2"}}
    reply = await mia.call("POST", f"/volumes/{volume['id']}/action", body)
    image_id = reply.body["os-volume_upload_image"]["image_id"]
    manager = next(s.manager for s in front.cloud.services if isinstance(s.manager, VolumeManager))
    await manager.uploads.drain()  # the copy the upload started has finished
    image = await front.call("GET", f"/image/v2/images/{image_id}", token=mia.token)
    after = (await mia.call("GET", f"/volumes/{volume['id']}")).body["volume"]["status"]

    assert reply.status == 202 and reply.body["os-volume_upload_image"]["status"] == "uploading"
    assert after == "available"
    assert (image.body["name"], image.body["disk_format"]) == ("from-volume", "qcow2")
    assert image.body["status"] == "active"


async def test_cinder_attach_records_and_compute_attach_shows(front: FrontEnd) -> None:
    """A volume attached through compute shows its attachment with Cinder's keys."""
    mia = await _cinder(front)
    server = await front.boot(mia.token)
    volume = await mia.volume()
    tap = await NotificationTap.attach(front.cloud)
    attach = {"volumeAttachment": {"volumeId": volume["id"]}}
    path = f"/compute/v2.1/servers/{server}/os-volume_attachments"
    await front.call("POST", path, token=mia.token, json=attach)
    await tap.wait_event(server, "instance.attach_volume.end")
    shown = (await mia.call("GET", f"/volumes/{volume['id']}")).body["volume"]

    (attachment,) = shown["attachments"]
    assert shown["status"] == "in-use" and attachment["server_id"] == server
    assert attachment["id"] == volume["id"] and attachment["attachment_id"] != volume["id"]
    assert attachment["attached_at"] and shown["metadata"]["attached_mode"] == "rw"


async def test_backups_over_http(front: FrontEnd) -> None:
    """A backup is created, shown, updated from 3.9 on, and restored into a new volume."""
    mia = await _cinder(front)
    volume = await mia.volume(metadata={"k": "v"})
    created = await mia.call(
        "POST", "/backups", {"backup": {"volume_id": volume["id"], "name": "b"}}
    )
    backup_id = created.body["backup"]["id"]
    shown = await mia.call("GET", f"/backups/{backup_id}")
    old = await mia.call("PUT", f"/backups/{backup_id}", {"backup": {"name": "c"}})
    v39 = {"OpenStack-API-Version": "volume 3.9"}
    new = await mia.call("PUT", f"/backups/{backup_id}", {"backup": {"name": "c"}}, **v39)
    restored = await mia.call("POST", f"/backups/{backup_id}/restore", {"restore": {}})
    made = await mia.call("GET", f"/volumes/{restored.body['restore']['volume_id']}")

    assert created.status == 202 and set(created.body["backup"]) == {"id", "name", "links"}
    assert shown.body["backup"]["volume_id"] == volume["id"]
    assert shown.body["backup"]["status"] == "available"
    assert (old.status, new.status, new.body["backup"]["name"]) == (404, 200, "c")
    assert restored.status == 202 and restored.body["restore"]["backup_id"] == backup_id
    assert made.body["volume"]["metadata"] == {"k": "v"}
