"""The call monitor: a call's timeout counts the server's silence, not its queue.

Each test holds a call on a live worker on purpose (an endpoint waiting for an
event, a worker with one slot taken) for several heartbeats' time, longer than the
caller's call-monitor timeout, then lets it go: the call must answer. Timing out
still happens, on silence (nothing holds the request) and at the overall timeout.
On the in-memory broker and on RabbitMQ.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest

from nova_lite import Invoker, RequestContext, Target, Worker
from nova_lite.context import generate_request_id
from nova_lite.exceptions import MessagingTimeout
from nova_lite.rpc import DirectPublisher, endpoint, envelope
from nova_lite.rpc.call_monitor import CallClock, Deadlines, Heartbeats, heartbeat_interval
from nova_lite.testing import TransportFactory
from nova_lite.transport import Delivery, Transport

WAIT = 10.0
# The callers' call_monitor_timeout: a heartbeat every 0.5 s, so a loop stalled for
# a good part of a second on a busy machine is not taken for a silent worker.
MONITOR = 1.0
CTX = RequestContext(user_id="u1", project_id="p1")


class Held:
    """An endpoint whose calls answer only once the test releases them."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.entered = 0

    @endpoint
    async def hold(self, ctx: RequestContext, n: int) -> int:
        self.entered += 1
        await self.released.wait()
        return n


class Counted:
    """Counts the calls of a wrapped function and lets a test await a count."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            self._changed.set()
            return function(*args, **kwargs)

        return counted

    async def reach(self, count: int) -> None:
        while self.count < count:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), WAIT)


@attrs.define
class Served:
    """One topic with a worker serving `Held`, and an Invoker with a call monitor."""

    transport: Transport
    target: Target
    held: Held
    worker: Worker

    def invoker(self, **options: Any) -> Invoker:
        options = {"timeout": WAIT, "call_monitor_timeout": MONITOR, **options}
        return Invoker(self.transport, self.target, **options)


@pytest.fixture
async def serve(broker: TransportFactory) -> AsyncIterator[Callable[..., Any]]:
    """Starts a worker (with the given options) on a unique topic; stops it afterwards."""
    started: list[Served] = []

    async def start(**options: Any) -> Served:
        transport = await broker.connect()
        target = Target(topic=broker.name("monitored"), exchange=broker.name("nova"))
        held = Held()
        worker = Worker(transport, attrs.evolve(target, server="h1"), [held], **options)
        await worker.start()
        started.append(Served(transport, target, held, worker))
        return started[-1]

    yield start
    for served in started:
        served.held.released.set()
        await asyncio.wait_for(served.worker.stop(), WAIT)


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> Counted:
    """Counts every heartbeat the callers of this process hear."""
    counted = Counted()
    monkeypatch.setattr(CallClock, "heard", counted.wrap(CallClock.heard))
    return counted


async def test_a_running_call_outlives_its_monitor_timeout(
    serve: Callable[..., Any], heard: Counted
) -> None:
    """A call held for several monitor timeouts answers: the worker beats while it runs."""
    served: Served = await serve()
    call = asyncio.create_task(served.invoker().call(CTX, "hold", n=1))
    await heard.reach(3)  # 1.5 s of heartbeats: past the monitor timeout
    served.held.released.set()
    assert await call == 1


async def test_a_call_waiting_for_a_slot_outlives_its_monitor_timeout(
    serve: Callable[..., Any], heard: Counted
) -> None:
    """A call queued behind a busy worker's only slot is beaten for too, and answers."""
    served: Served = await serve(max_concurrency=1)
    invoker = served.invoker()
    first = asyncio.create_task(invoker.call(CTX, "hold", n=1))
    second = asyncio.create_task(invoker.call(CTX, "hold", n=2))
    await heard.reach(6)  # both beaten for 1.5 s; the second has not started
    assert served.held.entered == 1
    served.held.released.set()
    assert list(await asyncio.gather(first, second)) == [1, 2]


async def test_a_call_nobody_holds_times_out_on_silence(
    broker: TransportFactory, serve: Callable[..., Any]
) -> None:
    """A request taken by a consumer that never answers fails after the monitor timeout."""
    served: Served = await serve()
    await served.worker.stop()  # the queue stays; a mute consumer takes its requests
    taken: list[Delivery] = []

    async def mute(delivery: Delivery) -> None:
        taken.append(delivery)

    await served.transport.consume(served.target.topic or "", mute)
    with pytest.raises(MessagingTimeout, match="without a reply or heartbeat") as caught:
        await served.invoker().call(CTX, "hold", n=1)
    assert caught.value.kwargs["timeout"] == MONITOR and len(taken) == 1


async def test_the_overall_timeout_still_ends_a_beaten_call(
    serve: Callable[..., Any], heard: Counted
) -> None:
    """However often the worker beats, a call gives up at its overall timeout."""
    served: Served = await serve()
    with pytest.raises(MessagingTimeout, match="waiting for a reply") as caught:
        await served.invoker(timeout=2.0).call(CTX, "hold", n=1)
    assert caught.value.kwargs["timeout"] == 2.0 and heard.count >= 2


async def test_no_heartbeat_for_a_call_without_a_monitor(
    serve: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call that sends no ``_timeout`` (an oslo client's default) gets no heartbeat."""
    beaten: list[str | None] = []
    sent = Counted()

    def record(publisher: DirectPublisher, request: envelope.Request) -> Any:
        beaten.append(request.msg_id)
        return heartbeat(publisher, request)

    heartbeat = DirectPublisher.heartbeat
    monkeypatch.setattr(DirectPublisher, "heartbeat", sent.wrap(record))
    served: Served = await serve(max_concurrency=1)
    plain = served.invoker(call_monitor_timeout=None)
    first = asyncio.create_task(plain.call(CTX, "hold", n=1))  # runs
    second = asyncio.create_task(plain.call(CTX, "hold", n=2))  # waits for the slot
    monitored = asyncio.create_task(served.invoker().call(CTX, "hold", n=3))  # waits too
    await sent.reach(3)  # 1.5 s of the monitored call's beats
    served.held.released.set()
    assert list(await asyncio.gather(first, second, monitored)) == [1, 2, 3]
    assert len(set(beaten)) == 1, "only the monitored call was beaten for"


def _request(
    client_timeout: float | None, *, call: bool = True, msg_id: str = "m1"
) -> envelope.Request:
    return envelope.Request(
        method="m",
        args={},
        context=RequestContext(request_id=generate_request_id()),
        msg_id=msg_id if call else None,
        reply_q="reply_x" if call else None,
        client_timeout=client_timeout,
    )


async def test_heartbeats_only_for_calls_that_ask_and_never_in_a_flood() -> None:
    """Casts and calls without ``_timeout`` get none; a tiny ``_timeout`` is floored."""
    sent: list[str | None] = []

    async def send(request: envelope.Request) -> None:
        sent.append(request.msg_id)

    beats = Heartbeats(send)
    for request in (_request(None), _request(0.01, call=False)):
        with beats.keep_alive(request, now=True):
            await asyncio.sleep(0)
    assert sent == []
    with beats.keep_alive(_request(60.0), now=True):
        await asyncio.sleep(0)
    assert sent == ["m1"]
    assert heartbeat_interval(60.0) == 30.0 and heartbeat_interval(0.001) == 0.05


async def test_calls_due_in_one_tick_share_one_timer() -> None:
    """Calls due in the same tick join one loop timer; an answered call leaves it."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    futures = [loop.create_future() for _ in range(50)]
    base = loop.time() + 30
    clocks = [
        CallClock(future, timeout=30, deadlines=deadlines) for future in futures
    ]  # all due within a few microseconds of each other
    assert len(deadlines._ticks) <= 2  # one tick, two if they straddle a boundary
    assert sum(len(due) for due in deadlines._ticks.values()) == 50
    assert all(tick * Deadlines.RESOLUTION >= base for tick in deadlines._ticks)
    for clock in clocks:
        clock.cancel()
    assert sum(len(due) for due in deadlines._ticks.values()) == 0


async def test_a_shared_timer_still_times_the_call_out() -> None:
    """A call whose tick comes fails with TimeoutError, within a tick of its time."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    started = loop.time()
    clock = CallClock(future, timeout=0.01, deadlines=Deadlines())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(future, 5)
    assert clock.reason == "timeout"
    assert loop.time() >= started + 0.01


async def test_held_calls_beat_on_shared_ticks_and_stop_when_they_end() -> None:
    """Fifty calls held at once beat every interval off one or two loop timers, not
    fifty; a call that ends leaves its tick and is beaten for no more."""
    loop = asyncio.get_running_loop()
    sent: collections.Counter[str | None] = collections.Counter()
    twice = asyncio.Event()
    requests = [_request(0.1, msg_id=f"m{i}") for i in range(50)]

    async def send(request: envelope.Request) -> None:
        sent[request.msg_id] += 1
        if len(sent) == len(requests) and min(sent.values()) >= 2:
            twice.set()

    beats = Heartbeats(send)
    timers = len(loop._scheduled)  # type: ignore[attr-defined]
    with contextlib.ExitStack() as held:
        for request in requests:
            held.enter_context(beats.keep_alive(request))
        assert beats._ticks is not None
        assert len(beats._ticks._ticks) <= 2  # one tick, two if they straddle a boundary
        assert len(loop._scheduled) - timers <= 2  # type: ignore[attr-defined]
        await asyncio.wait_for(twice.wait(), 5)  # a beat every 0.05 s: twice each
    assert set(sent) == {r.msg_id for r in requests}
    assert sum(len(due) for due in beats._ticks._ticks.values()) == 0
    ended = sent.total()
    await asyncio.sleep(0.15)  # three intervals
    assert sent.total() == ended, "no beat after the calls ended"
