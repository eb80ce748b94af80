"""Request schemas of the image API (Glance v2's image schema)."""

from __future__ import annotations

from nova_lite.api.http.schemas.types import (
    MAX_INT,
    Schema,
    nullable,
    text,
)

IMAGE_CREATE: Schema = {
    "type": "object",
    "properties": {
        "name": nullable(text(255)),
        "disk_format": nullable(
            {"enum": ["raw", "qcow2", "vmdk", "vdi", "iso", "ari", "aki", "ami"]}
        ),
        "container_format": nullable({"enum": ["bare", "ovf", "aki", "ari", "ami"]}),
        "visibility": {"enum": ["public", "private"]},
        "min_disk": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
        "min_ram": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
        "tags": {"type": "array", "items": text(255), "maxItems": 128},
        "protected": {"type": "boolean"},
    },
    "propertyNames": {"minLength": 1, "maxLength": 255},
    "additionalProperties": text(65535),  # extra properties, as Glance's
    "maxProperties": 128,
}
SCHEMAS: dict[str, Schema] = {
    "image_create_image": IMAGE_CREATE,
}
