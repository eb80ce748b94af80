"""The trace's client: creates and deletes its servers and follows their builds.

`Replay` is what a user of the cloud would be: at each arrival it creates a server
of the arrival's flavor (with the image of its image properties and its server
group as a scheduler hint) through the library API, and at its departure deletes
it. It follows the cloud's own notifications: ``instance.create.end`` is a
placement (the latency is virtual seconds from the first create call),
``instance.create.error`` a rejection (the server is deleted at once).

A create or delete whose outcome the message bus left unknown (a broker outage:
`ConnectionLost`, `MessagingTimeout`, `TransportUnreachable`) is sent again, as
a careful client does, with the same request id so that a create is never made
twice (the API derives the server's uuid from it): after the bus is back and
`retry_delay` simulated seconds, until `retry_limit` seconds after the first
try. A create still failing then is a rejection with that error; a delete is
retried until it is done. `sweep` deletes whatever server the cloud holds that
no arrival owns (a create whose last try was recorded but never answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import attrs

from nova_lite.api.client import Session
from nova_lite.cloud import Cloud
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.notifications import decode_notification
from nova_lite.objects import Flavor
from nova_lite.rpc.retry import OUTCOME_UNKNOWN
from nova_lite.simulate.report import Recorder
from nova_lite.simulate.trace import Arrival
from nova_lite.transport import Delivery, ExchangeType

__all__ = ["Catalog", "Replay", "RetryPolicy"]

Progress = Callable[[float, float], None]  # (simulated seconds so far, of total)
T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How the trace's client retries a request whose outcome the bus left unknown."""

    delay: float = 30.0  # simulated seconds between tries, once the bus is back
    limit: float = 3600.0  # a create is given up this long after its first try


@attrs.frozen(kw_only=True)
class Catalog:
    """What the arrivals boot from: flavors by shape, images by properties, groups by name."""

    flavors: dict[tuple[int, int, int], Flavor]
    images: dict[tuple[tuple[str, str], ...], str]
    groups: dict[str, str] = attrs.field(factory=dict)

    def hints(self, arrival: Arrival) -> dict[str, Any] | None:
        if arrival.server_group is None:
            return None
        return {"group": self.groups[arrival.server_group]}

    def image(self, arrival: Arrival) -> str:
        return self.images[tuple(sorted(arrival.image_properties.items()))]


class Replay:
    """Creates and deletes the trace's servers and follows their builds."""

    def __init__(
        self,
        cloud: Cloud,
        session: Session,
        recorder: Recorder,
        catalog: Catalog,
        *,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.cloud = cloud
        self.session = session
        self.recorder = recorder
        self.catalog = catalog
        self.retry = retry
        self.building: dict[str, float] = {}  # server uuid -> when it was first requested
        self.placed: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.settled = asyncio.Event()
        self.failures: list[BaseException] = []  # tasks that raised: the run fails
        self.deleting: set[str] = set()  # deletes sent, their instance.delete.end not heard
        self.gave_up = 0  # creates given up with their outcome unknown (see `sweep`)
        self._early: dict[str, tuple[str, dict[str, Any]]] = {}  # ended before known
        self._names = 0

    async def watch(self) -> None:
        """Follow ``instance.create.end`` / ``.error`` on the notifications topics."""
        transport, exchange = self.cloud.transport, self.cloud.config.rpc.exchange
        queue = f"simulation_{uuid.uuid4().hex}"
        await transport.declare_exchange(exchange, ExchangeType.TOPIC)
        await transport.declare_queue(queue, exclusive=True, auto_delete=True)
        for key in ("notifications.info", "notifications.error"):
            await transport.bind_queue(queue, exchange, key)
        await transport.consume(queue, self._on_notification)

    async def _on_notification(self, delivery: Delivery) -> None:
        await delivery.ack()
        note = decode_notification(delivery.message.body)
        event = note.get("event_type")
        if event in ("instance.update", "instance.delete.end"):
            data = note["payload"]["nova_object.data"]
            if event == "instance.delete.end" or data.get("vm_state") == "deleted":
                self.deleting.discard(str(data["uuid"]))  # with or without its host
                self._check_settled()
            return
        if event not in ("instance.create.end", "instance.create.error"):
            return
        data = note["payload"]["nova_object.data"]
        server = str(data["uuid"])
        requested = self.building.pop(server, None)
        if requested is None:  # its create has not returned yet (or it is a stray)
            self._early[server] = (str(event), data)
            return
        self._ended(server, str(event), data, requested)

    def _ended(self, server: str, event: str, data: dict[str, Any], requested: float) -> None:
        """A build ended: placed, or rejected (and deleted)."""
        now = asyncio.get_running_loop().time()
        if event == "instance.create.end":
            self.placed.add(server)
            self.recorder.placed(now, now - requested, str(data.get("host") or ""))
        else:
            fault = data.get("fault") or {}
            self.recorder.rejected(now, str(fault.get("message") or "unknown"))
            self._spawn(self._delete(server, departing=False))
        self._check_settled()

    async def play(
        self, arrivals: Sequence[Arrival], end: float, progress: Progress | None
    ) -> None:
        """Send each arrival (in order of arrival) at its time, up to `end`; each
        server's departure follows from its own task (see `_arrive`)."""
        loop = asyncio.get_running_loop()
        for arrival in arrivals:
            if arrival.arrival > end:
                break
            if arrival.arrival > loop.time():
                await asyncio.sleep(arrival.arrival - loop.time())
            if progress is not None:
                progress(loop.time(), end)
            self._spawn(self._arrive(arrival, end))
        if end > loop.time():
            await asyncio.sleep(end - loop.time())
        if progress is not None:
            progress(end, end)

    async def _arrive(self, arrival: Arrival, end: float) -> None:
        """Create the arrival's server, then delete it at its departure (if by `end`)."""
        server = await self._create(arrival)
        if server is None or arrival.departure is None or arrival.departure > end:
            return
        loop = asyncio.get_running_loop()
        if arrival.departure > loop.time():
            await asyncio.sleep(arrival.departure - loop.time())
        await self._delete(server, departing=True)

    async def _create(self, arrival: Arrival) -> str | None:
        loop = asyncio.get_running_loop()
        first = loop.time()
        self.recorder.arrived(first)
        self._names += 1
        name = f"sim-{self._names}"
        # One request id for every try: the API derives the server's uuid from it,
        # so a try after an outage finds the server a lost reply left made.
        session = self.cloud.api.session(self.session.token, global_request_id=request_id())
        flavor = self.catalog.flavors[arrival.shape]
        metadata = {"project": arrival.project} if arrival.project else None

        async def create() -> str:
            (server,) = await session.servers.create(
                name,
                flavor=flavor.flavorid,
                image=self.catalog.image(arrival),
                metadata=metadata,
                scheduler_hints=self.catalog.hints(arrival),
            )
            return server.id

        try:
            server = await self._retried(create, give_up=first + self.retry.limit)
        except Invalid as exc:  # refused at the API
            self.recorder.rejected(loop.time(), str(exc))
            return None
        except OUTCOME_UNKNOWN as exc:  # the bus never came back in time
            self.recorder.rejected(loop.time(), str(exc))
            self.gave_up += 1
            return None
        early = self._early.pop(server, None)
        if early is not None:
            self._ended(server, early[0], early[1], first)
        elif server not in self.placed:
            self.building.setdefault(server, first)
        return server

    async def _retried(self, step: Callable[[], Awaitable[T]], *, give_up: float) -> T:
        """`step`, tried again after an unknown outcome until `give_up` (simulated)."""
        loop = asyncio.get_running_loop()
        transport = self.cloud.transport
        while True:
            try:
                return await step()
            except OUTCOME_UNKNOWN:
                if loop.time() >= give_up:
                    raise
                self.recorder.count("retried")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(transport.wait_until_up(), give_up - loop.time())
            await asyncio.sleep(self.retry.delay)

    async def _delete(self, server: str, *, departing: bool) -> None:
        """Delete a departing server (placed, or withdrawn while it was still
        building) or a rejected one (`departing` false: the cleanup)."""
        self.deleting.add(server)  # before the call: it may be done before it returns
        try:
            await self._retried(lambda: self.session.servers.delete(server), give_up=float("inf"))
        except NotFound:
            self.deleting.discard(server)
        else:
            now = asyncio.get_running_loop().time()
            if self.building.pop(server, None) is not None:
                self.recorder.withdrawn(now)
            elif server in self.placed:
                self.placed.discard(server)
                self.recorder.departed(now)
        self._check_settled()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self.failures.append(error)
        self._check_settled()

    def _check_settled(self) -> None:
        if not self.building and not self.tasks and not self.deleting:
            self.settled.set()

    async def drain(self, limit: float) -> list[str]:
        """Wait (at most `limit` simulated seconds) until every build has ended and
        every delete is done; the servers that had not settled by then.

        A delete is done when the server is announced deleted (``instance.update``
        in vm_state deleted, whether its host or the API did it, or
        ``instance.delete.end``); a server still deleting once all else is quiet is
        looked up, every simulated minute (an announcement lost in an outage).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while (self.tasks or self.building or self.deleting) and loop.time() < deadline:
            self.settled.clear()
            pending = [*self.tasks]
            if pending:
                await asyncio.wait(pending, timeout=deadline - loop.time())
                continue
            if self.deleting and not self.building:
                await self._forget_deleted()
                if not self.deleting:
                    break
            with contextlib.suppress(TimeoutError):
                wait = min(60.0, deadline - loop.time())
                await asyncio.wait_for(self.settled.wait(), max(0.0, wait))
        return sorted({*self.building, *self.deleting})

    async def _forget_deleted(self) -> None:
        for server in sorted(self.deleting):
            try:
                found = await self.session.servers.get(server)
            except NotFound:
                self.deleting.discard(server)
                continue
            if found.task_state is None and found.status == "DELETED":
                self.deleting.discard(server)

    async def sweep(self) -> int:
        """Delete every server no arrival owns (a create given up with its outcome
        unknown whose server was recorded after all); how many. Only after such a
        create: the list of every server is one reply, which has a size limit."""
        if not self.gave_up:
            return 0
        owned = self.placed | set(self.building)
        strays = [s.id for s in await self.session.servers.list() if s.id not in owned]
        for server in strays:
            await self._delete(server, departing=False)
        if strays:
            await self.drain(3600.0)
        return len(strays)


def request_id() -> str:
    """A create's request id, drawn from the simulation's seeded `uuid.uuid4`.

    Not `nova_lite.context.generate_request_id`, which reads `os.urandom`: the API
    derives a server's uuid from its request id, and server uuids order things
    (the instance list, the hosts' trackers), so a random one made two runs of one
    trace place differently once a cloud had hundreds of hosts.
    """
    return f"req-{uuid.uuid4()}"
