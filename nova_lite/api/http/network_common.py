"""What every Neutron route shares: bodies (single or bulk), list queries, fields, times.

Neutron's conventions, written once:

- a create body is ``{"network": {...}}`` or, in bulk, ``{"networks": [...]}`` (all or
  nothing); `resource_bodies` returns the list either way and whether it was bulk;
- a list filters on any attribute named in the query (``?name=private``, repeated
  for "any of", booleans in any case), sorts by ``sort_key``/``sort_dir``, pages with
  ``limit`` and ``marker`` (a ``<plural>_links`` next link when there is more);
- ``fields=`` (repeatable) keeps only the attributes named, on lists and shows;
- times are shown as ``2026-12-01T11:30:00Z``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from nova_lite.api.http.common import base_url, body_of, json
from nova_lite.api.http.faults import Fault, fault_for
from nova_lite.exceptions import Invalid, QuotaExceeded

__all__ = [
    "LIST_PARAMETERS",
    "PREFIX",
    "created",
    "fields_of",
    "listing",
    "neutron_fault",
    "resource_bodies",
    "shown",
    "timestamp",
]

PREFIX = "/network/v2.0"
#: Query parameters that shape a list rather than filter it.
LIST_PARAMETERS = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"})
MAX_LIMIT = 1000


def neutron_fault(exc: BaseException) -> Fault:
    """The status and type Neutron reports `exc` with: a quota exceeded is 409 OverQuota."""
    if isinstance(exc, QuotaExceeded):
        return Fault(409, str(exc), "OverQuota")
    return fault_for(exc)


def timestamp(value: str) -> str:
    """A stored ISO time as Neutron shows it (seconds, ``Z``); empty stays empty."""
    if not value:
        return value
    parsed = datetime.datetime.fromisoformat(value).astimezone(datetime.UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


async def resource_bodies(
    request: web.Request, singular: str, plural: str
) -> tuple[list[dict[str, Any]], bool]:
    """The resources a create body holds, and whether it was a bulk (plural) body."""
    body = await body_of(request)
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in (singular, plural):
        raise Invalid(f"The request body must be an object with {singular!r} or {plural!r}.")
    if singular in body:
        if not isinstance(body[singular], dict):
            raise Invalid(f"Invalid input for {singular}: an object is required.")
        return [body[singular]], False
    items = body[plural]
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise Invalid(f"Invalid input for {plural}: a non-empty list of objects is required.")
    return items, True


def created(singular: str, plural: str, views: list[dict[str, Any]], bulk: bool) -> web.Response:
    """The 201 answer to a create: one resource, or the list of a bulk create."""
    return json({plural: views} if bulk else {singular: views[0]}, status=201)


def fields_of(request: web.Request) -> list[str]:
    """The ``fields`` asked for (every ``fields=`` value, comma lists too); empty: all."""
    return [
        name for value in request.query.getall("fields", []) for name in value.split(",") if name
    ]


def _pick(item: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    return {key: item[key] for key in fields if key in item} if fields else dict(item)


def shown(request: web.Request, singular: str, view: Mapping[str, Any]) -> web.Response:
    """A show's answer, with only the ``fields`` asked for."""
    return json({singular: _pick(view, fields_of(request))})


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _matches(item: Mapping[str, Any], key: str, wanted: set[str]) -> bool:
    if key not in item:
        return True  # Neutron ignores a filter on an attribute the resource lacks
    value = item[key]
    if isinstance(value, bool):
        return _text(value) in {w.lower() for w in wanted}
    if isinstance(value, list):
        return any(_text(v) in wanted for v in value)
    return _text(value) in wanted


def filtered(
    request: web.Request,
    items: Iterable[dict[str, Any]],
    special: Mapping[str, Callable[[dict[str, Any], list[str]], bool]] | None = None,
) -> list[dict[str, Any]]:
    """The items every filter of the query allows (`special`: keys with their own test)."""
    special = special or {}
    wanted = {key: request.query.getall(key) for key in request.query if key not in LIST_PARAMETERS}
    return [
        item
        for item in items
        if all(
            special[key](item, values) if key in special else _matches(item, key, set(values))
            for key, values in wanted.items()
        )
    ]


def _sorted(request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = request.query.getall("sort_key", [])
    directions = request.query.getall("sort_dir", [])
    for index in reversed(range(len(keys))):
        key = keys[index]
        direction = directions[index] if index < len(directions) else "asc"
        if direction not in ("asc", "desc"):
            raise Invalid(f"Invalid sort_dir {direction!r}: asc or desc.")
        items = sorted(
            items,
            key=lambda item: (item.get(key) is None, _text(item.get(key))),
            reverse=direction == "desc",
        )
    return items


def _page(
    request: web.Request, plural: str, items: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    raw = request.query.get("limit")
    marker = request.query.get("marker")
    if marker is not None:
        ids = [item.get("id") for item in items]
        if marker not in ids:
            raise Invalid(f"Invalid marker {marker!r}: no such {plural[:-1]} in this list.")
        items = items[ids.index(marker) + 1 :]
    if raw is None:
        return items, []
    if not raw.isdigit():
        raise Invalid(f"Invalid limit {raw!r}: it must be a non-negative integer.")
    limit = min(int(raw), MAX_LIMIT) or MAX_LIMIT
    if len(items) <= limit:
        return items, []
    page = items[:limit]
    query = [(k, v) for k, v in request.query.items() if k != "marker"] + [
        ("marker", page[-1]["id"])
    ]
    href = f"{base_url(request)}{request.path}?{urlencode(query)}"
    return page, [{"rel": "next", "href": href}]


def listing(
    request: web.Request,
    plural: str,
    views: Iterable[dict[str, Any]],
    special: Mapping[str, Callable[[dict[str, Any], list[str]], bool]] | None = None,
) -> web.Response:
    """A list's answer: filtered, sorted, paged, with only the ``fields`` asked for."""
    items = _sorted(request, filtered(request, views, special))
    page, links = _page(request, plural, items)
    fields = fields_of(request)
    body: dict[str, Any] = {plural: [_pick(item, fields) for item in page]}
    if links:
        body[f"{plural}_links"] = links
    return json(body)
