"""Admission at the conductor: at most so many builds under way, the rest wait their turn.

Why: a build is a chain of about thirty messages through the scheduler, the
conductor, a compute host and the network, image and volume services. Started all
at once, a burst of N builds puts N requests in each of those services' queues, so
the time a request waits grows with the burst, and past some size every service's
queue is longer than any timeout (the issue behind this module: 10,000 servers on a
busy machine, 12% of them ERROR on `allocate_for_instance` timeouts). Admitting at
most ``[conductor] max_concurrent_builds`` builds at once bounds every one of those
queues by that number, whatever the burst; the builds not admitted yet wait here,
in order, as a record in SCHEDULING and an entry in memory, with no timer running.

A build holds its slot from its scheduling until its instance leaves BUILDING
(ACTIVE, ERROR) or is deleted, which the conductor sees as it saves the instance
(`saw`). With several conductors on one database a build may end through another
one: `sweep` reads the instances of the slots held a while and frees those whose
builds ended. A slot is never held past `lease` seconds (a build whose compute host
died stays BUILDING unless ``instance_build_timeout`` is set): admission is a
throttle, and one build too many for a moment is better than a cloud that stops
building. A build withdrawn while it waits (its instance deleted, the conductor
stopping) is told so, and is not scheduled.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable

import structlog

from nova_lite import objects
from nova_lite.compute import vm_states

__all__ = ["BuildAdmission"]

log = structlog.get_logger(__name__)

Read = Callable[[str], Awaitable[objects.Instance | None]]


class BuildAdmission:
    """At most `limit` builds under way at once (0: no limit); the rest wait, first come first.

    No I/O but in `sweep`, which reads instances through the function it is given.
    """

    def __init__(
        self,
        limit: int,
        *,
        lease: float,
        clock: Callable[[], float] = time.monotonic,
        chunk: int = 1,
    ) -> None:
        if limit < 0:
            raise ValueError(f"limit must be 0 (none) or more, not {limit}.")
        if chunk < 1:
            raise ValueError(f"chunk must be 1 or more, not {chunk}.")
        self.limit = limit
        # Waiting builds are admitted `chunk` at a time (fewer if fewer wait, or once
        # nothing runs), so that those of one request are placed with one scheduler
        # call (conductor/placing.py) rather than one call each as slots free singly.
        self.chunk = chunk
        self.lease = lease
        self._clock = clock
        self._running: dict[str, float] = {}  # instance uuid: when it was admitted
        self._waiting: collections.OrderedDict[str, asyncio.Future[bool]] = (
            collections.OrderedDict()
        )
        self.closed = False

    def __repr__(self) -> str:
        return (
            f"<BuildAdmission running={len(self._running)}/{self.limit or 'unlimited'} "
            f"waiting={len(self._waiting)}{' closed' if self.closed else ''}>"
        )

    @property
    def running(self) -> int:
        """How many builds hold a slot."""
        return len(self._running)

    @property
    def waiting(self) -> int:
        """How many builds wait for one."""
        return len(self._waiting)

    async def admit(self, instance_uuid: str) -> bool:
        """Wait for a slot for this instance's build: True once it has one.

        False when the build was withdrawn while it waited (`finished` before it
        started, or `close`). A build that already holds a slot (a second cast for
        the same instance) has it at once.
        """
        if self.closed:
            return False
        if instance_uuid in self._running:
            return True
        if self._has_room() and not self._waiting:
            self._running[instance_uuid] = self._clock()
            return True
        turn = self._waiting.get(instance_uuid)
        if turn is None:
            turn = self._waiting[instance_uuid] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.shield(turn)
        except asyncio.CancelledError:
            self.finished(instance_uuid)
            raise

    def finished(self, instance_uuid: str) -> None:
        """This build ended (or never will start): its slot, or its place in line, goes."""
        if self._running.pop(instance_uuid, None) is not None:
            self._admit_next()
            return
        turn = self._waiting.pop(instance_uuid, None)
        if turn is not None and not turn.done():
            turn.set_result(False)

    def saw(self, instance: objects.Instance) -> None:
        """An instance was saved: a build that has left BUILDING, or been deleted, ended."""
        ended = instance.deleted or instance.vm_state != vm_states.BUILDING
        if ended and (instance.uuid in self._running or instance.uuid in self._waiting):
            self.finished(instance.uuid)

    def close(self) -> list[str]:
        """Admit nothing more; every waiting build is withdrawn. Their instance uuids."""
        self.closed = True
        withdrawn = list(self._waiting)
        while self._waiting:
            _, turn = self._waiting.popitem(last=False)
            if not turn.done():
                turn.set_result(False)
        return withdrawn

    async def sweep(self, read: Read, *, older_than: float) -> None:
        """Free the slots, held over `older_than` seconds, of builds that ended elsewhere.

        `read` gives an instance by uuid (deleted ones too), or None if there is none.
        A slot past its lease is freed whatever its instance shows, with a warning.
        """
        now = self._clock()
        for instance_uuid, since in list(self._running.items()):
            if now - since >= self.lease:
                log.warning("conductor.build_slot_expired", instance_uuid=instance_uuid,
                            held_seconds=round(now - since, 1))  # fmt: skip
                self.finished(instance_uuid)
            elif now - since >= older_than:
                instance = await read(instance_uuid)
                if instance is None:
                    self.finished(instance_uuid)
                else:
                    self.saw(instance)

    def _has_room(self) -> bool:
        return self.limit == 0 or len(self._running) < self.limit

    def _admit_next(self) -> None:
        chunked = self.chunk > 1 and self.limit and self._running
        if chunked and self.limit - len(self._running) < min(self.chunk, len(self._waiting)):
            return  # until a chunk's worth of slots is free
        while self._waiting and self._has_room():
            instance_uuid, turn = self._waiting.popitem(last=False)
            if not turn.done():
                self._running[instance_uuid] = self._clock()
                turn.set_result(True)
