"""Which images a list returns, and in what order: Glance's list rules, with no I/O.

`select` takes the images a caller may be shown (the manager reads them) and an
`ImageQuery`, and applies what ``GET /v2/images`` does in Glance:

- **scope.** Without a ``visibility`` filter, a list holds the caller's own images,
  public ones, and shared ones the caller's project is a member of with the asked
  ``member_status`` (``accepted`` unless told); community images only if the caller
  owns them. ``visibility=community`` (or ``all``) adds every community image. An
  administrator's scope is every image.
- **filters.** ``name``, ``id``, ``status``, ``container_format`` and
  ``disk_format`` take a value or ``in:a,b,"c,d"``; ``created_at`` and ``updated_at``
  take ``gt:``, ``gte:``, ``lt:``, ``lte:``, ``eq:``, ``neq:`` and an ISO 8601 time;
  ``size_min``/``size_max`` (and ``min_disk``/``min_ram``) bound integers;
  ``os_hidden`` (hidden images are left out unless ``true``) and ``protected`` take
  ``true``/``false``; ``tag``s must all be on the image; any other key must equal
  an extra property.
- **order and pages.** Sort keys from ``name``, ``status``, ``container_format``,
  ``disk_format``, ``size``, ``id``, ``created_at``, ``updated_at`` (default
  ``created_at`` descending, then ``created_at`` and ``id`` to break ties); a
  ``marker`` starts the page after that image, wherever it sorts; ``limit`` cuts it.

Every refusal is `Invalid` (400) with Glance's reason.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from nova_lite.exceptions import Invalid
from nova_lite.objects import Image, ImageQuery

__all__ = [
    "MEMBER_STATUSES",
    "SORT_KEYS",
    "Caller",
    "select",
    "split_in_values",
]

SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
)
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")
_LIST_VISIBILITIES = ("community", "public", "private", "shared", "all")
_IN_FIELDS = ("name", "id", "status", "container_format", "disk_format")
_TIME_FIELDS = ("created_at", "updated_at")
_INT_FIELDS = ("size", "min_disk", "min_ram", "virtual_size")
_TEXT_FIELDS = ("owner", "checksum", "os_hash_value", "os_hash_algo")
_TIME_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}
_QUOTED = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,')

Predicate = Callable[[Image], bool]


@attrs.frozen
class Caller:
    """Who lists: their project, whether they administer, and their memberships.

    `memberships` maps the id of each shared image the project is a member of to
    that membership's status.
    """

    project_id: str | None
    is_admin: bool
    memberships: Mapping[str, str] = attrs.field(factory=dict)


def select(images: Sequence[Image], query: ImageQuery, caller: Caller) -> list[Image]:
    """The page of `images` that `query` asks for, as `caller` sees it, in order."""
    checks = [_scope(query, caller), *_filters(query)]
    keys, dirs = _sorting(query)
    compare = functools.cmp_to_key(_comparator(keys, dirs))
    found = sorted((i for i in images if all(check(i) for check in checks)), key=compare)
    if query.marker is not None:
        marker = _marker(images, query.marker)
        found = [i for i in found if compare(i) > compare(marker)]
    if query.limit is not None:
        if query.limit < 0:
            raise Invalid("limit param must be positive")
        found = found[: query.limit]
    return found


# -- scope -----------------------------------------------------------------------


def _scope(query: ImageQuery, caller: Caller) -> Predicate:
    visibility = query.filters.get("visibility")
    if visibility is not None and visibility not in _LIST_VISIBILITIES:
        raise Invalid(f"Invalid visibility value: {visibility}")
    if query.member_status not in MEMBER_STATUSES:
        raise Invalid(f"Invalid status: {query.member_status}")

    def reachable(image: Image) -> bool:
        if caller.is_admin or image.visibility in ("public", "community"):
            return True
        if image.owner is not None and image.owner == caller.project_id:
            return True
        status = caller.memberships.get(image.id)
        shared = image.visibility == "shared" and status is not None
        return shared and query.member_status in ("all", status)

    def listed(image: Image) -> bool:
        if not reachable(image) or image.status == "killed":
            return False
        if visibility is None:
            owned = image.owner is not None and image.owner == caller.project_id
            return image.visibility != "community" or owned
        return visibility == "all" or image.visibility == visibility

    return listed


def _marker(images: Sequence[Image], marker: str) -> Image:
    for image in images:
        if image.id == marker:
            return image
    raise Invalid(f"Invalid marker: image {marker} could not be found.")


# -- filters ---------------------------------------------------------------------


def _filters(query: ImageQuery) -> list[Predicate]:
    checks = [_boolean(query.filters, "os_hidden", default=False)]
    if "protected" in query.filters:
        checks.append(_boolean(query.filters, "protected", default=False))
    if query.tags:
        wanted = set(query.tags)
        checks.append(lambda image: wanted <= set(image.tags))
    for key, value in query.filters.items():
        check = _filter(key, value)
        if check is not None:
            checks.append(check)
    return checks


def _boolean(filters: Mapping[str, str], field: str, *, default: bool) -> Predicate:
    raw = filters.get(field, "true" if default else "false").lower()
    if raw not in ("true", "false"):
        raise Invalid(
            f"Invalid value '{raw}' for '{field}' filter. Valid values are 'true' or 'false'."
        )
    wanted = raw == "true"
    return lambda image: bool(getattr(image, field)) == wanted


def _filter(key: str, value: str) -> Predicate | None:
    if key in ("visibility", "os_hidden", "protected"):
        return None  # handled by the scope and `_boolean`
    if key == "changes-since":
        raise Invalid('The "changes-since" filter is no longer available on v2.')
    if key.endswith(("_min", "_max")):
        return _range(key, value)
    if key in _TIME_FIELDS:
        return _time(key, value)
    if key in _IN_FIELDS:
        return _listed(key, value)
    if key in _INT_FIELDS:
        return lambda image: str(getattr(image, key)) == value.strip()
    if key in _TEXT_FIELDS:
        return lambda image: getattr(image, key) == value
    return lambda image: image.properties.get(key) == value


def _range(key: str, value: str) -> Predicate:
    field = key[:-4]
    if field not in _INT_FIELDS:
        raise Invalid(f"Unable to filter on a range of {field!r}: it is not a number field.")
    try:
        bound = int(value)
    except ValueError:
        raise Invalid("Unable to filter on a range with a non-numeric value.") from None
    if key.endswith("_min"):
        return lambda image: getattr(image, field) is not None and getattr(image, field) >= bound
    return lambda image: getattr(image, field) is not None and getattr(image, field) <= bound


def _split_op(expression: str) -> tuple[str, str]:
    """``op:value`` → (op, value); a bare value (or an ISO time with colons) is ``eq``."""
    left, sep, right = expression.partition(":")
    if not sep or _parse_time(expression) is not None:
        return "eq", expression
    return left, right


def _parse_time(text: str) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _time(key: str, value: str) -> Predicate:
    op, text = _split_op(value)
    threshold = _parse_time(text)
    if threshold is None:
        raise Invalid(f'Bad "{key}" query filter format. Use ISO 8601 DateTime notation.')
    if op not in _TIME_OPS:
        raise Invalid("Unable to filter on a unknown operator.")
    compare = _TIME_OPS[op]

    def check(image: Image) -> bool:
        moment = getattr(image, key) or image.created_at
        return compare(moment.replace(microsecond=0), threshold.replace(microsecond=0))

    return check


def split_in_values(text: str) -> list[str]:
    """The values of an ``in:`` list: comma-separated, double quotes around commas."""
    _check_quotes(text)
    return [quoted or plain for quoted, plain in _QUOTED.findall(text)]


def _check_quotes(value: str) -> None:
    opened = False
    for i, char in enumerate(value):
        if char != '"' or (i and value[i - 1] == "\\"):
            continue
        if not opened and i and value[i - 1] != ",":
            raise Invalid(f"Invalid filter value {value}: no comma before an opening quote.")
        if opened and i + 1 != len(value) and value[i + 1] != ",":
            raise Invalid(f"Invalid filter value {value}: no comma after a closing quote.")
        opened = not opened
    if opened:
        raise Invalid(f"Invalid filter value {value}. The quote is not closed.")


def _listed(key: str, value: str) -> Predicate:
    op, text = _split_op(value)
    if op == "in":
        allowed = set(split_in_values(text))
        return lambda image: getattr(image, key) in allowed
    if op == "eq":
        return lambda image: getattr(image, key) == text
    raise Invalid(f"Unable to filter by unknown operator '{op}'.")


# -- order -----------------------------------------------------------------------


def _sorting(query: ImageQuery) -> tuple[list[str], list[str]]:
    keys, dirs = list(query.sort_keys), list(query.sort_dirs)
    for key in keys:
        if key not in SORT_KEYS:
            choices = ", ".join(SORT_KEYS)
            raise Invalid(f"Invalid sort key: {key}. It must be one of the following: {choices}.")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise Invalid(f"Invalid sort direction: {direction}")
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise Invalid("Number of sort dirs does not match the number of sort keys")
    keys = keys or ["created_at"]
    default = dirs[0] if len(dirs) == 1 else "desc"
    dirs = dirs if len(dirs) > 1 else [default] * len(keys)
    for key in ("created_at", "id"):
        if key not in keys:
            keys.append(key)
            dirs.append(default)
    return keys, dirs


def _comparator(keys: list[str], dirs: list[str]) -> Callable[[Image, Image], int]:
    def compare(a: Image, b: Image) -> int:
        for key, direction in zip(keys, dirs, strict=True):
            left, right = getattr(a, key), getattr(b, key)
            if left == right:
                continue
            # As SQL: NULL sorts first ascending, last descending.
            if left is None or right is None:
                order = -1 if left is None else 1
            else:
                order = -1 if left < right else 1
            return order if direction == "asc" else -order
        return 0

    return compare
