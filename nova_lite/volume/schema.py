"""The volume service's database schema, as migration scripts applied in order."""

from __future__ import annotations

__all__ = ["DEFAULT_TYPE_ID", "DEFAULT_TYPE_NAME", "MIGRATIONS"]

#: Cinder's default volume type, which every volume created without a type gets.
DEFAULT_TYPE_NAME = "__DEFAULT__"
DEFAULT_TYPE_ID = "7a5a8c4e-2f3b-4c7d-9e1a-5b6c7d8e9f00"

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
    # 2: what Cinder's API shows and manages besides: descriptions, metadata, types
    # (extra specs, access, the default type), snapshots and per-project quotas.
    f"""
    ALTER TABLE volumes ADD COLUMN description TEXT;
    ALTER TABLE volumes ADD COLUMN metadata TEXT NOT NULL DEFAULT '{{}}';
    ALTER TABLE volumes ADD COLUMN volume_type_id TEXT;
    ALTER TABLE volumes ADD COLUMN availability_zone TEXT NOT NULL DEFAULT 'nova';
    ALTER TABLE volumes ADD COLUMN snapshot_id TEXT;
    ALTER TABLE volumes ADD COLUMN source_volid TEXT;
    ALTER TABLE volumes ADD COLUMN readonly INTEGER;
    ALTER TABLE volumes ADD COLUMN image_metadata TEXT NOT NULL DEFAULT '{{}}';
    ALTER TABLE attachments ADD COLUMN host TEXT;
    CREATE TABLE volume_types (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        is_public INTEGER NOT NULL DEFAULT 1,
        extra_specs TEXT NOT NULL DEFAULT '{{}}',
        encryption TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT
    );
    INSERT INTO volume_types (id, name, description, created_at)
        VALUES ('{DEFAULT_TYPE_ID}', '{DEFAULT_TYPE_NAME}', 'Default Volume Type',
                '2024-01-01T00:00:00+00:00');
    CREATE TABLE volume_type_access (
        volume_type_id TEXT NOT NULL REFERENCES volume_types(id) ON DELETE CASCADE,
        project_id TEXT NOT NULL,
        PRIMARY KEY (volume_type_id, project_id)
    );
    CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        volume_id TEXT NOT NULL REFERENCES volumes(id),
        name TEXT NOT NULL,
        description TEXT,
        size INTEGER NOT NULL,
        status TEXT NOT NULL,
        project_id TEXT,
        user_id TEXT,
        metadata TEXT NOT NULL DEFAULT '{{}}',
        progress TEXT NOT NULL DEFAULT '0%',
        created_at TEXT NOT NULL,
        updated_at TEXT
    );
    CREATE INDEX snapshots_volume ON snapshots(volume_id);
    CREATE INDEX snapshots_project ON snapshots(project_id);
    CREATE TABLE quotas (
        project_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        hard_limit INTEGER NOT NULL,
        PRIMARY KEY (project_id, resource)
    );
    """,
    # 3: volume transfers (a volume handed to another project that knows the key).
    """
    CREATE TABLE transfers (
        id TEXT PRIMARY KEY,
        volume_id TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
        name TEXT,
        project_id TEXT,
        salt TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        no_snapshots INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX transfers_volume ON transfers(volume_id);
    """,
    # 4: QoS specs, and the volume types they are associated with.
    """
    CREATE TABLE qos_specs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        consumer TEXT NOT NULL,
        specs TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    ALTER TABLE volume_types ADD COLUMN qos_specs_id TEXT REFERENCES qos_specs(id);
    """,
    # 5: user messages (what went wrong with a caller's request, e.g. no backend).
    """
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        project_id TEXT,
        request_id TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_uuid TEXT,
        event_id TEXT NOT NULL,
        message_level TEXT NOT NULL,
        user_message TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX messages_project ON messages(project_id);
    """,
    # 6: backups, kept as records (there is no backup store).
    """
    CREATE TABLE backups (
        id TEXT PRIMARY KEY,
        volume_id TEXT NOT NULL,
        snapshot_id TEXT,
        name TEXT,
        description TEXT,
        size INTEGER NOT NULL,
        status TEXT NOT NULL,
        project_id TEXT,
        user_id TEXT,
        parent_id TEXT REFERENCES backups(id),
        container TEXT,
        availability_zone TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        volume TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT
    );
    CREATE INDEX backups_project ON backups(project_id);
    CREATE INDEX backups_volume ON backups(volume_id);
    """,
    # 7: generic volume groups: group types (with group specs), groups of volumes,
    # and group snapshots (a snapshot of each member, taken together).
    """
    CREATE TABLE group_types (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        is_public INTEGER NOT NULL DEFAULT 1,
        group_specs TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT
    );
    CREATE TABLE volume_groups (
        id TEXT PRIMARY KEY,
        name TEXT,
        description TEXT,
        status TEXT NOT NULL,
        project_id TEXT,
        user_id TEXT,
        group_type_id TEXT NOT NULL REFERENCES group_types(id),
        volume_type_ids TEXT NOT NULL DEFAULT '[]',
        availability_zone TEXT NOT NULL,
        group_snapshot_id TEXT,
        source_group_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT
    );
    CREATE INDEX volume_groups_project ON volume_groups(project_id);
    CREATE TABLE group_snapshots (
        id TEXT PRIMARY KEY,
        group_id TEXT NOT NULL REFERENCES volume_groups(id),
        group_type_id TEXT NOT NULL,
        name TEXT,
        description TEXT,
        status TEXT NOT NULL,
        project_id TEXT,
        user_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT
    );
    ALTER TABLE volumes ADD COLUMN group_id TEXT REFERENCES volume_groups(id);
    ALTER TABLE snapshots ADD COLUMN group_snapshot_id TEXT REFERENCES group_snapshots(id);
    CREATE INDEX volumes_group ON volumes(group_id);
    CREATE INDEX snapshots_group_snapshot ON snapshots(group_snapshot_id);
    """,
]
