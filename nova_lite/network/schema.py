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
    # Migration 2: Neutron's API breadth. Networks, subnets and ports gain the fields the
    # API shows and updates; security groups (with each project's ``default``), routers,
    # floating IPs and subnet pools get tables of their own. A port being deleted first
    # lets go of any floating IP associated with it (the trigger), whoever deletes it.
    """
    ALTER TABLE networks ADD COLUMN description TEXT NOT NULL DEFAULT '';
    ALTER TABLE networks ADD COLUMN admin_state_up INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE networks ADD COLUMN external INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE networks ADD COLUMN mtu INTEGER NOT NULL DEFAULT 1450;
    ALTER TABLE networks ADD COLUMN port_security INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE networks ADD COLUMN updated_at TEXT;
    ALTER TABLE networks ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

    ALTER TABLE subnets ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE subnets ADD COLUMN description TEXT NOT NULL DEFAULT '';
    ALTER TABLE subnets ADD COLUMN project_id TEXT;
    ALTER TABLE subnets ADD COLUMN enable_dhcp INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE subnets ADD COLUMN allocation_pools TEXT;
    ALTER TABLE subnets ADD COLUMN dns_nameservers TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE subnets ADD COLUMN host_routes TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE subnets ADD COLUMN ipv6_ra_mode TEXT;
    ALTER TABLE subnets ADD COLUMN ipv6_address_mode TEXT;
    ALTER TABLE subnets ADD COLUMN subnetpool_id TEXT;
    ALTER TABLE subnets ADD COLUMN updated_at TEXT;
    ALTER TABLE subnets ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    UPDATE subnets SET project_id = (SELECT n.project_id FROM networks n WHERE n.id = network_id);

    ALTER TABLE ports ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE ports ADD COLUMN description TEXT NOT NULL DEFAULT '';
    ALTER TABLE ports ADD COLUMN admin_state_up INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE ports ADD COLUMN device_owner TEXT NOT NULL DEFAULT '';
    ALTER TABLE ports ADD COLUMN port_security INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE ports ADD COLUMN vnic_type TEXT NOT NULL DEFAULT 'normal';
    ALTER TABLE ports ADD COLUMN binding_profile TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE ports ADD COLUMN allowed_address_pairs TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE ports ADD COLUMN extra_dhcp_opts TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE ports ADD COLUMN updated_at TEXT;
    ALTER TABLE ports ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    UPDATE ports SET device_owner = 'compute:nova' WHERE device_id IS NOT NULL;

    CREATE TABLE security_groups (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        project_id TEXT,
        stateful INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT,
        revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX security_groups_project ON security_groups(project_id);
    CREATE TABLE default_security_groups (
        project_id TEXT PRIMARY KEY,
        group_id TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE
    );
    CREATE TABLE security_group_rules (
        id TEXT PRIMARY KEY,
        group_id TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
        direction TEXT NOT NULL,
        ethertype TEXT NOT NULL,
        protocol TEXT,
        port_range_min INTEGER,
        port_range_max INTEGER,
        remote_ip_prefix TEXT,
        remote_group_id TEXT REFERENCES security_groups(id) ON DELETE CASCADE,
        description TEXT NOT NULL DEFAULT '',
        project_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT,
        revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX security_group_rules_group ON security_group_rules(group_id);
    CREATE TABLE port_security_groups (
        port_id TEXT NOT NULL REFERENCES ports(id) ON DELETE CASCADE,
        group_id TEXT NOT NULL REFERENCES security_groups(id),
        PRIMARY KEY (port_id, group_id)
    );
    CREATE INDEX port_security_groups_group ON port_security_groups(group_id);
    CREATE TABLE device_security_groups (
        device_id TEXT NOT NULL,
        group_id TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
        PRIMARY KEY (device_id, group_id)
    );

    CREATE TABLE routers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        project_id TEXT,
        admin_state_up INTEGER NOT NULL DEFAULT 1,
        gateway_network_id TEXT REFERENCES networks(id),
        enable_snat INTEGER NOT NULL DEFAULT 1,
        routes TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        updated_at TEXT,
        revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE floating_ips (
        id TEXT PRIMARY KEY,
        project_id TEXT,
        floating_network_id TEXT NOT NULL REFERENCES networks(id),
        floating_port_id TEXT NOT NULL REFERENCES ports(id),
        floating_ip_address TEXT NOT NULL,
        port_id TEXT REFERENCES ports(id),
        fixed_ip_address TEXT,
        router_id TEXT REFERENCES routers(id),
        description TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT,
        revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX floating_ips_port ON floating_ips(port_id);
    CREATE TRIGGER ports_release_floating_ips BEFORE DELETE ON ports BEGIN
        UPDATE floating_ips SET port_id = NULL, fixed_ip_address = NULL, router_id = NULL
        WHERE port_id = OLD.id;
    END;

    CREATE TABLE subnet_pools (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        project_id TEXT,
        prefixes TEXT NOT NULL,
        ip_version INTEGER NOT NULL,
        shared INTEGER NOT NULL DEFAULT 0,
        is_default INTEGER NOT NULL DEFAULT 0,
        default_prefixlen INTEGER NOT NULL,
        min_prefixlen INTEGER NOT NULL,
        max_prefixlen INTEGER NOT NULL,
        default_quota INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT,
        revision INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 3: the per-project counts of every quota check (each port allocated, each rule
    # and floating IP made) by index: a scan of the whole table at every boot costs
    # each boot in proportion to the cloud, not to the project.
    """
    CREATE INDEX ports_project ON ports(project_id);
    CREATE INDEX security_group_rules_project ON security_group_rules(project_id);
    CREATE INDEX floating_ips_project ON floating_ips(project_id);
    """,
]
