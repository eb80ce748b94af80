"""The conductor's database: flavors, instances, faults and quota limits."""

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
]
