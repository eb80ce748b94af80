"""The image service's SQLite schema (migration scripts) and its rows ↔ objects.

Images live in ``images``; their tags in ``image_tags`` (insertion order kept) and
the projects they are shared with in ``image_members``, both deleted with their
image. Times are stored as ISO 8601 text in UTC with microseconds, so that text order
is time order.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from typing import Any

from nova_lite.objects import Image, ImageMember, ImageTask

__all__ = [
    "COLUMNS",
    "MEMBER_COLUMNS",
    "MIGRATIONS",
    "PLACEHOLDERS",
    "SELECT_IMAGES",
    "TASK_COLUMNS",
    "image_from_row",
    "isotext",
    "member_from_row",
    "row_values",
    "task_from_row",
    "task_values",
]

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

# Glance's statuses and visibilities, protected and hidden images, tags, members.
# SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
_GLANCE_V2 = """
CREATE TABLE images_v2 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'saving', 'active', 'killed',
        'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated')),
    disk_format TEXT NOT NULL,
    container_format TEXT NOT NULL,
    size INTEGER,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    min_disk INTEGER NOT NULL DEFAULT 0,
    min_ram INTEGER NOT NULL DEFAULT 0,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private', 'shared', 'community')),
    owner TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    protected INTEGER NOT NULL DEFAULT 0 CHECK (protected IN (0, 1)),
    os_hidden INTEGER NOT NULL DEFAULT 0 CHECK (os_hidden IN (0, 1)),
    updated_at TEXT NOT NULL
);
INSERT INTO images_v2 (id, name, status, disk_format, container_format, size, checksum,
    os_hash_algo, os_hash_value, min_disk, min_ram, visibility, owner, properties,
    created_at, updated_at)
SELECT id, name, status, disk_format, container_format, size, checksum, os_hash_algo,
    os_hash_value, min_disk, min_ram, visibility, owner, properties, created_at, created_at
FROM images;
DROP TABLE images;
ALTER TABLE images_v2 RENAME TO images;
CREATE INDEX images_by_owner ON images (owner);

CREATE TABLE image_tags (
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (image_id, tag)
);

CREATE TABLE image_members (
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_by_member ON image_members (member_id);
"""

# Interoperable import (glance-direct): what a finished staging measured, and tasks.
_IMPORT = """
CREATE TABLE image_staging (
    image_id TEXT PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    size INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    os_hash_value TEXT NOT NULL
);

CREATE TABLE image_tasks (
    id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'success', 'failure')),
    input TEXT NOT NULL,
    result TEXT,
    message TEXT NOT NULL DEFAULT '',
    owner TEXT,
    user_id TEXT,
    request_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX image_tasks_by_image ON image_tasks (image_id);
"""

# The metadata-definition catalog: namespaces, their elements (as JSON documents), and
# the resource types namespaces may be associated with (Glance's seeded five).
_METADEFS = """
CREATE TABLE metadef_namespaces (
    namespace TEXT PRIMARY KEY,
    display_name TEXT,
    description TEXT,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    protected INTEGER NOT NULL DEFAULT 0 CHECK (protected IN (0, 1)),
    owner TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE metadef_elements (
    namespace TEXT NOT NULL
        REFERENCES metadef_namespaces (namespace) ON DELETE CASCADE ON UPDATE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('object', 'property', 'tag', 'resource_type')),
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (namespace, kind, name)
);

CREATE TABLE metadef_resource_types (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO metadef_resource_types (name, created_at, updated_at) VALUES
    ('OS::Glance::Image', '2014-08-28T17:13:06.000000+00:00', '2014-08-28T17:13:06.000000+00:00'),
    ('OS::Cinder::Volume', '2014-08-28T17:13:06.000000+00:00', '2014-08-28T17:13:06.000000+00:00'),
    ('OS::Nova::Flavor', '2014-08-28T17:13:06.000000+00:00', '2014-08-28T17:13:06.000000+00:00'),
    ('OS::Nova::Aggregate', '2014-08-28T17:13:06.000000+00:00', '2014-08-28T17:13:06.000000+00:00'),
    ('OS::Nova::Server', '2014-08-28T17:13:06.000000+00:00', '2014-08-28T17:13:06.000000+00:00');
"""

# Glance's deprecated tasks API (``/v2/tasks``): tasks asked for directly, not an
# image's imports (those are ``image_tasks``).
_TASKS = """
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'success', 'failure')),
    input TEXT NOT NULL,
    result TEXT,
    message TEXT NOT NULL DEFAULT '',
    owner TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX tasks_by_owner ON tasks (owner);
"""

MIGRATIONS: list[str] = [_INITIAL, _GLANCE_V2, _IMPORT, _METADEFS, _TASKS]

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
    "protected",
    "os_hidden",
    "updated_at",
)
COLUMNS = ", ".join(_FIELDS)
"""The ``images`` columns, in the order `row_values` gives them."""
PLACEHOLDERS = ", ".join("?" * len(_FIELDS))
_TAGS = (
    "(SELECT json_group_array(tag) FROM "
    "(SELECT tag FROM image_tags WHERE image_tags.image_id = images.id ORDER BY rowid)) AS tags"
)
SELECT_IMAGES = f"SELECT {', '.join('images.' + f for f in _FIELDS)}, {_TAGS} FROM images"
"""The start of a query for whole images (their tags included), for `image_from_row`."""

MEMBER_COLUMNS = "image_id, member_id, status, created_at, updated_at"
TASK_COLUMNS = (
    "id, image_id, type, status, input, result, message, owner, user_id, request_id,"
    " created_at, updated_at, expires_at"
)


def isotext(moment: datetime.datetime) -> str:
    """`moment` as stored: ISO 8601 in UTC, always with microseconds."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def _moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def image_from_row(row: sqlite3.Row) -> Image:
    """The `Image` a row selected with `SELECT_IMAGES` describes."""
    values = dict(row)
    values["properties"] = json.loads(values["properties"])
    values["created_at"] = _moment(values["created_at"])
    values["updated_at"] = _moment(values["updated_at"])
    values["protected"] = bool(values["protected"])
    values["os_hidden"] = bool(values["os_hidden"])
    values["tags"] = tuple(json.loads(values.get("tags") or "[]"))
    return Image(**values)


def row_values(image: Image) -> tuple[Any, ...]:
    """`image` as the values of a row, in `COLUMNS` order."""
    values = {name: getattr(image, name) for name in _FIELDS}
    values["properties"] = json.dumps(image.properties)
    values["created_at"] = isotext(image.created_at)
    values["updated_at"] = isotext(image.updated_at or image.created_at)
    values["protected"] = int(image.protected)
    values["os_hidden"] = int(image.os_hidden)
    return tuple(values.values())


def member_from_row(row: sqlite3.Row) -> ImageMember:
    """The `ImageMember` a row selected with `MEMBER_COLUMNS` describes."""
    values = dict(row)
    values["created_at"] = _moment(values["created_at"])
    values["updated_at"] = _moment(values["updated_at"])
    return ImageMember(**values)


def task_from_row(row: sqlite3.Row) -> ImageTask:
    """The `ImageTask` a row selected with `TASK_COLUMNS` describes."""
    values = dict(row)
    values["input"] = json.loads(values["input"])
    values["result"] = None if values["result"] is None else json.loads(values["result"])
    for field in ("created_at", "updated_at", "expires_at"):
        if values[field] is not None:
            values[field] = _moment(values[field])
    return ImageTask(**values)


def task_values(task: ImageTask) -> tuple[Any, ...]:
    """`task` as the values of a row, in `TASK_COLUMNS` order."""
    return (
        task.id,
        task.image_id,
        task.type,
        task.status,
        json.dumps(task.input),
        None if task.result is None else json.dumps(task.result),
        task.message,
        task.owner,
        task.user_id,
        task.request_id,
        isotext(task.created_at),
        isotext(task.updated_at),
        None if task.expires_at is None else isotext(task.expires_at),
    )
