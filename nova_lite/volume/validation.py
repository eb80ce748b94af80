"""Checks for volume endpoint arguments: bad values raise `Invalid` naming the field."""

from __future__ import annotations

from nova_lite.exceptions import Invalid

__all__ = ["MAX_SIZE_GB", "optional_text", "size", "text"]

MAX_SIZE_GB = 16384


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


def size(value: object) -> int:
    """`value` if it is a whole number of GiB from 1 to `MAX_SIZE_GB`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE_GB:
        raise Invalid(f"size must be a whole number of GiB from 1 to {MAX_SIZE_GB}, not {value!r}.")
    return value
