"""The model objects services exchange over RPC (Nova's versioned objects, as attrs).

Each is frozen (changes are made with ``attrs.evolve``), carries a wire ``VERSION``,
and does no I/O: a service persists its own objects in its own database. `serializer()`
returns the serializer that knows all of them (`nova_lite.converter.ObjectSerializer`:
this module does not depend on the RPC layer).
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar, TypeVar

import attrs
import orjson

from nova_lite import clock
from nova_lite.converter import ObjectSerializer

__all__ = [
    "Aggregate",
    "BlockDevice",
    "ComputeNode",
    "Destinations",
    "Flavor",
    "FloatingIp",
    "HostLedger",
    "Image",
    "ImageChange",
    "ImageMember",
    "ImageQuery",
    "ImageTask",
    "Instance",
    "InstanceAction",
    "InstanceActionEvent",
    "InstanceFault",
    "KeyPair",
    "Migration",
    "Network",
    "Port",
    "RequestSpec",
    "Router",
    "SecurityGroup",
    "SecurityGroupRule",
    "Selection",
    "ServerGroup",
    "Subnet",
    "SubnetPool",
    "TokenInfo",
    "Volume",
    "VolumeSnapshot",
    "VolumeType",
    "dump",
    "load",
    "serializer",
    "utcnow",
]


def utcnow() -> datetime.datetime:
    """The current time, timezone-aware in UTC (`nova_lite.clock`: virtual in a simulation)."""
    return clock.now()


@attrs.frozen(kw_only=True)
class Flavor:
    """A hardware template: vCPUs, RAM and disks an instance gets."""

    VERSION: ClassVar[str] = "1.1"  # 1.1: description, rxtx_factor
    flavorid: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    ephemeral_gb: int = 0
    swap: int = 0
    is_public: bool = True
    extra_specs: dict[str, str] = attrs.field(factory=dict)
    description: str | None = None
    rxtx_factor: float = 1.0

    @property
    def disk_gb(self) -> int:
        """Local disk the flavor needs: root, ephemeral and swap (MiB, rounded up)."""
        return self.root_gb + self.ephemeral_gb + (self.swap + 1023) // 1024


@attrs.frozen(kw_only=True)
class Image:
    """An image's metadata as the image service (Glance) describes it."""

    VERSION: ClassVar[str] = "1.1"  # 1.1: protected, os_hidden, tags, updated_at
    id: str
    name: str
    status: str = "queued"
    disk_format: str = "raw"
    container_format: str = "bare"
    size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    visibility: str = "public"
    owner: str | None = None
    properties: dict[str, str] = attrs.field(factory=dict)
    created_at: datetime.datetime = attrs.field(factory=utcnow)
    protected: bool = False
    os_hidden: bool = False
    tags: tuple[str, ...] = ()
    updated_at: datetime.datetime | None = None


@attrs.frozen(kw_only=True)
class ImageMember:
    """A project an image is shared with, and whether that project accepted it."""

    VERSION: ClassVar[str] = "1.0"
    image_id: str
    member_id: str
    status: str = "pending"
    created_at: datetime.datetime = attrs.field(factory=utcnow)
    updated_at: datetime.datetime = attrs.field(factory=utcnow)


@attrs.frozen(kw_only=True)
class ImageTask:
    """An image task (Glance's ``api_image_import``): what was asked, and how it ended."""

    VERSION: ClassVar[str] = "1.0"
    id: str
    image_id: str
    type: str = "api_image_import"
    status: str = "pending"
    input: dict[str, Any] = attrs.field(factory=dict)
    result: dict[str, Any] | None = None
    message: str = ""
    owner: str | None = None
    user_id: str | None = None
    request_id: str | None = None
    created_at: datetime.datetime = attrs.field(factory=utcnow)
    updated_at: datetime.datetime = attrs.field(factory=utcnow)
    expires_at: datetime.datetime | None = None


@attrs.frozen(kw_only=True)
class ImageQuery:
    """Which images a list asks for, in Glance's terms (``GET /v2/images``'s parameters).

    `filters` holds the filter parameters as text, as Glance reads them: core fields
    (``name``, ``status``, ``visibility``, ``owner``, ...; ``in:`` lists and the
    ``created_at``/``updated_at`` operators ``gt:``, ``gte:``, ...), ranges
    (``size_min``, ``size_max``), ``os_hidden`` and ``protected``; any other key is an
    extra property. The image service interprets them, so every caller gets the same.
    """

    VERSION: ClassVar[str] = "1.0"
    filters: dict[str, str] = attrs.field(factory=dict)
    tags: tuple[str, ...] = ()
    member_status: str = "accepted"
    sort_keys: tuple[str, ...] = ()
    sort_dirs: tuple[str, ...] = ()
    marker: str | None = None
    limit: int | None = None


@attrs.frozen(kw_only=True)
class ImageChange:
    """One operation of an image update (Glance's JSON patch): add, replace or remove.

    `path` is the property the operation is about (the JSON pointer's one token);
    `value` is absent (None) for ``remove``.
    """

    VERSION: ClassVar[str] = "1.0"
    op: str
    path: str
    value: Any = None


@attrs.frozen(kw_only=True)
class Network:
    """A network the network service (Neutron) manages.

    1.1 added what Neutron's API shows besides (description, admin state, MTU,
    ``router:external``, port security, times and revision); every new field has a
    default, so a 1.0 peer's primitive still builds one.
    """

    VERSION: ClassVar[str] = "1.1"
    id: str
    name: str
    project_id: str | None = None
    shared: bool = True
    subnets: tuple[str, ...] = ()
    description: str = ""
    admin_state_up: bool = True
    external: bool = False  # router:external
    mtu: int = 1450
    port_security_enabled: bool = True
    created_at: str = ""
    updated_at: str = ""
    revision_number: int = 0


@attrs.frozen(kw_only=True)
class Subnet:
    """An IP range of a network, with its gateway, allocation pools and DHCP options.

    `pool_start` and `pool_end` are the first pool's ends (what a 1.0 peer knows);
    1.1 added every pool (`allocation_pools`, ``{"start", "end"}`` each), the DNS
    servers and host routes handed to guests, the IPv6 modes and Neutron's fields.
    """

    VERSION: ClassVar[str] = "1.1"
    id: str
    network_id: str
    cidr: str
    gateway_ip: str | None
    pool_start: str
    pool_end: str
    ip_version: int = 4
    name: str = ""
    description: str = ""
    project_id: str | None = None
    enable_dhcp: bool = True
    allocation_pools: tuple[dict[str, str], ...] = ()
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[dict[str, str], ...] = ()
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None
    subnetpool_id: str | None = None
    created_at: str = ""
    updated_at: str = ""
    revision_number: int = 0


@attrs.frozen(kw_only=True)
class Port:
    """A virtual NIC: a MAC address and fixed IPs on a network, bound to a device.

    1.1 added Neutron's port fields: name, description, admin state, the device's
    owner (``compute:nova``, ``network:router_interface``, ...), the security groups
    applied to it, port security, the binding's VNIC type and profile, times and
    revision.
    """

    VERSION: ClassVar[str] = "1.1"
    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[dict[str, str], ...] = ()
    device_id: str | None = None
    project_id: str | None = None
    status: str = "DOWN"
    binding_host: str | None = None  # the host that plugged it (binding:host_id)
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    device_owner: str = ""
    security_groups: tuple[str, ...] = ()
    port_security_enabled: bool = True
    binding_vnic_type: str = "normal"
    binding_profile: dict[str, Any] = attrs.field(factory=dict)
    allowed_address_pairs: tuple[dict[str, str], ...] = ()
    extra_dhcp_opts: tuple[dict[str, Any], ...] = ()
    created_at: str = ""
    updated_at: str = ""
    revision_number: int = 0


@attrs.frozen(kw_only=True)
class SecurityGroupRule:
    """One rule of a security group: what traffic, which way, from or to whom."""

    VERSION: ClassVar[str] = "1.0"
    id: str
    security_group_id: str
    direction: str  # ingress or egress
    ethertype: str = "IPv4"
    protocol: str | None = None  # a name (tcp, icmp, ...) or a number as text; None: any
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str = ""
    project_id: str | None = None
    created_at: str = ""
    updated_at: str = ""
    revision_number: int = 0


@attrs.frozen(kw_only=True)
class SecurityGroup:
    """A named set of rules applied to ports (Neutron's security group), with its rules."""

    VERSION: ClassVar[str] = "1.0"
    id: str
    name: str
    project_id: str | None = None
    description: str = ""
    stateful: bool = True
    rules: tuple[SecurityGroupRule, ...] = ()
    created_at: str = ""
    updated_at: str = ""
    revision_number: int = 0


@attrs.frozen(kw_only=True)
class Router:
    """A router: its gateway on an external network, extra routes, and a state.

    Its interfaces are ports (device owner ``network:router_interface``); the gateway
    is a port on the external network (``network:router_gateway``) whose addresses
    are `external_fixed_ips`. nova_lite routes nothing: a router is a record.
    """

    VERSION: ClassVar[str] = "1.0"
    id: str
    name: str = ""
    project_id: str | None = None
    description: str = ""
    admin_state_up: bool = True
    status: str = "ACTIVE"
    gateway_network_id: str | None = None
    enable_snat: bool = True
    external_fixed_ips: tuple[dict[str, str], ...] = ()
    routes: tuple[dict[str, str], ...] = ()
    created_at: str = ""
    updated_at: str = ""
    revision_number: int = 0


@attrs.frozen(kw_only=True)
class FloatingIp:
    """An address of an external network, associated with a port's fixed IP or free.

    The address is held by a port on the external network (device owner
    ``network:floatingip``); `router_id` is the router that would translate it. No
    address is translated: the association is a record.
    """

    VERSION: ClassVar[str] = "1.0"
    id: str
    floating_network_id: str
    floating_ip_address: str
    project_id: str | None = None
    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None
    status: str = "DOWN"
    description: str = ""
    created_at: str = ""
    updated_at: str = ""
    revision_number: int = 0


@attrs.frozen(kw_only=True)
class SubnetPool:
    """A pool of prefixes subnets may be carved from (Neutron's subnet pool), as a record."""

    VERSION: ClassVar[str] = "1.0"
    id: str
    name: str
    prefixes: tuple[str, ...]
    ip_version: int = 4
    project_id: str | None = None
    description: str = ""
    shared: bool = False
    is_default: bool = False
    default_prefixlen: int = 8
    min_prefixlen: int = 8
    max_prefixlen: int = 32
    default_quota: int | None = None
    address_scope_id: str | None = None
    created_at: str = ""
    updated_at: str = ""
    revision_number: int = 0


@attrs.frozen(kw_only=True)
class Volume:
    """A block-storage volume (Cinder) and where it is attached.

    Version 1.1 added what Cinder's API shows besides (description, metadata, type,
    zone, sources, read-only flag, image metadata, times, the attachment's id); 1.2
    the generic volume group it belongs to. Every new field has a default, so an
    older peer's primitive still builds one.
    """

    VERSION: ClassVar[str] = "1.2"
    id: str
    name: str
    size: int
    status: str = "creating"
    project_id: str | None = None
    image_id: str | None = None
    bootable: bool = False
    attached_to: str | None = None
    mountpoint: str | None = None
    user_id: str | None = None
    description: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    volume_type_id: str | None = None
    volume_type: str | None = None  # the type's name, as Cinder shows it
    availability_zone: str = "nova"
    snapshot_id: str | None = None
    source_volid: str | None = None
    readonly: bool | None = None  # None: never set (Cinder shows it once it is)
    image_metadata: dict[str, str] = attrs.field(factory=dict)
    attachment_id: str | None = None
    attached_at: datetime.datetime | None = None
    host: str | None = None  # the volume service's host@backend#pool
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    group_id: str | None = None  # the generic volume group (Cinder 3.13) it is in


@attrs.frozen(kw_only=True)
class VolumeSnapshot:
    """A point-in-time copy of a volume (Cinder's snapshot), in the volume's project."""

    VERSION: ClassVar[str] = "1.0"
    id: str
    volume_id: str
    name: str
    size: int
    status: str = "creating"
    description: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    progress: str = "0%"
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None


@attrs.frozen(kw_only=True)
class VolumeType:
    """A volume type (Cinder's): a name, extra specs for the backend, who may use it."""

    VERSION: ClassVar[str] = "1.0"
    id: str
    name: str
    description: str | None = None
    is_public: bool = True
    extra_specs: dict[str, str] = attrs.field(factory=dict)
    qos_specs_id: str | None = None
    # Its encryption (provider, cipher, key_size, control_location, ...), if any.
    encryption: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class BlockDevice:
    """How an instance uses a volume: boot from it or attach it as an extra disk."""

    VERSION: ClassVar[str] = "1.0"
    source_type: str  # "image", "volume" or "blank"
    destination_type: str = "volume"
    boot_index: int | None = None
    volume_id: str | None = None
    image_id: str | None = None
    volume_size: int | None = None
    delete_on_termination: bool = True
    device_name: str | None = None


@attrs.frozen(kw_only=True)
class InstanceFault:
    """Why an instance went to ERROR: message, code and details."""

    VERSION: ClassVar[str] = "1.0"
    code: int
    message: str
    details: str = ""
    created_at: datetime.datetime = attrs.field(factory=utcnow)


@attrs.frozen(kw_only=True)
class Instance:
    """A server: what it is, where it runs, and its vm/task/power states."""

    VERSION: ClassVar[str] = "1.0"
    uuid: str
    display_name: str
    project_id: str
    user_id: str
    flavor: Flavor
    image_ref: str | None
    vm_state: str
    task_state: str | None = None
    power_state: int = 0
    host: str | None = None
    node: str | None = None
    availability_zone: str | None = None
    networks: tuple[str, ...] = ()
    block_devices: tuple[BlockDevice, ...] = ()
    addresses: tuple[dict[str, str], ...] = ()
    metadata: dict[str, str] = attrs.field(factory=dict)
    system_metadata: dict[str, str] = attrs.field(factory=dict)
    scheduler_hints: dict[str, Any] = attrs.field(factory=dict)
    locked: bool = False
    locked_by: str | None = None
    fault: InstanceFault | None = None
    launched_at: datetime.datetime | None = None
    created_at: datetime.datetime = attrs.field(factory=utcnow)
    updated_at: datetime.datetime | None = None
    deleted: bool = False
    # What the user gave the server at create, update or rebuild, as Nova's server API
    # shows it: the description (2.19), the key pair (its name, and its public key
    # as the driver gets it), access addresses ("" when unset), disk config (AUTO or
    # MANUAL), user data (base64 text) and tags.
    description: str | None = None
    key_name: str | None = None
    key_data: str | None = None
    access_ip_v4: str = ""
    access_ip_v6: str = ""
    auto_disk_config: bool = False
    user_data: str | None = None
    tags: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class KeyPair:
    """A user's key pair (os-keypairs): the public half only; the private one is never kept."""

    VERSION: ClassVar[str] = "1.0"
    id: int
    name: str
    user_id: str
    type: str
    public_key: str
    fingerprint: str
    created_at: datetime.datetime = attrs.field(factory=utcnow)


@attrs.frozen(kw_only=True)
class RequestSpec:
    """What the scheduler must place: flavor, image, zone, hints, hosts to avoid.

    `instance_group` is the server group's uuid, with its `group_policy` and
    `group_rules` (``max_server_per_host``); `host_zones` maps the hosts that are in
    an availability zone aggregate to that zone (the others are in their own
    ``[compute] availability_zone``), set when `availability_zone` is asked for.
    """

    VERSION: ClassVar[str] = "1.1"  # 1.1: group_rules, host_zones
    instance_uuid: str
    project_id: str
    flavor: Flavor
    image: Image | None = None
    availability_zone: str | None = None
    scheduler_hints: dict[str, Any] = attrs.field(factory=dict)
    ignore_hosts: tuple[str, ...] = ()
    instance_group: str | None = None
    group_policy: str | None = None
    group_rules: dict[str, int] = attrs.field(factory=dict)
    host_zones: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Selection:
    """A placement decision: the chosen host, with the resources claimed there."""

    VERSION: ClassVar[str] = "1.0"
    host: str
    nodename: str
    instance_uuid: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    instance_group: str | None = None


@attrs.frozen(kw_only=True)
class Destinations:
    """One instance's outcome in a batched placement (``select_destinations_batch``).

    Either `selections` (the claimed host first, then the alternates) or, when the
    scheduler could not place it, `fault` with the exception's class name and
    message (a `NoValidHost` also carries its filter results and the request's needs).
    """

    VERSION: ClassVar[str] = "1.0"
    instance_uuid: str
    selections: tuple[Selection, ...] = ()
    fault: str | None = None  # the exception's class name
    message: str = ""
    filter_results: tuple[str, ...] = ()
    needs: str = ""


@attrs.frozen(kw_only=True)
class ComputeNode:
    """A compute host's capacity and state, as its resource tracker reports it."""

    VERSION: ClassVar[str] = "1.0"
    host: str
    hypervisor_hostname: str
    hypervisor_type: str
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int = 0
    memory_mb_used: int = 0
    local_gb_used: int = 0
    running_vms: int = 0
    availability_zone: str = "nova"
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    supported_instances: tuple[str, ...] = ("x86_64",)
    failed_builds: int = 0
    io_ops: int = 0
    disabled: bool = False
    updated_at: datetime.datetime = attrs.field(factory=utcnow)


@attrs.frozen(kw_only=True)
class InstanceActionEvent:
    """One service step of an instance action (Nova's os-instance-actions events)."""

    VERSION: ClassVar[str] = "1.0"
    event: str
    host: str | None
    start_time: datetime.datetime
    finish_time: datetime.datetime | None = None
    result: str | None = None
    traceback: str | None = None


@attrs.frozen(kw_only=True)
class InstanceAction:
    """A user request on an instance: what, by whom, when, and its events."""

    VERSION: ClassVar[str] = "1.0"
    instance_uuid: str
    action: str
    request_id: str
    user_id: str | None
    project_id: str | None
    start_time: datetime.datetime
    finish_time: datetime.datetime | None = None
    message: str | None = None
    events: tuple[InstanceActionEvent, ...] = ()


@attrs.frozen(kw_only=True)
class Migration:
    """A resize, cold or live migration in progress or done: hosts, flavors, status.

    A cold migration keeps the flavor (`migration_type`), and so does a live one
    (`live`); `id` is the record's number (os-migrations shows it), `project_id` and
    `user_id` the instance's owner.
    """

    VERSION: ClassVar[str] = "1.2"  # 1.1: id, project_id, user_id; 1.2: live
    uuid: str
    instance_uuid: str
    source_host: str
    dest_host: str | None
    old_flavor: Flavor
    new_flavor: Flavor
    old_vm_state: str
    status: str
    created_at: datetime.datetime = attrs.field(factory=utcnow)
    updated_at: datetime.datetime = attrs.field(factory=utcnow)
    id: int = 0
    project_id: str | None = None
    user_id: str | None = None
    live: bool = False

    @property
    def migration_type(self) -> str:
        """``live-migration``, ``migration`` (a cold one: the flavor stays) or ``resize``."""
        if self.live:
            return "live-migration"
        return "migration" if self.old_flavor.flavorid == self.new_flavor.flavorid else "resize"


@attrs.frozen(kw_only=True)
class Aggregate:
    """A host aggregate: named hosts with metadata (Nova's); ``availability_zone`` in the
    metadata makes its hosts that zone."""

    VERSION: ClassVar[str] = "1.0"
    id: int
    uuid: str
    name: str
    hosts: tuple[str, ...] = ()
    metadata: dict[str, str] = attrs.field(factory=dict)
    created_at: datetime.datetime = attrs.field(factory=utcnow)
    updated_at: datetime.datetime | None = None

    @property
    def availability_zone(self) -> str | None:
        return self.metadata.get("availability_zone")


@attrs.frozen(kw_only=True)
class ServerGroup:
    """A server group: a placement policy its members share (Nova's InstanceGroup).

    `policy` is ``affinity``, ``anti-affinity``, ``soft-affinity`` or
    ``soft-anti-affinity``; `rules` may hold ``max_server_per_host`` (anti-affinity);
    `members` are the uuids of its servers that are not deleted.
    """

    VERSION: ClassVar[str] = "1.0"
    uuid: str
    name: str
    project_id: str
    user_id: str
    policy: str
    rules: dict[str, int] = attrs.field(factory=dict)
    members: tuple[str, ...] = ()
    created_at: datetime.datetime = attrs.field(factory=utcnow)


@attrs.frozen(kw_only=True)
class TokenInfo:
    """What identity says about a valid token: who, which project, which roles, until when.

    A token scoped to a domain or the system, or to nothing, has no project (1.1).
    """

    VERSION: ClassVar[str] = "1.1"
    user_id: str
    user_name: str
    project_id: str | None = None
    project_name: str | None = None
    roles: tuple[str, ...]
    expires_at: datetime.datetime

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@attrs.frozen(kw_only=True)
class HostLedger:
    """One compute host's own books, as the audit reads them.

    `tracked` is the resource tracker (instance uuid → the flavor it counts),
    `guests` the hypervisor's guests, and `busy` the instances an operation is
    working on right now (their lock is held), whose books may be mid-change.
    """

    VERSION: ClassVar[str] = "1.0"
    host: str
    tracked: dict[str, Flavor] = attrs.field(factory=dict)
    guests: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()


_ALL: tuple[type, ...] = (
    Aggregate,
    BlockDevice,
    ComputeNode,
    Destinations,
    Flavor,
    FloatingIp,
    HostLedger,
    Image,
    ImageChange,
    ImageMember,
    ImageQuery,
    ImageTask,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    KeyPair,
    Migration,
    Network,
    Port,
    RequestSpec,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Selection,
    ServerGroup,
    Subnet,
    SubnetPool,
    TokenInfo,
    Volume,
    VolumeSnapshot,
    VolumeType,
)


_SERIALIZER = ObjectSerializer(_ALL)

T = TypeVar("T")


def serializer() -> ObjectSerializer:
    """An RPC serializer that knows every nova_lite model object."""
    return _SERIALIZER


def dump(obj: Any) -> str:
    """An object as JSON text, for a service to store in its own database."""
    return orjson.dumps(_SERIALIZER.converter.unstructure(obj)).decode()


def load(cls: type[T], text: str | bytes) -> T:
    """Rebuild an object of type `cls` from `dump()` output."""
    return _SERIALIZER.converter.structure(orjson.loads(text), cls)
