"""Glance's metadata-definition (metadefs) schemas, as ``/v2/schemas/metadefs/*`` serves
them: namespaces, resource type associations, objects, properties and tags.

They describe Glance's catalog of metadata definitions; nova_lite serves the schemas
(clients read them) but not the catalog itself (see the README's "not served").
"""

from __future__ import annotations

from typing import Any

__all__ = ["METADEF_SCHEMAS"]

Schema = dict[str, Any]
_TIME: Schema = {"type": "string", "readOnly": True, "format": "date-time"}


def _text(max_length: int | None = None, **rules: Any) -> Schema:
    schema: Schema = {"type": "string", **rules}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _definitions() -> Schema:
    """The shared definitions (positive integers, string arrays, a property's schema)."""
    return {
        "positiveInteger": {"type": "integer", "minimum": 0},
        "positiveIntegerDefault0": {
            "allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]
        },
        "stringArray": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "property": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["title", "type"],
                "properties": _property_fields(),
            },
        },
    }


def _property_fields() -> Schema:
    kinds = ["array", "boolean", "integer", "number", "object", "string", None]
    return {
        "name": _text(80),
        "title": _text(),
        "description": _text(),
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": kinds},
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": kinds},
                "enum": {"type": "array"},
            },
        },
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": False},
        "additionalItems": {"type": "boolean"},
    }


def _schema(name: str, properties: Schema, required: list[str], *, defs: bool = False) -> Schema:
    schema: Schema = {
        "name": name,
        "properties": properties,
        "additionalProperties": False,
        "required": required,
    }
    if defs:
        schema["definitions"] = _definitions()
    return schema


def _collection(name: str, item: Schema) -> Schema:
    item = {k: v for k, v in item.items() if k != "definitions"}
    schema: Schema = {
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }
    if "definitions" in item or name in ("namespaces", "objects"):
        schema["definitions"] = _definitions()
    return schema


def _resource_type() -> Schema:
    return _schema(
        "resource_type_association",
        {
            "name": _text(80, description="Resource type names should be aligned with Heat."),
            "prefix": _text(80, description="Specifies the prefix to use for the given resource."),
            "properties_target": _text(
                80,
                description="Some resource types allow more than one"
                " key / value pair per instance.",
            ),
            "created_at": _TIME,
            "updated_at": _TIME,
        },
        ["name"],
    )


def _object() -> Schema:
    return _schema(
        "object",
        {
            "name": _text(80),
            "description": _text(),
            "required": {"$ref": "#/definitions/stringArray"},
            "properties": {"$ref": "#/definitions/property"},
            "schema": {"readOnly": True, "type": "string"},
            "self": {"readOnly": True, "type": "string"},
            "created_at": _TIME,
            "updated_at": _TIME,
        },
        ["name"],
        defs=True,
    )


def _tag() -> Schema:
    return _schema("tag", {"name": _text(255), "created_at": _TIME, "updated_at": _TIME}, ["name"])


def _namespace() -> Schema:
    return _schema(
        "namespace",
        {
            "namespace": _text(80, description="The unique namespace text."),
            "display_name": _text(80, description="The user friendly name for the namespace."),
            "description": _text(500, description="Provides a user friendly description."),
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "protected": {"type": "boolean"},
            "owner": _text(255, description="Owner of the namespace."),
            "created_at": _TIME,
            "updated_at": _TIME,
            "schema": {"readOnly": True, "type": "string"},
            "self": {"readOnly": True, "type": "string"},
            "resource_type_associations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "prefix": {"type": "string"},
                        "properties_target": {"type": "string"},
                    },
                },
            },
            "properties": {"$ref": "#/definitions/property"},
            "objects": {
                "type": "array",
                "items": {k: v for k, v in _object().items() if k in ("properties", "required")},
            },
            "tags": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
        ["namespace"],
        defs=True,
    )


def _property() -> Schema:
    fields = _property_fields()
    return {
        "name": "property",
        "properties": fields,
        "required": ["name", "title", "type"],
        "additionalProperties": False,
        "definitions": {k: v for k, v in _definitions().items() if k != "property"},
    }


def _properties() -> Schema:
    item = _property()
    return {
        "name": "properties",
        "properties": {
            "properties": {
                "type": "object",
                "additionalProperties": {k: v for k, v in item.items() if k != "definitions"},
            },
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
        "definitions": item["definitions"],
    }


METADEF_SCHEMAS: dict[str, Schema] = {
    "namespace": _namespace(),
    "namespaces": _collection("namespaces", _namespace()),
    "resource_type": _resource_type(),
    "resource_types": _collection("resource_type_associations", _resource_type()),
    "object": _object(),
    "objects": _collection("objects", _object()),
    "property": _property(),
    "properties": _properties(),
    "tag": _tag(),
    "tags": _collection("tags", _tag()),
}
"""The documents at ``/v2/schemas/metadefs/{name}``, by name."""
