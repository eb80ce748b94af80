"""What a cloud (or one service process) tells about itself: metrics and traces.

A `Telemetry` holds one deployment's `Metrics` (``[metrics] enabled``) and
`Tracing` (``[tracing] exporter``), either or both None when off. `install` binds it
to the transport every service of that deployment shares (a `Cloud`'s, or a
``nova-lite service`` process's), and the hooks find it there with `of`: the RPC
layer's `Invoker` and `Worker` (`telemetry.rpc`), the HTTP front end's middleware
(`telemetry.http`), the build steps and the scheduler's decision
(`telemetry.steps`). When both are off nothing is bound, and every hook costs one
dictionary look-up: no metric is touched and no span object is made.

Where each hop ran (the service and host, for ``nova-lite server trace``'s
swimlanes) is carried by the spans themselves: the Worker's span of a request
names its topic and server, the HTTP middleware's the api and its host, and every
span below inherits it (`nova_lite.tracing.light.where`).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from nova_lite.config import Config
from nova_lite.metrics import Metrics
from nova_lite.transport import Transport

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from nova_lite.tracing import Tracing

__all__ = ["Telemetry", "install", "of", "uninstall"]


class Telemetry:
    """One deployment's metrics and tracing (each None when off)."""

    def __init__(self, metrics: Metrics | None = None, tracing: Tracing | None = None) -> None:
        from nova_lite.telemetry.rpc import RpcObserver

        self.metrics = metrics
        self.tracing = tracing
        self.tracer = tracing.tracer if tracing is not None else None
        self.rpc = RpcObserver(metrics, self.tracer)

    def __repr__(self) -> str:
        return f"<Telemetry metrics={self.metrics is not None} tracing={self.tracing!r}>"

    @classmethod
    def from_config(cls, config: Config, *, exporter: SpanExporter | None = None) -> Telemetry:
        """The telemetry ``[metrics]`` and ``[tracing]`` ask for (`exporter`: a test's own)."""
        from nova_lite.tracing import tracing_from_config

        metrics = Metrics() if config.metrics.enabled else None
        return cls(metrics, tracing_from_config(config, exporter=exporter))

    @property
    def active(self) -> bool:
        """Whether anything is measured or traced at all."""
        return self.metrics is not None or self.tracing is not None

    def close(self) -> None:
        """Flush and release the tracing exporter (the metrics need nothing)."""
        if self.tracing is not None:
            self.tracing.shutdown()


# The telemetry of each transport, by the transport's id: a plain dict look-up per
# hook (a WeakKeyDictionary makes a weak reference on every look-up). Each entry
# goes with its transport (`weakref.finalize`), before its id can be reused.
_bound: dict[int, Telemetry] = {}
_finalizers: dict[int, weakref.finalize[[int], Transport]] = {}


def install(transport: Transport, telemetry: Telemetry) -> None:
    """Make `telemetry` the one every hook on `transport` reports to (if it is active)."""
    if not telemetry.active:
        uninstall(transport)
        return
    key = id(transport)
    _bound[key] = telemetry
    if key not in _finalizers:
        _finalizers[key] = weakref.finalize(transport, _forget, key)


def uninstall(transport: Transport) -> None:
    """Stop reporting what happens on `transport`."""
    key = id(transport)
    _bound.pop(key, None)
    finalizer = _finalizers.pop(key, None)
    if finalizer is not None:
        finalizer.detach()


def _forget(key: int) -> None:
    _bound.pop(key, None)
    _finalizers.pop(key, None)


def of(transport: Transport) -> Telemetry | None:
    """The telemetry bound to `transport`, or None (everything off).

    With nothing bound in the process (telemetry off everywhere) it does not even
    look it up.
    """
    return _bound.get(id(transport)) if _bound else None
