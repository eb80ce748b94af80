"""Prometheus metrics of every service: RPC, builds, scheduling, tokens, HTTP.

`Metrics` (`registry`) defines them all on a registry of its own per cloud or
process; `exposition` serves them at ``/metrics`` (the HTTP API's route, and the
server every service process runs on ``[metrics] listen``); `queues` reads the
depth of the service queues on a slow timer. The hooks that feed them are in
`nova_lite.telemetry`.
"""

from __future__ import annotations

from nova_lite.metrics.registry import LATENCY_BUCKETS, Metrics

__all__ = ["LATENCY_BUCKETS", "Metrics"]
