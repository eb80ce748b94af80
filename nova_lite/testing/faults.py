"""Dangerous interleavings on purpose: hold, fail or slow a step.

A race test must hold the system in the state it claims to test, not hope the
scheduler of the event loop lands there. `hold` pauses the calls of one coroutine
method (a driver step, an RPC client's call, a part's save) until the test releases
them, and says when the first one arrived. `DriverFaults` does the same for the fake
hypervisors of a cloud, and makes their next call of a step fail or every call slow::

    faults = DriverFaults([fake_driver(cloud.compute("compute1"))])
    with faults.hold("spawn") as gate:
        [server] = await session.servers.create("web", flavor="m1.tiny", image="cirros")
        await gate.wait_reached()  # the build is now spawning, and stays so
        await session.servers.delete(server.id)
    faults.fail_next("pause")  # the next pause raises HypervisorError
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from nova_lite.testing.limits import WAIT

if TYPE_CHECKING:
    from drivers.fake import FakeDriver

__all__ = ["STEPS", "DriverFaults", "DriverStep", "Gate", "hold", "slow"]


#: The hypervisor operations of `ComputeDriver` that the fake driver can make fail.
DriverStep = Literal[
    "spawn",
    "destroy",
    "get_info",
    "reboot",
    "power_off",
    "power_on",
    "pause",
    "unpause",
    "suspend",
    "resume",
    "get_console_output",
    "rescue",
    "unrescue",
    "snapshot",
    "set_admin_password",
    "attach_volume",
    "detach_volume",
    "resize",
    "finish_revert_resize",
    "confirm_resize",
    "live_migration",
    "post_live_migration_at_destination",
]
STEPS: tuple[DriverStep, ...] = get_args(DriverStep)

Call = Callable[..., Coroutine[Any, Any, Any]]


class Gate:
    """Where held calls wait: `reached` is set when the first arrives, `release` lets all go.

    `held` counts the calls held so far. Once released, calls pass straight through.
    """

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.released = asyncio.Event()
        self.held = 0

    def __repr__(self) -> str:
        state = "released" if self.released.is_set() else "closed"
        return f"<Gate {state} held={self.held}>"

    def release(self) -> None:
        """Let every held call go on, and every later one pass."""
        self.released.set()

    async def wait_reached(self, timeout: float = WAIT) -> None:
        """Until a call is held (`TimeoutError` after `timeout` seconds)."""
        await asyncio.wait_for(self.reached.wait(), timeout)


@contextlib.contextmanager
def _replaced(
    targets: Iterable[object], method: str, wrap: Callable[[Call], Call]
) -> Iterator[None]:
    """Each target's `method` replaced by ``wrap(original)`` for the block, then restored."""
    saved: list[tuple[object, dict[str, Any], Any]] = []
    for target in targets:
        own: dict[str, Any] = getattr(target, "__dict__", {})
        saved.append((target, own, own.get(method, _MISSING)))
        setattr(target, method, wrap(getattr(target, method)))
    try:
        yield
    finally:
        for target, own, previous in reversed(saved):
            if previous is _MISSING:
                own.pop(method, None)
            else:
                setattr(target, method, previous)


_MISSING = object()


@contextlib.contextmanager
def hold(
    targets: Iterable[object],
    method: str,
    *,
    match: Callable[..., bool] | None = None,
    after: bool = False,
    first_only: bool = False,
) -> Iterator[Gate]:
    """Hold calls of the coroutine method `method` of each of `targets` until released.

    A held call waits before it runs or, with `after`, once it has run and before it
    returns. Only calls whose arguments `match` are held (every call by default); with
    `first_only`, only the first of those across all targets. The gate is released
    and the methods restored when the block ends, also on an error.
    """
    gate = Gate()

    def holds(*args: Any, **kwargs: Any) -> bool:
        if gate.released.is_set() or (first_only and gate.held):
            return False
        return match is None or match(*args, **kwargs)

    def wrap(original: Call) -> Call:
        @functools.wraps(original)
        async def held(*args: Any, **kwargs: Any) -> Any:
            if not holds(*args, **kwargs):
                return await original(*args, **kwargs)
            gate.held += 1
            result = await original(*args, **kwargs) if after else None
            gate.reached.set()
            await gate.released.wait()
            return result if after else await original(*args, **kwargs)

        return held

    with _replaced(targets, method, wrap):
        try:
            yield gate
        finally:
            gate.release()


@contextlib.contextmanager
def slow(
    targets: Iterable[object],
    method: str,
    delay: float,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Iterator[None]:
    """Every call of `method` of each of `targets` takes `delay` seconds longer, for the block.

    For code under test that must cope with latency (timeouts, heartbeats, progress
    reports); to order events, `hold` a call instead. Each call first awaits
    ``sleep(delay)``.
    """

    def wrap(original: Call) -> Call:
        @functools.wraps(original)
        async def slowed(*args: Any, **kwargs: Any) -> Any:
            await sleep(delay)
            return await original(*args, **kwargs)

        return slowed

    with _replaced(targets, method, wrap):
        yield


class DriverFaults:
    """Failure injection on fake hypervisors: fail a step's next call, hold a step, slow it.

    Each method acts on every driver given (one host's, or all of a cloud's), so a
    test need not know where the scheduler will place a server.
    """

    def __init__(self, drivers: Sequence[FakeDriver]) -> None:
        self.drivers = tuple(drivers)

    def __repr__(self) -> str:
        return f"<DriverFaults {', '.join(d.host for d in self.drivers)}>"

    def fail_next(self, step: DriverStep, *, times: int = 1) -> None:
        """The next `times` calls of `step` on each driver raise `HypervisorError`."""
        for driver in self.drivers:
            for _ in range(times):
                driver.fail_next(step)

    def hold(
        self,
        step: DriverStep,
        *,
        match: Callable[..., bool] | None = None,
        after: bool = False,
        first_only: bool = False,
    ) -> contextlib.AbstractContextManager[Gate]:
        """Hold calls of `step` on every driver until released (see `hold`).

        `match` gets the step's arguments (the instance first).
        """
        return hold(self.drivers, step, match=match, after=after, first_only=first_only)

    def slow(self, step: DriverStep, delay: float) -> contextlib.AbstractContextManager[None]:
        """Every call of `step` on every driver takes `delay` seconds longer (see `slow`)."""
        return slow(self.drivers, step, delay)
