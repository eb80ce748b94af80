"""Faults a simulation injects: hosts that fail and recover, broker outages, slow hosts.

A host failure (`HostFailure`) stops the host's compute service, as a crash would:
no more heartbeats, so after ``service_down_time`` the scheduler's ComputeFilter
stops choosing it; its servers stay where they are (nova_lite, like Nova, does not
evacuate by itself) and messages for it wait in its queue. At recovery the
service starts again, reports, and works through what waited (deletes included).
A host that never recovers keeps its servers to the end.

A broker outage (`BrokerOutage`) makes the message bus unreachable for a window
(`nova_lite.simulate.outage` says exactly how); a slow host (`SlowHost`) has a
hypervisor whose every operation, spawning included, takes `factor` times as long
for a window.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import attrs

from nova_lite.cloud import compute_host_name
from nova_lite.exceptions import Invalid

__all__ = ["BrokerOutage", "HostFailure", "SlowHost", "failures_by_mtbf"]


@attrs.frozen
class HostFailure:
    """One host's down windows: (failed at, recovered at or None), in simulated seconds."""

    host: str
    periods: tuple[tuple[float, float | None], ...]

    def __attrs_post_init__(self) -> None:
        previous = -1.0
        for down, up in self.periods:
            if down < previous or (up is not None and up <= down):
                raise Invalid(
                    f"Host {self.host}: failure windows must be in order, each ending"
                    f" after it starts: {self.periods}"
                )
            previous = up if up is not None else float("inf")

    @classmethod
    def once(cls, host: str, at: float, recover_at: float | None = None) -> HostFailure:
        """A single failure of `host` at `at`, recovering at `recover_at` (or never)."""
        return cls(host, ((at, recover_at),))

    def windows(self) -> tuple[tuple[float, float | None], ...]:
        return self.periods

    def times(self) -> list[float]:
        """Every moment something happens to the host."""
        return [t for window in self.periods for t in window if t is not None]

    def describe(self) -> dict[str, Any]:
        return {"host": self.host, "windows": [list(w) for w in self.periods]}


def failures_by_mtbf(
    hosts: int, *, mtbf: float, mttr: float, end: float, seed: int
) -> tuple[HostFailure, ...]:
    """Failures drawn per host: exponential times between failures (mean `mtbf`
    seconds) and to repair (mean `mttr`), up to `end`; seeded."""
    if mtbf <= 0 or mttr <= 0:
        raise Invalid("mtbf and mttr must be positive seconds")
    rng = random.Random(seed)
    failures = []
    for index in range(1, hosts + 1):
        windows: list[tuple[float, float | None]] = []
        t = rng.expovariate(1 / mtbf)
        while t < end:
            up = t + rng.expovariate(1 / mttr)
            windows.append((round(t, 3), round(up, 3) if up < end else None))
            if up >= end:
                break
            t = up + rng.expovariate(1 / mtbf)
        if windows:
            failures.append(HostFailure(compute_host_name(index), tuple(windows)))
    return tuple(failures)


def parse_failure(text: str) -> HostFailure:
    """``HOST@DOWN[-UP]`` (seconds), e.g. ``compute3@3600-7200`` or ``compute3@3600``."""
    host, sep, times = text.partition("@")
    down_text, _, up_text = times.partition("-")
    try:
        down = float(down_text)
        up = float(up_text) if up_text else None
    except ValueError:
        raise Invalid(f"Host failure {text!r}: expected HOST@DOWN[-UP] in seconds") from None
    if not sep or not host:
        raise Invalid(f"Host failure {text!r}: expected HOST@DOWN[-UP] in seconds")
    return HostFailure.once(host, down, up)


def merge(failures: Sequence[HostFailure]) -> tuple[HostFailure, ...]:
    """One entry per host (windows of a host in order)."""
    by_host: dict[str, list[tuple[float, float | None]]] = {}
    for failure in failures:
        by_host.setdefault(failure.host, []).extend(failure.windows())
    return tuple(HostFailure(h, tuple(sorted(w, key=lambda x: x[0]))) for h, w in by_host.items())


@attrs.frozen
class BrokerOutage:
    """The message bus unreachable from `start` to `end` (simulated seconds)."""

    start: float
    end: float

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise Invalid(
                f"A broker outage must start at 0 s or later and end after it starts,"
                f" not {self.start:g}-{self.end:g}."
            )

    def times(self) -> list[float]:
        return [self.start, self.end]

    def describe(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end}


def parse_outage(text: str) -> BrokerOutage:
    """``START-END`` in simulated seconds, e.g. ``3600-3900``."""
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError(text)
        return BrokerOutage(float(start), float(end))
    except ValueError:
        raise Invalid(f"Broker outage {text!r}: expected START-END in seconds") from None


@attrs.frozen
class SlowHost:
    """`host`'s hypervisor `factor` times slower from `start` to `end` (None: the end)."""

    host: str
    factor: float
    start: float = 0.0
    end: float | None = None

    def __attrs_post_init__(self) -> None:
        if not self.factor > 0:
            raise Invalid(f"Slow host {self.host}: the factor must be positive, not {self.factor}.")
        if self.start < 0 or (self.end is not None and self.end <= self.start):
            raise Invalid(
                f"Slow host {self.host}: the window must start at 0 s or later and end"
                f" after it starts, not {self.start:g}-{self.end}."
            )

    def times(self) -> list[float]:
        return [self.start] if self.end is None else [self.start, self.end]

    def describe(self) -> dict[str, Any]:
        return {"host": self.host, "factor": self.factor, "start": self.start, "end": self.end}


def parse_slow(text: str) -> SlowHost:
    """``HOST:FACTOR[@START[-END]]``, e.g. ``compute3:4`` or ``compute3:4@3600-7200``."""
    host, sep, rest = text.partition(":")
    factor_text, _, window = rest.partition("@")
    start_text, _, end_text = window.partition("-")
    try:
        if not sep or not host:
            raise ValueError(text)
        return SlowHost(
            host,
            float(factor_text),
            float(start_text) if start_text else 0.0,
            float(end_text) if end_text else None,
        )
    except ValueError:
        raise Invalid(f"Slow host {text!r}: expected HOST:FACTOR[@START[-END]] (seconds)") from None
