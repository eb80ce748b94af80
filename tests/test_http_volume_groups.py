"""Cinder's generic volume groups over HTTP: group types and specs, groups, group snapshots.

Each test serves a whole `Cloud` through the HTTP front end on the in-memory broker
and uses only HTTP requests, checking the codes, keys and microversions Cinder's API
and Tempest's response schemas (``groups``, ``group_types``, ``group_snapshots``) have.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite.testing import assert_audit_clean
from tests.cloud_fixtures import CloudFactory, add_user
from tests.http_fixtures import FrontEnd, Reply

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

DEFAULT_TYPE = "__DEFAULT__"


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end, with members ``mia`` of ``demo`` and
    ``sam`` of ``beta``."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        admin = await cloud.login_admin()
        await add_user(cloud, admin, "mia", project="demo")
        await add_user(cloud, admin, "sam", project="beta")
        yield front
    finally:
        await front.aclose()


class Cinder:
    """A caller of one project's block storage API, at microversion 3.40 by default."""

    def __init__(self, front: FrontEnd, token: str, project: str) -> None:
        self.front = front
        self.token = token
        self.base = f"/volume/v3/{project}"

    async def call(
        self, method: str, rest: str, body: Any = None, *, version: str = "3.40"
    ) -> Reply:
        headers = {"OpenStack-API-Version": f"volume {version}"}
        return await self.front.call(
            method, self.base + rest, token=self.token, json=body, headers=headers
        )

    async def ok(self, method: str, rest: str, body: Any = None, status: int = 200) -> Any:
        reply = await self.call(method, rest, body)
        assert reply.status == status, (method, rest, reply.status, reply.body)
        return reply.body


async def _cinder(front: FrontEnd, user: str, project: str) -> Cinder:
    token = await front.token(user, project)
    reply = await front.call(
        "GET", "/v3/auth/tokens", token=token, headers={"X-Subject-Token": token}
    )
    return Cinder(front, token, reply.body["token"]["project"]["id"])


async def _admin(front: FrontEnd) -> Cinder:
    return await _cinder(front, "admin", "admin")


async def _type_id(cinder: Cinder) -> str:
    body = await cinder.ok("GET", "/types/default")
    return str(body["volume_type"]["id"])


async def _group(admin: Cinder, owner: Cinder, **fields: Any) -> dict[str, Any]:
    """A group type made by the admin, and a group of it made by `owner`."""
    name = f"gt-{uuid.uuid4().hex[:8]}"
    made = await admin.ok("POST", "/group_types", {"group_type": {"name": name}}, 202)
    group_type = made["group_type"]
    body = {"group": {"group_type": group_type["id"], "volume_types": [DEFAULT_TYPE], **fields}}
    created = (await owner.ok("POST", "/groups", body, 202))["group"]
    shown: dict[str, Any] = (await owner.ok("GET", f"/groups/{created['id']}"))["group"]
    return shown


async def _volume_in(cinder: Cinder, group_id: str) -> str:
    body = {"volume": {"size": 1, "group_id": group_id}}
    return str((await cinder.ok("POST", "/volumes", body, 202))["volume"]["id"])


async def test_group_types_and_their_specs_are_managed_by_administrators(
    front: FrontEnd,
) -> None:
    """Create (202), show, update, specs create/show/update/list/delete; a member may read
    the public types without their specs, and may not create one (403)."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    made = await admin.ok(
        "POST", "/group_types", {"group_type": {"name": "gold", "is_public": "True"}}, 202
    )
    type_id = made["group_type"]["id"]
    assert made["group_type"] == {
        "id": type_id, "name": "gold", "description": None, "is_public": True, "group_specs": {},
    }  # fmt: skip
    specs = await admin.ok(
        "POST", f"/group_types/{type_id}/group_specs", {"group_specs": {"a": "1", "b": "2"}}, 202
    )
    assert specs == {"group_specs": {"a": "1", "b": "2"}}
    assert await admin.ok("PUT", f"/group_types/{type_id}/group_specs/b", {"b": "3"}) == {"b": "3"}
    assert await admin.ok("GET", f"/group_types/{type_id}/group_specs/b") == {"b": "3"}
    await admin.ok("DELETE", f"/group_types/{type_id}/group_specs/a", status=202)
    missing = await admin.call("GET", f"/group_types/{type_id}/group_specs/a")
    listed = await admin.ok("GET", f"/group_types/{type_id}/group_specs")
    renamed = await admin.ok("PUT", f"/group_types/{type_id}", {"group_type": {"name": "g2"}})
    seen = await mia.ok("GET", f"/group_types/{type_id}")
    refused = await mia.call("POST", "/group_types", {"group_type": {"name": "mine"}})
    assert missing.status == 404
    assert listed == {"group_specs": {"b": "3"}}
    assert renamed["group_type"]["name"] == "g2"
    assert seen["group_type"] == {
        "id": type_id, "name": "g2", "description": None, "is_public": True,
    }  # fmt: skip
    assert refused.status == 403


async def test_group_type_lists_sort_and_filter_by_publicity(front: FrontEnd) -> None:
    """``sort=name:desc`` orders; ``is_public=None`` is both, False the private ones, and
    a member sees the public ones only."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    for name, public in (("a-type", True), ("b-type", False)):
        body = {"group_type": {"name": name, "is_public": public}}
        await admin.ok("POST", "/group_types", body, 202)

    async def names(cinder: Cinder, query: str) -> list[str]:
        return [t["name"] for t in (await cinder.ok("GET", "/group_types" + query))["group_types"]]

    assert await names(admin, "?is_public=None&sort=name:desc") == ["b-type", "a-type"]
    assert await names(admin, "?is_public=false") == ["b-type"]
    assert await names(admin, "") == ["a-type"]
    assert await names(mia, "?is_public=None") == ["a-type"]
    bad = await admin.call("GET", "/group_types?sort=colour:up")
    assert bad.status == 400 and "sort" in bad.body["badRequest"]["message"]


async def test_group_routes_are_not_found_below_their_microversion(front: FrontEnd) -> None:
    """Group types need 3.11, groups 3.13, group snapshots 3.14 (404 before, as Cinder)."""
    admin = await _admin(front)
    assert (await admin.call("GET", "/group_types", version="3.10")).status == 404
    assert (await admin.call("GET", "/group_types", version="3.11")).status == 200
    assert (await admin.call("GET", "/groups", version="3.12")).status == 404
    assert (await admin.call("GET", "/group_snapshots", version="3.13")).status == 404
    assert (await admin.call("GET", "/group_snapshots", version="3.14")).status == 200


async def test_a_group_holds_volumes_of_its_types_and_shows_them(front: FrontEnd) -> None:
    """A volume made with ``group_id`` shows it (3.13); the group's detail and
    ``list_volume=true`` name it; a type the group does not allow is refused (400)."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    group = await _group(admin, mia, name="g1")
    volume = await _volume_in(mia, group["id"])
    other_type = (await admin.ok("POST", "/types", {"volume_type": {"name": "other"}}))[
        "volume_type"
    ]["id"]
    refused = await mia.call(
        "POST",
        "/volumes",
        {"volume": {"size": 1, "group_id": group["id"], "volume_type": other_type}},
    )
    shown = (await mia.ok("GET", f"/volumes/{volume}"))["volume"]
    detail = (await mia.ok("GET", "/groups/detail"))["groups"]
    listed = (await mia.ok("GET", f"/groups/{group['id']}?list_volume=true"))["group"]
    assert refused.status == 400 and "volume_type" in refused.body["badRequest"]["message"]
    assert shown["group_id"] == group["id"]
    assert [g["id"] for g in detail] == [group["id"]]
    assert detail[0]["volume_types"] == [await _type_id(mia)]
    assert set(detail[0]) == {
        "id", "name", "description", "status", "availability_zone", "group_type",
        "volume_types", "created_at", "group_snapshot_id", "source_group_id",
        "replication_status",
    }  # fmt: skip
    assert listed["volumes"] == [volume]


async def test_another_project_neither_sees_nor_changes_a_group(front: FrontEnd) -> None:
    """``sam`` of ``beta`` lists none of ``demo``'s groups and cannot add its volume."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    sam = await _cinder(front, "sam", "beta")
    group = await _group(admin, mia)
    assert (await sam.ok("GET", "/groups"))["groups"] == []
    joined = await sam.call("POST", "/volumes", {"volume": {"size": 1, "group_id": group["id"]}})
    assert joined.status == 404


async def test_a_group_update_renames_adds_and_removes_volumes(front: FrontEnd) -> None:
    """``remove_volumes`` and ``add_volumes`` are comma-separated ids (202); a volume not
    in the group cannot be removed (400), and an update changing nothing is refused."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    group = await _group(admin, mia)
    first, second = [await _volume_in(mia, group["id"]) for _ in range(2)]
    loose = (await mia.ok("POST", "/volumes", {"volume": {"size": 1}}, 202))["volume"]["id"]
    body = {"group": {"name": "new", "description": "d", "remove_volumes": f"{first},{second}"}}
    await mia.ok("PUT", f"/groups/{group['id']}", body, 202)
    emptied = (await mia.ok("GET", f"/groups/{group['id']}?list_volume=true"))["group"]
    await mia.ok("PUT", f"/groups/{group['id']}", {"group": {"add_volumes": f"{loose}"}}, 202)
    not_member = await mia.call(
        "PUT", f"/groups/{group['id']}", {"group": {"remove_volumes": first}}
    )
    nothing = await mia.call("PUT", f"/groups/{group['id']}", {"group": {}})
    refilled = (await mia.ok("GET", f"/groups/{group['id']}?list_volume=true"))["group"]
    assert (emptied["name"], emptied["description"], emptied["volumes"]) == ("new", "d", [])
    assert refilled["volumes"] == [loose]
    assert not_member.status == 400 and nothing.status == 400


async def test_a_group_with_volumes_is_deleted_only_with_delete_volumes(
    front: FrontEnd, clouds: CloudFactory
) -> None:
    """Without ``delete-volumes`` a non-empty group stays (400); with it the group and its
    volumes go, and the books agree."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    group = await _group(admin, mia)
    volume = await _volume_in(mia, group["id"])
    kept = await mia.call("POST", f"/groups/{group['id']}/action", {"delete": {}})
    await mia.ok("POST", f"/groups/{group['id']}/action", {"delete": {"delete-volumes": True}}, 202)
    assert kept.status == 400 and "delete-volumes" in kept.body["badRequest"]["message"]
    assert (await mia.call("GET", f"/groups/{group['id']}")).status == 404
    assert (await mia.call("GET", f"/volumes/{volume}")).status == 404
    await assert_audit_clean(front.cloud)


async def test_reset_status_is_for_administrators_and_checks_the_status(front: FrontEnd) -> None:
    """An admin may force a group's status (3.20, 202); a member may not (403); an
    unknown status is refused (400)."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    group = await _group(admin, mia)
    action = f"/groups/{group['id']}/action"
    refused = await mia.call("POST", action, {"reset_status": {"status": "error"}})
    unknown = await admin.call("POST", action, {"reset_status": {"status": "sleeping"}})
    old = await admin.call("POST", action, {"reset_status": {"status": "error"}}, version="3.19")
    await admin.ok("POST", action, {"reset_status": {"status": "error"}}, 202)
    assert refused.status == 403 and unknown.status == 400 and old.status == 404
    assert (await mia.ok("GET", f"/groups/{group['id']}"))["group"]["status"] == "error"


async def test_a_group_snapshot_snapshots_every_member_and_a_group_copies_it(
    front: FrontEnd,
) -> None:
    """A group snapshot makes one snapshot per volume; a group from it (and one from the
    group itself) holds a new volume per source; deleting it deletes its snapshots; the
    source group cannot be deleted while it has group snapshots."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    group = await _group(admin, mia)
    volume = await _volume_in(mia, group["id"])
    made = await mia.ok(
        "POST", "/group_snapshots", {"group_snapshot": {"group_id": group["id"], "name": "gs"}}, 202
    )
    snap = made["group_snapshot"]
    snapshots = (await mia.ok("GET", "/snapshots/detail"))["snapshots"]
    from_snap = await mia.ok(
        "POST", "/groups/action", {"create-from-src": {"group_snapshot_id": snap["id"]}}, 202
    )
    from_group = await mia.ok(
        "POST", "/groups/action", {"create-from-src": {"source_group_id": group["id"]}}, 202
    )
    blocked = await mia.call(
        "POST", f"/groups/{group['id']}/action", {"delete": {"delete-volumes": True}}
    )
    shown = (await mia.ok("GET", f"/group_snapshots/{snap['id']}"))["group_snapshot"]
    await mia.ok("DELETE", f"/group_snapshots/{snap['id']}", status=202)
    after = (await mia.ok("GET", "/snapshots"))["snapshots"]
    assert set(snap) == {"id", "name", "group_type_id"}
    assert [s["volume_id"] for s in snapshots] == [volume]
    assert shown["group_id"] == group["id"] and shown["status"] == "available"
    for copy in (from_snap["group"], from_group["group"]):
        copied = (await mia.ok("GET", f"/groups/{copy['id']}?list_volume=true"))["group"]
        assert copied["status"] == "available" and len(copied["volumes"]) == 1
    assert blocked.status == 400 and "group snapshots" in blocked.body["badRequest"]["message"]
    assert after == []


async def test_a_group_from_both_sources_or_none_is_refused(front: FrontEnd) -> None:
    """``create-from-src`` needs exactly one of its two sources (400), and 3.14."""
    mia = await _cinder(front, "mia", "demo")
    none = await mia.call("POST", "/groups/action", {"create-from-src": {"name": "x"}})
    old = await mia.call(
        "POST", "/groups/action", {"create-from-src": {"source_group_id": "g"}}, version="3.13"
    )
    assert none.status == 400 and old.status == 404


async def test_two_groups_racing_for_one_volume_get_it_once(front: FrontEnd) -> None:
    """Two updates adding the same volume to two groups at once: exactly one wins (the
    other is refused, 400), and the volume is in that group only."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    first, second = await _group(admin, mia), await _group(admin, mia)
    loose = (await mia.ok("POST", "/volumes", {"volume": {"size": 1}}, 202))["volume"]["id"]
    replies = await asyncio.gather(
        *(
            mia.call("PUT", f"/groups/{g['id']}", {"group": {"add_volumes": loose}})
            for g in (first, second)
        )
    )
    assert sorted(r.status for r in replies) == [202, 400]
    winner = first if replies[0].status == 202 else second
    shown = (await mia.ok("GET", f"/volumes/{loose}"))["volume"]
    assert shown["group_id"] == winner["id"]


async def test_groups_count_against_the_groups_quota(front: FrontEnd) -> None:
    """With ``groups`` set to 1, a second group is refused (413) and not recorded; the
    quota set's usage counts the group."""
    admin, mia = await _admin(front), await _cinder(front, "mia", "demo")
    project = mia.base.rsplit("/", 1)[1]
    await admin.ok("PUT", f"/os-quota-sets/{project}", {"quota_set": {"groups": 1}})
    first = await _group(admin, mia)
    body = {"group": {"group_type": first["group_type"], "volume_types": [DEFAULT_TYPE]}}
    refused = await mia.call("POST", "/groups", body)
    usage = await admin.ok("GET", f"/os-quota-sets/{project}?usage=true")
    assert refused.status == 413 and "groups" in str(refused.body)
    assert [g["id"] for g in (await mia.ok("GET", "/groups"))["groups"]] == [first["id"]]
    assert usage["quota_set"]["groups"]["in_use"] == 1
