"""Glance's list rules (`nova_lite.image.query.select`): scope, filters, order, pages."""

from __future__ import annotations

import datetime

import attrs
import pytest

from nova_lite.exceptions import Invalid
from nova_lite.image.query import Caller, select, split_in_values
from nova_lite.objects import Image, ImageQuery

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
ALICE = Caller("proj-a", is_admin=False)
ADMIN = Caller("proj-admin", is_admin=True)


def image(n: int, **fields: object) -> Image:
    """Image number `n`, created `n` minutes after T0, owned by proj-a unless told."""
    moment = T0 + datetime.timedelta(minutes=n)
    values: dict[str, object] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "name": f"img{n}",
        "owner": "proj-a",
        "visibility": "private",
        "created_at": moment,
        "updated_at": moment,
        **fields,
    }
    return Image(**values)  # type: ignore[arg-type]


def names(images: list[Image]) -> list[str]:
    return [i.name for i in images]


def listed(images: list[Image], caller: Caller = ALICE, **query: object) -> list[str]:
    return names(select(images, ImageQuery(**query), caller))  # type: ignore[arg-type]


def test_the_default_list_is_newest_first_without_hidden_or_foreign_community_images() -> None:
    """Own, public and accepted-shared images, newest first; hidden and others' community out."""
    images = [
        image(1),
        image(2, owner="proj-b", visibility="public"),
        image(3, owner="proj-b", visibility="community"),
        image(4, owner="proj-a", visibility="community"),
        image(5, os_hidden=True),
        image(6, owner="proj-b", visibility="shared"),
        image(7, owner="proj-b", visibility="shared"),
        image(8, owner="proj-b", visibility="private"),
    ]
    alice = attrs.evolve(ALICE, memberships={images[5].id: "accepted", images[6].id: "pending"})

    assert listed(images, alice) == ["img6", "img4", "img2", "img1"]


def test_visibility_and_member_status_filters_choose_the_scope() -> None:
    """visibility=shared with member_status picks memberships; community and all add more."""
    shared = [image(n, owner="proj-b", visibility="shared") for n in (1, 2, 3)]
    mine = image(4, visibility="shared")
    foreign = image(5, owner="proj-b", visibility="community")
    statuses = {shared[0].id: "accepted", shared[1].id: "pending", shared[2].id: "rejected"}
    alice = attrs.evolve(ALICE, memberships=statuses)
    images = [*shared, mine, foreign]

    def scope(**filters: str) -> list[str]:
        status = filters.pop("member_status", "accepted")
        return listed(images, alice, filters=filters, member_status=status)

    assert scope(visibility="shared") == ["img4", "img1"]
    assert scope(visibility="shared", member_status="pending") == ["img4", "img2"]
    assert scope(visibility="shared", member_status="all") == ["img4", "img3", "img2", "img1"]
    assert scope(visibility="community") == ["img5"]
    assert scope(visibility="all") == ["img5", "img4", "img1"]
    assert scope(visibility="private") == []


def test_an_administrator_sees_every_project_but_not_others_community_by_default() -> None:
    """Admins list other projects' private images; community ones only when asked for."""
    images = [image(1, owner="proj-b"), image(2, owner="proj-b", visibility="community")]

    assert listed(images, ADMIN) == ["img1"]
    assert listed(images, ADMIN, filters={"visibility": "community"}) == ["img2"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"name": "img2"}, ["img2"]),
        ({"name": 'in:img1,"img3"'}, ["img3", "img1"]),
        ({"status": "in:active,queued"}, ["img3", "img2", "img1"]),
        ({"status": "active"}, ["img2"]),
        ({"disk_format": "qcow2"}, ["img3"]),
        ({"container_format": "eq:ovf"}, ["img1"]),
        ({"size_min": "150", "size_max": "250"}, ["img2"]),
        ({"size": "300"}, ["img3"]),
        ({"os_distro": "cirros"}, ["img1"]),
        ({"created_at": "gte:2024-01-01T00:02:00Z"}, ["img3", "img2"]),
        ({"created_at": "lt:2024-01-01T00:02:00+00:00"}, ["img1"]),
        ({"updated_at": "neq:2024-01-01T00:02:00Z"}, ["img3", "img1"]),
        ({"created_at": "2024-01-01T00:03:00Z"}, ["img3"]),
        ({"protected": "true"}, ["img2"]),
        ({"os_hidden": "true"}, []),
        ({"owner": "proj-a"}, ["img3", "img2", "img1"]),
    ],
)
def test_filters_match_as_glance_does(filters: dict[str, str], expected: list[str]) -> None:
    """Core fields, in: lists, ranges, time operators, booleans and extra properties."""
    images = [
        image(1, size=100, container_format="ovf", properties={"os_distro": "cirros"}),
        image(2, size=200, status="active", protected=True),
        image(3, size=300, disk_format="qcow2"),
    ]

    assert listed(images, filters=filters) == expected


def test_tags_must_all_be_on_the_image() -> None:
    """Several tag filters select images carrying every one of them."""
    images = [image(1, tags=("a", "b")), image(2, tags=("a",)), image(3)]

    assert listed(images, tags=("a",)) == ["img2", "img1"]
    assert listed(images, tags=("a", "b")) == ["img1"]


def test_sorting_by_keys_and_directions() -> None:
    """sort keys with directions; one direction applies to every key; NULL sizes first asc."""
    images = [image(1, size=None), image(2, size=20, name="b"), image(3, size=10, name="b")]

    assert listed(images, sort_keys=("size",), sort_dirs=("asc",)) == ["img1", "b", "b"]
    assert names(select(images, ImageQuery(sort_keys=("size",), sort_dirs=("desc",)), ALICE)) == [
        "b",
        "b",
        "img1",
    ]
    ordered = select(images, ImageQuery(sort_keys=("name", "size"), sort_dirs=("asc",)), ALICE)
    assert [i.size for i in ordered] == [10, 20, None]
    mixed = select(images, ImageQuery(sort_keys=("name", "size"), sort_dirs=("asc", "desc")), ALICE)
    assert [i.size for i in mixed] == [20, 10, None]


def test_a_marker_starts_the_page_after_it_and_limit_cuts_it() -> None:
    """Pages follow each other without overlap or gap, whatever the sort."""
    images = [image(n, size=n % 3) for n in range(1, 8)]
    query = ImageQuery(sort_keys=("size",), sort_dirs=("asc",), limit=3)
    seen: list[str] = []
    marker = None
    while True:
        page = select(images, attrs.evolve(query, marker=marker), ALICE)
        seen += names(page)
        if len(page) < 3:
            break
        marker = page[-1].id

    assert sorted(seen) == sorted(names(images)) and len(seen) == len(set(seen))
    assert listed(images, limit=0) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (ImageQuery(filters={"visibility": "secret"}), "Invalid visibility value"),
        (ImageQuery(member_status="maybe"), "Invalid status"),
        (ImageQuery(filters={"os_hidden": "yes"}), "Invalid value 'yes' for 'os_hidden'"),
        (ImageQuery(filters={"size_min": "big"}), "non-numeric"),
        (ImageQuery(filters={"name_min": "1"}), "not a number field"),
        (ImageQuery(filters={"created_at": "gte:yesterday"}), "ISO 8601"),
        (ImageQuery(filters={"created_at": "about:2024-01-01T00:00:00Z"}), "unknown operator"),
        (ImageQuery(filters={"name": "like:x"}), "unknown operator 'like'"),
        (ImageQuery(filters={"name": 'in:"a'}), "quote is not closed"),
        (ImageQuery(filters={"changes-since": "2024-01-01"}), "no longer available"),
        (ImageQuery(sort_keys=("owner",)), "Invalid sort key: owner"),
        (ImageQuery(sort_dirs=("up",)), "Invalid sort direction: up"),
        (ImageQuery(sort_keys=("name", "size", "id"), sort_dirs=("asc", "desc")), "sort dirs"),
        (ImageQuery(marker="00000000-0000-4000-8000-999999999999"), "Invalid marker"),
        (ImageQuery(limit=-1), "limit param must be positive"),
    ],
)
def test_bad_queries_are_invalid_with_glances_reason(query: ImageQuery, message: str) -> None:
    """Each parameter Glance refuses is Invalid (400) with Glance's message."""
    with pytest.raises(Invalid, match=message):
        select([image(1)], query, ALICE)


def test_in_lists_split_on_commas_outside_quotes() -> None:
    """Quoted values keep their commas; bare values split on them."""
    assert split_in_values('a,"b,c",d') == ["a", "b,c", "d"]
    with pytest.raises(Invalid, match="no comma before"):
        split_in_values('a"b"')
