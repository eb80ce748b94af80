"""The identity service's SQLite schema, as an ordered list of migration scripts.

The second migration gives the service Keystone's v3 data model: domains are rows
of ``projects`` acting as domains (``is_domain = 1``, no ``domain_id``), as Keystone
stores them, so a project created with ``is_domain`` is a domain; users and groups
belong to a domain; roles are rows with ids (global, or specific to a domain) with
implication rules between them; an assignment gives a role to a user or a group on
a project, a domain or the system. Every existing project, user, assignment and
token is carried over into the default domain. The third adds inherited grants
(OS-INHERIT).
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

_INITIAL = """
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE assignments (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'reader')),
    PRIMARY KEY (user_id, project_id, role)
);

-- Tokens are kept by the SHA-256 of their text only; user and project names and
-- roles are a snapshot taken at issue time, so a token stays describable (and
-- revocable) after its user is deleted.
CREATE TABLE tokens (
    token_sha256 TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    project_name TEXT NOT NULL,
    roles TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX tokens_by_user ON tokens (user_id);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);
"""

_KEYSTONE_V3 = """
ALTER TABLE projects RENAME TO projects_v1;
ALTER TABLE users RENAME TO users_v1;
ALTER TABLE assignments RENAME TO assignments_v1;
ALTER TABLE tokens RENAME TO tokens_v1;
DROP INDEX tokens_by_user;
DROP INDEX tokens_by_expiry;

-- Projects and domains (is_domain = 1, domain_id NULL), as Keystone keeps both.
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    is_domain INTEGER NOT NULL DEFAULT 0,
    domain_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
    parent_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
-- Domain names are unique among domains, project names within their domain.
CREATE UNIQUE INDEX projects_by_name ON projects (coalesce(domain_id, ''), name);
CREATE INDEX projects_by_parent ON projects (parent_id);

CREATE TABLE project_tags (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    default_project_id TEXT,
    password_hash TEXT,
    password_changed_at TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);

-- Global roles have no domain_id; a domain-specific role never appears in a token
-- itself, only the global roles it implies do.
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX roles_by_name ON roles (coalesce(domain_id, ''), name);

CREATE TABLE implied_roles (
    prior_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- A role given to a user or a group on a project, a domain or the system
-- (target_id 'system'); actors and targets are removed with them, in the code.
CREATE TABLE assignments (
    actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'group')),
    actor_id TEXT NOT NULL,
    target_type TEXT NOT NULL CHECK (target_type IN ('project', 'domain', 'system')),
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id)
);
CREATE INDEX assignments_by_target ON assignments (target_type, target_id);

-- A token is kept as the SHA-256 of its text; who it stands for is read again at
-- each validation, so deleting or disabling a user, a project or a domain, or taking
-- a role away, takes effect on the tokens already issued.
CREATE TABLE tokens (
    token_sha256 TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    scope_type TEXT NOT NULL CHECK (scope_type IN ('unscoped', 'project', 'domain', 'system')),
    scope_id TEXT,
    methods TEXT NOT NULL,
    audit_id TEXT NOT NULL,
    parent_audit_id TEXT,
    app_cred_id TEXT,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_by_user ON tokens (user_id);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);
CREATE INDEX tokens_by_app_cred ON tokens (app_cred_id);

CREATE TABLE application_credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    unrestricted INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (user_id, name)
);

-- The catalog and the other plain records (services, endpoints, regions, endpoint
-- groups, policies, credentials, OAuth consumers): one JSON body per record.
CREATE TABLE records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE domain_configs (
    domain_id TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    body TEXT NOT NULL
);

INSERT INTO projects (id, name, description, enabled, is_domain, created_at)
    VALUES ('default', 'Default', 'The default domain', 1, 1, strftime('%Y-%m-%dT%H:%M:%f', 'now'));
INSERT INTO projects (id, name, description, enabled, is_domain, domain_id, parent_id, created_at)
    SELECT id, name, description, 1, 0, 'default', 'default', created_at FROM projects_v1;
INSERT INTO users (id, domain_id, name, password_hash, password_changed_at, created_at)
    SELECT id, 'default', name, password_hash, created_at, created_at FROM users_v1;

INSERT INTO roles (id, name, created_at) VALUES
    (lower(hex(randomblob(16))), 'admin', strftime('%Y-%m-%dT%H:%M:%f', 'now')),
    (lower(hex(randomblob(16))), 'manager', strftime('%Y-%m-%dT%H:%M:%f', 'now')),
    (lower(hex(randomblob(16))), 'member', strftime('%Y-%m-%dT%H:%M:%f', 'now')),
    (lower(hex(randomblob(16))), 'reader', strftime('%Y-%m-%dT%H:%M:%f', 'now'));
INSERT INTO implied_roles (prior_role_id, implied_role_id)
    SELECT prior.id, implied.id FROM roles AS prior, roles AS implied
    WHERE (prior.name, implied.name) IN
        (VALUES ('admin', 'manager'), ('manager', 'member'), ('member', 'reader'));

INSERT INTO assignments (actor_type, actor_id, target_type, target_id, role_id)
    SELECT 'user', a.user_id, 'project', a.project_id, r.id
    FROM assignments_v1 AS a JOIN roles AS r ON r.name = a.role AND r.domain_id IS NULL;
INSERT INTO tokens (token_sha256, user_id, scope_type, scope_id, methods, audit_id,
                    issued_at, expires_at, revoked)
    SELECT token_sha256, user_id, 'project', project_id, 'password',
           lower(hex(randomblob(11))), issued_at, expires_at, revoked
    FROM tokens_v1;

DROP TABLE tokens_v1;
DROP TABLE assignments_v1;
DROP TABLE users_v1;
DROP TABLE projects_v1;
"""

_INHERITED = """
-- OS-INHERIT: a grant on a domain or a project may be inherited by the projects below
-- it (inherited = 1) rather than held on the target itself.
DROP INDEX assignments_by_target;
ALTER TABLE assignments RENAME TO assignments_v2;
CREATE TABLE assignments (
    actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'group')),
    actor_id TEXT NOT NULL,
    target_type TEXT NOT NULL CHECK (target_type IN ('project', 'domain', 'system')),
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    inherited INTEGER NOT NULL DEFAULT 0 CHECK (inherited IN (0, 1)),
    PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited)
);
CREATE INDEX assignments_by_target ON assignments (target_type, target_id);
INSERT INTO assignments (actor_type, actor_id, target_type, target_id, role_id, inherited)
    SELECT actor_type, actor_id, target_type, target_id, role_id, 0 FROM assignments_v2;
DROP TABLE assignments_v2;
"""

MIGRATIONS: list[str] = [_INITIAL, _KEYSTONE_V3, _INHERITED]
