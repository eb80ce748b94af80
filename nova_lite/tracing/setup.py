"""`Tracing`: one cloud's (or one process's) tracer, made from ``[tracing]``.

Each `Tracing` has a tracer of its own (`nova_lite.tracing.light.LightTracer`: the
OpenTelemetry API's tracer, with spans far cheaper than the SDK's, exported in
batches through the SDK's exporters), never OpenTelemetry's global provider, so
clouds in one process keep their spans apart and nothing outside nova_lite is
touched. With ``exporter = "none"`` there is no `Tracing` at all, and the hooks
(`nova_lite.telemetry`) make no span, not even a non-recording one. The SDK is only
imported here, when an exporter is chosen: ``pip install 'nova-lite[tracing]'``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nova_lite.config import Config
from nova_lite.exceptions import ConfigError
from nova_lite.tracing import propagation

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

    from nova_lite.tracing.light import LightTracer

__all__ = ["Tracing", "tracing_from_config"]

INSTRUMENTATION = "nova_lite"


class Tracing:
    """A tracer of nova_lite's own (the one the hooks use) and its exporter."""

    def __init__(self, tracer: LightTracer, exporter: SpanExporter) -> None:
        self.light = tracer
        self.exporter = exporter
        self.tracer: LightTracer = tracer
        self._open = True
        propagation.tracing_active(+1)

    def __repr__(self) -> str:
        return f"<Tracing {self.exporter!r} {'open' if self._open else 'shut'}>"

    def spans(self) -> list[ReadableSpan]:
        """The finished spans a memory exporter holds (empty for any other exporter)."""
        from nova_lite.tracing.exporters import MemoryExporter

        self.light.force_flush()
        return self.exporter.spans() if isinstance(self.exporter, MemoryExporter) else []

    def flush(self) -> None:
        """Hand every finished span to the exporter now (they wait a moment otherwise)."""
        self.light.force_flush()

    def shutdown(self) -> None:
        """Export what is pending and release the exporter (idempotent)."""
        if self._open:
            self._open = False
            propagation.tracing_active(-1)
            self.light.shutdown()


def _exporter(config: Config) -> tuple[SpanExporter, bool]:
    """The configured exporter, and whether it wants batching (slow or remote)."""
    from nova_lite.tracing import exporters

    settings = config.tracing
    if settings.exporter == "memory":
        return exporters.MemoryExporter(), False
    if settings.exporter == "file":
        path = settings.file or str(Path(config.service_dir()) / "traces.jsonl")
        return exporters.JsonLinesExporter(path), False  # on disk at once: `server trace`
    if settings.exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr), True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.endpoint or None), True


def tracing_from_config(config: Config, *, exporter: SpanExporter | None = None) -> Tracing | None:
    """The `Tracing` ``[tracing]`` asks for, or None when its exporter is ``"none"``.

    `exporter` replaces the configured one (a test's own). `ConfigError` names the
    missing extra when the SDK is not installed.
    """
    if config.tracing.exporter == "none" and exporter is None:
        return None
    try:
        from opentelemetry.sdk.resources import Resource

        from nova_lite.tracing.light import LightTracer
    except ImportError:
        raise ConfigError(
            f"[tracing] exporter = {config.tracing.exporter!r} needs the OpenTelemetry SDK: "
            "pip install 'nova-lite[tracing]'."
        ) from None
    batch = False
    if exporter is None:
        exporter, batch = _exporter(config)
    resource = Resource.create({"service.name": config.tracing.service_name})
    tracer = LightTracer(
        exporter,
        resource,
        ratio=config.tracing.sample_ratio,
        background=batch,
        name=INSTRUMENTATION,
    )
    return Tracing(tracer, exporter)
