"""The one clock service code reads: wall time and elapsed time, real or virtual.

Why one module: `nova-lite simulate` runs the real services on an event loop
whose time jumps to the next timer whenever nothing is ready
(`nova_lite.simulate.loop`). Timers, sleeps and timeouts follow that loop by
themselves; what does not is a direct read of the system clock (``time.time()``,
``datetime.now()``): a token would expire by the wall clock while a simulated day
passes in minutes, and database timestamps would say when the simulation ran, not
what it simulated. So service code reads the time here, and `virtual` points these
functions at the loop's clock for the length of a simulation.

Outside a simulation these are the system clocks (`monotonic` is the running
loop's clock, which asyncio's default loop takes from ``time.monotonic``).
"""

from __future__ import annotations

import asyncio
import datetime
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["is_virtual", "monotonic", "now", "time", "virtual"]

_wall: Callable[[], float] = _time.time
_virtual = False


def time() -> float:
    """Seconds since the epoch (simulated seconds under `virtual`)."""
    return _wall()


def now() -> datetime.datetime:
    """The current UTC time, timezone-aware (simulated under `virtual`)."""
    return datetime.datetime.fromtimestamp(_wall(), datetime.UTC)


def monotonic() -> float:
    """Seconds on the running event loop's clock; ``time.monotonic()`` outside one."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return _time.monotonic()


def is_virtual() -> bool:
    """Whether a simulation's virtual clock is in force (see `virtual`)."""
    return _virtual


@contextmanager
def virtual(loop: asyncio.AbstractEventLoop, epoch: float) -> Iterator[None]:
    """Make `time` and `now` follow `loop`'s clock, starting at `epoch`, until the end.

    One process runs one simulation at a time: this is process state, as the
    system clock it stands in for is.
    """
    global _wall, _virtual
    if _virtual:
        raise RuntimeError("A virtual clock is already in force in this process.")
    start = loop.time()
    previous = _wall
    _wall = lambda: epoch + (loop.time() - start)  # noqa: E731 - the clock's one line
    _virtual = True
    try:
        yield
    finally:
        _wall = previous
        _virtual = False
