"""The filters of ``GET /servers`` and ``/servers/detail``, as Nova reads them.

``status``, ``name`` (a regular expression, RE2), ``flavor``, ``image``, ``host``
(administrators), ``ip`` and ``ip6`` (regular expressions on the fixed addresses),
``changes-since`` (an ISO 8601 time: servers changed since then, deleted ones
included, as Nova shows them), ``locked`` (2.73), and from 2.26 the tag filters
``tags`` (every tag given), ``tags-any`` (one of them), ``not-tags`` (not all of
them) and ``not-tags-any`` (none of them), each a comma-separated list. A bad value
is a 400 naming the filter; a pattern is compiled once per request.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import attrs
from multidict import MultiMapping

from nova_lite import objects
from nova_lite.api.http.filters import regex_filter
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.http.views import reservation_id
from nova_lite.compute.status import status_from_state
from nova_lite.exceptions import Invalid

__all__ = ["ServerFilter", "parse_time"]

Check = Callable[[objects.Instance], bool]


def parse_time(field: str, raw: str) -> datetime.datetime:
    """An ISO 8601 time of a query (UTC if it names no zone); `Invalid` if it is none."""
    try:
        moment = datetime.datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise Invalid(f"Invalid filter field: {field}. Value: {raw!r:.80}.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def _tags(raw: str) -> set[str]:
    return {tag for tag in raw.split(",") if tag}


def _addresses(instance: objects.Instance, version: int) -> list[str]:
    return [
        a.get("addr", "")
        for a in instance.addresses
        if (":" in a.get("addr", "")) == (version == 6)
    ]


@attrs.frozen
class ServerFilter:
    """The checks one request's query makes of each server."""

    checks: tuple[Check, ...]
    changes_since: datetime.datetime | None

    @property
    def read_deleted(self) -> bool:
        """Whether deleted servers are listed too (with ``changes-since``, as Nova)."""
        return self.changes_since is not None

    def __call__(self, instance: objects.Instance) -> bool:
        return all(check(instance) for check in self.checks)

    @classmethod
    def of(cls, query: MultiMapping[str], version: APIVersion, *, is_admin: bool) -> ServerFilter:
        """The filter of `query` (a request's query string)."""
        checks: list[Check] = [*_plain(query, is_admin), *_patterns(query)]
        if version.at_least("2.26"):
            checks.extend(_tag_checks(query))
        if "locked" in query and version.at_least("2.73"):
            wanted = query["locked"].lower() in ("true", "1", "yes", "on", "t", "y")
            checks.append(lambda i: i.locked == wanted)
        since = query.get("changes-since")
        changes_since = None if since is None else parse_time("changes-since", since)
        if changes_since is not None:
            moment = changes_since
            checks.append(lambda i: (i.updated_at or i.created_at) >= moment)
        else:
            checks.append(lambda i: not i.deleted)
        return cls(tuple(checks), changes_since)


def _plain(query: MultiMapping[str], is_admin: bool) -> list[Check]:
    checks: list[Check] = []
    statuses = {s.upper() for s in query.getall("status", [])}
    if statuses:
        checks.append(lambda i: status_from_state(i.vm_state, i.task_state) in statuses)
    if "flavor" in query:
        flavor = query["flavor"]
        checks.append(lambda i: i.flavor.flavorid == flavor)
    if "image" in query:
        image = query["image"]
        checks.append(lambda i: i.image_ref == image or image.endswith(f"/{i.image_ref}"))
    if "host" in query:
        host = query["host"]
        checks.append(lambda i: is_admin and i.host == host)
    if "reservation_id" in query:
        reservation = query["reservation_id"]
        checks.append(lambda i: reservation_id(i) == reservation)
    return checks


def _patterns(query: MultiMapping[str]) -> list[Check]:
    checks: list[Check] = []
    if "name" in query:
        name = regex_filter("name", query["name"])
        checks.append(lambda i: name(i.display_name))
    for field, version in (("ip", 4), ("ip6", 6)):
        if field in query:
            checks.append(_address_check(regex_filter(field, query[field]), version))
    return checks


def _address_check(matches: Callable[[str], bool], version: int) -> Check:
    return lambda instance: any(matches(a) for a in _addresses(instance, version))


def _tag_checks(query: MultiMapping[str]) -> list[Check]:
    checks: list[Check] = []
    if "tags" in query:
        every = _tags(query["tags"])
        checks.append(lambda i: every <= set(i.tags))
    if "tags-any" in query:
        some = _tags(query["tags-any"])
        checks.append(lambda i: bool(some & set(i.tags)))
    if "not-tags" in query:
        not_all = _tags(query["not-tags"])
        checks.append(lambda i: not not_all <= set(i.tags))
    if "not-tags-any" in query:
        none_of = _tags(query["not-tags-any"])
        checks.append(lambda i: not none_of & set(i.tags))
    return checks
