"""The values a server's record takes from its users, checked as Nova's API checks them.

Access addresses (kept in their usual spelling, so ``0000::babe:220.12.22.2`` is
``::babe:dc0c:1602``, as Nova answers it), descriptions (2.19), tags (1-60
characters, no ``/`` or ``,``), user data (base64) and metadata items; and
`CreateFields`, what a create gives besides flavor, image and networks. Each check
raises `Invalid` (400) naming the field, or `QuotaExceeded` (403) past 128
metadata items.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping

import attrs

from nova_lite import validators
from nova_lite.conductor.instance_edits import MAX_SERVER_META
from nova_lite.exceptions import Invalid, QuotaExceeded

__all__ = [
    "MAX_TAG_LENGTH",
    "CreateFields",
    "access_ip",
    "check_description",
    "check_items",
    "check_tag",
    "check_user_data",
    "checked_metadata",
]

MAX_TAG_LENGTH = 60
MAX_DESCRIPTION = 255
MAX_USER_DATA = 65535  # characters of base64 text, as Nova's schema


def access_ip(value: object, version: int) -> str:
    """An access address of IP `version` in its usual spelling; "" unsets it."""
    if value in ("", None):
        return ""
    field = f"accessIPv{version}"
    try:
        address = ipaddress.ip_address(validators.text(field, value, max_length=64))
    except ValueError:
        raise Invalid(f"Invalid input for field/attribute {field}. Value: {value!r}.") from None
    if address.version != version:
        raise Invalid(f"{field} must be an IPv{version} address, not {value!r}.")
    return str(address)


def check_description(value: object) -> str | None:
    """A server description (2.19): None, or up to 255 printable characters."""
    if value is None:
        return None
    text = validators.text("description", value, max_length=MAX_DESCRIPTION, empty=True)
    if not text.isprintable():
        raise Invalid(f"Invalid input for field/attribute description. Value: {value!r:.80}.")
    return text


def check_tag(value: object) -> str:
    """A server tag: 1-60 characters, neither ``/`` nor ``,``."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_TAG_LENGTH
        or set(value)
        & {
            "/",
            ",",
        }
    ):
        raise Invalid(
            f"Tag {value!r:.80} is invalid. It must be a non empty string of at most "
            f"{MAX_TAG_LENGTH} characters without characters '/' and ','."
        )
    return value


def check_user_data(value: object) -> str | None:
    """User data for the guest: None, or base64 text of at most 65,535 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_USER_DATA:
        raise Invalid(f"user_data must be base64 text of at most {MAX_USER_DATA} characters.")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("User data needs to be valid base 64.") from None
    return value


@attrs.frozen(kw_only=True)
class CreateFields:
    """What a server create may give besides flavor, image and networks (Nova's fields)."""

    description: str | None = None
    key_name: str | None = None
    access_ip_v4: str = ""
    access_ip_v6: str = ""
    auto_disk_config: bool = False
    user_data: str | None = None
    tags: tuple[str, ...] = ()


def checked_metadata(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise Invalid(f"Invalid input for field/attribute metadata. Value: {value!r:.80}.")
    check_items(value)
    if len(value) > MAX_SERVER_META:
        raise QuotaExceeded(
            f"Quota exceeded for metadata_items: {len(value)} metadata items are more than "
            f"the {MAX_SERVER_META} allowed (maxServerMeta).",
            resource="metadata_items",
        )
    return dict(value)


def check_items(items: Mapping[str, str]) -> None:
    for key, value in items.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise Invalid(f"A metadata key must be 1 to 255 characters: {key!r:.80}.")
        if not isinstance(value, str) or len(value) > 255:
            raise Invalid(f"Metadata {key!r:.80} must be a string of at most 255 characters.")
