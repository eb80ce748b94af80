"""Log calls that cannot crash the code they report on.

structlog's bound loggers take the event name as their first positional argument,
``event``: a call that also passes ``event=...`` raises TypeError at the very moment
something is being reported (a lost action event during a broker restart turned into
a crashed endpoint that way). The static check keeps every call site clear of it; the
behaviour test drives the path that had it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import structlog

from nova_lite import RequestContext
from nova_lite.compute.action_runner import ActionRunner
from nova_lite.exceptions import ConnectionLost

ROOT = Path(__file__).resolve().parent.parent
_LEVELS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "msg"}


def _log_calls_passing_event(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _LEVELS
        and any(keyword.arg == "event" for keyword in node.keywords)
    ]


def test_no_log_call_passes_event_as_a_keyword() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ("nova_lite", "transports", "drivers")
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in _log_calls_passing_event(ast.parse(path.read_text()))
    ]
    assert not offenders, f"log calls passing event= (structlog's own argument): {offenders}"


def test_the_static_check_finds_such_a_call() -> None:
    tree = ast.parse('log.warning("x.lost", event="stop", error="e")\nlog.info("fine", step=1)\n')
    assert _log_calls_passing_event(tree) == [1]


class _LosingConductor:
    """A conductor whose event writes meet a broker that went away."""

    def __init__(self) -> None:
        self.finishes: list[tuple[str, str, str]] = []

    async def action_event_finish(
        self, ctx: RequestContext, uuid: str, event: str, result: str, tb: str | None
    ) -> None:
        self.finishes.append((uuid, event, result))
        raise ConnectionLost("the broker went away")


async def test_a_lost_action_event_is_logged_not_raised() -> None:
    conductor = _LosingConductor()
    as_api: Any = conductor
    unused: Any = None  # the stop path of an event write touches nothing else
    runner = ActionRunner("c1", driver=unused, conductor=as_api, notifier=unused, locks=unused)
    ctx = RequestContext(user_id="u", project_id="p")
    with structlog.testing.capture_logs() as logs:
        await runner._event_done(ctx, "uuid-1", "compute_stop_instance", None)
    assert conductor.finishes == [("uuid-1", "compute_stop_instance", "Success")]
    lost = [entry for entry in logs if entry["event"] == "compute.action_event_lost"]
    assert lost and lost[0]["action_event"] == "compute_stop_instance"
    assert "went away" in lost[0]["error"]
