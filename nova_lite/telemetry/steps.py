"""The services' own hooks: build stages, scheduling decisions, token checks.

Each takes the transport the service runs on and finds its `Telemetry` there; with
none, `span` hands back one shared no-op context manager and `BuildWatch.of`
returns None, so a service with telemetry off makes no span object and touches no
metric.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from nova_lite import telemetry
from nova_lite.tracing.light import where
from nova_lite.transport import Transport

__all__ = [
    "NO_STAGE",
    "BuildWatch",
    "count_token_validation",
    "record_decision",
    "record_span",
    "span",
]

_NULL: AbstractContextManager[Any] = contextlib.nullcontext()
NO_STAGE: AbstractContextManager[None] = contextlib.nullcontext()  # a stage with telemetry off


def span(transport: Transport, name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span named `name` as a context manager (tracing on), or a shared no-op."""
    found = telemetry.of(transport)
    if found is None or found.tracer is None:
        return _NULL
    return found.tracer.start_as_current_span(name, attributes=_attributes(attributes))


def record_span(
    transport: Transport, name: str, started_ns: int, attributes: dict[str, Any]
) -> None:
    """A span for work already done, from `started_ns` (epoch ns) to now (tracing on)."""
    found = telemetry.of(transport)
    if found is None or found.tracer is None:
        return
    done = found.tracer.start_span(name, start_time=started_ns, attributes=_attributes(attributes))
    done.end()


def _attributes(values: dict[str, Any]) -> dict[str, Any]:
    service, host = where()
    named = {f"nova_lite.{key}": value for key, value in values.items() if value is not None}
    return {"nova_lite.service": service, "nova_lite.host": host, **named}


def count_token_validation(transport: Transport, outcome: str) -> None:
    """One token check by the API: ``cached``, ``valid`` or ``invalid``."""
    found = telemetry.of(transport)
    if found is not None and found.metrics is not None:
        found.metrics.token_validations.labels(outcome).inc()


def record_decision(
    transport: Transport, outcome: str, considered: int, removed: Sequence[tuple[str, int]]
) -> None:
    """One select_destinations: its outcome, the hosts it began with, each filter's toll."""
    found = telemetry.of(transport)
    if found is None or found.metrics is None:
        return
    metrics = found.metrics
    metrics.scheduler_decisions.labels(outcome).inc()
    metrics.scheduler_hosts_considered.observe(considered)
    for name, count in removed:
        if count:
            metrics.scheduler_filter_eliminations.labels(name).inc(count)


class BuildWatch:
    """One build on a compute host: a span and a duration per stage, then its outcome."""

    def __init__(self, found: telemetry.Telemetry, instance_uuid: str) -> None:
        self._found = found
        self._uuid = instance_uuid
        self._started = time.perf_counter()

    def __repr__(self) -> str:
        return f"<BuildWatch {self._uuid}>"

    @classmethod
    def of(cls, transport: Transport, instance_uuid: str) -> BuildWatch | None:
        """A watch for the build of `instance_uuid`, or None with telemetry off."""
        found = telemetry.of(transport)
        return None if found is None else cls(found, instance_uuid)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time (and trace) the build stage `name` while the block runs."""
        started = time.perf_counter()
        tracer = self._found.tracer
        try:
            if tracer is None:
                yield
            else:
                attributes = _attributes({"instance_uuid": self._uuid, "build.stage": name})
                with tracer.start_as_current_span(f"build {name}", attributes=attributes):
                    yield
        finally:
            if self._found.metrics is not None:
                seconds = time.perf_counter() - started
                self._found.metrics.build_stage_duration.labels(name).observe(seconds)

    def finished(self, outcome: str) -> None:
        """The build ended with `outcome` (active, rescheduled, failed, deleted, taken_over)."""
        metrics = self._found.metrics
        if metrics is not None:
            metrics.builds.labels(outcome).inc()
            metrics.build_duration.labels(outcome).observe(time.perf_counter() - self._started)
