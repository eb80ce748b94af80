"""The volume service's database schema, as migration scripts applied in order."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: list[str] = [
    """
    CREATE TABLE volumes (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size > 0),
        status TEXT NOT NULL,
        project_id TEXT,
        user_id TEXT,
        image_id TEXT,
        bootable INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT
    );
    CREATE INDEX volumes_project ON volumes(project_id);
    CREATE TABLE attachments (
        id TEXT PRIMARY KEY,
        volume_id TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
        instance_uuid TEXT NOT NULL,
        mountpoint TEXT NOT NULL,
        attached_at TEXT NOT NULL,
        detached_at TEXT
    );
    -- At most one open attachment per volume (no multi-attach).
    CREATE UNIQUE INDEX attachments_open ON attachments(volume_id) WHERE detached_at IS NULL;
    CREATE INDEX attachments_instance ON attachments(instance_uuid);
    """,
]
