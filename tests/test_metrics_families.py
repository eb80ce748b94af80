"""The lock-free metric families: Prometheus's semantics, exposed by its own encoder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from nova_lite.metrics.families import Counter, Gauge, Histogram


class _Families(Collector):
    def __init__(self, *families: Counter | Gauge | Histogram) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.collect()


def _registry(*families: Counter | Gauge | Histogram) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_Families(*families))
    return registry


def test_a_histogram_counts_a_value_on_a_bound_in_that_bucket() -> None:
    """Buckets are cumulative and ``le`` is inclusive, as Prometheus defines them."""
    seconds = Histogram("t_seconds", "t", ("topic",), buckets=(0.1, 1.0))
    child = seconds.labels("compute")
    for seen in (0.05, 0.1, 0.5, 2.0):
        child.observe(seen)
    registry = _registry(seconds)
    value = registry.get_sample_value
    assert value("t_seconds_bucket", {"topic": "compute", "le": "0.1"}) == 2
    assert value("t_seconds_bucket", {"topic": "compute", "le": "1.0"}) == 3
    assert value("t_seconds_bucket", {"topic": "compute", "le": "+Inf"}) == 4
    assert value("t_seconds_count", {"topic": "compute"}) == 4
    assert value("t_seconds_sum", {"topic": "compute"}) == pytest.approx(2.65)


def test_counters_and_gauges_expose_as_prometheus_does() -> None:
    """``_total`` on counters, gauges as set; wrong labels and going down are refused."""
    sent = Counter("x_sent", "sent", ("kind",))
    depth = Gauge("x_depth", "depth", ("queue",))
    sent.labels("call").inc()
    sent.labels("call").inc(2)
    depth.labels("q").set(5)
    depth.labels("q").dec()
    text = generate_latest(_registry(sent, depth)).decode()
    assert 'x_sent_total{kind="call"} 3.0' in text
    assert 'x_depth{queue="q"} 4.0' in text
    with pytest.raises(ValueError, match="only goes up"):
        sent.labels("call").inc(-1)
    with pytest.raises(ValueError, match="takes the labels"):
        sent.labels("call", "extra")
