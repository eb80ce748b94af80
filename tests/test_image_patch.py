"""Glance's update operations on an image (`nova_lite.image.patch.apply`)."""

from __future__ import annotations

import pytest

from nova_lite.exceptions import Conflict, Forbidden, ImageLimitExceeded, Invalid
from nova_lite.image.patch import apply
from nova_lite.objects import Image, ImageChange

IMAGE = Image(
    id="00000000-0000-4000-8000-000000000001",
    name="base",
    owner="proj-a",
    visibility="private",
    properties={"os_distro": "cirros"},
    tags=("a",),
)


def change(op: str, path: str, value: object = None) -> ImageChange:
    return ImageChange(op=op, path=path, value=value)


def test_add_replace_and_remove_change_fields_and_extra_properties() -> None:
    """add sets (new or not), replace sets what exists, remove drops an extra property."""
    outcome = apply(
        IMAGE,
        [
            change("replace", "name", "renamed"),
            change("add", "hw_disk_bus", "virtio"),
            change("add", "os_distro", "fedora"),  # v2.1: add replaces
            change("remove", "hw_disk_bus"),
            change("replace", "protected", True),
            change("replace", "tags", ["x", "y", "x"]),
            change("add", "min_ram", 512),
            change("add", "os_hidden", True),
            change("add", "ramdisk_id", None),  # a nullable shipped property: no value
        ],
        is_admin=False,
    )

    image = outcome.image
    assert (image.name, image.protected, image.os_hidden, image.min_ram) == (
        "renamed",
        True,
        True,
        512,
    )
    assert image.properties == {"os_distro": "fedora"}
    assert image.tags == ("x", "y")
    assert outcome.rules == ()


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ([change("replace", "status", "active")], Forbidden, "Attribute 'status' is read-only"),
        ([change("add", "checksum", "x")], Forbidden, "read-only"),
        (
            [change("add", "os_glance_foo", "bar")],
            Forbidden,
            "Attribute 'os_glance_foo' is reserved",
        ),
        ([change("add", "deleted", "x")], Forbidden, "reserved"),
        ([change("add", "locations", [])], Forbidden, "locations"),
        ([change("remove", "name")], Forbidden, "Property name may not be removed"),
        ([change("replace", "owner", "proj-b")], Forbidden, "Owner can't be updated by non admin"),
        ([change("replace", "arch", "x86_64")], Conflict, "Property arch does not exist"),
        ([change("remove", "arch")], Conflict, "Property arch does not exist"),
        ([change("replace", "visibility", "secret")], Invalid, "does not match schema"),
        ([change("replace", "protected", "yes")], Invalid, "does not match schema"),
        ([change("add", "hw_cpu_cores", 5)], Invalid, "does not match schema"),
        ([change("replace", "name", "x" * 256)], Invalid, "does not match schema"),
        ([change("add", "kernel_id", "not-a-uuid")], Invalid, "does not match schema"),
        ([change("replace", "min_disk", -1)], Invalid, "at least 0"),
        ([change("move", "name", "x")], Invalid, "Invalid operation"),
        ([change("replace", "tags", [str(n) for n in range(129)])], ImageLimitExceeded, "tags"),
        (
            [change("add", f"key{n}", "v") for n in range(128)],
            ImageLimitExceeded,
            "properties",
        ),
    ],
)
def test_what_glance_refuses_is_refused_with_its_status(
    changes: list[ImageChange], error: type[Exception], message: str
) -> None:
    """Read-only and reserved names 403, missing properties 409, bad values 400, 413 past caps."""
    with pytest.raises(error, match=message):
        apply(IMAGE, changes, is_admin=False)


def test_one_bad_operation_changes_nothing() -> None:
    """Operations apply all or none: a failing last one leaves the image as it was."""
    with pytest.raises(Conflict):
        apply(IMAGE, [change("replace", "name", "x"), change("remove", "nope")], is_admin=False)
    assert IMAGE.name == "base"


def test_the_older_dialect_refuses_adding_what_exists() -> None:
    """With the v2.0 media type (strict add), adding an existing field or property is 409."""
    for path in ("name", "os_distro"):
        with pytest.raises(Conflict, match=f"Property {path} already present"):
            apply(IMAGE, [change("add", path, "x")], is_admin=False, strict_add=True)
    added = apply(IMAGE, [change("add", "arch", "x")], is_admin=False, strict_add=True)
    assert added.image.properties["arch"] == "x"


def test_visibility_changes_name_the_rules_they_need() -> None:
    """Making an image public needs publicize_image; community needs communitize_image."""
    public = apply(IMAGE, [change("replace", "visibility", "public")], is_admin=False)
    community = apply(IMAGE, [change("replace", "visibility", "community")], is_admin=False)
    shared = apply(IMAGE, [change("replace", "visibility", "shared")], is_admin=False)

    assert (public.rules, community.rules, shared.rules) == (
        ("publicize_image",),
        ("communitize_image",),
        (),
    )


def test_formats_change_only_while_queued_and_owner_only_by_admins() -> None:
    """disk_format/container_format are 403 once the image has data; admins may re-own."""
    active = Image(id=IMAGE.id, name="x", status="active", owner="proj-a")
    with pytest.raises(Forbidden, match="only replaced for a queued image"):
        apply(active, [change("replace", "disk_format", "qcow2")], is_admin=False)
    queued = apply(IMAGE, [change("replace", "disk_format", "qcow2")], is_admin=False)
    owned = apply(IMAGE, [change("replace", "owner", "proj-b")], is_admin=True)

    assert queued.image.disk_format == "qcow2" and owned.image.owner == "proj-b"
