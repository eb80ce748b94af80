"""The compute API's image proxy (``/compute/v2.1/images``) up to microversion 2.35."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nova_lite.testing import CloudFactory, DriverFaults, add_user, fake_driver
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)
IMAGES = "/compute/v2.1/images"


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


@pytest.fixture
async def member(front: FrontEnd) -> str:
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "mia", project="demo")
    return await front.token("mia", "demo")


async def test_images_are_shown_in_novas_shape(front: FrontEnd, member: str) -> None:
    """The seeded image: ACTIVE, progress 100, its size, links to itself and to Glance."""
    image_id = await front.image_id()

    listed = await front.call("GET", IMAGES, token=member)
    detail = await front.call("GET", f"{IMAGES}/detail", token=member)
    shown = await front.call("GET", f"{IMAGES}/{image_id}", token=member)

    assert {"id": image_id, "name": "cirros"} in [
        {"id": i["id"], "name": i["name"]} for i in listed.body["images"]
    ]
    image = shown.body["image"]
    assert (image["status"], image["progress"], image["minRam"]) == ("ACTIVE", 100, 0)
    assert image["OS-EXT-IMG-SIZE:size"] > 0
    assert [link["rel"] for link in image["links"]] == ["self", "bookmark", "alternate"]
    assert image in detail.body["images"]


async def test_a_snapshot_names_its_server_and_is_found_by_server_and_type(
    front: FrontEnd, member: str
) -> None:
    """A server's snapshot has a server link; the server and type filters find it."""
    server_id = await front.boot(member)
    made = await front.call(
        "POST", f"/compute/v2.1/servers/{server_id}/action", token=member,
        json={"createImage": {"name": "snap"}},
    )  # fmt: skip
    image_id = made.headers["Location"].rsplit("/", 1)[-1]
    await front.wait(member, server_id, "ACTIVE")

    shown = await front.call("GET", f"{IMAGES}/{image_id}", token=member)
    by_server = await front.call(
        "GET", f"{IMAGES}?server={front.url}/compute/v2.1/servers/{server_id}", token=member
    )
    by_type = await front.call("GET", f"{IMAGES}?type=snapshot", token=member)
    by_name = await front.call("GET", f"{IMAGES}/detail?name=cirros", token=member)

    assert shown.body["image"]["server"]["id"] == server_id
    assert [i["id"] for i in by_server.body["images"]] == [image_id]
    assert [i["id"] for i in by_type.body["images"]] == [image_id]
    assert [i["name"] for i in by_name.body["images"]] == ["cirros"]


async def test_image_metadata_is_read_and_written_through_the_proxy(
    front: FrontEnd, member: str
) -> None:
    """/images/{id}/metadata lists, merges, replaces, shows, sets and deletes properties."""
    image = await front.cloud.api.image.create(
        await front.cloud.api.context_for(member), "mine", properties={"a": "1"}
    )
    path = f"{IMAGES}/{image.id}/metadata"

    merged = await front.call("POST", path, token=member, json={"metadata": {"b": "2"}})
    item = await front.call("PUT", f"{path}/c", token=member, json={"meta": {"c": "3"}})
    shown = await front.call("GET", f"{path}/c", token=member)
    deleted = await front.call("DELETE", f"{path}/a", token=member)
    listed = await front.call("GET", path, token=member)
    mismatch = await front.call("PUT", f"{path}/c", token=member, json={"meta": {"d": "4"}})
    replaced = await front.call("PUT", path, token=member, json={"metadata": {"z": "9"}})

    assert merged.body == {"metadata": {"a": "1", "b": "2"}}
    assert item.body == {"meta": {"c": "3"}} and shown.body == {"meta": {"c": "3"}}
    assert deleted.status == 204 and listed.body == {"metadata": {"b": "2", "c": "3"}}
    assert mismatch.status == 400
    assert replaced.body == {"metadata": {"z": "9"}}


async def test_images_are_deleted_by_their_owner_and_others_see_nothing(
    front: FrontEnd, member: str
) -> None:
    """Another project's member gets 404 for a private image; its owner deletes it (204)."""
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "sam", project="beta")
    other = await front.token("sam", "beta")
    image = await front.cloud.api.image.create(await front.cloud.api.context_for(member), "mine")

    hidden = await front.call("GET", f"{IMAGES}/{image.id}", token=other)
    refused = await front.call("DELETE", f"{IMAGES}/{image.id}", token=other)
    deleted = await front.call("DELETE", f"{IMAGES}/{image.id}", token=member)
    gone = await front.call("GET", f"{IMAGES}/{image.id}", token=member)

    assert (hidden.status, refused.status) == (404, 404)
    assert (deleted.status, gone.status) == (204, 404)


async def test_the_proxy_is_gone_from_2_36(front: FrontEnd, member: str) -> None:
    """From microversion 2.36 the image proxy answers 404, as Nova's."""
    reply = await front.call(
        "GET", IMAGES, token=member, headers={"OpenStack-API-Version": "compute 2.36"}
    )

    assert reply.status == 404


async def test_create_image_metadata_becomes_the_images_properties(
    front: FrontEnd, member: str
) -> None:
    """createImage's metadata is on the image, over Nova's own (image_type)."""
    server_id = await front.boot(member)
    made = await front.call(
        "POST", f"/compute/v2.1/servers/{server_id}/action", token=member,
        json={"createImage": {"name": "snap", "metadata": {"image_type": "test", "a": "b"}}},
    )  # fmt: skip
    image_id = made.headers["Location"].rsplit("/", 1)[-1]
    await front.wait(member, server_id, "ACTIVE")

    shown = await front.call("GET", f"{IMAGES}/{image_id}", token=member)

    metadata = shown.body["image"]["metadata"]
    assert (metadata["image_type"], metadata["a"], metadata["instance_uuid"]) == (
        "test", "b", server_id,
    )  # fmt: skip


async def test_an_image_deleted_while_it_is_saved_leaves_the_server_as_it_was(
    front: FrontEnd, member: str
) -> None:
    """A snapshot whose image is deleted mid-snapshot ends quietly: ACTIVE, no fault."""
    server_id = await front.boot(member)
    drivers = DriverFaults([fake_driver(front.cloud.compute("compute1"))])
    with drivers.hold("snapshot") as gate:
        made = await front.call(
            "POST", f"/compute/v2.1/servers/{server_id}/action", token=member,
            json={"createImage": {"name": "snap"}},
        )  # fmt: skip
        await gate.wait_reached()
        image_id = made.headers["Location"].rsplit("/", 1)[-1]
        deleted = await front.call("DELETE", f"{IMAGES}/{image_id}", token=member)
    server = await front.wait(member, server_id, "ACTIVE")

    assert deleted.status == 204
    assert server.fault is None and server.task_state is None
