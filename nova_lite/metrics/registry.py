"""Every metric nova_lite exports, on one Prometheus registry per cloud or process.

The names follow Prometheus's conventions: a ``nova_lite_`` prefix, the unit in the
name (``_seconds``), ``_total`` on counters (prometheus-client adds it), and label
sets that are bounded by the deployment, never by the traffic: topics, methods,
exception classes, filter names, route templates and status codes, never uuids or
raw paths. The table in the README ("Metrics") lists them all.

`Metrics` owns a `CollectorRegistry` of its own rather than prometheus-client's
global one, so several clouds in one process (a test suite) never collide and each
``/metrics`` shows one deployment's figures. Its metrics are the lock-free families
of `nova_lite.metrics.families` (the services update them from their event loop),
which the registry collects; the hot paths (a message sent or handled) also keep
the labelled children they made.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from nova_lite.metrics.families import Counter, Gauge, Histogram

__all__ = ["LATENCY_BUCKETS", "Metrics"]

# Seconds, from a fast in-memory call (~100 µs) to a slow build (minutes).
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)
# Hosts a scheduling decision starts from: one host to a large cloud.
HOST_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)


class Metrics(Collector):
    """The metrics of one cloud (or one service process), on a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._families: list[Counter | Gauge | Histogram] = []
        self._rpc()
        self._builds()
        self._scheduler()
        self._api()
        self.registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """Every family's samples, for the registry (scrapes, `value`)."""
        for family in self._families:
            yield family.collect()

    def __repr__(self) -> str:
        return f"<Metrics registry={id(self.registry):#x}>"

    def _counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        family = Counter(name, doc, labels)
        self._families.append(family)
        return family

    def _gauge(self, name: str, doc: str, labels: Sequence[str]) -> Gauge:
        family = Gauge(name, doc, labels)
        self._families.append(family)
        return family

    def _histogram(
        self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> Histogram:
        family = Histogram(name, doc, labels, buckets=buckets)
        self._families.append(family)
        return family

    def _rpc(self) -> None:
        rpc = ("topic", "method", "kind")
        self.rpc_sent = self._counter(
            "nova_lite_rpc_sent", "RPC messages sent, by target topic, method and kind.", rpc
        )
        self.rpc_call_duration = self._histogram(
            "nova_lite_rpc_call_duration_seconds",
            "Time from sending an rpc.call to its reply (or failure), on the caller.",
            ("topic", "method"),
            LATENCY_BUCKETS,
        )
        self.rpc_send_failures = self._counter(
            "nova_lite_rpc_send_failures",
            "Calls and casts that failed on the caller, by exception class.",
            (*rpc, "exception"),
        )
        self.rpc_handled = self._counter(
            "nova_lite_rpc_handled",
            "RPC requests handled by a worker, by the worker's topic, method and kind.",
            rpc,
        )
        self.rpc_handle_duration = self._histogram(
            "nova_lite_rpc_handle_duration_seconds",
            "Time an endpoint method took to run, on the worker.",
            ("topic", "method"),
            LATENCY_BUCKETS,
        )
        self.rpc_handle_failures = self._counter(
            "nova_lite_rpc_handle_failures",
            "Requests whose endpoint raised, by the worker's topic, method and exception class.",
            ("topic", "method", "exception"),
        )
        self.rpc_in_flight = self._gauge(
            "nova_lite_rpc_in_flight_handlers",
            "Requests a worker of the topic is running now.",
            ("topic",),
        )
        self.queue_messages = self._gauge(
            "nova_lite_rpc_queue_messages",
            "Messages waiting in a service's queue, read every [metrics] queue_depth_interval.",
            ("queue",),
        )

    def _builds(self) -> None:
        self.builds = self._counter(
            "nova_lite_builds",
            "Builds a compute host finished, by outcome (active, rescheduled, failed, "
            "deleted, taken_over).",
            ("outcome",),
        )
        self.build_duration = self._histogram(
            "nova_lite_build_duration_seconds",
            "Time a compute host spent on a build, by outcome.",
            ("outcome",),
            LATENCY_BUCKETS,
        )
        self.build_stage_duration = self._histogram(
            "nova_lite_build_stage_duration_seconds",
            "Time of each build stage on the compute host (networking, "
            "block_device_mapping, spawning, active).",
            ("stage",),
            LATENCY_BUCKETS,
        )

    def _scheduler(self) -> None:
        self.scheduler_decisions = self._counter(
            "nova_lite_scheduler_decisions",
            "select_destinations outcomes (selected, no_valid_host).",
            ("outcome",),
        )
        self.scheduler_hosts_considered = self._histogram(
            "nova_lite_scheduler_hosts_considered",
            "Hosts a scheduling decision started from, before the filters.",
            (),
            HOST_BUCKETS,
        )
        self.scheduler_filter_eliminations = self._counter(
            "nova_lite_scheduler_filter_eliminations",
            "Hosts each scheduler filter removed from the candidates.",
            ("filter",),
        )

    def _api(self) -> None:
        self.token_validations = self._counter(
            "nova_lite_token_validations",
            "Tokens the API checked, by outcome (cached, valid, invalid).",
            ("outcome",),
        )
        self.http_requests = self._counter(
            "nova_lite_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "status"),
        )
        self.http_request_duration = self._histogram(
            "nova_lite_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            LATENCY_BUCKETS,
        )

    def value(self, name: str, **labels: str) -> float:
        """One sample's current value (0.0 if it has none yet): for tests and tools."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found
