"""An event loop in virtual time: its clock jumps to the next timer when all is idle.

asyncio's loop runs every ready callback, then asks its selector to wait for I/O
until the nearest timer is due. `VirtualTimeLoop` gives it a selector that only
polls: when nothing is ready, instead of sleeping until the timer it moves the
loop's clock to it. So `asyncio.sleep`, `wait_for` timeouts, `call_later`,
heartbeats, periodic tasks and the fake driver's delays all take no wall time,
and time advances only while every task is waiting.

Nothing in a simulation may wait on the outside world: the in-memory broker is in
this process, SQLite runs inline (`nova_lite.db` under `nova_lite.clock.virtual`),
and `run_in_executor` (hence `asyncio.to_thread`) runs its function at once on this
thread, which also keeps two runs of one scenario identical. A loop with no timer
left and nothing ready is stuck for good: it raises `SimulationStalled`.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Mapping
from typing import Any

from nova_lite.exceptions import NovaLiteError

__all__ = ["SimulationStalled", "VirtualTimeLoop"]


class SimulationStalled(NovaLiteError):
    """The virtual-time loop has no timer left and nothing ready: it would wait for ever."""


# With nothing but the loop's own wake-up pipe registered, the real selector is
# polled once every this many turns of the loop (and whenever it would wait).
_POLL_EVERY = 64


class _JumpingSelector(selectors.BaseSelector):
    """The loop's real selector, asked only to poll; a wait becomes a clock jump.

    A simulation has no file of its own to watch: only asyncio's self-pipe is
    registered, which threads and signals write to. Polling it every turn of the
    loop was an ``epoll_wait`` per callback batch (1.3% of a 10,000-host run), so
    while it is the only file it is polled every `_POLL_EVERY` turns and before any
    wait for a thread; a handle a thread schedules is on the ready queue already and
    runs at the next turn either way. With another file registered, every turn polls.
    """

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop
        self._files = 0
        self._turns = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._real.register(fileobj, events, data)
        self._files += 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._real.unregister(fileobj)
        self._files -= 1
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._turns += 1
        if timeout is not None and self._files <= 1 and self._turns < _POLL_EVERY:
            ready = []
        else:
            self._turns = 0
            ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # No timer and nothing ready: only a thread could still wake the loop
            # (asyncio's self-pipe); give it a moment of real time, then give up.
            ready = self._real.select(self._loop.stall_seconds)
            if not ready:
                raise SimulationStalled(
                    "Nothing is ready and no timer is left: every task waits for"
                    " something that cannot happen in this simulation."
                )
            return ready
        self._loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose `time()` is virtual, starting at 0.

    `stall_seconds` is how much real time the loop waits, with no timer left, for a
    thread's wake-up before raising `SimulationStalled`.
    """

    def __init__(self, *, stall_seconds: float = 5.0) -> None:
        self._now = 0.0
        self.stall_seconds = stall_seconds
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (the selector does, to the next timer)."""
        self._now += seconds

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        """Run `func` now on this thread: it takes no virtual time, and runs in order."""
        future: asyncio.Future[Any] = self.create_future()
        try:
            future.set_result(func(*args))
        except Exception as exc:  # the future carries it to whoever awaits
            future.set_exception(exc)
        return future
