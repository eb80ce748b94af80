"""What a new volume takes from its request and its source: an image, a snapshot or
another volume (its size at least the source's, its image, bootability and type).
"""

from __future__ import annotations

from nova_lite import objects
from nova_lite.exceptions import Invalid
from nova_lite.volume import validation

__all__ = ["Sources", "image_metadata"]


class Sources:
    """What a new volume takes from its request and its source (image, snapshot, volume)."""

    def __init__(
        self,
        *,
        name: str,
        description: str | None,
        metadata: dict[str, str],
        availability_zone: str,
    ) -> None:
        self.name = name
        self.description = description
        self.metadata = metadata
        self.availability_zone = availability_zone
        self.image_id: str | None = None
        self.bootable = False
        self.image_metadata: dict[str, str] = {}
        self.snapshot_id: str | None = None
        self.source_volid: str | None = None
        self.volume_type_id: str | None = None
        self.minimum = 1

    def inherit(self, source: objects.Volume, *, minimum: int) -> None:
        """Take a source volume's image, bootability and type; at least `minimum` GiB."""
        self.minimum = minimum
        self.image_id = source.image_id
        self.bootable = source.bootable
        self.image_metadata = dict(source.image_metadata)
        self.volume_type_id = source.volume_type_id

    def size_for(self, size: int | None) -> int:
        """The size asked for (the source's if none), at least what the source needs."""
        if size is None and (self.snapshot_id is not None or self.source_volid is not None):
            size = self.minimum
        size = validation.size(size)
        if size < self.minimum:
            raise Invalid(
                f"Volume size {size}G is smaller than its source needs ({self.minimum}G)."
            )
        return size


def image_metadata(image: objects.Image) -> dict[str, str]:
    """What Cinder copies from an image into a volume's ``volume_image_metadata``."""
    shown = {
        "image_id": image.id,
        "image_name": image.name,
        "container_format": image.container_format,
        "disk_format": image.disk_format,
        "min_disk": str(image.min_disk),
        "min_ram": str(image.min_ram),
        "size": str(image.size or 0),
        "checksum": image.checksum or "",
    }
    return {**image.properties, **shown}
