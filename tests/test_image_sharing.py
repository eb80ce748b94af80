"""Image members over RPC: sharing an image with projects, Glance's rules of who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    ImageLimitExceeded,
    ImageNotFound,
    Invalid,
    NotFound,
)
from nova_lite.image import checks
from nova_lite.objects import ImageChange, ImageQuery
from tests.conftest import TransportFactory
from tests.test_image import ADMIN, ALICE, BOB, Images, make_config, running

CAROL = RequestContext(user_id="carol", project_id="proj-c", roles=("member", "reader"))
BOB_READER = RequestContext(user_id="bo", project_id="proj-b", roles=("reader",))


@pytest.fixture
async def images(tmp_path: Path) -> AsyncIterator[Images]:
    """An image service on the in-memory broker (membership rules are not transport's)."""
    broker = TransportFactory("memory", "memory://")
    try:
        async with running(make_config(tmp_path, broker), await broker.connect()) as service:
            yield service
    finally:
        await broker.aclose()


async def listed(images: Images, ctx: RequestContext, **query: object) -> list[str]:
    found = await images.api.list(ctx, ImageQuery(**query))  # type: ignore[arg-type]
    return [i.name for i in found]


async def test_a_shared_image_is_listed_by_its_member_once_accepted(images: Images) -> None:
    """pending: visible but not listed; accepted: listed; rejected: not listed again."""
    api = images.api
    image = await api.create_from_bytes(ALICE, "shared", b"bits", visibility="shared")
    member = await api.add_member(ALICE, image.id, "proj-b")
    assert (member.member_id, member.status) == ("proj-b", "pending")

    assert (await api.get(BOB, image.id)).name == "shared"  # visible whatever the status
    assert await listed(images, BOB) == []
    assert await listed(images, BOB, filters={"visibility": "shared"}, member_status="pending") == [
        "shared"
    ]
    await api.update_member(BOB, image.id, "proj-b", "accepted")
    assert await listed(images, BOB) == ["shared"]
    await api.update_member(BOB, image.id, "proj-b", "rejected")
    assert await listed(images, BOB) == []
    data, _eof = await api.download_chunk(BOB, image.id, 0, 100)
    assert data == b"bits"  # a member may download, whatever its status


async def test_only_the_member_decides_and_only_the_owner_shares(images: Images) -> None:
    """The owner cannot accept for the member; the member cannot add or remove members."""
    api = images.api
    image = await api.create(ALICE, "shared", visibility="shared")
    await api.add_member(ALICE, image.id, "proj-b")

    with pytest.raises(Forbidden):
        await api.update_member(ALICE, image.id, "proj-b", "accepted")
    with pytest.raises(Forbidden):
        await api.add_member(BOB, image.id, "proj-c")
    with pytest.raises(Forbidden):
        await api.delete_member(BOB, image.id, "proj-b")
    with pytest.raises(Forbidden):
        await api.update_member(BOB_READER, image.id, "proj-b", "accepted")  # readers: no
    with pytest.raises(Invalid, match="status 'maybe'"):
        await api.update_member(BOB, image.id, "proj-b", "maybe")
    assert (await api.get_member(ALICE, image.id, "proj-b")).status == "pending"
    assert (await api.update_member(ADMIN, image.id, "proj-b", "accepted")).status == "accepted"


async def test_other_projects_see_neither_the_image_nor_its_members(images: Images) -> None:
    """A project the image is not shared with gets ImageNotFound everywhere."""
    api = images.api
    image = await api.create(ALICE, "shared", visibility="shared")
    await api.add_member(ALICE, image.id, "proj-b")

    for call in (
        api.get(CAROL, image.id),
        api.list_members(CAROL, image.id),
        api.get_member(CAROL, image.id, "proj-b"),
        api.update_member(CAROL, image.id, "proj-b", "accepted"),
    ):
        with pytest.raises(ImageNotFound):
            await call
    assert await listed(images, CAROL, filters={"visibility": "all"}) == []


async def test_a_member_sees_only_its_own_membership(images: Images) -> None:
    """The owner lists every member; a member lists and shows only itself."""
    api = images.api
    image = await api.create(ALICE, "shared", visibility="shared")
    for project in ("proj-b", "proj-c"):
        await api.add_member(ALICE, image.id, project)

    owner_view = [m.member_id for m in await api.list_members(ALICE, image.id)]
    member_view = [m.member_id for m in await api.list_members(BOB, image.id)]
    assert (owner_view, member_view) == (["proj-b", "proj-c"], ["proj-b"])
    with pytest.raises(NotFound):
        await api.get_member(BOB, image.id, "proj-c")


async def test_only_shared_images_have_members(images: Images) -> None:
    """Adding or listing members of a private image is Forbidden; making it shared allows it."""
    api = images.api
    image = await api.create(ALICE, "private")
    with pytest.raises(Forbidden, match="Only shared images have members"):
        await api.add_member(ALICE, image.id, "proj-b")
    with pytest.raises(Forbidden, match="Only shared images have members"):
        await api.list_members(ALICE, image.id)

    await api.update_image(ALICE, image.id, [_visibility("shared")])
    assert (await api.add_member(ALICE, image.id, "proj-b")).status == "pending"


async def test_a_member_is_added_once_and_at_most_128_of_them(images: Images) -> None:
    """A second add of a member is a Conflict; the 129th member is ImageLimitExceeded (413)."""
    api = images.api
    image = await api.create(ALICE, "popular", visibility="shared")
    await api.add_member(ALICE, image.id, "proj-b")
    with pytest.raises(Conflict, match="duplicated"):
        await api.add_member(ALICE, image.id, "proj-b")
    for n in range(checks.MAX_MEMBERS - 1):
        await api.add_member(ALICE, image.id, f"proj-{n}")
    with pytest.raises(ImageLimitExceeded):
        await api.add_member(ALICE, image.id, "proj-one-too-many")
    assert len(await api.list_members(ALICE, image.id)) == checks.MAX_MEMBERS


async def test_removing_a_member_or_the_image_ends_the_sharing(images: Images) -> None:
    """A deleted member loses the image; a deleted image leaves no memberships behind."""
    api = images.api
    image = await api.create(ALICE, "shared", visibility="shared")
    await api.add_member(ALICE, image.id, "proj-b")
    await api.delete_member(ALICE, image.id, "proj-b")
    with pytest.raises(ImageNotFound):
        await api.get(BOB, image.id)

    other = await api.create(ALICE, "gone", visibility="shared")
    await api.add_member(ALICE, other.id, "proj-b")
    await api.delete(ALICE, other.id)
    rows = await images.manager.db.fetchall("SELECT * FROM image_members")
    assert rows == []


async def test_community_images_are_visible_to_all_and_listed_on_request(images: Images) -> None:
    """Any project sees a community image; it lists it only with visibility=community."""
    api = images.api
    image = await api.create(ALICE, "community", visibility="community")

    assert (await api.get(CAROL, image.id)).owner == "proj-a"
    assert await listed(images, CAROL) == []
    assert await listed(images, CAROL, filters={"visibility": "community"}) == ["community"]
    assert await listed(images, ALICE) == ["community"]  # its owner lists it by default


def _visibility(value: str) -> ImageChange:
    return ImageChange(op="replace", path="visibility", value=value)
