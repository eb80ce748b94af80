"""An instance with some of its fields changed, as a save makes it.

The conductor's `InstanceStore` applies each save's values through `apply_values`;
a compute host that saved through ``instance_save`` (conductor 1.2) and was told
that nobody else wrote the record since it last had it makes the same record here
with the same function, from the values it sent and the ``updated_at`` the
conductor gave them, instead of receiving the whole record back.
"""

from __future__ import annotations

import datetime
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from nova_lite import objects
from nova_lite.exceptions import Invalid

__all__ = ["apply_values", "evolve"]


def apply_values(
    instance: objects.Instance,
    values: Mapping[str, Any],
    *,
    updated_at: datetime.datetime | None = None,
) -> objects.Instance:
    """`instance` with `values` (primitives or objects) in place, and `updated_at`
    (now, if not given).

    Each value is made its field's type by the data converter, as a whole record
    loaded from its JSON would have it.
    """
    converter = objects.serializer().converter
    types = _field_types()
    plain = _plain_types()
    try:
        changes = {
            name: value
            if type(value) in plain[name]  # already what the field holds: nothing to convert
            else converter.structure(converter.unstructure(value), types[name])
            for name, value in values.items()
        }
        changes["updated_at"] = objects.utcnow() if updated_at is None else updated_at
        return evolve(instance, changes)
    except Exception as exc:
        raise Invalid(f"Invalid instance update {sorted(values)}: {exc}") from None


def evolve(instance: objects.Instance, changes: dict[str, Any]) -> objects.Instance:
    """`attrs.evolve(instance, **changes)` for values already of their fields' types.

    `Instance` has no validators, converters or post-init hook, so a copy of its
    slots with `changes` set is what evolve would make, without evolve's walk over
    the fields' definitions and its keyword call of ``__init__`` (a third of its
    time, on every save). Were any of those added, evolve is used again.
    """
    names, read = _slots()
    if not read:
        return attrs.evolve(instance, **changes)
    unknown = changes.keys() - names
    if unknown:  # as evolve would refuse it
        raise TypeError(f"Instance has no fields {sorted(unknown)}.")
    made = object.__new__(objects.Instance)
    for name, value in zip(names, read(instance), strict=True):
        _set(made, name, value)
    for name, value in changes.items():
        _set(made, name, value)
    return made


_set = object.__setattr__


@functools.cache
def _slots() -> tuple[tuple[str, ...], Callable[[objects.Instance], tuple[Any, ...]] | None]:
    """`Instance`'s field names, and a reader of their values (None if a field has a
    validator or converter, or the class a post-init hook: then evolve must run)."""
    fields = attrs.fields(objects.Instance)
    names = tuple(field.name for field in fields)
    plain = not hasattr(objects.Instance, "__attrs_post_init__") and all(
        field.validator is None and field.converter is None and field.init for field in fields
    )
    return names, operator.attrgetter(*names) if plain else None


_SCALARS: dict[Any, frozenset[type]] = {
    str: frozenset({str}),
    int: frozenset({int}),
    bool: frozenset({bool}),
    str | None: frozenset({str, type(None)}),
    int | None: frozenset({int, type(None)}),
    bool | None: frozenset({bool, type(None)}),
}


@functools.cache
def _plain_types() -> dict[str, frozenset[type]]:
    """Per field, the exact value types a converted value would come out as unchanged
    (text for a ``str | None`` field, None): those skip the converter's round trip."""
    return {name: _SCALARS.get(tp, frozenset()) for name, tp in _field_types().items()}


@functools.cache
def _field_types() -> dict[str, Any]:
    """Each `Instance` field's type (annotations resolved)."""
    return {field.name: field.type for field in attrs.fields(attrs.resolve_types(objects.Instance))}
