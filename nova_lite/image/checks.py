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
from nova_lite.exceptions import Forbidden, ImageLimitExceeded, ImageNotFound, Invalid

__all__ = [
    "CONTAINER_FORMATS",
    "CORE_FIELDS",
    "DISK_FORMATS",
    "MAX_MEMBERS",
    "MAX_PROPERTIES",
    "MAX_TAG",
    "MAX_TAGS",
    "MEMBER_STATUSES",
    "READ_ONLY",
    "STATUSES",
    "VISIBILITIES",
    "check_choice",
    "check_count",
    "check_extra_names",
    "check_image_id",
    "check_properties",
    "check_tag",
    "check_tags",
    "chunk_limit",
    "decode_chunk",
    "is_image_id",
]

# Glance's defaults ([image_format] disk_formats, container_formats).
DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("community", "public", "private", "shared")
STATUSES = (
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
)
MEMBER_STATUSES = ("pending", "accepted", "rejected")
MAX_PROPERTY_NAME = 255
MAX_PROPERTIES = 128  # Glance's image_property_quota
MAX_PROPERTY_VALUE = 65535
MAX_TAG = 255
MAX_TAGS = 128  # Glance's image_tag_quota
MAX_MEMBERS = 128  # Glance's image_member_quota
# The image's own fields a caller may set (everything else is an extra property).
CORE_FIELDS = (
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "owner",
    "tags",
)
# What Glance computes or keeps for itself: setting these is 403.
READ_ONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
    "stores",
)
_RESERVED = ("location", "deleted", "deleted_at")
_RESERVED_PREFIX = "os_glance"
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
        raise ImageLimitExceeded(
            f"Maximum number of image properties exceeded: {len(value)} of {MAX_PROPERTIES}."
        )
    check_extra_names(value)
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_PROPERTY_NAME:
            raise Invalid(f"property name {key!r:.80} must be 1 to {MAX_PROPERTY_NAME} characters.")
        if item is None and allow_none:
            continue
        if not isinstance(item, str) or len(item) > MAX_PROPERTY_VALUE:
            raise Invalid(f"property {key!r} must have a string value, not {item!r:.80}.")
    return value


def check_extra_names(names: Any) -> None:
    """Refuse extra property names Glance refuses: its own fields, read-only and reserved
    names (``os_glance_*``, ``location``, ...) are 403, as Glance answers."""
    for name in names:
        if not isinstance(name, str):
            continue  # check_properties reports it
        if name in READ_ONLY:
            raise Forbidden(f"Attribute '{name}' is read-only.")
        if name in _RESERVED or name.startswith(_RESERVED_PREFIX):
            raise Forbidden(f"Attribute '{name}' is reserved.")
        if name in CORE_FIELDS:
            raise Invalid(f"{name!r} is an image field, not an extra property.")


def check_tag(value: Any) -> str:
    """`value` if it can be an image tag: a string of 1 to 255 characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TAG:
        raise Invalid(f"Image tag {value!r:.80} must be a string of 1 to {MAX_TAG} characters.")
    return value


def check_tags(value: Any) -> tuple[str, ...]:
    """`value` as tags: strings, duplicates dropped (first kept), at most `MAX_TAGS`."""
    if not isinstance(value, list | tuple):
        raise Invalid(f"tags must be a list of strings, not {type(value).__name__}.")
    tags = tuple(dict.fromkeys(check_tag(tag) for tag in value))
    if len(tags) > MAX_TAGS:
        raise ImageLimitExceeded(
            f"Maximum number of tags exceeded: {len(tags)} of {MAX_TAGS} for an image."
        )
    return tags


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
