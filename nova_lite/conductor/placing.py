"""Placing a request's admitted builds with one scheduler call (Nova's one per create).

Each build is admitted on its own at the `BuildAdmission` and goes through its own
checks (still unplaced, the placing event started) before it needs a host. The
builds of one request (one `RequestContext`) admitted together reach that point
within a few loop turns of each other, so `PlacementBatches` gathers them: each
build announces itself when admitted (`expect`), and the request's batch is sent
once every build announced has either asked for its host or dropped out (stale,
failed before asking), one loop turn later (so that builds woken in the same turn
join it). A build admitted later, as a slot frees, joins the batch
still gathering or starts the next one. A batch of one is the plain
``select_destinations`` call; more go to ``select_destinations_batch``, which
decides each instance as the plain call would (its own claim, alternates and "No
valid host" explanation), so a build's outcome does not depend on its batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.exceptions import NovaError, NoValidHost
from nova_lite.scheduler.rpcapi import SchedulerAPI

__all__ = ["PlacementBatches", "Ticket"]

log = structlog.get_logger(__name__)

Selections = list[objects.Selection]


class _Batch:
    """The builds of one request gathering for one scheduler call."""

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx
        self.expected = 0  # builds announced that have not asked nor dropped out
        self.asked: list[tuple[objects.RequestSpec, asyncio.Future[Selections]]] = []
        self.alternates = 0
        self.due = False  # a flush is scheduled


class Ticket:
    """One admitted build's place in its request's batch: ask once, or drop out."""

    def __init__(self, batches: PlacementBatches, batch: _Batch) -> None:
        self._batches = batches
        self._batch: _Batch | None = batch

    async def select(self, spec: objects.RequestSpec, num_alternates: int) -> Selections:
        """The build's host and alternates, as ``select_destinations`` returns them."""
        batch, self._batch = self._batch, None
        if batch is None:
            raise RuntimeError("This build asked for its host already.")
        future: asyncio.Future[Selections] = asyncio.get_running_loop().create_future()
        batch.asked.append((spec, future))
        batch.alternates = max(batch.alternates, num_alternates)
        self._batches._left(batch)
        return await future

    def close(self) -> None:
        """Drop out without asking (the build went stale or failed before it asked)."""
        batch, self._batch = self._batch, None
        if batch is not None:
            self._batches._left(batch)


class PlacementBatches:
    """Gathers each request's admitted builds into one placement call."""

    def __init__(self, scheduler: Callable[[], SchedulerAPI]) -> None:
        self._scheduler = scheduler
        self._gathering: dict[int, _Batch] = {}  # id(ctx) -> its batch
        self._sending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<PlacementBatches gathering={len(self._gathering)} sending={len(self._sending)}>"

    def expect(self, ctx: RequestContext) -> Ticket:
        """A build of `ctx`'s request was admitted: it will ask for a host or drop out."""
        batch = self._gathering.get(id(ctx))
        if batch is None or batch.ctx is not ctx:
            batch = self._gathering[id(ctx)] = _Batch(ctx)
        batch.expected += 1
        return Ticket(self, batch)

    def _left(self, batch: _Batch) -> None:
        batch.expected -= 1
        if batch.expected == 0 and not batch.due:
            # Sent after the builds already woken this turn have run: those of the same
            # request announce themselves before it goes.
            batch.due = True
            asyncio.get_running_loop().call_soon(self._flush, batch)

    def _flush(self, batch: _Batch) -> None:
        batch.due = False
        if batch.expected > 0:
            return  # more builds joined: the last of them to ask sends it
        if self._gathering.get(id(batch.ctx)) is batch:
            del self._gathering[id(batch.ctx)]
        if not batch.asked:
            return
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: _Batch) -> None:
        specs = [spec for spec, _ in batch.asked]
        futures = [future for _, future in batch.asked]
        scheduler = self._scheduler()
        try:
            if len(specs) == 1:
                outcomes: list[Selections | BaseException] = [
                    await scheduler.select_destinations(batch.ctx, specs[0], batch.alternates)
                ]
            else:
                found = await scheduler.select_destinations_batch(
                    batch.ctx, specs, batch.alternates
                )
                by_uuid = {d.instance_uuid: d for d in found}
                outcomes = [_outcome(spec, by_uuid.get(spec.instance_uuid)) for spec in specs]
        except BaseException as exc:  # the call failed: every build in it did
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for future, outcome in zip(futures, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


def _outcome(
    spec: objects.RequestSpec, found: objects.Destinations | None
) -> Selections | BaseException:
    """One build's selections, or the exception its placement ended with."""
    if found is None:
        return NovaError(f"The scheduler returned no placement for instance {spec.instance_uuid}.")
    if found.fault is None:
        return list(found.selections)
    if found.fault == NoValidHost.__name__:
        return NoValidHost(
            found.message,
            instance_uuid=spec.instance_uuid,
            filter_results=list(found.filter_results),
            needs=found.needs,
        )
    return NovaError(f"{found.fault}: {found.message}")
