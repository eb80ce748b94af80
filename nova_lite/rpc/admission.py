"""Which deliveries a Worker takes on: concurrency slots, and recently seen message ids."""

from __future__ import annotations

import asyncio
import collections
import contextlib

__all__ = ["RecentIds", "Slots"]


class Slots:
    """At most `size` requests handled at once; closing it turns the waiting ones away.

    A semaphore, except that `close()` (at the start of a graceful stop) wakes every
    delivery still waiting for a slot with False, so it goes back to the queue at
    once for another worker instead of waiting behind the requests in flight.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: collections.deque[asyncio.Future[bool]] = collections.deque()
        self._closed = False

    def available(self) -> bool:
        """Whether `acquire()` would take a slot at once (no one waits, one is free)."""
        return not self._closed and self._free > 0 and not self._waiters

    def take(self) -> bool:
        """Take a slot if one is free at once with no one waiting (True), else nothing."""
        if self._free > 0 and not self._waiters and not self._closed:
            self._free -= 1
            return True
        return False

    async def acquire(self) -> bool:
        """Take a slot (True), or learn that the worker is stopping (False)."""
        if self._closed:
            return False
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and waiter.result():
                self.release()  # handed a slot just as we were cancelled: pass it on
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back, to the longest waiter if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._free += 1

    def close(self) -> None:
        """Refuse every waiting and future `acquire()`."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)


class RecentIds:
    """The last `size` message unique ids, to drop duplicates (oslo's _MsgIdCache)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: set[str] = set()
        self._order: collections.deque[str] = collections.deque()

    def add(self, unique_id: str) -> bool:
        """Remember `unique_id`; False if it was seen already."""
        ids = self._ids
        if unique_id in ids:
            return False
        ids.add(unique_id)
        order = self._order
        order.append(unique_id)
        if len(order) > self._size:
            ids.discard(order.popleft())
        return True
