"""Paged reads over RPC: the page rules the services check, and reading every page.

A list that grows with the cloud (every port, every instance, every host) cannot be
one reply: at 10,000 hosts and 100,000 servers it is far over the 4 MiB that
RabbitMQ deployments hold messages to (``[rpc] max_message_bytes``). The services
that own such lists serve them in pages, the Nova way: ``marker`` is the key (id or
uuid) of the last item of the previous page, the items come in the order of that
key (an index, ``WHERE key > ? ORDER BY key LIMIT ?``: no OFFSET, so a page costs
the same wherever it starts), and a marker that names no item is `MarkerNotFound`.

`read_all` is how a reader that needs everything (the audit, a compute host's
start-up, the API's listings) gets it: page after page of `PAGE_SIZE`, none of them
large, the whole list in key order with every item once. Items made or deleted
while it reads are seen or not, but never twice; a marker deleted between two pages
is stepped back over (the keys read before it), since the next page only needs a
key to start after.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

import structlog

from nova_lite.exceptions import Invalid, MarkerNotFound, MessageTooLarge

__all__ = [
    "MAX_LIMIT",
    "PAGE_SIZE",
    "Fetch",
    "check_limit",
    "marker_not_found",
    "page_arguments",
    "pages",
    "read_all",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# A page of 200: measured at 10,000 hosts (nova_lite.simulate), a page of 200
# instances is a 295 KB reply, of 200 ports 191 KB, of 200 hosts 87 KB; so a page
# stays far under the 4 MiB limit with room for servers with large metadata, while
# 100,000 servers take 500 calls, not tens of thousands.
PAGE_SIZE = 200

# The largest page a service gives (Nova's ``[api] max_limit`` is 1,000): 1,000
# instances are some 1.5 MB. Pages are counted, not weighed; `pages` halves a page
# whose reply would still be over the limit (servers with the most metadata).
MAX_LIMIT = 1000


class Fetch(Protocol[T_co]):
    """One page: at most `limit` items, those whose key sorts after `marker`."""

    def __call__(self, *, marker: str | None, limit: int) -> Awaitable[Sequence[T_co]]: ...


def check_limit(limit: object, *, what: str, marker: str | None = None) -> int | None:
    """`limit` as a page size; `Invalid` unless an int from 1 to `MAX_LIMIT`.

    None is no paging (the whole list), unless a `marker` asks for a page: then a page
    of `MAX_LIMIT`, as Nova's API defaults a limit to its ``max_limit``.
    """
    if limit is None:
        return None if marker is None else MAX_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise Invalid(f"limit must be an integer number of {what}, not {limit!r}.", limit=limit)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be from 1 to {MAX_LIMIT} {what}, not {limit}.", limit=limit)
    return limit


def page_arguments(marker: str | None, limit: int | None) -> dict[str, object]:
    """The paging arguments of a call, only those given (a call without them can go
    to a server of the version before paging)."""
    return {k: v for k, v in (("marker", marker), ("limit", limit)) if v is not None}


def marker_not_found(marker: str, *, what: str) -> MarkerNotFound:
    """The error for a page asked after `marker` when no `what` has that key."""
    return MarkerNotFound(f"Marker {marker} could not be found among the {what}.", marker=marker)


async def pages(
    fetch: Fetch[T], key: Callable[[T], str], *, page_size: int | None = None
) -> AsyncIterator[list[T]]:
    """Every page of `fetch`'s list in key order, each item once, until a short page.

    A page starts after the last key of the one before. If that item was deleted in
    between (`MarkerNotFound`), the page is asked again after the key given before
    it, and so back, to no marker at all; what comes again is dropped (keys are
    ordered, so "again" is "not after the last key given").

    Pages are counted in items, not bytes: a page whose reply would pass the message
    limit (`MessageTooLarge`, answered at once) is asked again at half the size, and
    the rest of the read keeps the smaller size.
    """
    size = check_limit(PAGE_SIZE if page_size is None else page_size, what="items")
    assert size is not None
    given: list[str] = []  # the keys given so far, in order
    marker: str | None = None
    while True:
        try:
            page = await fetch(marker=marker, limit=size)
        except MarkerNotFound:
            assert marker is not None, "a page without a marker cannot miss its marker"
            marker = _key_before(given, marker)
            continue
        except MessageTooLarge:
            if size == 1:
                raise
            size //= 2
            log.warning("paging.page_halved", marker=marker, limit=size)
            continue
        fresh = [item for item in page if not given or key(item) > given[-1]]
        given.extend(key(item) for item in fresh)
        if fresh:
            yield fresh
        if len(page) < size:
            return
        marker = key(page[-1])


def _key_before(given: list[str], marker: str) -> str | None:
    """The last key given that sorts before `marker` (None: start again)."""
    at = bisect.bisect_left(given, marker)
    return given[at - 1] if at else None


async def read_all(
    fetch: Fetch[T], key: Callable[[T], str], *, page_size: int | None = None
) -> list[T]:
    """The whole list, read a page at a time (see `pages`; `PAGE_SIZE` unless told)."""
    return [item async for page in pages(fetch, key, page_size=page_size) for item in page]
