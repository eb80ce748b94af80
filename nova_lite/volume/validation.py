"""Checks for volume endpoint arguments that only volumes have: sizes, metadata, texts.

Names and the checks the services share are in `nova_lite.validators`.
"""

from __future__ import annotations

from collections.abc import Mapping

from nova_lite.exceptions import Invalid

__all__ = ["MAX_SIZE_GB", "description", "metadata", "metadata_key", "size"]

MAX_SIZE_GB = 16384
MAX_DESCRIPTION = 255


def size(value: object, field: str = "size") -> int:
    """`value` if it is a whole number of GiB from 1 to `MAX_SIZE_GB`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE_GB:
        raise Invalid(
            f"{field} must be a whole number of GiB from 1 to {MAX_SIZE_GB}, not {value!r}."
        )
    return value


def description(value: object, field: str = "description") -> str | None:
    """A Cinder description: None, or a string of up to 255 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise Invalid(
            f"{field} must be a string of at most {MAX_DESCRIPTION} characters, not {value!r:.80}.",
            field=field,
        )
    return value


def metadata_key(value: object) -> str:
    """A metadata key: 1 to 255 characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise Invalid(f"Metadata keys must be 1 to 255 characters, not {value!r:.80}.")
    return value


def metadata(value: object, field: str = "metadata") -> dict[str, str]:
    """Cinder's metadata: an object of keys (1-255 characters) to strings (up to 255)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Invalid(f"{field} must be an object of strings, not {value!r:.80}.")
    checked = {}
    for key, item in value.items():
        if not isinstance(item, str) or len(item) > 255:
            raise Invalid(f"{field} value of {key!r:.80} must be a string of at most 255.")
        checked[metadata_key(key)] = item
    return checked
