"""Request schemas of the image API (Glance v2).

An image create body is checked against Glance's image schema itself (the one
``/v2/schemas/image`` serves, `nova_lite.image.glance_schema`): its fields with their
types, and any other key an extra property whose value is a string. Fields Glance
computes (``status``, ``size``, ...) pass the schema and are refused by the handler
with 403, as Glance does; more than 128 extra properties is the image service's 413.
"""

from __future__ import annotations

from nova_lite.api.http.image_metadef_schemas import METADEF_SCHEMAS
from nova_lite.api.http.schemas.types import Schema, text
from nova_lite.image import glance_schema


def _image_create() -> Schema:
    image = glance_schema.image_schema()
    return {
        "type": "object",
        "properties": image["properties"],
        "propertyNames": {"maxLength": 255},
        "additionalProperties": text(65535),  # extra properties, as Glance's
    }


IMAGE_CREATE: Schema = _image_create()
MEMBER_CREATE: Schema = {
    "type": "object",
    "properties": {"member": text(255, 1)},
    "required": ["member"],
}
MEMBER_UPDATE: Schema = {
    "type": "object",
    "properties": {"status": {"type": "string"}},
    "required": ["status"],
}
IMPORT: Schema = {
    "type": "object",
    "properties": {
        "method": {"type": "object", "properties": {"name": {"type": "string"}}},
        "stores": {"type": "array", "items": {"type": "string"}},
        "all_stores": {"type": "boolean"},
        "all_stores_must_succeed": {"type": "boolean"},
    },
}


def _metadef(name: str) -> Schema:
    """Glance's metadefs schema `name` as a request body schema."""
    schema = {k: v for k, v in METADEF_SCHEMAS[name].items() if k not in ("name", "links")}
    readonly = ("created_at", "updated_at", "schema", "self")
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in readonly}
    return {"type": "object", **schema}


METADEF_TAGS: Schema = {
    "type": "object",
    "properties": {
        "tags": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": text(255, 1)}, "required": ["name"]},
        }
    },
    "required": ["tags"],
}
# Glance's task schema: a type and an input object (its fields are the task's own).
TASK_CREATE: Schema = {
    "type": "object",
    "properties": {"type": text(255, 1), "input": {"type": "object"}},
    "required": ["type", "input"],
    "additionalProperties": False,
}
SCHEMAS: dict[str, Schema] = {
    "image_import_image": IMPORT,
    "image_create_task": TASK_CREATE,
    "image_create_metadef_namespace": _metadef("namespace"),
    "image_update_metadef_namespace": _metadef("namespace"),
    "image_create_metadef_association": _metadef("resource_type"),
    "image_create_metadef_property": _metadef("property"),
    "image_update_metadef_property": _metadef("property"),
    "image_create_metadef_object": _metadef("object"),
    "image_update_metadef_object": _metadef("object"),
    "image_create_metadef_tags": METADEF_TAGS,
    "image_update_metadef_tag": _metadef("tag"),
    "image_create_image": IMAGE_CREATE,
    "image_add_member": MEMBER_CREATE,
    "image_update_member": MEMBER_UPDATE,
}
