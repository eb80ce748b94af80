"""Structured logging through structlog, with secrets kept out of every line.

Every service logs events as data. The Worker binds the request id of the message it
handles into structlog's contextvars, so every line logged while handling it, in any
module, carries ``request_id``. `redact_secrets` runs before rendering and masks
tokens and passwords wherever they appear as keys, and the password of any URL in any
value (``amqp://nova:***@rabbit/``). Code that logs a URL masks it itself with
`mask_url`, so a line is clean even before the pipeline sees it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import Processor

__all__ = ["SECRET_KEYS", "configure_logging", "mask_url", "processors", "redact_secrets"]

SECRET_KEYS = frozenset(
    {"auth_token", "token", "password", "admin_password", "secret", "x-auth-token"}
)
_MASK = "***"
# scheme://user:password@ : the password is whatever lies between the ':' and the '@'.
# Greedy to the token's last '@', so a password holding '@' is masked whole.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)\S*@")


def mask_url(url: str) -> str:
    """`url` with the password of its user information (if any) replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{_MASK}@", url)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return mask_url(value) if "://" in value else value
    if isinstance(value, dict):
        return {
            k: (_MASK if str(k).lower() in SECRET_KEYS else _redact(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor that masks the values of secret-looking keys."""
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = _MASK
        else:
            event_dict[key] = _redact(event_dict[key])
    return event_dict


def processors() -> list[Processor]:
    """What every nova_lite process does to each log event before rendering it.

    The request id (and whatever else is bound in contextvars) is merged in, the level
    and a UTC timestamp are added, secrets are masked and exceptions formatted.
    `nova_lite.testing.capture_logs` captures events as this chain leaves them.
    """
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
        structlog.processors.format_exc_info,
    ]


def configure_logging(*, format: str = "console", level: str = "info") -> None:
    """Set up structlog for a process: JSON lines or console output, at `level`."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if format == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*processors(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached: a process (or a test run) may reconfigure logging later.
        cache_logger_on_first_use=False,
    )
