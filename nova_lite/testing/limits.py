"""The one bound every helper of `nova_lite.testing` puts on a wait."""

from __future__ import annotations

__all__ = ["WAIT"]

#: Seconds any one awaited event may take before the wait fails the test. Generous:
#: tests finish far sooner, and a slow shared machine must not make them flaky.
WAIT = 20.0
