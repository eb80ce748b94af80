"""Where a boot's time goes, read from the services' own structured log events.

Every service logs through structlog, and the Worker binds the request id of the
message it handles, so the events of one boot can be followed across the API,
conductor, scheduler and compute. `EventRecorder` is a structlog processor that keeps
the few events marking stage boundaries with a ``perf_counter`` timestamp, and drops
every event (nothing is rendered: logging costs the benchmark almost nothing).
`stage_times` turns those marks into per-instance stage durations.
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
import time
from collections.abc import Collection, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import attrs
import structlog

__all__ = ["STAGES", "EventRecorder", "Mark", "recording", "stage_medians", "stage_times"]

# The events that open and close each stage, per instance.
CREATE = "bench.create"  # recorded by the benchmark itself when it calls servers.create
SCHEDULING = "conductor.scheduling"
SELECTED = "scheduler.selected"
BUILD_START = "compute.build.start"
BUILD_DONE = "compute.build.done"

# stage name: (opening event, closing event, what happens in it)
STAGES: dict[str, tuple[str, str, str]] = {
    "api": (CREATE, SCHEDULING,
            "API: token, flavor, image, network checks; conductor creates the records, "
            "casts schedule_and_build"),
    "scheduler": (SCHEDULING, SELECTED,
                  "conductor -> scheduler select_destinations: queueing, filters, weighers, "
                  "claim"),
    "conductor": (SELECTED, BUILD_START,
                  "reply to conductor, instance host update, cast to compute, compute reads "
                  "the instance"),
    "compute": (BUILD_START, BUILD_DONE,
                "compute build: network, image, fake spawn, task-state saves, "
                "notifications"),
    "total": (CREATE, BUILD_DONE, "create call to build done"),
}  # fmt: skip


_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}")


@attrs.frozen
class Mark:
    """One stage boundary seen for one instance."""

    at: float
    event: str
    instance_uuid: str
    request_id: str | None


class EventRecorder:
    """A structlog processor keeping stage-boundary events, and counting builds ended.

    A build ends done (its ``compute.build.done`` event) or failed (`fail`, called by
    whoever sees its ``instance.create.error`` notification), with the reason.
    """

    def __init__(self, events: Collection[str] = (SCHEDULING, SELECTED, BUILD_START)) -> None:
        self.events = frozenset(events)
        self.marks: list[Mark] = []
        self.done: set[str] = set()
        self.failed: dict[str, str] = {}
        self.waiting: list[tuple[int, asyncio.Future[None]]] = []

    @property
    def ended(self) -> int:
        """How many builds have ended, done or failed."""
        return len(self.done) + len(self.failed)

    def fail(self, instance_uuid: str, reason: str) -> None:
        """Record that a build ended in ERROR, and why (ids masked, to count alike)."""
        self.failed[instance_uuid] = _IDS.sub("<id>", reason)
        self._wake()

    def mark(self, event: str, instance_uuid: str, request_id: str | None = None) -> None:
        """Record a boundary the benchmark itself observes (the create call)."""
        self.marks.append(Mark(time.perf_counter(), event, instance_uuid, request_id))

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event = event_dict.get("event")
        uuid = event_dict.get("instance_uuid")
        if event in self.events or event == BUILD_DONE:
            self.mark(str(event), str(uuid), event_dict.get("request_id"))
        if event == BUILD_DONE:
            self.done.add(str(uuid))
            self._wake()
        raise structlog.DropEvent

    def until_ended(self, count: int) -> asyncio.Future[None]:
        """A future resolved once `count` builds have ended."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((count, future))
        self._wake()
        return future

    def _wake(self) -> None:
        still = []
        for count, future in self.waiting:
            if future.done():
                continue
            if self.ended >= count:
                future.set_result(None)
            else:
                still.append((count, future))
        self.waiting = still


@contextmanager
def recording(recorder: EventRecorder) -> Iterator[EventRecorder]:
    """Route every structlog event at info level and above to `recorder`, then restore."""
    previous = structlog.get_config()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, recorder],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=False,
    )
    try:
        yield recorder
    finally:
        structlog.configure(**previous)


def stage_times(marks: list[Mark]) -> dict[str, list[float]]:
    """Each stage's duration (seconds) for every instance that went through it."""
    first: dict[tuple[str, str], float] = {}
    for mark in marks:  # a rescheduled build keeps its first start and its last end
        key = (mark.instance_uuid, mark.event)
        if mark.event == BUILD_DONE or key not in first:
            first[key] = mark.at
    uuids = {uuid for uuid, _ in first}
    times: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for uuid in uuids:
        for stage, (opening, closing, _) in STAGES.items():
            if (uuid, opening) in first and (uuid, closing) in first:
                times[stage].append(first[(uuid, closing)] - first[(uuid, opening)])
    return times


def stage_medians(marks: list[Mark]) -> dict[str, float]:
    """The median duration of each stage, in milliseconds."""
    return {
        stage: statistics.median(values) * 1000
        for stage, values in stage_times(marks).items()
        if values
    }
