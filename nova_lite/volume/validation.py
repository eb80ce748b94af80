"""Checks for volume endpoint arguments that only volumes have: their size.

Names and the checks the services share are in `nova_lite.validators`.
"""

from __future__ import annotations

from nova_lite.exceptions import Invalid

__all__ = ["MAX_SIZE_GB", "size"]

MAX_SIZE_GB = 16384


def size(value: object) -> int:
    """`value` if it is a whole number of GiB from 1 to `MAX_SIZE_GB`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE_GB:
        raise Invalid(f"size must be a whole number of GiB from 1 to {MAX_SIZE_GB}, not {value!r}.")
    return value
