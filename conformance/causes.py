"""Why tests failed, grouped into a worklist for the service engineers.

Each failed or not-run test gets one cause and a key within it:

- **missing route**: the test (or its class's set-up) sent a request that nova_lite
  answered 404 or 405 and that no route of ``/openapi.json`` serves; the key is
  the method and the path with its ids replaced (``GET /compute/v2.1/os-keypairs``).
- **non-conforming response schema**: Tempest's response schema refused a body;
  the key is the route and the schema's complaint.
- **wrong status code**: a success code other than the one Nova, Glance, ... give.
- **request refused (400)**, **(403)**, **(404)**, **(409)**, **server error (500)**:
  nova_lite refused a request the real service takes; the key is its message.
- **timed out waiting**: a waiter gave up on a state or a resource.
- **no account for a persona**: the class asked for credentials nova_lite cannot
  provide (Keystone's ``manager`` role, system or domain scope).
- **catalog: no endpoint**: Tempest looked for a service type the catalog lacks.
- **wrong response content**: an assertion on what a response said.
- anything else by its exception's class.

Not-run tests share their class's set-up failure, so a cause counts each test it
blocks; `worklist` groups them with counts, largest first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs

from conformance.outcomes import Outcome
from nova_lite.api.http import openapi

__all__ = ["Cause", "Routes", "cause_of", "worklist"]

CLEANUP_CALLERS = ("_run_cleanups", "tearDownClass", "resource_cleanup", "clear_credentials")
ID_SEGMENT = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|\d+|req-[\w-]+)$"
)
EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*): ?(.*)$")  # "tempest.lib.exceptions.NotFound: ..."
VOLATILE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b|tempest-[\w-]+"
)


@attrs.frozen
class Cause:
    """One failure's cause and, within it, what to fix (a route, a message)."""

    cause: str
    key: str


class Routes:
    """The routes the cloud serves, to tell a missing route from a missing resource.

    By default those of nova_lite's OpenAPI document (`nova_lite.api.http.openapi`),
    which a test keeps in step with the routes the front end serves.
    """

    def __init__(self, routes: Iterable[tuple[str, str]] | None = None) -> None:
        if routes is None:
            spec = openapi.document()
            routes = [(m.upper(), path) for path, ms in spec["paths"].items() for m in ms]
        self._patterns = [(method, _template_regex(path)) for method, path in routes]

    def served(self, method: str, path: str) -> bool:
        """Whether some route serves `method` on `path`."""
        return any(m == method and p.match(path) for m, p in self._patterns)


def _template_regex(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
    return re.compile(f"^{pattern}/?$")


def normalise_path(url: str) -> str:
    """A request URL's path with ids as ``{id}``, Tempest's made-up names as ``{name}``."""
    path = urlsplit(url).path
    parts = path.split("/")
    return "/".join(_placeholder(part) for part in parts)


def _placeholder(part: str) -> str:
    if ID_SEGMENT.match(part):
        return "{id}"
    return "{name}" if part.startswith("tempest-") else part  # names Tempest made up


def _own_requests(record: Mapping[str, Any]) -> list[Sequence[str]]:
    requests = record.get("requests") or []
    return [r for r in requests if not str(r[0]).endswith(CLEANUP_CALLERS)]


def _exception(text: str) -> tuple[str, str]:
    """The exception class and message of a failure's first line."""
    match = EXCEPTION.match(text)
    if match is None:
        return "", text
    return match.group(1).rsplit(".", 1)[-1], match.group(2)


def _clean(text: str, limit: int = 160) -> str:
    text = VOLATILE.sub("…", text)
    text = re.sub(r"Value: .*?(\.\.\.\.|\}\.) ?", "", text)  # the refused body, cut by nova_lite
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(details: str) -> str:
    """The ``message`` of an OpenStack error body in Tempest's ``Details: {...}``."""
    match = re.search(r"""['"]message['"]: (['"])(.*?)\1\}""", details)
    return match.group(2) if match else details


def cause_of(outcome: Outcome, routes: Routes) -> Cause:
    """The cause of one failed or not-run test."""
    record = outcome.record or {}
    for _, status, method, url in _own_requests(record):
        if status in ("404", "405") and not routes.served(method, urlsplit(url).path):
            return Cause("missing route", f"{method} {normalise_path(url)}")
    reason = outcome.reason.removeprefix("setUpClass failed: ")
    kind, message = _exception(reason)
    return _by_exception(kind, message, _where(record, STATUS_OF.get(kind, "2")), outcome)


def _where(record: Mapping[str, Any], status: str) -> str:
    """The route of the last request the test made whose status starts with `status`."""
    for _, code, method, url in reversed(_own_requests(record)):
        if code.startswith(status):
            return f"{method} {normalise_path(url)}"
    return "(no request logged)"


STATUS_OF = {  # the status that raised each of Tempest's exceptions
    "BadRequest": "400",
    "Unauthorized": "401",
    "Forbidden": "403",
    "NotFound": "404",
    "Conflict": "409",
    "ServerFault": "500",
    "UnexpectedResponseCode": "4",
    "IdentityError": "4",
}

REFUSED = {
    "BadRequest": "request refused (400)",
    "Forbidden": "request refused (403)",
    "NotFound": "request refused (404)",
    "Conflict": "request refused (409)",
    "Unauthorized": "request refused (401)",
    "ServerFault": "server error (500)",
    "UnexpectedResponseCode": "unexpected error code",
}


def _schema(message: str, where: str) -> Cause:
    detail = message.split("(", 1)[1] if "(" in message else message
    return Cause("non-conforming response schema", f"{where}: {_clean(detail)}")


def _success_code(message: str, where: str) -> Cause:
    codes = re.search(r"status code\((\d+)\) is different than the expected one\((.*?)\)", message)
    got = f"{codes.group(1)} instead of {codes.group(2)}" if codes else _clean(message)
    return Cause("wrong status code", f"{where}: {got}")


def _persona(message: str, where: str) -> Cause:
    return Cause("no account for a persona", _clean(message.removeprefix("Invalid Credentials ")))


def _header(message: str, where: str) -> Cause:
    return Cause("wrong response header", _clean(message.split(" - ")[0]))


def _token(message: str, where: str) -> Cause:
    return Cause("token request refused", f"{where}: {_clean(message)}")


def _endpoint(message: str, where: str) -> Cause:
    return Cause("catalog: no endpoint", _clean(message))


def _timeout(message: str, where: str) -> Cause:
    return Cause("timed out waiting", _clean(message, 120))


def _error_state(message: str, where: str) -> Cause:
    return Cause("resource went to ERROR", _clean(message, 120))


BY_EXCEPTION = {
    "InvalidHTTPResponseBody": _schema,
    "ValidationError": _schema,
    "InvalidHttpSuccessCode": _success_code,
    "InvalidCredentials": _persona,
    "InvalidHTTPResponseHeader": _header,
    "IdentityError": _token,
    "EndpointNotFound": _endpoint,
    "TimeoutException": _timeout,
    "BuildErrorException": _error_state,
    "VolumeResourceBuildErrorException": _error_state,
}


def _by_exception(kind: str, message: str, where: str, outcome: Outcome) -> Cause:
    if kind in BY_EXCEPTION:
        return BY_EXCEPTION[kind](message, where)
    if kind in REFUSED:
        return Cause(REFUSED[kind], f"{where}: {_clean(_message(message))}")
    if kind in ("MismatchError", "AssertionError"):
        test_class = outcome.name.rsplit(".", 2)[-2]
        return Cause("wrong response content", f"{test_class}: {_clean(message, 120)}")
    if outcome.outcome == "not run" and not kind:
        return Cause("not run", _clean(outcome.reason))
    return Cause(kind or "other", _clean(message))


@attrs.frozen
class WorkItem:
    """One cause with how many tests it costs, and its keys with their counts."""

    cause: str
    tests: int
    keys: tuple[tuple[str, int], ...]


def worklist(outcomes: Iterable[Outcome], routes: Routes) -> list[WorkItem]:
    """The causes of every failed and not-run test, most costly first."""
    by_cause: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        if outcome.outcome not in ("failed", "not run"):
            continue
        cause = cause_of(outcome, routes)
        by_cause.setdefault(cause.cause, Counter())[cause.key] += 1
    items = [
        WorkItem(
            cause, sum(keys.values()), tuple(sorted(keys.items(), key=lambda kv: (-kv[1], kv[0])))
        )
        for cause, keys in by_cause.items()
    ]
    return sorted(items, key=lambda item: (-item.tests, item.cause))


def skip_reasons(outcomes: Iterable[Outcome]) -> list[tuple[str, int]]:
    """The reasons tests were skipped, with counts, most common first."""
    counts = Counter(_clean(o.reason, 140) for o in outcomes if o.outcome == "skipped")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
