"""The conductor's database: flavors, instances, faults, quota limits, actions,
migrations, key pairs, flavor access, quotas, server groups and aggregates."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    """
    CREATE TABLE flavors (
        flavorid TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL
    );
    CREATE TABLE instances (
        uuid TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        host TEXT,
        vm_state TEXT NOT NULL,
        task_state TEXT,
        vcpus INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX instances_by_project ON instances (project_id, deleted);
    CREATE INDEX instances_by_host ON instances (host, deleted);
    CREATE TABLE instance_faults (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        instance_uuid TEXT NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
        code INTEGER NOT NULL,
        message TEXT NOT NULL,
        details TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE quotas (
        project_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        hard_limit INTEGER NOT NULL,
        PRIMARY KEY (project_id, resource)
    );
    """,
    """
    CREATE TABLE instance_actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        instance_uuid TEXT NOT NULL,
        action TEXT NOT NULL,
        request_id TEXT NOT NULL,
        user_id TEXT,
        project_id TEXT,
        start_time TEXT NOT NULL,
        finish_time TEXT,
        message TEXT,
        UNIQUE (instance_uuid, request_id)
    );
    CREATE TABLE instance_action_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        action_id INTEGER NOT NULL REFERENCES instance_actions (id) ON DELETE CASCADE,
        event TEXT NOT NULL,
        host TEXT,
        start_time TEXT NOT NULL,
        finish_time TEXT,
        result TEXT,
        traceback TEXT
    );
    CREATE INDEX instance_actions_by_instance ON instance_actions (instance_uuid);
    CREATE TABLE migrations (
        uuid TEXT PRIMARY KEY,
        instance_uuid TEXT NOT NULL,
        source_host TEXT NOT NULL,
        dest_host TEXT,
        old_flavor TEXT NOT NULL,
        new_flavor TEXT NOT NULL,
        old_vm_state TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX migrations_by_instance ON migrations (instance_uuid);
    """,
    # Key pairs (Nova's API database keeps them): one user's names are unique.
    """
    CREATE TABLE key_pairs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (user_id, name)
    );
    """,
    # Private flavors' access lists (Nova's flavor_projects).
    """
    CREATE TABLE flavor_projects (
        flavorid TEXT NOT NULL REFERENCES flavors (flavorid) ON DELETE CASCADE,
        project_id TEXT NOT NULL,
        PRIMARY KEY (flavorid, project_id)
    );
    CREATE INDEX flavor_projects_by_project ON flavor_projects (project_id);
    """,
    # Compute quotas beyond the project's (per user, the quota classes) and server
    # groups with their members (an instance is in one group at most, as in Nova).
    """
    CREATE TABLE user_quotas (
        project_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        hard_limit INTEGER NOT NULL,
        PRIMARY KEY (project_id, user_id, resource)
    );
    CREATE TABLE quota_classes (
        class_name TEXT NOT NULL,
        resource TEXT NOT NULL,
        hard_limit INTEGER NOT NULL,
        PRIMARY KEY (class_name, resource)
    );
    CREATE TABLE server_groups (
        uuid TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        project_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        policy TEXT NOT NULL,
        rules TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX server_groups_by_project ON server_groups (project_id);
    CREATE TABLE server_group_members (
        instance_uuid TEXT PRIMARY KEY,
        group_uuid TEXT NOT NULL REFERENCES server_groups (uuid) ON DELETE CASCADE
    );
    CREATE INDEX server_group_members_by_group ON server_group_members (group_uuid);
    """,
    # Host aggregates: their hosts and metadata (availability_zone among it).
    """
    CREATE TABLE aggregates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        uuid TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at TEXT NOT NULL,
        updated_at TEXT
    );
    CREATE TABLE aggregate_hosts (
        aggregate_id INTEGER NOT NULL REFERENCES aggregates (id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        PRIMARY KEY (aggregate_id, host)
    );
    CREATE INDEX aggregate_hosts_by_host ON aggregate_hosts (host);
    CREATE TABLE aggregate_metadata (
        aggregate_id INTEGER NOT NULL REFERENCES aggregates (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (aggregate_id, key)
    );
    """,
    """
    ALTER TABLE migrations ADD COLUMN migration_type TEXT;
    """,
    # An action's events by the action: every build writes and ends two of them,
    # and without it each end scanned every event of every server.
    """
    CREATE INDEX instance_action_events_by_action ON instance_action_events (action_id);
    """,
    # The server list newest first, a page at a time (conductor 1.3,
    # instance_get_newest): a page is a search of these, not a sort of every row.
    """
    CREATE INDEX instances_newest ON instances (deleted, created_at, uuid);
    CREATE INDEX instances_project_newest ON instances (project_id, deleted, created_at, uuid);
    """,
]
