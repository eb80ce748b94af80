"""What the block storage handlers share: the URL prefix, the caller's project, Cinder's
status codes for nova_lite's errors, timestamps, and list paging and sorting.

Cinder reports some errors with other codes than Nova: a volume in the wrong status
is a 400 (``InvalidVolume``), not a 409, and a quota exceeded is a 413 (``overLimit``),
not a 403. `cinder_fault` is what the front end's fault middleware uses for volume
paths. Lists are sorted (default ``created_at`` then ``id``, newest first), filtered
by the handler, then cut by ``marker``, ``offset`` and ``limit``; a full page gets a
``next`` link, as Cinder's ``_get_collection_links`` gives.
"""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, base_url, context_of
from nova_lite.api.http.faults import Fault, fault_for
from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden, Invalid, NotFound, QuotaExceeded, VolumeInvalidState

__all__ = [
    "PREFIX",
    "accepted",
    "authorized",
    "cinder_fault",
    "iso",
    "page",
    "project_context",
    "query_bool",
    "self_links",
]

PREFIX = "/volume/v3/{project_id}"
MAX_LIMIT = 1000


def cinder_fault(exc: BaseException) -> Fault:
    """The status and message Cinder reports `exc` with."""
    if isinstance(exc, VolumeInvalidState):
        return Fault(400, str(exc), "InvalidVolume")
    if isinstance(exc, QuotaExceeded):
        return Fault(413, str(exc), "OverQuota")
    return fault_for(exc)


def project_context(request: web.Request) -> RequestContext:
    """The caller's context; `Forbidden` unless the URL's project is theirs (or an admin)."""
    ctx = context_of(request)
    if not ctx.is_admin and request.match_info["project_id"] != ctx.project_id:
        raise Forbidden("The project in the URL is not the token's project.")
    return ctx


def authorized(request: web.Request, rule: str) -> RequestContext:
    """The caller's context, if the policy `rule` lets them act on the URL's project."""
    ctx = project_context(request)
    request.app[API].policy.authorize(ctx, rule, {"project_id": request.match_info["project_id"]})
    return ctx


def accepted() -> web.Response:
    """An empty 202."""
    return web.Response(status=202)


def iso(value: datetime.datetime | None) -> str | None:
    """A time as Cinder writes it: ``2024-01-01T12:00:00.000000``, UTC, no offset."""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def self_links(
    request: web.Request, project_id: str | None, kind: str, item_id: str
) -> list[dict[str, str]]:
    """Cinder's ``self`` and ``bookmark`` links of one item."""
    base = base_url(request)
    return [
        {"rel": "self", "href": f"{base}/volume/v3/{project_id}/{kind}/{item_id}"},
        {"rel": "bookmark", "href": f"{base}/volume/{project_id}/{kind}/{item_id}"},
    ]


def query_bool(request: web.Request, name: str) -> bool | None:
    """A boolean query parameter in Cinder's spellings, or None when absent."""
    raw = request.query.get(name)
    if raw is None:
        return None
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "t", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "f", "no", "n", "off"):
        return False
    raise Invalid(f"Invalid value {raw!r} for {name}: it must be a boolean.")


def _int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} param must be an integer, not {raw!r}.") from None
    if value < 0:
        raise Invalid(f"{name} param must be positive, not {raw!r}.")
    return value


def _sort_keys(request: web.Request, allowed: Sequence[str]) -> list[tuple[str, str]]:
    """The (key, direction) pairs of ``sort`` or ``sort_key``/``sort_dir``."""
    aliases = {"display_name": "name", "display_description": "description"}
    if "sort" in request.query:
        pairs = []
        for item in request.query["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key, direction or "desc"))
    else:
        keys = request.query.get("sort_key", "created_at").split(",")
        directions = request.query.get("sort_dir", "desc").split(",")
        pairs = [(k, directions[min(i, len(directions) - 1)]) for i, k in enumerate(keys)]
    checked = []
    for key, direction in pairs:
        key = aliases.get(key.strip(), key.strip())
        if key not in allowed:
            raise Invalid(f"Invalid sort key {key!r}: one of {', '.join(allowed)}.")
        if direction.strip().lower() not in ("asc", "desc"):
            raise Invalid(f"Invalid sort direction {direction!r}: asc or desc.")
        checked.append((key, direction.strip().lower()))
    if not any(key == "id" for key, _ in checked):
        checked.append(("id", checked[-1][1]))
    return checked


def _sorted(items: list[dict[str, Any]], keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
    for key, direction in reversed(keys):
        items.sort(key=lambda item: _sortable(item.get(key)), reverse=direction == "desc")
    return items


def _sortable(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    return (1, value if isinstance(value, int | float | str) else str(value))


def page(
    request: web.Request,
    items: list[dict[str, Any]],
    *,
    collection: str,
    sort_keys: Sequence[str],
    shown: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item,
) -> dict[str, Any]:
    """`items` (full views) sorted, cut to the page asked for, each `shown`, with links."""
    limit = _int(request, "limit")
    offset = _int(request, "offset") or 0
    ordered = _sorted(list(items), _sort_keys(request, sort_keys))
    marker = request.query.get("marker")
    if marker is not None:
        ids = [item["id"] for item in ordered]
        if marker not in ids:
            raise NotFound(f"Marker {marker} could not be found.")
        ordered = ordered[ids.index(marker) + 1 :]
    ordered = ordered[offset:]
    size = MAX_LIMIT if limit is None else min(limit, MAX_LIMIT)
    cut = ordered[:size]
    body: dict[str, Any] = {collection: [shown(item) for item in cut]}
    if cut and len(cut) == size and (limit is not None or len(ordered) > size):
        body[f"{collection}_links"] = [{"rel": "next", "href": _next(request, cut[-1]["id"])}]
    return body


def _next(request: web.Request, marker: str) -> str:
    query = [(k, v) for k, v in request.query.items() if k not in ("marker", "offset")]
    query.append(("marker", marker))
    return f"{base_url(request)}{request.path}?{urllib.parse.urlencode(query)}"
