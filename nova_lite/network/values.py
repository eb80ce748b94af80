"""Reading a request's Neutron attributes, each checked where it enters the service.

Every create and update endpoint takes its resource's attributes as a mapping under
Neutron's names (``name``, ``admin_state_up``, ``router:external``, ...). These
helpers refuse an attribute the resource does not have (Neutron's "Unrecognized
attribute(s)") and read each value with the type Neutron gives it, raising `Invalid`
that names the attribute and the value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid

__all__ = ["DESCRIPTION_MAX", "description", "flag", "known", "name", "owner", "whole"]

DESCRIPTION_MAX = 255  # Neutron's DESCRIPTION_MAX_LEN


def known(values: Mapping[str, Any], allowed: Collection[str], resource: str) -> dict[str, Any]:
    """`values` as a dict, if every attribute is one `resource` has."""
    if not isinstance(values, Mapping):
        raise Invalid(f"Invalid input for {resource}: an object of attributes is required.")
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise Invalid(f"Unrecognized attribute(s) {names} for a {resource}.")
    return dict(values)


def name(values: Mapping[str, Any], default: str = "") -> str:
    """The ``name`` (Neutron's: up to 255 characters, possibly empty, not null)."""
    return check.network_name(values.get("name", default))


def description(values: Mapping[str, Any], default: str = "") -> str:
    """The ``description``: up to 255 characters, possibly empty."""
    value = values.get("description", default)
    return check.text("description", value, max_length=DESCRIPTION_MAX, empty=True)


def flag(values: Mapping[str, Any], key: str, default: bool) -> bool:
    """A boolean attribute (a real boolean: Neutron converts no strings here)."""
    return check.boolean(key, values.get(key, default))


def whole(
    values: Mapping[str, Any], key: str, default: int | None, low: int, high: int
) -> int | None:
    """An integer attribute between `low` and `high` (None where Neutron allows it)."""
    value = values.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"Invalid input for {key}: {value!r} is not an integer.")
    if not low <= value <= high:
        raise Invalid(f"Invalid input for {key}: {value} is not in [{low}, {high}].")
    return value


def owner(ctx: RequestContext, values: Mapping[str, Any]) -> str | None:
    """The project a new resource belongs to: the caller's, or (admins) the one named.

    ``project_id`` and ``tenant_id`` are synonyms and must agree; naming another
    project than one's own needs an administrator, as in Neutron.
    """
    named = {values[key] for key in ("project_id", "tenant_id") if values.get(key) is not None}
    if len(named) > 1:
        raise Invalid("project_id and tenant_id do not match; give one of them.")
    if not named:
        return ctx.project_id
    project = check.text("project_id", named.pop())
    if project != ctx.project_id and not ctx.is_admin:
        raise Invalid(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
            "in request requires admin privileges."
        )
    return project
