"""The building blocks of the request schemas: Nova's parameter types, as JSON Schema."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BOOLEAN",
    "MAX_INT",
    "METADATA",
    "NAME",
    "UUID_LIKE",
    "Schema",
    "count",
    "nullable",
    "obj",
    "text",
]

Schema = dict[str, Any]
MAX_INT = 2**31 - 1  # what Nova's database columns hold


# Nova's parameter_types.boolean: the spellings its API takes for true and false.
BOOLEAN: Schema = {
    "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
             False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f"]
}  # fmt: skip


def text(max_length: int = 255, min_length: int = 0) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def count(minimum: int = 0, maximum: int = MAX_INT) -> Schema:
    """Nova's non-negative/positive integer: an integer, or a string of digits."""
    return {
        "anyOf": [
            {"type": "integer", "minimum": minimum, "maximum": maximum},
            {"type": "string", "pattern": "^[0-9]{1,10}$"},
        ]
    }


def obj(properties: Schema, *, required: tuple[str, ...] = (), extra: bool = False) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": extra,
    }


NAME = text(255, 1)
UUID_LIKE = text(255, 1)
# Nova's parameter_types.metadata: keys of 1-255 letters, digits and ``-_:.`` or
# spaces, values up to 255 characters (400); more than maxServerMeta items is the
# metadata_items quota, a 403 from the servers API, so the count is not capped here.
METADATA: Schema = {
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9-_:. ]{1,255}$"},
    "additionalProperties": text(255),
}
