"""Log events made assertable, as nova_lite's own pipeline leaves them.

`structlog.testing.capture_logs` turns every configured processor off, so the events
it captures have no request id and no masking. `capture_logs` here runs nova_lite's
processor chain (`nova_lite.log.processors`: contextvars merged, level, timestamp,
secrets masked) and captures each event just before it would be rendered, so a test
sees what a real process would write::

    with capture_logs() as events, pytest.raises(RemoteError):
        await invoker.call(ctx, "divide", a=1, b=0)  # the endpoint raises
    [crashed] = events_named(events, "rpc.endpoint.crashed")
    assert crashed["request_id"] == ctx.request_id
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import structlog
from structlog.testing import LogCapture

from nova_lite.log import processors

__all__ = ["capture_logs", "events_named"]


@contextlib.contextmanager
def capture_logs(*, level: str = "debug") -> Iterator[list[MutableMapping[str, Any]]]:
    """Every log event of the block at `level` or above, processed as nova_lite does.

    Nothing is printed meanwhile. The logging configuration in force before the block
    is restored after it.
    """
    capture = LogCapture()
    saved = structlog.get_config()
    structlog.configure(
        processors=[*processors(), capture],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        cache_logger_on_first_use=False,
    )
    try:
        yield capture.entries
    finally:
        structlog.configure(**saved)


def events_named(
    events: list[MutableMapping[str, Any]], name: str
) -> list[MutableMapping[str, Any]]:
    """The captured events whose event name is `name`."""
    return [e for e in events if e.get("event") == name]
