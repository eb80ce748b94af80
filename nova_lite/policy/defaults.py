"""The default rules of every service, named and written as upstream OpenStack has them.

Each service's table follows its upstream project's defaults with the admin, member
and reader personas (Nova's ``nova/policies/``, Glance's ``glance/policies/``,
Neutron's ``neutron/conf/policies/``, Cinder's ``cinder/policies/``, Keystone's
``keystone/common/policies/``), in their project-scoped form: a member acts on its
project's resources, a reader only reads them, and an administrator acts on any
project's. Rule names are the upstream ones, so a policy file written for OpenStack
overrides the same rule here. ``etc/policy.sample.yaml`` lists every rule with its
default; a test keeps it in step with these tables.
"""

from __future__ import annotations

import attrs

from nova_lite.policy import keystone

__all__ = [
    "BASE",
    "COMPUTE",
    "COMPUTE_ADMIN",
    "COMPUTE_NETWORK",
    "DEFAULTS",
    "IDENTITY",
    "IMAGE",
    "NETWORK",
    "VOLUME",
    "RuleDefault",
]


@attrs.frozen
class RuleDefault:
    """A rule's name, its default check string and what it guards."""

    name: str
    check_str: str
    description: str


ADMIN = "rule:context_is_admin"
MEMBER_OR_ADMIN = "rule:project_member_or_admin"
READER_OR_ADMIN = "rule:project_reader_or_admin"
SERVICE = "role:service"  # Nova's service-to-service routes: Keystone's service role alone
_ADMIN_OR_USER = "(rule:context_is_admin) or user_id:%(user_id)s"  # Nova's key pair rules

BASE = (
    RuleDefault("context_is_admin", "role:admin", "Whether the caller is an administrator."),
    RuleDefault("admin_api", "role:admin", "Nova's name for administrator-only APIs."),
    RuleDefault("admin_required", "role:admin", "Keystone's name for administrator-only APIs."),
    RuleDefault(
        "project_member_api",
        "role:member and project_id:%(project_id)s",
        "A member of the project that owns the target.",
    ),
    RuleDefault(
        "project_reader_api",
        "role:reader and project_id:%(project_id)s",
        "A reader (or member) of the project that owns the target.",
    ),
    RuleDefault(
        "project_member_or_admin",
        "rule:project_member_api or rule:context_is_admin",
        "A member of the owning project, or an administrator.",
    ),
    RuleDefault(
        "project_reader_or_admin",
        "rule:project_reader_api or rule:context_is_admin",
        "A reader of the owning project, or an administrator.",
    ),
)


def _rules(*rows: tuple[str, str, str]) -> tuple[RuleDefault, ...]:
    return tuple(RuleDefault(*row) for row in rows)


_SERVERS = "os_compute_api:servers:"
COMPUTE = _rules(
    (_SERVERS + "index", READER_OR_ADMIN, "List the project's servers."),
    (_SERVERS + "detail", READER_OR_ADMIN, "List the project's servers in detail."),
    (_SERVERS + "index:get_all_tenants", ADMIN, "List every project's servers."),
    (_SERVERS + "detail:get_all_tenants", ADMIN, "List every project's servers in detail."),
    (_SERVERS + "show", READER_OR_ADMIN, "Show a server."),
    (_SERVERS + "show:host_status", ADMIN, "See the host status of a server."),
    (_SERVERS + "create", MEMBER_OR_ADMIN, "Create servers."),
    (_SERVERS + "update", MEMBER_OR_ADMIN, "Rename a server."),
    (_SERVERS + "delete", MEMBER_OR_ADMIN, "Delete (or soft-delete) a server."),
    (_SERVERS + "reboot", MEMBER_OR_ADMIN, "Reboot a server (soft or hard)."),
    (_SERVERS + "resize", MEMBER_OR_ADMIN, "Resize a server."),
    (_SERVERS + "confirm_resize", MEMBER_OR_ADMIN, "Confirm a resize."),
    (_SERVERS + "revert_resize", MEMBER_OR_ADMIN, "Revert a resize."),
    (_SERVERS + "rebuild", MEMBER_OR_ADMIN, "Rebuild a server from an image."),
    (_SERVERS + "create_image", MEMBER_OR_ADMIN, "Snapshot a server into an image."),
    (_SERVERS + "start", MEMBER_OR_ADMIN, "Start a stopped server."),
    (_SERVERS + "stop", MEMBER_OR_ADMIN, "Stop a server."),
    ("os_compute_api:os-pause-server:pause", MEMBER_OR_ADMIN, "Pause a server."),
    ("os_compute_api:os-pause-server:unpause", MEMBER_OR_ADMIN, "Unpause a server."),
    ("os_compute_api:os-suspend-server:suspend", MEMBER_OR_ADMIN, "Suspend a server."),
    ("os_compute_api:os-suspend-server:resume", MEMBER_OR_ADMIN, "Resume a server."),
    ("os_compute_api:os-rescue", MEMBER_OR_ADMIN, "Rescue a server."),
    ("os_compute_api:os-unrescue", MEMBER_OR_ADMIN, "Unrescue a server."),
    ("os_compute_api:os-admin-password", MEMBER_OR_ADMIN, "Change a server's admin password."),
    ("os_compute_api:os-shelve:shelve", MEMBER_OR_ADMIN, "Shelve a server."),
    ("os_compute_api:os-shelve:shelve_offload", ADMIN, "Offload a shelved server."),
    ("os_compute_api:os-shelve:unshelve", MEMBER_OR_ADMIN, "Unshelve a server."),
    ("os_compute_api:os-deferred-delete:restore", MEMBER_OR_ADMIN, "Restore a soft-deleted one."),
    ("os_compute_api:os-deferred-delete:force", MEMBER_OR_ADMIN, "Force-delete a server."),
    ("os_compute_api:os-lock-server:lock", MEMBER_OR_ADMIN, "Lock a server."),
    ("os_compute_api:os-lock-server:unlock", MEMBER_OR_ADMIN, "Unlock a server."),
    (
        "os_compute_api:os-lock-server:unlock:unlock_override",
        ADMIN,
        "Unlock a server locked by someone else (an administrator).",
    ),
    ("os_compute_api:os-create-backup", MEMBER_OR_ADMIN, "Back a server up into an image."),
    ("os_compute_api:os-console-output", MEMBER_OR_ADMIN, "Read a server's console output."),
    ("os_compute_api:os-flavor-manage:create", ADMIN, "Create a flavor."),
    ("os_compute_api:limits", "@", "Show the caller's project's limits and usage."),
    ("os_compute_api:limits:other_project", ADMIN, "Show another project's limits."),
    ("os_compute_api:os-instance-actions:list", READER_OR_ADMIN, "List a server's actions."),
    ("os_compute_api:os-instance-actions:show", READER_OR_ADMIN, "Show a server's action."),
    ("os_compute_api:os-instance-actions:events", ADMIN, "See action events' tracebacks."),
    ("os_compute_api:os-services:list", ADMIN, "List the compute services."),
    ("os_compute_api:os-hypervisors:list", ADMIN, "List the hypervisors."),
    ("os_compute_api:os-hypervisors:list-detail", ADMIN, "List the hypervisors in detail."),
    ("os_compute_api:os-hypervisors:show", ADMIN, "Show a hypervisor."),
    ("os_compute_api:audit", ADMIN, "Audit the cloud's books (nova-lite audit), and heal them."),
    ("os_compute_api:os-volumes-attachments:index", READER_OR_ADMIN, "List volume attachments."),
    ("os_compute_api:os-volumes-attachments:show", READER_OR_ADMIN, "Show a volume attachment."),
    ("os_compute_api:os-volumes-attachments:create", MEMBER_OR_ADMIN, "Attach a volume."),
    ("os_compute_api:os-volumes-attachments:delete", MEMBER_OR_ADMIN, "Detach a volume."),
    (
        "os_compute_api:os-volumes-attachments:swap",
        SERVICE,
        "Swap an attached volume for another (Cinder, during a volume migration).",
    ),
    (
        "os_compute_api:os-server-external-events:create",
        SERVICE,
        "Tell compute of events about servers (Neutron, Cinder).",
    ),
    (
        "os_compute_api:os-assisted-volume-snapshots:create",
        SERVICE,
        "Snapshot a file-based volume of a server (Cinder).",
    ),
    (
        "os_compute_api:os-assisted-volume-snapshots:delete",
        SERVICE,
        "Delete a file-based volume's snapshot (Cinder).",
    ),
    # The server surface's records: key pairs (per user), metadata, tags, addresses, password.
    *(
        (f"os_compute_api:os-keypairs:{op}", _ADMIN_OR_USER, f"{what} the user's key pairs.")
        for op, what in (("index", "List"), ("show", "Show"), ("create", "Create or import"),
                         ("delete", "Delete"))
    ),
    ("os_compute_api:server-metadata:index", READER_OR_ADMIN, "List a server's metadata."),
    ("os_compute_api:server-metadata:show", READER_OR_ADMIN, "Show a server's metadata item."),
    ("os_compute_api:server-metadata:create", MEMBER_OR_ADMIN, "Add or change metadata items."),
    ("os_compute_api:server-metadata:update_all", MEMBER_OR_ADMIN, "Replace a server's metadata."),
    ("os_compute_api:server-metadata:update", MEMBER_OR_ADMIN, "Set one metadata item."),
    ("os_compute_api:server-metadata:delete", MEMBER_OR_ADMIN, "Delete a metadata item."),
    ("os_compute_api:os-server-tags:index", READER_OR_ADMIN, "List a server's tags."),
    ("os_compute_api:os-server-tags:show", READER_OR_ADMIN, "Check that a server has a tag."),
    ("os_compute_api:os-server-tags:update", MEMBER_OR_ADMIN, "Add a tag to a server."),
    ("os_compute_api:os-server-tags:update_all", MEMBER_OR_ADMIN, "Replace a server's tags."),
    ("os_compute_api:os-server-tags:delete", MEMBER_OR_ADMIN, "Remove a tag from a server."),
    ("os_compute_api:os-server-tags:delete_all", MEMBER_OR_ADMIN, "Remove all of its tags."),
    ("os_compute_api:ips:index", READER_OR_ADMIN, "List a server's addresses."),
    ("os_compute_api:ips:show", READER_OR_ADMIN, "List a server's addresses on one network."),
    ("os_compute_api:os-server-password:show", READER_OR_ADMIN, "Show a server's password."),
    ("os_compute_api:os-server-password:clear", MEMBER_OR_ADMIN, "Clear a server's password."),
)  # fmt: skip

# Nova's administrative APIs and the placement-related ones: flavors' management,
# extra specs and access, server groups, aggregates and zones, quotas, usage,
# hypervisors and hosts, migrations, reset-state and diagnostics.
_FLAVOR_SPECS = "os_compute_api:os-flavor-extra-specs:"
COMPUTE_ADMIN = _rules(
    ("os_compute_api:os-flavor-manage:update", ADMIN, "Change a flavor's description."),
    ("os_compute_api:os-flavor-manage:delete", ADMIN, "Delete a flavor."),
    (_FLAVOR_SPECS + "index", READER_OR_ADMIN, "List a flavor's extra specs."),
    (_FLAVOR_SPECS + "show", READER_OR_ADMIN, "Show a flavor's extra spec."),
    (_FLAVOR_SPECS + "create", ADMIN, "Add extra specs to a flavor."),
    (_FLAVOR_SPECS + "update", ADMIN, "Change a flavor's extra spec."),
    (_FLAVOR_SPECS + "delete", ADMIN, "Remove a flavor's extra spec."),
    ("os_compute_api:os-flavor-access", ADMIN, "List the projects that may use a flavor."),
    (
        "os_compute_api:os-flavor-access:add_tenant_access",
        ADMIN,
        "Let a project use a private flavor.",
    ),
    (
        "os_compute_api:os-flavor-access:remove_tenant_access",
        ADMIN,
        "Stop a project using a private flavor.",
    ),
    ("os_compute_api:os-admin-actions:reset_state", ADMIN, "Reset a server's state."),
    (
        "os_compute_api:os-admin-actions:inject_network_info",
        ADMIN,
        "Inject network information into a server.",
    ),
    ("os_compute_api:os-server-diagnostics", ADMIN, "Show a server's diagnostics."),
    ("os_compute_api:os-migrate-server:migrate", ADMIN, "Cold-migrate a server."),
    (
        "os_compute_api:os-migrate-server:migrate:host",
        ADMIN,
        "Cold-migrate a server to the host named.",
    ),
    ("os_compute_api:os-migrations:index", ADMIN, "List migrations."),
    ("os_compute_api:servers:migrations:index", ADMIN, "List a server's live migrations."),
    ("os_compute_api:os-quota-sets:show", READER_OR_ADMIN, "Show a project's quotas."),
    ("os_compute_api:os-quota-sets:detail", READER_OR_ADMIN, "Show quotas with their usage."),
    ("os_compute_api:os-quota-sets:defaults", "@", "Show the default quotas."),
    ("os_compute_api:os-quota-sets:update", ADMIN, "Change a project's or user's quotas."),
    ("os_compute_api:os-quota-sets:delete", ADMIN, "Drop a project's or user's own quotas."),
    ("os_compute_api:os-quota-class-sets:show", ADMIN, "Show a quota class."),
    ("os_compute_api:os-quota-class-sets:update", ADMIN, "Change a quota class."),
    ("os_compute_api:os-server-groups:create", MEMBER_OR_ADMIN, "Create a server group."),
    ("os_compute_api:os-server-groups:index", READER_OR_ADMIN, "List the project's groups."),
    (
        "os_compute_api:os-server-groups:index:all_projects",
        ADMIN,
        "List every project's server groups.",
    ),
    ("os_compute_api:os-server-groups:show", READER_OR_ADMIN, "Show a server group."),
    ("os_compute_api:os-server-groups:delete", MEMBER_OR_ADMIN, "Delete a server group."),
    ("os_compute_api:os-aggregates:index", ADMIN, "List host aggregates."),
    ("os_compute_api:os-aggregates:create", ADMIN, "Create a host aggregate."),
    ("os_compute_api:os-aggregates:show", ADMIN, "Show a host aggregate."),
    ("os_compute_api:os-aggregates:update", ADMIN, "Rename an aggregate or change its zone."),
    ("os_compute_api:os-aggregates:delete", ADMIN, "Delete a host aggregate."),
    ("os_compute_api:os-aggregates:add_host", ADMIN, "Add a host to an aggregate."),
    ("os_compute_api:os-aggregates:remove_host", ADMIN, "Remove a host from an aggregate."),
    ("os_compute_api:os-aggregates:set_metadata", ADMIN, "Change an aggregate's metadata."),
    ("os_compute_api:os-availability-zone:list", "@", "List the availability zones."),
    (
        "os_compute_api:os-availability-zone:detail",
        ADMIN,
        "List the zones with their hosts and services.",
    ),
    ("os_compute_api:os-hypervisors:statistics", ADMIN, "Show the hypervisors' totals."),
    ("os_compute_api:os-hypervisors:uptime", ADMIN, "Show a hypervisor's uptime."),
    ("os_compute_api:os-hypervisors:search", ADMIN, "Search hypervisors by hostname."),
    ("os_compute_api:os-hypervisors:servers", ADMIN, "List the servers on hypervisors."),
    ("os_compute_api:os-hosts:list", ADMIN, "List hosts (deprecated API)."),
    ("os_compute_api:os-hosts:show", ADMIN, "Show a host's resources (deprecated API)."),
    ("os_compute_api:os-hosts:update", ADMIN, "Change a host's status (deprecated API)."),
    ("os_compute_api:os-hosts:reboot", ADMIN, "Reboot a host (deprecated API)."),
    ("os_compute_api:os-hosts:shutdown", ADMIN, "Shut a host down (deprecated API)."),
    ("os_compute_api:os-hosts:start", ADMIN, "Start a host (deprecated API)."),
    ("os_compute_api:os-simple-tenant-usage:list", ADMIN, "List every project's usage."),
    ("os_compute_api:os-simple-tenant-usage:show", READER_OR_ADMIN, "Show a project's usage."),
    ("os_compute_api:os-instance-usage-audit-log:list", ADMIN, "Show the usage audit log."),
    (
        "os_compute_api:os-instance-usage-audit-log:show",
        ADMIN,
        "Show the usage audit log of a period.",
    ),
)

# Glance's defaults (glance/policies/base.py, image.py), written out in full.
_IMAGE_VISIBLE = (
    "project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s"
    " or 'public':%(visibility)s or 'shared':%(visibility)s"
)
_IMAGE_MEMBERS = "project_id:%(project_id)s or project_id:%(member_id)s"
# Glance's metadata-definition catalog: administrators write it, readers read what
# they may see (their project's namespaces, public ones).
_METADEF_READ = (
    f"{ADMIN} or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))"
)
_METADEF_RULES = (
    ("get_metadef_namespaces", READER_OR_ADMIN, "List metadata definition namespaces."),
    *(
        (f"get_metadef_{noun}", _METADEF_READ, f"Show a namespace's {noun.replace('_', ' ')}.")
        for noun in ("namespace", "object", "objects", "property", "properties", "tag", "tags")
    ),
    ("list_metadef_resource_types", _METADEF_READ, "List the metadata resource types."),
    ("get_metadef_resource_type", _METADEF_READ, "List a namespace's resource type associations."),
    *(
        (rule, ADMIN, f"Change the metadata definitions ({rule}).")
        for rule in (
            "add_metadef_namespace",
            "modify_metadef_namespace",
            "delete_metadef_namespace",
            "add_metadef_object",
            "modify_metadef_object",
            "delete_metadef_object",
            "add_metadef_resource_type_association",
            "remove_metadef_resource_type_association",
            "add_metadef_property",
            "modify_metadef_property",
            "remove_metadef_property",
            "add_metadef_tag",
            "add_metadef_tags",
            "modify_metadef_tag",
            "delete_metadef_tag",
            "delete_metadef_tags",
        )
    ),
)
IMAGE = _rules(
    ("get_images", READER_OR_ADMIN, "List images."),
    (
        "get_image",
        f"{ADMIN} or (role:reader and ({_IMAGE_VISIBLE}))",
        "Show an image: the project's, one shared with it, a community or public one.",
    ),
    (
        "add_image",
        f"{ADMIN} or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
        "Create an image (owned by another project: administrators only).",
    ),
    ("publicize_image", ADMIN, "Create (or make) an image public."),
    ("communitize_image", MEMBER_OR_ADMIN, "Create (or make) a community image."),
    ("modify_image", MEMBER_OR_ADMIN, "Update an image (PATCH, tags)."),
    ("delete_image", MEMBER_OR_ADMIN, "Delete an image and its data."),
    ("upload_image", MEMBER_OR_ADMIN, "Upload an image's data."),
    (
        "download_image",
        f"{ADMIN} or (role:member and ({_IMAGE_VISIBLE}))",
        "Download an image's data: the project's, a shared, community or public image's.",
    ),
    ("add_member", MEMBER_OR_ADMIN, "Share an image with a project."),
    ("delete_member", MEMBER_OR_ADMIN, "Stop sharing an image with a project."),
    (
        "get_member",
        f"{ADMIN} or role:reader and ({_IMAGE_MEMBERS})",
        "Show an image membership: the image's owner, or the member.",
    ),
    (
        "get_members",
        f"{ADMIN} or role:reader and ({_IMAGE_MEMBERS})",
        "List an image's members: the image's owner, or a member (its own).",
    ),
    (
        "modify_member",
        f"{ADMIN} or (role:member and project_id:%(member_id)s)",
        "Accept or reject an image shared with the caller's project.",
    ),
    ("deactivate", MEMBER_OR_ADMIN, "Deactivate an image."),
    ("reactivate", MEMBER_OR_ADMIN, "Reactivate an image."),
    ("tasks_api_access", ADMIN, "Use the tasks API at all (Glance's, deprecated)."),
    ("add_task", "@", "Create a task (past tasks_api_access)."),
    ("get_task", "@", "Show a task (past tasks_api_access)."),
    ("get_tasks", "@", "List the tasks (past tasks_api_access)."),
    *_METADEF_RULES,
)

_NET_OWNER = f"{ADMIN} or project_id:%(network_project_id)s"
NETWORK = _rules(
    ("admin_only", "rule:context_is_admin", "Neutron's name for administrator-only actions."),
    (
        "get_network",
        READER_OR_ADMIN + " or 'True':%(shared)s or 'True':%(external)s",
        "Show a network (the caller's project's, a shared or an external one).",
    ),
    ("create_network", MEMBER_OR_ADMIN, "Create a network in the caller's project."),
    ("create_network:shared", "rule:admin_only", "Create a shared network."),
    ("create_network:router:external", "rule:admin_only", "Create an external network."),
    ("update_network", MEMBER_OR_ADMIN, "Change a network."),
    ("update_network:shared", "rule:admin_only", "Share a network, or stop sharing it."),
    ("update_network:router:external", "rule:admin_only", "Make a network external, or not."),
    ("delete_network", MEMBER_OR_ADMIN, "Delete a network."),
    ("get_subnet", READER_OR_ADMIN + " or 'True':%(shared)s", "Show a subnet."),
    ("create_subnet", MEMBER_OR_ADMIN, "Add a subnet to a network of the caller's project."),
    ("update_subnet", MEMBER_OR_ADMIN, "Change a subnet."),
    ("delete_subnet", MEMBER_OR_ADMIN, "Delete a subnet."),
    ("get_subnetpool", READER_OR_ADMIN + " or 'True':%(shared)s", "Show a subnet pool."),
    ("create_subnetpool", MEMBER_OR_ADMIN, "Create a subnet pool."),
    ("create_subnetpool:shared", "rule:admin_only", "Create a shared subnet pool."),
    ("update_subnetpool", MEMBER_OR_ADMIN, "Change a subnet pool."),
    ("delete_subnetpool", MEMBER_OR_ADMIN, "Delete a subnet pool."),
    ("get_port", READER_OR_ADMIN, "Show a port."),
    (
        "create_port",
        MEMBER_OR_ADMIN,
        "Create a port (compute does, for its servers, with the owner's credentials).",
    ),
    ("create_port:mac_address", _NET_OWNER, "Choose a new port's MAC address."),
    ("create_port:fixed_ips:ip_address", _NET_OWNER, "Choose a new port's fixed IP address."),
    ("create_port:device_owner", _NET_OWNER, "Create a port owned by a network device."),
    ("create_port:binding:host_id", "rule:admin_only", "Bind a new port to a host."),
    ("create_port:binding:profile", "rule:admin_only", "Give a new port a binding profile."),
    ("update_port", MEMBER_OR_ADMIN, "Change a port."),
    ("update_port:mac_address", "rule:admin_only", "Change a port's MAC address."),
    ("update_port:fixed_ips:ip_address", _NET_OWNER, "Choose a port's fixed IP address."),
    ("update_port:device_owner", _NET_OWNER, "Make a port a network device's."),
    (
        "update_port:binding:host_id",
        MEMBER_OR_ADMIN,
        "Bind a port to a compute host (compute does, with the owner's credentials).",
    ),
    ("update_port:binding:profile", "rule:admin_only", "Change a port's binding profile."),
    ("delete_port", MEMBER_OR_ADMIN, "Delete a port, or release an instance's ports."),
    ("get_security_group", READER_OR_ADMIN, "Show a security group."),
    ("create_security_group", MEMBER_OR_ADMIN, "Create a security group."),
    ("update_security_group", MEMBER_OR_ADMIN, "Change a security group."),
    ("delete_security_group", MEMBER_OR_ADMIN, "Delete a security group."),
    ("get_security_group_rule", READER_OR_ADMIN, "Show a security group rule."),
    ("create_security_group_rule", MEMBER_OR_ADMIN, "Add a rule to a security group."),
    ("delete_security_group_rule", MEMBER_OR_ADMIN, "Delete a security group rule."),
    ("get_router", READER_OR_ADMIN, "Show a router."),
    ("create_router", MEMBER_OR_ADMIN, "Create a router."),
    (
        "create_router:external_gateway_info:enable_snat",
        "rule:admin_only",
        "Choose SNAT on a new router's gateway.",
    ),
    (
        "create_router:external_gateway_info:external_fixed_ips",
        "rule:admin_only",
        "Choose a new router's gateway addresses.",
    ),
    ("update_router", MEMBER_OR_ADMIN, "Change a router."),
    (
        "update_router:external_gateway_info:enable_snat",
        "rule:admin_only",
        "Choose SNAT on a router's gateway.",
    ),
    (
        "update_router:external_gateway_info:external_fixed_ips",
        "rule:admin_only",
        "Choose a router's gateway addresses.",
    ),
    ("delete_router", MEMBER_OR_ADMIN, "Delete a router."),
    ("add_router_interface", MEMBER_OR_ADMIN, "Attach a subnet or port to a router."),
    ("remove_router_interface", MEMBER_OR_ADMIN, "Detach an interface from a router."),
    ("get_floatingip", READER_OR_ADMIN, "Show a floating IP."),
    ("create_floatingip", MEMBER_OR_ADMIN, "Take a floating IP."),
    ("create_floatingip:floating_ip_address", "rule:admin_only", "Choose a floating address."),
    ("update_floatingip", MEMBER_OR_ADMIN, "Associate or release a floating IP."),
    ("delete_floatingip", MEMBER_OR_ADMIN, "Give a floating IP back."),
)

# Nova's proxies of Neutron's security groups and floating IPs (microversions below
# 2.36) and the server actions that apply them; Neutron's own rules apply to what the
# proxies ask of the network service too.
_SG = "os_compute_api:os-security-groups:"
_FIP = "os_compute_api:os-floating-ips:"
COMPUTE_NETWORK = _rules(
    (f"{_SG}get", READER_OR_ADMIN, "List security groups (the proxy API)."),
    (f"{_SG}show", READER_OR_ADMIN, "Show a security group (the proxy API)."),
    (f"{_SG}create", MEMBER_OR_ADMIN, "Create a security group (the proxy API)."),
    (f"{_SG}update", MEMBER_OR_ADMIN, "Change a security group (the proxy API)."),
    (f"{_SG}delete", MEMBER_OR_ADMIN, "Delete a security group (the proxy API)."),
    (f"{_SG}rule:create", MEMBER_OR_ADMIN, "Add a security group rule (the proxy API)."),
    (f"{_SG}rule:delete", MEMBER_OR_ADMIN, "Delete a security group rule (the proxy API)."),
    (f"{_SG}list", READER_OR_ADMIN, "List a server's security groups."),
    (f"{_SG}add", MEMBER_OR_ADMIN, "Add a security group to a server."),
    (f"{_SG}remove", MEMBER_OR_ADMIN, "Remove a security group from a server."),
    ("os_compute_api:os-floating-ip-pools:list", READER_OR_ADMIN, "List floating IP pools."),
    (f"{_FIP}list", READER_OR_ADMIN, "List floating IPs (the proxy API)."),
    (f"{_FIP}show", READER_OR_ADMIN, "Show a floating IP (the proxy API)."),
    (f"{_FIP}create", MEMBER_OR_ADMIN, "Take a floating IP (the proxy API)."),
    (f"{_FIP}delete", MEMBER_OR_ADMIN, "Give a floating IP back (the proxy API)."),
    (f"{_FIP}add", MEMBER_OR_ADMIN, "Associate a floating IP with a server."),
    (f"{_FIP}remove", MEMBER_OR_ADMIN, "Take a floating IP off a server."),
    ("os_compute_api:os-networks:list", READER_OR_ADMIN, "List networks (the proxy API)."),
    ("os_compute_api:os-networks:view", READER_OR_ADMIN, "Show a network (the proxy API)."),
    ("os_compute_api:os-tenant-networks:list", READER_OR_ADMIN, "List the project's networks."),
    ("os_compute_api:os-tenant-networks:show", READER_OR_ADMIN, "Show a project's network."),
)

_ACTIONS = "volume_extension:volume_actions:"
VOLUME = _rules(
    ("volume:get_all", READER_OR_ADMIN, "List the project's volumes."),
    ("volume:get", READER_OR_ADMIN, "Show a volume."),
    ("volume:create", MEMBER_OR_ADMIN, "Create a volume."),
    ("volume:create_from_image", MEMBER_OR_ADMIN, "Create a volume from an image."),
    ("volume:delete", MEMBER_OR_ADMIN, "Delete a volume."),
    (_ACTIONS + "reserve", MEMBER_OR_ADMIN, "Reserve a volume for an attach."),
    (_ACTIONS + "unreserve", MEMBER_OR_ADMIN, "Give up a reservation."),
    (_ACTIONS + "attach", MEMBER_OR_ADMIN, "Record an attachment."),
    (_ACTIONS + "begin_detaching", MEMBER_OR_ADMIN, "Start a detach."),
    (_ACTIONS + "roll_detaching", MEMBER_OR_ADMIN, "Undo a started detach."),
    (_ACTIONS + "detach", MEMBER_OR_ADMIN, "End an attachment."),
    ("volume_extension:volume_admin_actions:reset_status", ADMIN, "Force a volume's status."),
    ("limits_extension:used_limits", READER_OR_ADMIN, "Show the project's volume usage."),
    ("volume:update", MEMBER_OR_ADMIN, "Rename a volume or change its description."),
    ("volume:extend", MEMBER_OR_ADMIN, "Extend a volume."),
    ("volume:retype", MEMBER_OR_ADMIN, "Change a volume's type."),
    ("volume:update_readonly_flag", MEMBER_OR_ADMIN, "Set a volume's read-only flag."),
    ("volume:get_volume_metadata", READER_OR_ADMIN, "Show a volume's metadata."),
    ("volume:create_volume_metadata", MEMBER_OR_ADMIN, "Add to a volume's metadata."),
    ("volume:update_volume_metadata", MEMBER_OR_ADMIN, "Change a volume's metadata."),
    ("volume:delete_volume_metadata", MEMBER_OR_ADMIN, "Remove a volume metadata key."),
    (
        "volume_extension:volume_image_metadata:show",
        READER_OR_ADMIN,
        "Show a volume's image metadata.",
    ),
    ("volume_extension:volume_image_metadata:set", MEMBER_OR_ADMIN, "Set image metadata."),
    ("volume_extension:volume_image_metadata:remove", MEMBER_OR_ADMIN, "Remove image metadata."),
    (_ACTIONS + "upload_image", MEMBER_OR_ADMIN, "Upload a volume to a new image."),
    (_ACTIONS + "upload_public", ADMIN, "Upload a volume to a new public image."),
    (_ACTIONS + "initialize_connection", MEMBER_OR_ADMIN, "Open a connection to a volume."),
    (_ACTIONS + "terminate_connection", MEMBER_OR_ADMIN, "Close a connection to a volume."),
    ("volume_extension:volume_admin_actions:force_delete", ADMIN, "Force-delete a volume."),
    ("volume_extension:volume_admin_actions:force_detach", ADMIN, "Force-detach a volume."),
    ("volume_extension:volume_host_attribute", ADMIN, "See a volume's backend host."),
    ("volume_extension:volume_tenant_attribute", READER_OR_ADMIN, "See a volume's project."),
    ("volume_extension:volume_mig_status_attribute", ADMIN, "See a volume's migration."),
    ("volume:create_snapshot", MEMBER_OR_ADMIN, "Snapshot a volume."),
    ("volume:get_snapshot", READER_OR_ADMIN, "Show a snapshot."),
    ("volume:get_all_snapshots", READER_OR_ADMIN, "List the project's snapshots."),
    ("volume:update_snapshot", MEMBER_OR_ADMIN, "Rename a snapshot."),
    ("volume:delete_snapshot", MEMBER_OR_ADMIN, "Delete a snapshot."),
    ("volume:get_snapshot_metadata", READER_OR_ADMIN, "Show a snapshot's metadata."),
    ("volume:update_snapshot_metadata", MEMBER_OR_ADMIN, "Change a snapshot's metadata."),
    ("volume:delete_snapshot_metadata", MEMBER_OR_ADMIN, "Remove a snapshot metadata key."),
    (
        "volume_extension:extended_snapshot_attributes",
        READER_OR_ADMIN,
        "See a snapshot's project and progress.",
    ),
    (
        "volume_extension:snapshot_admin_actions:reset_status",
        ADMIN,
        "Force a snapshot's status.",
    ),
    ("volume_extension:snapshot_admin_actions:force_delete", ADMIN, "Force-delete a snapshot."),
    (
        "snapshot_extension:snapshot_actions:update_snapshot_status",
        MEMBER_OR_ADMIN,
        "Move a snapshot's status on, as its backend does.",
    ),
    ("volume_extension:type_create", ADMIN, "Create a volume type."),
    ("volume_extension:type_update", ADMIN, "Change a volume type."),
    ("volume_extension:type_delete", ADMIN, "Delete a volume type."),
    ("volume_extension:type_get", READER_OR_ADMIN, "Show a volume type."),
    ("volume_extension:type_get_all", READER_OR_ADMIN, "List the volume types."),
    (
        "volume_extension:access_types_extra_specs",
        READER_OR_ADMIN,
        "See a volume type's extra specs.",
    ),
    ("volume_extension:access_types_qos_specs_id", ADMIN, "See a volume type's QoS specs."),
    ("volume_extension:types_extra_specs:index", READER_OR_ADMIN, "List a type's extra specs."),
    ("volume_extension:types_extra_specs:show", READER_OR_ADMIN, "Show a type's extra spec."),
    ("volume_extension:types_extra_specs:create", ADMIN, "Add extra specs to a type."),
    ("volume_extension:types_extra_specs:update", ADMIN, "Change a type's extra spec."),
    ("volume_extension:types_extra_specs:delete", ADMIN, "Remove a type's extra spec."),
    (
        "volume_extension:volume_type_access",
        MEMBER_OR_ADMIN,
        "See whether volume types are public.",
    ),
    (
        "volume_extension:volume_type_access:get_all_for_type",
        ADMIN,
        "List the projects a private volume type was given to.",
    ),
    (
        "volume_extension:volume_type_access:addProjectAccess",
        ADMIN,
        "Give a project a private volume type.",
    ),
    (
        "volume_extension:volume_type_access:removeProjectAccess",
        ADMIN,
        "Take a private volume type from a project.",
    ),
    ("volume_extension:volume_type_encryption:create", ADMIN, "Encrypt a volume type."),
    ("volume_extension:volume_type_encryption:get", ADMIN, "Show a type's encryption."),
    ("volume_extension:volume_type_encryption:update", ADMIN, "Change a type's encryption."),
    ("volume_extension:volume_type_encryption:delete", ADMIN, "Remove a type's encryption."),
    ("volume_extension:quotas:show", READER_OR_ADMIN, "Show a project's volume quotas."),
    ("volume_extension:quotas:update", ADMIN, "Set a project's volume quotas."),
    ("volume_extension:quotas:delete", ADMIN, "Reset a project's volume quotas."),
    ("volume_extension:quota_classes", ADMIN, "Show the default volume quota class."),
    ("volume_extension:quota_classes:update", ADMIN, "Change a volume quota class."),
    ("volume_extension:services:index", ADMIN, "List the block storage services."),
    ("volume_extension:services:update", ADMIN, "Enable or disable a block storage service."),
    ("volume_extension:hosts", ADMIN, "List the block storage hosts."),
    ("volume_extension:capabilities", ADMIN, "Show a storage backend's capabilities."),
    ("scheduler_extension:scheduler_stats:get_pools", ADMIN, "List the storage pools."),
    ("message:get_all", READER_OR_ADMIN, "List the project's user messages."),
    ("message:get", READER_OR_ADMIN, "Show a user message."),
    ("message:delete", MEMBER_OR_ADMIN, "Delete a user message."),
    ("backup:create", MEMBER_OR_ADMIN, "Back a volume up."),
    ("backup:get", READER_OR_ADMIN, "Show a backup."),
    ("backup:get_all", READER_OR_ADMIN, "List the project's backups."),
    ("backup:update", MEMBER_OR_ADMIN, "Change a backup's name or description."),
    ("backup:delete", MEMBER_OR_ADMIN, "Delete a backup."),
    ("backup:restore", MEMBER_OR_ADMIN, "Restore a backup into a volume."),
    ("backup:export-import", ADMIN, "Export a backup's record."),
    ("backup:backup-import", ADMIN, "Import a backup's record."),
    ("volume_extension:backup_admin_actions:reset_status", ADMIN, "Force a backup's status."),
    ("volume_extension:backup_admin_actions:force_delete", ADMIN, "Force-delete a backup."),
    ("volume:create_transfer", MEMBER_OR_ADMIN, "Offer a volume to another project."),
    ("volume:get_transfer", READER_OR_ADMIN, "Show a volume transfer."),
    ("volume:get_all_transfers", READER_OR_ADMIN, "List the project's volume transfers."),
    ("volume:delete_transfer", MEMBER_OR_ADMIN, "Withdraw a volume transfer."),
    ("volume:accept_transfer", MEMBER_OR_ADMIN, "Accept a volume offered to the project."),
    ("volume_extension:qos_specs_manage:create", ADMIN, "Create QoS specs."),
    ("volume_extension:qos_specs_manage:get", ADMIN, "Show QoS specs."),
    ("volume_extension:qos_specs_manage:get_all", ADMIN, "List QoS specs."),
    ("volume_extension:qos_specs_manage:update", ADMIN, "Change QoS specs."),
    ("volume_extension:qos_specs_manage:delete", ADMIN, "Delete QoS specs."),
    ("group:group_types_manage", ADMIN, "Create, update or delete a group type."),
    ("group:access_group_types_specs", ADMIN, "See a group type's group specs."),
    ("group:group_types_specs", ADMIN, "Create, show, update and delete group type specs."),
    ("group:create", MEMBER_OR_ADMIN, "Create a group."),
    ("group:get", READER_OR_ADMIN, "Show a group."),
    ("group:get_all", READER_OR_ADMIN, "List the project's groups."),
    ("group:update", MEMBER_OR_ADMIN, "Rename a group, add or remove its volumes."),
    ("group:delete", MEMBER_OR_ADMIN, "Delete a group (and its volumes)."),
    ("group:reset_status", ADMIN, "Force a group's status."),
    ("group:create_group_snapshot", MEMBER_OR_ADMIN, "Snapshot a group's volumes."),
    ("group:get_group_snapshot", READER_OR_ADMIN, "Show a group snapshot."),
    ("group:get_all_group_snapshots", READER_OR_ADMIN, "List the project's group snapshots."),
    ("group:delete_group_snapshot", MEMBER_OR_ADMIN, "Delete a group snapshot."),
    ("group:reset_group_snapshot_status", ADMIN, "Force a group snapshot's status."),
)

IDENTITY = _rules(*keystone.ROWS)

DEFAULTS: tuple[RuleDefault, ...] = (
    *BASE,
    *COMPUTE,
    *COMPUTE_NETWORK,
    *COMPUTE_ADMIN,
    *IMAGE,
    *NETWORK,
    *VOLUME,
    *IDENTITY,
)
