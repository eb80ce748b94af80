"""One server's timeline across services, for ``nova-lite server trace``.

The timeline is made of what the cloud recorded about the server: its instance
actions and their events (always there), and, when tracing was on, the spans of
every trace that touched it (a span naming the server's uuid, or handling a request
of one of its actions). Each becomes a `Step`: when it started and ended, which
service on which host did it, what it was and how it ended. `build_timeline` sorts
them; `swimlanes` draws them as a PNG, one lane per service and host. Nothing here
does I/O but `read_span_file` and `swimlanes`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import orjson

__all__ = ["Step", "build_timeline", "read_span_file", "rows", "swimlanes"]

_NS = 1_000_000_000


@attrs.frozen
class Step:
    """One thing done for the server: by whom, when, and how it ended."""

    start: float  # seconds since the epoch
    end: float | None
    service: str
    host: str
    what: str
    result: str
    source: str  # "action", "event" or "span"

    @property
    def lane(self) -> str:
        """The swimlane: the service, and its host when known."""
        return f"{self.service}@{self.host}" if self.host else self.service


def read_span_file(path: str | Path) -> list[dict[str, Any]]:
    """The span records of a ``[tracing] exporter = "file"`` file (bad lines skipped).

    RPC hops' rows come back as the records their shapes make them
    (`nova_lite.tracing.hops.expand`).
    """
    from nova_lite.tracing.hops import expand

    records: list[dict[str, Any]] = []
    shapes: dict[str, dict[str, Any]] = {}
    for line in Path(path).read_bytes().splitlines():
        try:
            decoded = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a line a writer was cut off in
        records.extend(expand(decoded, shapes))
    return records


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value).timestamp()
    return float(value)


def _action_steps(actions: Iterable[Mapping[str, Any]]) -> Iterator[Step]:
    for action in actions:
        start = _seconds(action["start_time"])
        assert start is not None
        end = _seconds(action.get("finish_time"))
        message = action.get("message") or ""
        yield Step(start, end, "api", "", f"action {action['action']}", message, "action")
        for event in action.get("events") or ():
            event_start = _seconds(event["start_time"])
            assert event_start is not None
            service = str(event["event"]).split("_", 1)[0]
            event_end = _seconds(event.get("finish_time"))
            yield Step(
                event_start,
                event_end,
                service,
                event.get("host") or "",
                f"event {event['event']}",
                event.get("result") or ("running" if event_end is None else ""),
                "event",
            )


def _traces_of(
    server_id: str, request_ids: set[str], spans: Sequence[Mapping[str, Any]]
) -> set[str]:
    found = set()
    for span in spans:
        attributes = span.get("attributes") or {}
        if attributes.get("nova_lite.instance_uuid") == server_id or (
            attributes.get("nova_lite.request_id") in request_ids
        ):
            found.add(span["trace_id"])
    return found


def _span_steps(
    server_id: str, request_ids: set[str], spans: Sequence[Mapping[str, Any]]
) -> Iterator[Step]:
    traces = _traces_of(server_id, request_ids, spans)
    for span in spans:
        if span.get("trace_id") not in traces:
            continue
        attributes = span.get("attributes") or {}
        end = span.get("end")
        yield Step(
            span["start"] / _NS,
            None if end is None else end / _NS,
            attributes.get("nova_lite.service") or span.get("service") or "",
            attributes.get("nova_lite.host") or "",
            f"{span['name']} ({span.get('kind', 'INTERNAL').lower()})",
            span.get("status", "UNSET"),
            "span",
        )


def build_timeline(
    server_id: str,
    actions: Iterable[Mapping[str, Any]],
    spans: Sequence[Mapping[str, Any]] = (),
) -> list[Step]:
    """The server's actions, events and spans (records as `span_record` makes), in order."""
    actions = list(actions)
    request_ids = {str(a["request_id"]) for a in actions if a.get("request_id")}
    steps = [*_action_steps(actions), *_span_steps(server_id, request_ids, spans)]
    return sorted(steps, key=lambda s: (s.start, -(s.end or s.start)))


def rows(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """The steps as table rows: milliseconds from the first start, and each duration."""
    if not steps:
        return []
    origin = steps[0].start
    return [
        {
            "at_ms": round((s.start - origin) * 1000, 1),
            "took_ms": None if s.end is None else round((s.end - s.start) * 1000, 1),
            "service": s.lane,
            "what": s.what,
            "result": s.result,
            "source": s.source,
        }
        for s in steps
    ]


def swimlanes(steps: Sequence[Step], path: str | Path, *, title: str) -> Path:
    """Draw `steps` as a PNG: one lane per service and host, a bar per step."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first: dict[str, float] = {}
    for step in steps:
        first[step.lane] = min(first.get(step.lane, step.start), step.start)
    lanes = sorted(first, key=first.__getitem__)
    origin = min((s.start for s in steps), default=0.0)
    figure, ax = plt.subplots(figsize=(12, 1.2 + 0.6 * len(lanes)))
    for step in steps:
        left = (step.start - origin) * 1000
        width = max(((step.end or step.start) - step.start) * 1000, 0.2)
        row = lanes.index(step.lane)
        color = {"action": "tab:grey", "event": "tab:orange"}.get(step.source, "tab:blue")
        ax.broken_barh([(left, width)], (row - 0.35, 0.7), facecolors=color, alpha=0.6)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds from the first step")
    ax.set_title(title)
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
