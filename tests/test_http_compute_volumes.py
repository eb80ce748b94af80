"""Nova's volume proxy over HTTP (``os-volumes``, ``os-snapshots``, to microversion 2.35).

A whole `Cloud` behind the HTTP front end on the in-memory broker: Nova's shapes
(``displayName``, ``attachments: [{}]`` for a volume attached to nothing), ``limit``
and ``offset``, Nova's 400 for a bad size, 404 from 2.36, and Nova's rules before
Cinder's (a reader may list but not create).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.cloud_fixtures import CloudFactory, add_user
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

VOLUMES, SNAPSHOTS = "/compute/v2.1/os-volumes", "/compute/v2.1/os-snapshots"


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud over HTTP with ``mia`` (member) and ``rex`` (reader) of ``demo``."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        admin = await cloud.login_admin()
        await add_user(cloud, admin, "mia", project="demo")
        await add_user(cloud, admin, "rex", project="demo", role="reader")
        yield front
    finally:
        await front.aclose()


async def test_volumes_through_the_proxy_have_novas_shape(front: FrontEnd) -> None:
    """Create (200), show, list with limit and offset, delete (202); an unattached
    volume shows ``attachments: [{}]``."""
    mia = await front.token("mia", "demo")
    made = [
        await front.call(
            "POST", VOLUMES, token=mia, json={"volume": {"size": 1, "display_name": f"v{i}"}}
        )
        for i in range(3)
    ]
    first = made[0].body["volume"]
    shown = await front.call("GET", f"{VOLUMES}/{first['id']}", token=mia)
    every = (await front.call("GET", f"{VOLUMES}/detail", token=mia)).body["volumes"]
    page = await front.call("GET", f"{VOLUMES}?offset=1&limit=1", token=mia)
    deleted = await front.call("DELETE", f"{VOLUMES}/{first['id']}", token=mia)
    gone = await front.call("GET", f"{VOLUMES}/{first['id']}", token=mia)
    assert [m.status for m in made] == [200, 200, 200]
    assert first["displayName"] == "v0" and first["attachments"] == [{}]
    assert set(first) == {
        "id", "status", "size", "availabilityZone", "createdAt", "displayName",
        "displayDescription", "volumeType", "snapshotId", "metadata", "attachments",
    }  # fmt: skip
    assert shown.body["volume"]["id"] == first["id"]
    assert [v["id"] for v in page.body["volumes"]] == [every[1]["id"]]
    assert deleted.status == 202 and gone.status == 404


@pytest.mark.parametrize("volume", [{"size": 0}, {"size": "#$%"}, {"display_name": "x"}])
async def test_a_bad_size_is_refused(front: FrontEnd, volume: dict[str, object]) -> None:
    """Size 0, not a number, or missing: 400 naming the field."""
    mia = await front.token("mia", "demo")
    reply = await front.call("POST", VOLUMES, token=mia, json={"volume": volume})
    assert reply.status == 400 and "size" in reply.body["badRequest"]["message"]


async def test_snapshots_through_the_proxy(front: FrontEnd) -> None:
    """Create (200), show, list, delete (202) a snapshot of a proxy volume."""
    mia = await front.token("mia", "demo")
    volume = (await front.call("POST", VOLUMES, token=mia, json={"volume": {"size": 1}})).body[
        "volume"
    ]
    body = {"snapshot": {"volume_id": volume["id"], "display_name": "s", "force": "false"}}
    made = await front.call("POST", SNAPSHOTS, token=mia, json=body)
    snapshot = made.body["snapshot"]
    listed = (await front.call("GET", f"{SNAPSHOTS}/detail", token=mia)).body["snapshots"]
    deleted = await front.call("DELETE", f"{SNAPSHOTS}/{snapshot['id']}", token=mia)
    assert made.status == 200
    assert (snapshot["volumeId"], snapshot["displayName"], snapshot["size"]) == (
        volume["id"], "s", 1,
    )  # fmt: skip
    assert [s["id"] for s in listed] == [snapshot["id"]]
    assert deleted.status == 202
    assert (await front.call("GET", f"{SNAPSHOTS}/{snapshot['id']}", token=mia)).status == 404


async def test_the_proxy_is_gone_from_2_36_and_keeps_novas_rules(front: FrontEnd) -> None:
    """From 2.36 every proxy route is 404; a reader lists (200) but cannot create (403)."""
    rex = await front.token("rex", "demo")
    new = {"OpenStack-API-Version": "compute 2.36"}
    assert (await front.call("GET", VOLUMES, token=rex, headers=new)).status == 404
    assert (await front.call("GET", SNAPSHOTS, token=rex, headers=new)).status == 404
    assert (await front.call("GET", VOLUMES, token=rex)).status == 200
    refused = await front.call("POST", VOLUMES, token=rex, json={"volume": {"size": 1}})
    assert refused.status == 403
