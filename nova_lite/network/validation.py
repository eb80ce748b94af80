"""Checks for endpoint arguments: wrong types or values raise `Invalid` naming the field."""

from __future__ import annotations

from collections.abc import Sequence

from nova_lite.exceptions import Invalid

__all__ = ["boolean", "optional_text", "text", "text_list"]


def text(field: str, value: object, *, max_length: int = 255, empty: bool = False) -> str:
    """`value` if it is a string of an allowed length."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, not {value!r}.")
    if not value.strip() and not empty:
        raise Invalid(f"{field} must not be empty.")
    if len(value) > max_length:
        raise Invalid(f"{field} {value[:40]!r}... is longer than {max_length} characters.")
    return value


def optional_text(field: str, value: object) -> str | None:
    """`value` if it is None or a non-empty string."""
    return None if value is None else text(field, value)


def boolean(field: str, value: object) -> bool:
    """`value` if it is a real boolean (not 0/1 or a string)."""
    if not isinstance(value, bool):
        raise Invalid(f"{field} must be true or false, not {value!r}.")
    return value


def text_list(field: str, value: object) -> list[str]:
    """`value` as a list if it is a list (or tuple) of non-empty strings."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise Invalid(f"{field} must be a list of ids, not {value!r}.")
    return [text(f"{field}[{i}]", item) for i, item in enumerate(value)]
