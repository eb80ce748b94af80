"""The image service's SQLite schema (migration scripts) and its rows ↔ `Image`."""

from __future__ import annotations

import datetime
import json
import sqlite3
from typing import Any

from nova_lite.objects import Image

__all__ = ["COLUMNS", "MIGRATIONS", "PLACEHOLDERS", "image_from_row", "row_values"]

_INITIAL = """
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'saving', 'active')),
    disk_format TEXT NOT NULL,
    container_format TEXT NOT NULL,
    size INTEGER,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    min_disk INTEGER NOT NULL DEFAULT 0,
    min_ram INTEGER NOT NULL DEFAULT 0,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    owner TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);

CREATE INDEX images_by_owner ON images (owner);
"""

MIGRATIONS: list[str] = [_INITIAL]

_FIELDS = (
    "id",
    "name",
    "status",
    "disk_format",
    "container_format",
    "size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "visibility",
    "owner",
    "properties",
    "created_at",
)
COLUMNS = ", ".join(_FIELDS)
"""The ``images`` columns, in the order `row_values` gives them."""
PLACEHOLDERS = ", ".join("?" * len(_FIELDS))


def image_from_row(row: sqlite3.Row) -> Image:
    """The `Image` a row selected with `COLUMNS` describes."""
    values = dict(row)
    values["properties"] = json.loads(values["properties"])
    values["created_at"] = datetime.datetime.fromisoformat(values["created_at"])
    return Image(**values)


def row_values(image: Image) -> tuple[Any, ...]:
    """`image` as the values of a row, in `COLUMNS` order."""
    values = {name: getattr(image, name) for name in _FIELDS}
    values["properties"] = json.dumps(image.properties)
    values["created_at"] = image.created_at.isoformat()
    return tuple(values.values())
