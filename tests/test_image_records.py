"""Image records over RPC: protected, hidden and tagged images, deactivation, owners, ids,
Glance's updates, and the migration of a database written before them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nova_lite.db import Database
from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    ImageLimitExceeded,
    ImageNotFound,
    Invalid,
    NotFound,
)
from nova_lite.image import checks
from nova_lite.image.schema import MIGRATIONS
from nova_lite.objects import ImageChange, ImageQuery
from tests.conftest import TransportFactory
from tests.test_image import ADMIN, ALICE, BOB, DATA, Images, make_config, running


@pytest.fixture
async def images(tmp_path: Path) -> AsyncIterator[Images]:
    """An image service on the in-memory broker."""
    broker = TransportFactory("memory", "memory://")
    try:
        async with running(make_config(tmp_path, broker), await broker.connect()) as service:
            yield service
    finally:
        await broker.aclose()


def replace(path: str, value: object) -> ImageChange:
    return ImageChange(op="replace", path=path, value=value)


async def test_a_protected_image_cannot_be_deleted_until_unprotected(images: Images) -> None:
    """delete of a protected image is Forbidden and keeps it; after protected=False it goes."""
    api = images.api
    image = await api.create(ALICE, "keep", protected=True)
    with pytest.raises(Forbidden, match="protected"):
        await api.delete(ALICE, image.id)
    with pytest.raises(Forbidden, match="protected"):
        await api.delete(ADMIN, image.id)
    assert (await api.get(ALICE, image.id)).protected

    await api.update_image(ALICE, image.id, [replace("protected", False)])
    await api.delete(ALICE, image.id)
    with pytest.raises(ImageNotFound):
        await api.get(ALICE, image.id)


async def test_deactivation_keeps_the_data_from_all_but_administrators(images: Images) -> None:
    """A deactivated image's data is Forbidden to its owner, served to admins; reactivate."""
    api = images.api
    image = await api.create_from_bytes(ALICE, "img", DATA)
    assert (await api.deactivate(ALICE, image.id)).status == "deactivated"
    assert (await api.deactivate(ALICE, image.id)).status == "deactivated"  # no-op
    with pytest.raises(Forbidden, match="deactivated"):
        await api.download_chunk(ALICE, image.id, 0, 10)
    assert (await api.download_chunk(ADMIN, image.id, 0, 10))[0] == DATA[:10]
    with pytest.raises(Conflict):
        await api.upload_begin(ALICE, image.id)

    assert (await api.reactivate(ALICE, image.id)).status == "active"
    assert (await api.download_chunk(ALICE, image.id, 0, 10))[0] == DATA[:10]


async def test_only_an_image_with_data_can_be_deactivated(images: Images) -> None:
    """deactivate or reactivate of a queued image is Forbidden, as another project's."""
    api = images.api
    queued = await api.create(ALICE, "empty")
    with pytest.raises(Forbidden, match="Not allowed to deactivate image in status 'queued'"):
        await api.deactivate(ALICE, queued.id)
    with pytest.raises(Forbidden, match="Not allowed to reactivate image in status 'queued'"):
        await api.reactivate(ALICE, queued.id)
    public = await api.create_from_bytes(ADMIN, "pub", DATA, visibility="public")
    with pytest.raises(Forbidden, match="deactivate"):
        await api.deactivate(BOB, public.id)  # another project's image: the policy says no


async def test_tags_are_added_once_and_removed(images: Images) -> None:
    """add_tag twice keeps one; delete_tag of a tag the image lacks is NotFound; 128 at most."""
    api = images.api
    image = await api.create(ALICE, "tagged", tags=["a", "b", "a"])
    assert image.tags == ("a", "b")
    assert (await api.add_tag(ALICE, image.id, "c")).tags == ("a", "b", "c")
    assert (await api.add_tag(ALICE, image.id, "c")).tags == ("a", "b", "c")
    assert (await api.delete_tag(ALICE, image.id, "a")).tags == ("b", "c")
    with pytest.raises(NotFound, match="not found"):
        await api.delete_tag(ALICE, image.id, "a")
    with pytest.raises(ImageNotFound):
        await api.add_tag(BOB, image.id, "x")  # another project's private image
    with pytest.raises(Invalid, match="1 to 255 characters"):
        await api.add_tag(ALICE, image.id, "")
    assert (await api.get(ALICE, image.id)).tags == ("b", "c")

    many = await api.create(ALICE, "many", tags=[str(n) for n in range(checks.MAX_TAGS)])
    with pytest.raises(ImageLimitExceeded):
        await api.add_tag(ALICE, many.id, "one-too-many")


async def test_hidden_images_are_shown_but_listed_only_when_asked(images: Images) -> None:
    """os_hidden images answer get, are not in the default list, and are with os_hidden=true."""
    api = images.api
    hidden = await api.create(ALICE, "hidden", os_hidden=True)
    await api.create(ALICE, "plain")

    assert (await api.get(ALICE, hidden.id)).os_hidden
    assert [i.name for i in await api.list(ALICE)] == ["plain"]
    found = await api.list(ALICE, ImageQuery(filters={"os_hidden": "true"}))
    assert [i.name for i in found] == ["hidden"]


async def test_owners_and_ids_chosen_at_create(images: Images) -> None:
    """Another project as owner needs an admin; a chosen id is used once; odd ids refused."""
    api = images.api
    with pytest.raises(Forbidden, match="add_image"):
        await api.create(ALICE, "theirs", owner="proj-b")
    theirs = await api.create(ADMIN, "theirs", owner="proj-b")
    assert theirs.owner == "proj-b" and (await api.get(BOB, theirs.id)).name == "theirs"

    chosen = "6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
    assert (await api.create(ALICE, "chosen", image_id=chosen)).id == chosen
    with pytest.raises(Conflict, match="already exists"):
        await api.create(ALICE, "again", image_id=chosen)
    with pytest.raises(Invalid, match="lowercase UUID"):
        await api.create(ALICE, "odd", image_id=chosen.upper())


async def test_reserved_and_read_only_properties_are_refused_at_create(images: Images) -> None:
    """os_glance_* and Glance's computed fields as extra properties are Forbidden (403)."""
    for key in ("os_glance_foo", "status", "location"):
        with pytest.raises(Forbidden, match=key):
            await images.api.create(ALICE, "x", properties={key: "v"})


async def test_updates_change_the_record_and_its_updated_at(images: Images) -> None:
    """update_image persists every change, and moves updated_at; nothing else changes it."""
    api = images.api
    image = await api.create(ALICE, "old")
    changes = [
        replace("name", "new"),
        ImageChange(op="add", path="hw_disk_bus", value="virtio"),
        replace("min_disk", 2),
    ]
    updated = await api.update_image(ALICE, image.id, changes)

    stored = await api.get(ALICE, image.id)
    assert stored == updated
    assert (stored.name, stored.properties, stored.min_disk) == (
        "new",
        {"hw_disk_bus": "virtio"},
        2,
    )
    assert stored.updated_at is not None and image.updated_at is not None
    assert stored.updated_at > image.updated_at and stored.created_at == image.created_at
    with pytest.raises(Forbidden, match="publicize_image"):
        await api.update_image(ALICE, image.id, [replace("visibility", "public")])


async def test_purging_properties_replaces_them_all(images: Images) -> None:
    """update with purge_properties sets exactly the given properties (Nova's metadata PUT)."""
    api = images.api
    image = await api.create(ALICE, "img", properties={"a": "1", "b": "2"})
    updated = await api.update(ALICE, image.id, properties={"c": "3"}, purge_properties=True)
    assert updated.properties == {"c": "3"}
    assert (await api.get(ALICE, image.id)).properties == {"c": "3"}


@pytest.mark.parametrize("broker", ["memory"], indirect=True)
async def test_a_database_of_the_first_schema_is_migrated(
    tmp_path: Path, broker: TransportFactory
) -> None:
    """Images stored before Glance's fields came keep everything and gain the defaults."""
    config = make_config(tmp_path, broker)
    old = Database(config.database_path("image"), MIGRATIONS[:1], name="image")
    await old.open()
    await old.execute(
        "INSERT INTO images (id, name, status, disk_format, container_format, visibility,"
        " owner, properties, created_at) VALUES (?, 'old', 'queued', 'raw', 'bare',"
        " 'private', 'proj-a', '{\"os_distro\": \"cirros\"}', '2024-01-01T00:00:00+00:00')",
        ("6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",),
    )
    await old.close()

    async with running(config, await broker.connect()) as service:
        image = await service.api.get(ALICE, "6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d")
        assert (image.name, image.properties, image.tags) == ("old", {"os_distro": "cirros"}, ())
        assert (image.protected, image.os_hidden, image.updated_at) == (
            False,
            False,
            image.created_at,
        )
        assert (await service.api.add_tag(ALICE, image.id, "t")).tags == ("t",)
