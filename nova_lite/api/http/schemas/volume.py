"""Request schemas of the volume API (Cinder v3's ``api/schemas``)."""

from __future__ import annotations

from nova_lite.api.http.schemas.types import (
    METADATA,
    Schema,
    count,
    nullable,
    obj,
    text,
)
from nova_lite.volume.validation import MAX_SIZE_GB

VOLUME_CREATE = obj(
    {
        "volume": obj(
            {
                "size": count(1, MAX_SIZE_GB),
                "name": nullable(text(255)),
                "imageRef": nullable(text(255)),
                "description": nullable(text(255)),
                "volume_type": nullable(text(255)),
                "availability_zone": nullable(text(255)),
                "metadata": METADATA,
                "snapshot_id": {"type": "null"},
                "source_volid": {"type": "null"},
                "backup_id": {"type": "null"},
                "consistencygroup_id": {"type": "null"},
            },
            required=("size",),
        )
    },
    required=("volume",),
)
SCHEMAS: dict[str, Schema] = {
    "volume_create_volume": VOLUME_CREATE,
}
