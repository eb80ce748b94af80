"""The virtual-time loop and the one clock: time moves only when every task is idle."""

from __future__ import annotations

import asyncio
import datetime
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from nova_lite import clock, objects
from nova_lite.db import Database
from nova_lite.simulate import SimulationStalled, VirtualTimeLoop

T = TypeVar("T")
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def run_virtual(main: Callable[[], Awaitable[T]]) -> T:
    """Run `main()` on a fresh virtual-time loop under the virtual clock."""
    loop = VirtualTimeLoop(stall_seconds=0.2)
    try:
        with clock.virtual(loop, EPOCH):
            return loop.run_until_complete(main())
    finally:
        loop.close()


def test_a_sleep_jumps_the_clock_and_the_wall_clock_follows() -> None:
    """An hour's sleep ends at virtual 3,600 s; `clock.now()` and utcnow say so too."""

    async def main() -> tuple[float, datetime.datetime, datetime.datetime, float]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        return loop.time(), clock.now(), objects.utcnow(), clock.monotonic()

    before = time.monotonic()
    now, wall, utc, monotonic = run_virtual(main)
    assert now == 3600.0 and monotonic == 3600.0
    expected = datetime.datetime.fromtimestamp(EPOCH + 3600, datetime.UTC)
    assert wall == expected and utc == expected
    assert time.monotonic() - before < 3600  # the hour did not pass in real time
    assert not clock.is_virtual()  # and the clock is the system's again


def test_time_does_not_move_while_any_task_is_ready() -> None:
    """A task that keeps yielding (ready every turn) holds the clock still, even though
    a timer is pending; the timer fires only once everything waits."""
    seen: list[float] = []

    async def busy() -> None:
        loop = asyncio.get_running_loop()
        for _ in range(1000):
            seen.append(loop.time())
            await asyncio.sleep(0)  # ready again at once

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        loop.call_later(5.0, lambda: fired.append(loop.time()))
        await busy()
        await asyncio.sleep(10)
        return fired[0], loop.time()

    fired_at, end = run_virtual(main)
    assert set(seen) == {0.0}
    assert (fired_at, end) == (5.0, 10.0)


def test_timeouts_fire_in_virtual_time_in_order() -> None:
    """`wait_for` times out at its virtual deadline; timers fire in deadline order."""

    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        order: list[tuple[str, float]] = []

        def fire(delay: float) -> None:
            order.append((f"timer{delay:g}", loop.time()))

        for delay in (30.0, 10.0, 20.0):
            loop.call_later(delay, fire, delay)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=25)
        order.append(("timeout", loop.time()))
        await asyncio.sleep(10)
        return order

    assert run_virtual(main) == [
        ("timer10", 10.0), ("timer20", 20.0), ("timeout", 25.0), ("timer30", 30.0),
    ]  # fmt: skip


def test_threads_and_sqlite_take_no_virtual_time(tmp_path: Path) -> None:
    """`to_thread` and every SQLite statement run inline: the clock stays put, and the
    database really holds what was written, with virtual timestamps."""

    async def main() -> tuple[float, list[Any], str]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(60)
        assert await asyncio.to_thread(sum, [1, 2, 3]) == 6
        db = Database(tmp_path / "t.sqlite", ["CREATE TABLE t (x INTEGER, at TEXT);"], name="t")
        await db.open()
        try:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (?, ?)", (1, clock.now().isoformat()))
            async with db.conn.execute("SELECT x, at FROM t") as cursor:
                rows = [tuple(r) for r in await cursor.fetchall()]
        finally:
            await db.close()
        return loop.time(), rows, clock.now().isoformat()

    now, rows, stamp = run_virtual(main)
    assert now == 60.0
    assert rows == [(1, stamp)] and stamp.startswith("2026-01-01T00:01:00")


def test_a_failing_thread_function_raises_in_its_awaiter() -> None:
    async def main() -> None:
        await asyncio.to_thread(int, "not a number")

    with pytest.raises(ValueError, match="not a number"):
        run_virtual(main)


def test_a_loop_waiting_for_nothing_that_can_happen_raises() -> None:
    """No timer and nothing ready: the simulation would hang; it says so instead."""

    async def main() -> None:
        await asyncio.Event().wait()

    with pytest.raises(SimulationStalled, match="no timer is left"):
        run_virtual(main)


def test_only_one_virtual_clock_at_a_time() -> None:
    loop = VirtualTimeLoop()
    try:
        with (
            clock.virtual(loop, EPOCH),
            pytest.raises(RuntimeError, match="already"),
            clock.virtual(loop, EPOCH),
        ):
            pass
    finally:
        loop.close()


def test_a_registered_file_is_polled_before_the_clock_jumps() -> None:
    """The real selector is polled only now and then while the loop's own wake-up pipe
    is its only file; a reader added on a socket is heard at once, before a timer an
    hour away moves the clock."""

    async def main() -> list[tuple[bytes, float]]:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        heard: list[tuple[bytes, float]] = []
        loop.add_reader(ours, lambda: heard.append((ours.recv(1), loop.time())))
        try:
            theirs.send(b"x")
            await asyncio.sleep(3600)
        finally:
            loop.remove_reader(ours)
            ours.close()
            theirs.close()
        return heard

    assert run_virtual(main) == [(b"x", 0.0)]
