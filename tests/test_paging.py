"""`nova_lite.paging`: reading every page of a list that changes while it is read, and
the audit reading every page of a cloud larger than a page."""

from __future__ import annotations

import bisect
from collections.abc import Callable

import pytest

from nova_lite import paging
from nova_lite.audit import Audit
from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden, Invalid, MarkerNotFound, MessageTooLarge
from nova_lite.scheduler import rpcapi as scheduler_rpcapi
from nova_lite.testing import CloudFactory, assert_audit_clean, restart_compute, wait_all

ADMIN = RequestContext.admin()


class Book:
    """A list served by key as the services serve theirs, with changes made between pages."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = sorted(keys)
        self.calls: list[tuple[str | None, int]] = []
        self.between: list[Callable[[Book], None]] = []  # one change before each page

    async def fetch(self, *, marker: str | None, limit: int) -> list[str]:
        if len(self.calls) < len(self.between):
            self.between[len(self.calls)](self)
        self.calls.append((marker, limit))
        if marker is not None and marker not in self.keys:
            raise MarkerNotFound(f"Marker {marker} could not be found.")
        start = 0 if marker is None else bisect.bisect_right(self.keys, marker)
        return self.keys[start : start + limit]

    def change(self, *, add: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> None:
        self.keys = sorted({*self.keys, *add} - set(drop))


def same(key: str) -> str:
    return key


async def test_every_page_gives_every_item_once_in_order() -> None:
    """Read 2 at a time, 7 keys come whole, in order, in 4 calls (the last one short)."""
    book = Book([f"k{i}" for i in range(7)])

    pages = [page async for page in paging.pages(book.fetch, same, page_size=2)]

    assert pages == [["k0", "k1"], ["k2", "k3"], ["k4", "k5"], ["k6"]]
    assert book.calls == [(None, 2), ("k1", 2), ("k3", 2), ("k5", 2)]


async def test_an_exact_multiple_of_the_page_ends_with_an_empty_page() -> None:
    """4 keys 2 at a time: the third call's empty page ends the read."""
    book = Book(["a", "b", "c", "d"])

    assert await paging.read_all(book.fetch, same, page_size=2) == ["a", "b", "c", "d"]
    assert len(book.calls) == 3


async def test_creates_and_deletes_between_pages_never_give_an_item_twice() -> None:
    """Items made behind the read are not seen, ahead of it are; deleted ones ahead are
    not given; nothing comes twice, and the order holds."""
    book = Book(["b", "d", "f", "h", "j"])
    book.between = [
        lambda b: None,
        lambda b: b.change(add=("a", "e", "i"), drop=("h",)),  # a behind; e, i ahead
        lambda b: b.change(add=("c", "k")),
    ]

    got = await paging.read_all(book.fetch, same, page_size=2)

    assert got == sorted(set(got))
    assert got == ["b", "d", "e", "f", "i", "j", "k"]


async def test_a_marker_deleted_between_pages_is_stepped_back_over() -> None:
    """The last item of a page deleted (and the one before it): the next page starts
    after the key given before them, and what comes again is dropped."""
    book = Book(["a", "b", "c", "d", "e", "f", "g"])
    book.between = [lambda b: None, lambda b: None, lambda b: b.change(drop=("c", "d"))]

    got = await paging.read_all(book.fetch, same, page_size=2)

    assert got == ["a", "b", "c", "d", "e", "f", "g"]
    assert [marker for marker, _ in book.calls] == [None, "b", "d", "c", "b", "f"]


async def test_every_item_given_deleted_starts_again_from_the_start() -> None:
    """With every key given gone, the page is asked with no marker; nothing repeats."""
    book = Book(["a", "b", "c"])
    book.between = [lambda b: None, lambda b: b.change(drop=("a", "b"))]

    assert await paging.read_all(book.fetch, same, page_size=2) == ["a", "b", "c"]
    assert [marker for marker, _ in book.calls] == [None, "b", "a", None]


async def test_a_page_too_large_for_a_message_is_asked_again_at_half_the_size() -> None:
    """A list whose pages of more than 2 are over the message limit is read whole, 2 at
    a time once halved; a single item over it is the caller's error."""
    book = Book([f"k{i}" for i in range(9)])
    fetch = book.fetch

    async def weighed(*, marker: str | None, limit: int) -> list[str]:
        if limit > 2:
            raise MessageTooLarge("The reply to list is too large.")
        return await fetch(marker=marker, limit=limit)

    assert await paging.read_all(weighed, same, page_size=8) == book.keys
    assert [limit for _, limit in book.calls] == [2, 2, 2, 2, 2]

    async def huge(*, marker: str | None, limit: int) -> list[str]:
        raise MessageTooLarge("The reply to list is too large.")

    with pytest.raises(MessageTooLarge):
        await paging.read_all(huge, same, page_size=4)


@pytest.mark.parametrize("limit", [0, -1, paging.MAX_LIMIT + 1, "2", 2.0, True])
def test_a_limit_not_an_int_from_1_to_the_maximum_is_invalid(limit: object) -> None:
    """Zero, negative, too large, text, a float or a bool: `Invalid`, naming the value."""
    with pytest.raises(Invalid, match="limit must be"):
        paging.check_limit(limit, what="ports")


def test_a_marker_alone_asks_for_a_page_of_the_maximum() -> None:
    """No limit and no marker: the whole list; a marker alone: `MAX_LIMIT` (Nova's)."""
    assert paging.check_limit(None, what="ports") is None
    assert paging.check_limit(None, what="ports", marker="p") == paging.MAX_LIMIT
    assert paging.check_limit(5, what="ports", marker="p") == 5


async def test_the_audit_reads_every_page_of_a_cloud_larger_than_a_page(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five servers on three hosts, two to a page: the audit's books hold every host,
    port and instance, and the audit is clean."""
    cloud = await memory_clouds.start(computes=3)
    admin = await cloud.login_admin()
    servers = await admin.servers.create("srv", flavor="m1.tiny", image="cirros", count=5)
    await wait_all(admin, servers, "ACTIVE", timeout=30)
    monkeypatch.setattr(paging, "PAGE_SIZE", 2)
    monkeypatch.setattr(scheduler_rpcapi, "ALLOCATION_PAGE", 2)

    books = await Audit(cloud.transport, cloud.config).read_books(ADMIN)

    assert len(books.hosts) == 3
    assert sorted(books.allocations) == sorted(s.id for s in servers)
    assert sorted(books.instances) == sorted(s.id for s in servers)
    assert sorted(str(p.device_id) for p in books.ports) == sorted(s.id for s in servers)
    await assert_audit_clean(cloud)


async def test_the_schedulers_allocations_page_by_consumer(memory_clouds: CloudFactory) -> None:
    """`list_allocations(limit=, marker=)` gives claims by consumer after the marker
    (which need not hold a claim, as for hosts); unpaged, every claim; admins only."""
    cloud = await memory_clouds.start(computes=2)
    admin = await cloud.login_admin()
    servers = await admin.servers.create("srv", flavor="m1.tiny", image="cirros", count=4)
    await wait_all(admin, servers, "ACTIVE", timeout=30)
    api = cloud.api.scheduler
    every = sorted(a["instance_uuid"] for a in await api.list_allocations(ADMIN))
    assert every == sorted(s.id for s in servers)

    def consumers(page: list[dict[str, object]]) -> list[object]:
        return [a["instance_uuid"] for a in page]

    assert consumers(await api.list_allocations(ADMIN, limit=3)) == every[:3]
    assert consumers(await api.list_allocations(ADMIN, marker=every[1], limit=3)) == every[2:]
    assert consumers(await api.list_allocations(ADMIN, marker=every[0] + "x")) == every[1:]
    assert consumers(await api.all_allocations(ADMIN)) == every
    with pytest.raises(Invalid, match="limit must be"):
        await api.list_allocations(ADMIN, limit=0)
    member = await admin.context()
    with pytest.raises(Forbidden):
        await api.list_allocations(RequestContext(user_id="u", project_id=member.project_id))


async def test_a_restarted_host_with_more_servers_than_a_page_tracks_them_all(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compute host's start-up reads its instances two to a page: after a restart its
    tracker counts all five servers on it, and the books agree."""
    cloud = await memory_clouds.start(computes=1)
    admin = await cloud.login_admin()
    servers = await admin.servers.create("srv", flavor="m1.tiny", image="cirros", count=5)
    await wait_all(admin, servers, "ACTIVE", timeout=30)
    monkeypatch.setattr(paging, "PAGE_SIZE", 2)

    manager = await restart_compute(cloud, "compute1")

    assert sorted(manager.tracker.instances) == sorted(s.id for s in servers)
    await assert_audit_clean(cloud)
