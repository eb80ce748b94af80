"""Counters, gauges and histograms for the event loop: plain numbers, no lock per sample.

prometheus-client's own metric classes take a lock on every ``inc`` and every
histogram bucket, so that threads may share them. nova_lite's services update their
metrics from their event loop only, one coroutine at a time, so a sample here is a
plain attribute or list slot; the families are exposed through prometheus-client's
registry and exposition as a `Collector`, in its metric families (names, ``_total``,
``_bucket``/``_count``/``_sum``, the text and OpenMetrics formats). The hot paths
(every message sent or handled) cost a fraction of what they would otherwise.

Use them from the loop thread only; `labels()` with the family's label values gives
the child that holds the numbers (keep it: the look-up is a dict hit, not free).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

__all__ = ["Counter", "CounterChild", "Gauge", "GaugeChild", "Histogram", "HistogramChild"]

C = TypeVar("C")
_go_float: Callable[[float], str] = floatToGoString  # how Prometheus spells a bound


class CounterChild:
    """One labelled counter: only ever goes up."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` (not negative)."""
        if amount < 0:
            raise ValueError(f"A counter only goes up, not by {amount}.")
        self.value += amount


class GaugeChild:
    """One labelled gauge: set, or moved up and down."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = float(value)


class HistogramChild:
    """One labelled histogram: a count per bucket (not cumulative) and the sum."""

    __slots__ = ("_bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count `value` in the first bucket whose upper bound is at least it."""
        self.counts[bisect.bisect_left(self._bounds, value)] += 1
        self.sum += value


class _Family(Generic[C]):
    """A metric's name, help and label names, and its children by label values."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], C] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} children={len(self._children)}>"

    def _new(self) -> C:
        raise NotImplementedError

    def labels(self, *values: str) -> C:
        """The child of these label values (made on first use)."""
        found = self._children.get(values)
        if found is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes the labels {self.labelnames}, not {values!r}.")
            found = self._children[values] = self._new()
        return found

    def items(self) -> Iterator[tuple[list[str], C]]:
        for key, child in self._children.items():
            yield list(key), child

    def collect(self) -> Metric:
        raise NotImplementedError


class Counter(_Family[CounterChild]):
    """A counter family (exposed as ``<name>_total``)."""

    def _new(self) -> CounterChild:
        return CounterChild()

    def collect(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, child in self.items():
            family.add_metric(labels, child.value)
        return family


class Gauge(_Family[GaugeChild]):
    """A gauge family."""

    def _new(self) -> GaugeChild:
        return GaugeChild()

    def collect(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, child in self.items():
            family.add_metric(labels, child.value)
        return family


class Histogram(_Family[HistogramChild]):
    """A histogram family with fixed bucket bounds (seconds, hosts, ...)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self.bounds = tuple(sorted(float(b) for b in buckets))
        self._les = [_go_float(b) for b in self.bounds] + ["+Inf"]

    def _new(self) -> HistogramChild:
        return HistogramChild(self.bounds)

    def observe(self, value: float) -> None:
        """Observe on the one child of a family without labels."""
        self.labels().observe(value)

    def collect(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, child in self.items():
            running, buckets = 0, []
            for le, count in zip(self._les, child.counts, strict=True):
                running += count
                buckets.append((le, float(running)))
            family.add_metric(labels, buckets, child.sum)
        return family
