"""OpenTelemetry traces of every hop: HTTP request, calls and casts, handlers, build steps.

`tracing_from_config` makes a cloud's or process's `Tracing` (none when
``[tracing] exporter = "none"``); `propagation` puts the W3C trace context in every
message and takes it out; `exporters` holds the file and memory exporters;
`timeline` reads spans back for ``nova-lite server trace``. The hooks that make the
spans are in `nova_lite.telemetry`.
"""

from __future__ import annotations

from nova_lite.tracing.propagation import carrier, parent_context
from nova_lite.tracing.setup import Tracing, tracing_from_config

__all__ = ["Tracing", "carrier", "parent_context", "tracing_from_config"]
