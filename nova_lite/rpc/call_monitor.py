"""oslo.messaging's call monitor: a call's timeout counts silence, not duration.

A caller that sets a ``call_monitor_timeout`` puts it in its request as
``_timeout``; the server then sends a heartbeat (a reply with ``"ending": false``
and nothing in it) every half of it while it holds the call, and the caller gives
up only after that long without a word from the server, or once the call's overall
``timeout`` has passed. A long queue at a live service then makes its callers wait,
not fail; a dead or unreachable one is still noticed within the monitor timeout.

Both halves are here, wire-compatible with oslo.messaging's rabbit driver
(``amqpdriver.AMQPIncomingMessage.heartbeat``, ``ReplyWaiter.wait`` and
``RPCDispatcher._watchdog``): `CallClock` is the caller's timer, `Heartbeats` the
server's. One difference: oslo's server beats only while the endpoint runs, a
nova_lite worker also while a call waits for one of its `max_concurrency` slots
(a call waiting there has reached a live worker that will run it).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

import structlog

from nova_lite.exceptions import NovaLiteError
from nova_lite.rpc.envelope import Request

__all__ = ["MIN_HEARTBEAT_INTERVAL", "CallClock", "Deadlines", "Heartbeats", "heartbeat_interval"]

log = structlog.get_logger(__name__)

# A floor on how often a worker beats, whatever a client asks: a tiny ``_timeout``
# from a broken or hostile peer must not turn a held call into a flood of replies.
MIN_HEARTBEAT_INTERVAL = 0.05


def heartbeat_interval(client_timeout: float | None) -> float | None:
    """Seconds between the heartbeats of a call whose caller waits `client_timeout`.

    Half of it, as oslo's dispatcher does, which leaves the other half for the
    heartbeat's own trip; None when the caller wants none.
    """
    if client_timeout is None:
        return None
    return max(client_timeout / 2, MIN_HEARTBEAT_INTERVAL)


class _Due(Protocol):
    def _check(self) -> None: ...


class Deadlines:
    """One event loop's call timers, grouped in ticks of `RESOLUTION` seconds.

    A timer per call costs a heap push and a cancellation for every call, though
    nearly every call is answered long before its time: here a call joins the set of
    its tick (a dict insertion) and leaves it when answered (a removal); one loop
    timer serves every call due in the same tick. A call gives up at most one tick
    after its time. A worker's heartbeats (`Heartbeats`) are grouped the same way:
    each held call's next beat joins a tick, and leaves it when the call ends.
    """

    RESOLUTION = 1 / 64

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ticks: dict[int, dict[_Due, None]] = {}

    def __repr__(self) -> str:
        return f"<Deadlines ticks={len(self._ticks)}>"

    def add(self, clock: _Due, when: float) -> int:
        """Check `clock` once `when` (loop time) has passed; the tick it joined."""
        tick = math.ceil(when / self.RESOLUTION)
        due = self._ticks.get(tick)
        if due is None:
            due = self._ticks[tick] = {}
            self._loop.call_at(tick * self.RESOLUTION, self._fire, tick)
        due[clock] = None
        return tick

    def remove(self, clock: _Due, tick: int) -> None:
        """`clock` needs no check any more."""
        due = self._ticks.get(tick)
        if due is not None:
            due.pop(clock, None)

    def _fire(self, tick: int) -> None:
        for clock in self._ticks.pop(tick, {}):
            clock._check()


class CallClock:
    """When a pending call gives up: after `timeout` in all, or `silence` without a word.

    It sets `TimeoutError` on the call's future when either runs out, and `reason`
    says which (``"silence"`` or ``"timeout"``). `heard()` is called for every
    heartbeat. One check per call, re-armed only when it comes due: a heartbeat
    costs an assignment, not a timer. With `deadlines` (the caller's `Deadlines`)
    the check shares a loop timer with the other calls due in the same tick;
    without, it has a timer of its own.
    """

    def __init__(
        self,
        future: asyncio.Future[Any],
        *,
        timeout: float,
        silence: float | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._future = future
        now = self._loop.time()
        self._deadline = now + timeout
        self._silence = silence
        self._heard = now
        self.reason: str | None = None
        self._deadlines = deadlines
        self._timer: asyncio.TimerHandle | None = None
        self._tick = 0
        self._arm()

    def __repr__(self) -> str:
        left = self._deadline - self._loop.time()
        return f"<CallClock {left:.1f}s left silence={self._silence}>"

    def heard(self) -> None:
        """The server said it is still on the call: the silence starts again."""
        self._heard = self._loop.time()

    def cancel(self) -> None:
        """The call ended: no timeout any more."""
        if self._deadlines is not None:
            self._deadlines.remove(self, self._tick)
        elif self._timer is not None:
            self._timer.cancel()

    def _arm(self) -> None:
        when = self._next_check()
        if self._deadlines is not None:
            self._tick = self._deadlines.add(self, when)
        else:
            self._timer = self._loop.call_at(when, self._check)

    def _next_check(self) -> float:
        if self._silence is None:
            return self._deadline
        return min(self._deadline, self._heard + self._silence)

    def _check(self) -> None:
        now = self._loop.time()
        if now >= self._deadline:
            self._expire("timeout")
        elif self._silence is not None and now >= self._heard + self._silence:
            self._expire("silence")
        else:
            self._arm()

    def _expire(self, reason: str) -> None:
        self.reason = reason
        if not self._future.done():
            self._future.set_exception(TimeoutError())


SendHeartbeat = Callable[[Request], Awaitable[None]]


class Heartbeats:
    """A worker's side of the call monitor: beats for every call it holds that asks for it.

    `keep_alive(request)` covers the time a worker holds a call, waiting for a slot
    and running; every `heartbeat_interval` a task sends one heartbeat through
    `send`. A heartbeat that cannot be sent (`send` raised a nova_lite error) ends
    that call's beats, as oslo's watchdog does: the caller then times out as it
    would have without them. The beats' times are kept in ticks (`Deadlines`), not a
    loop timer per held call: nearly every call ends before its first beat, and a
    timer each was a heap push and a cancellation per call handled.
    """

    def __init__(self, send: SendHeartbeat) -> None:
        self._send = send
        self._sending: set[asyncio.Task[None]] = set()
        self._ticks: Deadlines | None = None  # made on the first call held (needs the loop)
        self.sent = 0

    def __repr__(self) -> str:
        return f"<Heartbeats sent={self.sent} sending={len(self._sending)}>"

    @contextlib.contextmanager
    def keep_alive(self, request: Request, *, now: bool = False) -> Iterator[None]:
        """Beat for `request` while the block runs; with `now`, once at once as well.

        `now` is for a call that must wait before it runs: it tells the caller at
        once that the call reached a live worker, however long it waited on the
        broker before (the caller's silence started when it sent the request).
        """
        interval = heartbeat_interval(request.client_timeout)
        if interval is None or not request.is_call:
            yield
            return
        ticks = self._ticks
        if ticks is None:
            ticks = self._ticks = Deadlines()
        beating = _Beating(self._spawn, request, interval, ticks)
        if now:
            beating.beat_now()
        try:
            yield
        finally:
            beating.stop()

    def _spawn(self, beating: _Beating) -> None:
        task = asyncio.get_running_loop().create_task(self._beat(beating))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _beat(self, beating: _Beating) -> None:
        try:
            await self._send(beating.request)
        except NovaLiteError as exc:
            log.debug("rpc.heartbeat.failed", msg_id=beating.request.msg_id, error=str(exc))
            beating.stop()
        else:
            self.sent += 1


class _Beating:
    """One held call's heartbeats: its next beat's place in the worker's ticks."""

    def __init__(
        self,
        spawn: Callable[[_Beating], None],
        request: Request,
        interval: float,
        ticks: Deadlines,
    ) -> None:
        self.request = request
        self._spawn = spawn
        self._interval = interval
        self._ticks = ticks
        self._loop = asyncio.get_running_loop()
        self._tick: int | None = ticks.add(self, self._loop.time() + interval)

    def beat_now(self) -> None:
        """Send one heartbeat now (the next one keeps its time)."""
        self._spawn(self)

    def _check(self) -> None:
        """The tick of the next beat has come (`Deadlines`): beat, and join the next."""
        if self._tick is None:
            return
        self._tick = self._ticks.add(self, self._loop.time() + self._interval)
        self._spawn(self)

    def stop(self) -> None:
        """No more heartbeats for this call."""
        if self._tick is not None:
            self._ticks.remove(self, self._tick)
            self._tick = None
