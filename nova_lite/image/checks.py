"""Input checks for the image service's endpoints, and its chunk-size limit.

Values arrive from the bus as JSON, so each endpoint checks types and ranges where
they enter; errors are `Invalid` with a message naming the field and the value.
Image names follow Glance's rule, in `nova_lite.validators`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from nova_lite.config import Config
from nova_lite.exceptions import ImageNotFound, Invalid

__all__ = [
    "CONTAINER_FORMATS",
    "DISK_FORMATS",
    "VISIBILITIES",
    "check_choice",
    "check_count",
    "check_image_id",
    "check_properties",
    "chunk_limit",
    "decode_chunk",
    "is_image_id",
]

DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "iso", "ari", "aki", "ami")
CONTAINER_FORMATS = ("bare", "ovf", "aki", "ari", "ami")
VISIBILITIES = ("public", "private")
MAX_PROPERTY_NAME = 255
MAX_PROPERTIES = 128
MAX_PROPERTY_VALUE = 65535
_ENVELOPE_ROOM = 64 * 1024  # what a chunk's RPC message needs besides the data


def is_image_id(value: object) -> bool:
    """Whether `value` is an image id: a UUID in canonical text form."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def check_image_id(value: Any) -> str:
    """`value` if it can be an image id; `ImageNotFound` for any other string."""
    if not isinstance(value, str):
        raise Invalid(f"image_id must be a string, not {type(value).__name__}.")
    if not is_image_id(value):
        raise ImageNotFound(f"Image {value!r:.80} could not be found.", image_id=value[:80])
    return value


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    """`value` if it is one of `choices`."""
    if value not in choices:
        raise Invalid(f"{field} {value!r:.80} is not one of: {', '.join(choices)}.")
    return str(value)


def check_count(field: str, value: Any, *, minimum: int = 0) -> int:
    """`value` if it is an integer (not a boolean) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise Invalid(f"{field} must be an integer of at least {minimum}, not {value!r:.80}.")
    return value


def check_properties(value: Any, *, allow_none: bool = False) -> dict[str, str | None]:
    """`value` if it is a dict of string keys to string values (or None, to remove)."""
    if not isinstance(value, dict):
        raise Invalid(f"properties must be a dict, not {type(value).__name__}.")
    if len(value) > MAX_PROPERTIES:
        raise Invalid(f"properties may hold at most {MAX_PROPERTIES} keys, not {len(value)}.")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_PROPERTY_NAME:
            raise Invalid(f"property name {key!r:.80} must be 1 to {MAX_PROPERTY_NAME} characters.")
        if item is None and allow_none:
            continue
        if not isinstance(item, str) or len(item) > MAX_PROPERTY_VALUE:
            raise Invalid(f"property {key!r} must have a string value, not {item!r:.80}.")
    return value


def decode_chunk(value: Any) -> bytes:
    """The bytes a base64 chunk carries."""
    if not isinstance(value, str):
        raise Invalid(f"data_b64 must be a base64 string, not {type(value).__name__}.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"data_b64 is not valid base64: {value[:40]!r}...") from None


def chunk_limit(config: Config) -> int:
    """The largest chunk to move in one RPC message: ``[image] chunk_bytes``, or less
    if its base64 form would not fit ``[rpc] max_message_bytes``."""
    fits = (config.rpc.max_message_bytes - _ENVELOPE_ROOM) * 3 // 4
    return max(1, min(config.image.chunk_bytes, fits))
