"""The network service's database schema, as migration scripts applied in order."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: list[str] = [
    """
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        project_id TEXT,
        shared INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    CREATE TABLE subnets (
        id TEXT PRIMARY KEY,
        network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
        cidr TEXT NOT NULL,
        gateway_ip TEXT,
        pool_start TEXT NOT NULL,
        pool_end TEXT NOT NULL,
        ip_version INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX subnets_network ON subnets(network_id);
    CREATE TABLE ports (
        id TEXT PRIMARY KEY,
        network_id TEXT NOT NULL REFERENCES networks(id),
        mac_address TEXT NOT NULL UNIQUE,
        device_id TEXT,
        project_id TEXT,
        status TEXT NOT NULL DEFAULT 'DOWN',
        binding_host TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX ports_device ON ports(device_id);
    CREATE INDEX ports_network ON ports(network_id);
    CREATE TABLE ip_allocations (
        port_id TEXT NOT NULL REFERENCES ports(id) ON DELETE CASCADE,
        subnet_id TEXT NOT NULL REFERENCES subnets(id),
        ip_address TEXT NOT NULL,
        UNIQUE (subnet_id, ip_address)
    );
    CREATE INDEX ip_allocations_port ON ip_allocations(port_id);
    """,
]
