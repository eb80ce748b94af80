"""Input checks of the identity service's endpoints.

Values arrive from the bus as JSON, so each endpoint checks types and ranges where
they enter, as Keystone's schemas do (its front end checks the same again). Secrets
(passwords, tokens, application credential secrets) are never echoed in an error
message. User, group, project and domain names follow Keystone's rules, in
`nova_lite.validators`. Attributes a body carries beyond the known ones are kept, as
Keystone keeps them, within the caps here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from nova_lite import validators
from nova_lite.exceptions import Invalid

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_EXTRA_BYTES",
    "MAX_SECRET",
    "MAX_TAGS",
    "boolean",
    "check_secret",
    "check_text",
    "decode",
    "encode_extra",
    "extras",
    "identifier",
    "name",
    "only_fields",
    "optional_text",
    "options",
    "query_bool",
    "tag",
    "tags",
]

MAX_DESCRIPTION = 255
MAX_LONG_TEXT = 65535  # Keystone's TEXT columns (descriptions of projects, blobs)
MAX_SECRET = 1024
MAX_ID = 255  # Keystone's id_string: 1-64 in most tables, 255 where it is a name
MAX_EXTRA_BYTES = 16384
MAX_TAGS = 80  # Keystone's per-project limit


def check_text(field: str, value: Any, *, max_length: int = MAX_DESCRIPTION) -> str:
    """`value` if it is a string of at most `max_length` characters."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, not {type(value).__name__}.", field=field)
    if len(value) > max_length:
        raise Invalid(
            f"{field} must be at most {max_length} characters long, not {len(value)}.",
            field=field,
        )
    return value


def optional_text(field: str, value: Any, *, max_length: int = MAX_LONG_TEXT) -> str:
    """A description: a string of at most `max_length` characters (None reads as empty)."""
    if value is None:
        return ""
    text = check_text(field, value, max_length=max_length)
    if "\x00" in text:
        raise Invalid(f"{field} must not contain a NUL character.", field=field)
    return text


def check_secret(field: str, value: Any) -> str:
    """`value` if it is a non-empty string of sane length; errors never show it."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, not {type(value).__name__}.", field=field)
    if not 1 <= len(value) <= MAX_SECRET:
        raise Invalid(f"{field} must be 1 to {MAX_SECRET} characters long.", field=field)
    return value


def name(field: str, value: Any, *, kind: str) -> str:
    """A name by Keystone's rules for `kind`: projects and domains 1-64, else 1-255."""
    if kind in ("project", "domain"):
        return validators.project_name(value, field)
    return validators.user_name(value, field)


def identifier(field: str, value: Any) -> str:
    """An id sent by a caller: a non-empty string of at most 255 characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID:
        raise Invalid(f"{field} must be an id (1 to {MAX_ID} characters).", field=field)
    return value


def boolean(field: str, value: Any) -> bool:
    """`value` if it is a JSON boolean (Keystone takes no strings for these)."""
    if not isinstance(value, bool):
        raise Invalid(f"{field} must be a boolean, not {value!r:.40}.", field=field)
    return value


def tag(value: Any, field: str = "tag") -> str:
    """A project tag: 1-255 characters, without ``/`` or ``,`` (the API-WG rule)."""
    text = check_text(field, value)
    if not text or "/" in text or "," in text:
        raise Invalid(f"Invalid {field} {text!r:.80}: 1-255 characters, no '/' or ','.")
    return text


def tags(value: Any, field: str = "tags") -> list[str]:
    """A list of at most `MAX_TAGS` distinct tags."""
    if not isinstance(value, list):
        raise Invalid(f"{field} must be a list of tags.", field=field)
    if len(value) > MAX_TAGS:
        raise Invalid(f"A project has at most {MAX_TAGS} tags, not {len(value)}.", field=field)
    checked = [tag(item, field) for item in value]
    if len(set(checked)) != len(checked):
        raise Invalid(f"{field} has the same tag twice.", field=field)
    return checked


def only_fields(body: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """`Invalid` naming the first field of `body` that `allowed` does not hold."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Invalid(f"Additional properties are not allowed in {where} ({unknown[0]!r}).")


def encode_extra(extra: Mapping[str, Any]) -> str:
    """The attributes Keystone keeps as given, as JSON of at most `MAX_EXTRA_BYTES`."""
    try:
        text = orjson.dumps(dict(extra)).decode()
    except TypeError as exc:
        raise Invalid(f"Extra attributes must be JSON values: {exc}.") from None
    if len(text) > MAX_EXTRA_BYTES:
        raise Invalid(f"Extra attributes take at most {MAX_EXTRA_BYTES} bytes of JSON.")
    if any(not isinstance(key, str) or len(key) > MAX_DESCRIPTION for key in extra):
        raise Invalid(f"Attribute names are strings of at most {MAX_DESCRIPTION} characters.")
    return text


def decode(text: str) -> dict[str, Any]:
    """A JSON object stored by this service."""
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


def query_bool(value: str) -> bool:
    """A boolean query parameter as Keystone reads one: 0, false, no or off are false."""
    return value.strip().lower() not in ("0", "false", "no", "off")


def options(value: Any, field: str = "options") -> None:
    """Keystone's resource options: none are served, so only an empty object is taken."""
    if value is None or value == {}:
        return
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object.", field=field)
    raise Invalid(f"Resource options ({', '.join(sorted(value))}) are not served.", field=field)


def extras(body: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """The attributes of `body` outside `known`, which Keystone keeps as given."""
    skip = set(known)
    return {key: value for key, value in body.items() if key not in skip}
