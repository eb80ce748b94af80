"""Configuration: one `Config`, from defaults, a TOML file and the environment.

The same TOML file drives every process of a deployment. Top-level keys hold what
every service needs (``transport_url``, ``host``, ...); each ``[section]`` belongs to
one subsystem. Environment variables override the file: ``NOVA_LITE_<KEY>`` for a
top-level key and ``NOVA_LITE_<SECTION>_<KEY>`` for a section's key, e.g.
``NOVA_LITE_TRANSPORT_URL=amqp://...`` or ``NOVA_LITE_RPC_TIMEOUT=30``.

Values are read strictly, so a typo fails at start-up instead of running with a
value nobody chose. A TOML value must be of the option's type (an ``int`` option
refuses ``1.9``, ``"2"`` and ``true``; a ``float`` option takes integers too). An
environment value must spell one: an integer literal, a decimal number, or one of
`BOOL_SPELLINGS`. An unknown key, or a ``NOVA_LITE_*`` variable that is no option,
is an error with the closest known name. The variables of the tests and tools
(`RESERVED_ENV_PREFIXES`, `RESERVED_ENV_NAMES`) are not options and are left alone.

Swapping the in-memory broker for RabbitMQ is the one line ``transport_url``.
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import attrs

from nova_lite.config_reader import (
    BOOL_SPELLINGS,
    RESERVED_ENV_NAMES,
    RESERVED_ENV_PREFIXES,
    Origin,
    build,
    environment_variables,
    from_environ,
    is_reserved_variable,
    merge,
)
from nova_lite.exceptions import ConfigError

__all__ = [
    "BOOL_SPELLINGS",
    "RESERVED_ENV_NAMES",
    "RESERVED_ENV_PREFIXES",
    "ApiConfig",
    "ClientConfig",
    "ComputeConfig",
    "ConductorConfig",
    "Config",
    "FakeDriverConfig",
    "IdentityConfig",
    "ImageConfig",
    "LibvirtConfig",
    "LoggingConfig",
    "MetricsConfig",
    "NetworkConfig",
    "NotificationsConfig",
    "PolicyConfig",
    "ProcessConfig",
    "QuotaConfig",
    "RpcConfig",
    "SchedulerConfig",
    "TracingConfig",
    "VolumeConfig",
    "environment_variables",
    "is_reserved_variable",
]


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value <= 0:
        raise ValueError("must be greater than 0")


def _percentage(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not 0 < value <= 100:
        raise ValueError("must be greater than 0 and at most 100")


def _one_of(*choices: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(repr, choices))}")

    return check


@attrs.frozen(kw_only=True)
class RpcConfig:
    """``[rpc]``: how Invokers and Workers behave."""

    # Seconds a call waits without hearing from the server (its reply, or a heartbeat
    # while the server holds the call): oslo's rpc_response_timeout, used as the
    # call_monitor_timeout, as Nova does for its long calls.
    timeout: float = attrs.field(default=60.0, validator=_positive)
    # The most seconds a call waits in all, heartbeats or not (Nova's long_rpc_timeout).
    long_timeout: float = attrs.field(default=1800.0, validator=_positive)
    max_concurrency: int = attrs.field(default=64, validator=_positive)
    # Requests a worker holds beyond max_concurrency, in order, until a slot frees.
    max_waiting: int = attrs.field(default=1024, validator=attrs.validators.ge(0))
    at_least_once: bool = False
    durable_queues: bool = False
    max_message_bytes: int = attrs.field(default=4 * 1024 * 1024, validator=_positive)
    exchange: str = "nova"
    # Prepended to the names of the topic queues workers declare; lets several isolated
    # deployments (or test runs) share one broker. Empty in production (oslo's names).
    queue_prefix: str = ""


@attrs.frozen(kw_only=True)
class LoggingConfig:
    """``[logging]``: structured logs as JSON lines or for a console."""

    format: str = attrs.field(default="console", validator=_one_of("console", "json"))
    level: str = attrs.field(default="info", validator=_one_of("debug", "info", "warning", "error"))


@attrs.frozen(kw_only=True)
class IdentityConfig:
    """``[identity]``: the Keystone-like service: bootstrap admin and tokens."""

    bootstrap_username: str = "admin"
    bootstrap_project: str = "admin"
    # Empty: a random password is generated at first start and written, readable only
    # by its owner, to <state_path>/admin-password.
    bootstrap_password: str = ""
    token_ttl: float = attrs.field(default=3600.0, validator=_positive)


@attrs.frozen(kw_only=True)
class ApiConfig:
    """``[api]``: the nova-api front end."""

    token_cache_ttl: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    max_count: int = attrs.field(default=100, validator=_positive)
    # Networks one server create may ask for (each is a port and a NIC).
    max_networks_per_server: int = attrs.field(default=16, validator=_positive)
    # "HOST:PORT" where the api service also serves the OpenStack HTTP API; empty: no HTTP.
    listen: str = ""
    # The base URL the service catalog advertises; empty: the URL the request came to.
    public_url: str = ""


@attrs.frozen(kw_only=True)
class QuotaConfig:
    """``[quota]``: default per-project limits of compute (Nova's options and defaults).

    The ``default`` quota class (``os-quota-class-sets/default``) overrides these.
    """

    instances: int = 10
    cores: int = 20
    ram: int = 51200
    metadata_items: int = 128
    key_pairs: int = 100  # per user, as Nova counts them
    server_groups: int = 10
    server_group_members: int = 10
    injected_files: int = 5
    injected_file_content_bytes: int = 10240
    injected_file_path_bytes: int = 255


@attrs.frozen(kw_only=True)
class PolicyConfig:
    """``[policy]``: overrides of the default policy rules (oslo.policy's policy file)."""

    # A YAML (.yaml/.yml) or TOML file of "rule name" = "check string"; empty: defaults.
    # A relative path is taken from the directory the process runs in.
    file: str = ""


@attrs.frozen(kw_only=True)
class SchedulerConfig:
    """``[scheduler]``: filters and weighers by name, and placement tuning."""

    enabled_filters: tuple[str, ...] = (
        "ComputeFilter",
        "AvailabilityZoneFilter",
        "ComputeCapabilitiesFilter",
        "ImagePropertiesFilter",
        "ServerGroupAntiAffinityFilter",
        "ServerGroupAffinityFilter",
        "ResourceFilter",
    )
    weighers: tuple[str, ...] = (
        "RAMWeigher",
        "CPUWeigher",
        "DiskWeigher",
        "IoOpsWeigher",
        "BuildFailureWeigher",
        "ServerGroupSoftAffinityWeigher",
        "ServerGroupSoftAntiAffinityWeigher",
    )
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    io_ops_weight_multiplier: float = -1.0
    build_failure_weight_multiplier: float = 1000000.0
    # How strongly a soft-(anti-)affinity group keeps its members together (apart).
    # Nova's default is 1.0; with three resource weighers at 1.0 (each normalised to
    # 0..1) that never wins over an emptier host, so nova_lite's is 10.0.
    soft_affinity_weight_multiplier: float = 10.0
    soft_anti_affinity_weight_multiplier: float = 10.0
    host_subset_size: int = attrs.field(default=1, validator=_positive)
    max_attempts: int = attrs.field(default=3, validator=_positive)
    percentage_of_hosts_to_score: float = attrs.field(default=0.25, validator=_percentage)
    min_hosts_to_score: int = attrs.field(default=100, validator=_positive)


@attrs.frozen(kw_only=True)
class ConductorConfig:
    """``[conductor]``: how many builds the conductor lets run at once."""

    # Builds under way at once, from scheduling until ACTIVE or ERROR; the others wait
    # their turn in the conductor (0: no limit). Bounds every service's queue in a burst.
    max_concurrent_builds: int = attrs.field(default=256, validator=attrs.validators.ge(0))
    # Seconds a build may hold its slot before it is freed anyway (a build whose host
    # died stays BUILDING unless [compute] instance_build_timeout is set).
    build_slot_lease: float = attrs.field(default=600.0, validator=_positive)


@attrs.frozen(kw_only=True)
class ComputeConfig:
    """``[compute]``: the compute service, its heartbeat and its hypervisor driver."""

    driver: str = "fake"
    report_interval: float = attrs.field(default=10.0, validator=_positive)
    # Seconds between two full resource reports of a host when nothing the scheduler
    # reads from them changed (a changed one goes at the next report_interval; the
    # others are heartbeats: the host's name only). Nova's update_available_resource.
    resource_report_interval: float = attrs.field(default=60.0, validator=_positive)
    service_down_time: float = attrs.field(default=60.0, validator=_positive)
    instance_build_timeout: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    availability_zone: str = "nova"
    cpu_allocation_ratio: float = attrs.field(default=16.0, validator=_positive)
    ram_allocation_ratio: float = attrs.field(default=1.5, validator=_positive)
    disk_allocation_ratio: float = attrs.field(default=1.0, validator=_positive)
    reserved_host_memory_mb: int = 512
    allow_resize_to_same_host: bool = False
    shelved_offload_time: int = 0
    reclaim_instance_interval: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    sync_power_state_interval: float = attrs.field(default=600.0, validator=_positive)


@attrs.frozen(kw_only=True)
class FakeDriverConfig:
    """``[fake_driver]``: the fake hypervisor's capacity, delays and failures."""

    vcpus: int = 16
    memory_mb: int = 32768
    local_gb: int = 500
    spawn_delay: float = 0.0
    operation_delay: float = 0.0
    fail_spawn_hosts: tuple[str, ...] = ()
    fail_spawn_names: str = ""  # a regular expression of display names whose spawn fails
    persist_guests: bool = False  # guests kept in a file: they outlive the compute process


@attrs.frozen(kw_only=True)
class LibvirtConfig:
    """``[libvirt]``: the libvirt driver: its hypervisor connection, guests and disks."""

    connection_uri: str = "qemu:///system"
    virt_type: str = attrs.field(default="qemu", validator=_one_of("qemu", "kvm"))
    # Domain names: formatted with the first 32 bits of the instance uuid as a number.
    instance_name_template: str = "instance-%08x"
    instances_path: str = ""  # empty: <state_path>/instances
    images_path: str = ""  # the base-image cache; empty: <instances_path>/_base
    vif_type: str = attrs.field(default="user", validator=_one_of("user", "network", "ethernet"))
    network_name: str = "default"  # the libvirt network of vif_type "network"
    kernel_cmdline: str = "console=ttyS0"  # unless the image's os_command_line says otherwise
    shutdown_timeout: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))


@attrs.frozen(kw_only=True)
class ImageConfig:
    """``[image]``: the Glance-like image store."""

    max_image_bytes: int = attrs.field(default=10 * 1024**3, validator=_positive)
    chunk_bytes: int = attrs.field(default=1024 * 1024, validator=_positive)
    # Images a project may own (Glance's image_count_total); -1: unlimited.
    image_count_total: int = attrs.field(default=100, validator=attrs.validators.ge(-1))
    # Seconds an upload may go without a chunk before it is dropped (image back to queued).
    upload_idle_timeout: float = attrs.field(default=300.0, validator=_positive)


@attrs.frozen(kw_only=True)
class NetworkConfig:
    """``[network]``: the Neutron-like network service."""

    # Ports a project may have (Neutron's [quotas] quota_port); -1: unlimited.
    quota_port: int = attrs.field(default=500, validator=attrs.validators.ge(-1))
    # Networks a project may have (quota_network); -1: unlimited.
    quota_network: int = attrs.field(default=100, validator=attrs.validators.ge(-1))
    # Subnets a project may have (quota_subnet); -1: unlimited.
    quota_subnet: int = attrs.field(default=100, validator=attrs.validators.ge(-1))
    # Security groups a project may have, its default one included (quota_security_group).
    quota_security_group: int = attrs.field(default=10, validator=attrs.validators.ge(-1))
    # Security group rules a project may have (quota_security_group_rule); -1: unlimited.
    quota_security_group_rule: int = attrs.field(default=100, validator=attrs.validators.ge(-1))
    # Routers a project may have (quota_router); -1: unlimited.
    quota_router: int = attrs.field(default=10, validator=attrs.validators.ge(-1))
    # Floating IPs a project may have (quota_floatingip); -1: unlimited.
    quota_floatingip: int = attrs.field(default=50, validator=attrs.validators.ge(-1))


@attrs.frozen(kw_only=True)
class VolumeConfig:
    """``[volume]``: the Cinder-like volume service."""

    # Volumes a project may have (Cinder's quota_volumes); -1: unlimited.
    quota_volumes: int = attrs.field(default=10, validator=attrs.validators.ge(-1))
    # Snapshots a project may have (Cinder's quota_snapshots); -1: unlimited.
    quota_snapshots: int = attrs.field(default=10, validator=attrs.validators.ge(-1))
    # GiB of volumes and snapshots a project may have (quota_gigabytes); -1: unlimited.
    quota_gigabytes: int = attrs.field(default=1000, validator=attrs.validators.ge(-1))
    # Backups a project may have (Cinder's quota_backups); -1: unlimited.
    quota_backups: int = attrs.field(default=10, validator=attrs.validators.ge(-1))
    # GiB of backups a project may have (quota_backup_gigabytes); -1: unlimited.
    quota_backup_gigabytes: int = attrs.field(default=1000, validator=attrs.validators.ge(-1))
    # Generic volume groups a project may have (Cinder's quota_groups); -1: unlimited.
    quota_groups: int = attrs.field(default=10, validator=attrs.validators.ge(-1))
    # The largest volume, in GiB (per_volume_size_limit); -1: no limit but 16384.
    per_volume_size_limit: int = attrs.field(default=-1, validator=attrs.validators.ge(-1))
    # The availability zone volumes are created in (storage_availability_zone).
    availability_zone: str = "nova"


@attrs.frozen(kw_only=True)
class ClientConfig:
    """``[client]``: default credentials of the ``nova-lite`` client commands."""

    username: str = ""
    password: str = attrs.field(default="", repr=False)
    project: str = ""
    # The HTTP API's base URL (e.g. "http://controller:8774"); when set, the server
    # list/show/create/delete commands use HTTP instead of the message bus.
    api_url: str = ""


@attrs.frozen(kw_only=True)
class MetricsConfig:
    """``[metrics]``: Prometheus metrics of every service (`nova_lite.metrics`)."""

    enabled: bool = True
    # "HOST:PORT" where every service process also serves /metrics; empty: only the
    # api service's HTTP server does (at [api] listen). Port 0: any free port.
    listen: str = ""
    # Seconds between two reads of the depth of the service's queues (a passive
    # declare on RabbitMQ: not on every message).
    queue_depth_interval: float = attrs.field(default=15.0, validator=_positive)


@attrs.frozen(kw_only=True)
class TracingConfig:
    """``[tracing]``: OpenTelemetry traces of every hop (`nova_lite.tracing`)."""

    # "none": no spans are made at all; "console": spans printed on stderr; "file":
    # JSON lines appended to `file`; "otlp": OTLP over HTTP to `endpoint`; "memory":
    # kept in the process (tests, `nova-lite server trace` on `nova-lite all`).
    # Every exporter but "none" needs the SDK: pip install 'nova-lite[tracing]'.
    exporter: str = attrs.field(
        default="none", validator=_one_of("none", "console", "file", "otlp", "memory")
    )
    # The OTLP/HTTP traces endpoint; empty: OpenTelemetry's default (its
    # OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variable, else http://localhost:4318/v1/traces).
    endpoint: str = ""
    # The JSON-lines file of exporter "file"; empty: <state_path>/traces.jsonl.
    file: str = ""
    # The service.name resource attribute of every span of this process.
    service_name: str = "nova-lite"
    # The share of new traces recorded (the rest cost a non-recording span each); a
    # trace continued from a message or a traceparent header follows its sender.
    sample_ratio: float = attrs.field(
        default=1.0, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )


@attrs.frozen(kw_only=True)
class NotificationsConfig:
    """``[notifications]``: which saves of an instance send ``instance.update``."""

    # "status": a save that changes what the API shows of the server (its status, or
    # whether a task runs) or its vm_state; the steps of a task that leave both alone
    # (a build's scheduling -> networking -> spawning, its host being set) send none.
    # "vm_and_task_state": every save, as Nova with notify_on_state_change =
    # vm_and_task_state. (Nova's default sends none; nova_lite's waits need these.)
    notify_on_state_change: str = attrs.field(
        default="status", validator=_one_of("status", "vm_and_task_state")
    )


@attrs.frozen(kw_only=True)
class ProcessConfig:
    """``[process]``: how each nova_lite process tunes its interpreter (`nova_lite.process`)."""

    # The garbage collector's generation thresholds (gc.set_threshold). CPython's
    # defaults are 700, 10, 10; a boot allocates thousands of short-lived objects
    # and few cycles, so gen 0 runs less often and the older generations rarely.
    # threshold0 = 0 turns automatic collection off.
    gc_threshold0: int = attrs.field(default=50000, validator=attrs.validators.ge(0))
    gc_threshold1: int = attrs.field(default=50, validator=attrs.validators.ge(0))
    gc_threshold2: int = attrs.field(default=1000, validator=attrs.validators.ge(0))
    # Once the services have started: collect, then gc.freeze() what survives, so
    # later collections never walk the started cloud's own objects again.
    gc_freeze_after_start: bool = True


@attrs.frozen(kw_only=True)
class Config:
    """All of nova_lite's settings, each with a default that runs on one machine."""

    transport_url: str = "memory://"
    host: str = attrs.field(factory=socket.gethostname)
    state_path: str = ".nova_lite"
    rpc: RpcConfig = attrs.field(factory=RpcConfig)
    logging: LoggingConfig = attrs.field(factory=LoggingConfig)
    identity: IdentityConfig = attrs.field(factory=IdentityConfig)
    api: ApiConfig = attrs.field(factory=ApiConfig)
    quota: QuotaConfig = attrs.field(factory=QuotaConfig)
    policy: PolicyConfig = attrs.field(factory=PolicyConfig)
    scheduler: SchedulerConfig = attrs.field(factory=SchedulerConfig)
    conductor: ConductorConfig = attrs.field(factory=ConductorConfig)
    compute: ComputeConfig = attrs.field(factory=ComputeConfig)
    fake_driver: FakeDriverConfig = attrs.field(factory=FakeDriverConfig)
    libvirt: LibvirtConfig = attrs.field(factory=LibvirtConfig)
    image: ImageConfig = attrs.field(factory=ImageConfig)
    network: NetworkConfig = attrs.field(factory=NetworkConfig)
    volume: VolumeConfig = attrs.field(factory=VolumeConfig)
    client: ClientConfig = attrs.field(factory=ClientConfig)
    metrics: MetricsConfig = attrs.field(factory=MetricsConfig)
    tracing: TracingConfig = attrs.field(factory=TracingConfig)
    notifications: NotificationsConfig = attrs.field(factory=NotificationsConfig)
    process: ProcessConfig = attrs.field(factory=ProcessConfig)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Self:
        """Defaults, then the TOML file at `path`, then the environment, then `overrides`."""
        data: dict[str, Any] = {}
        origin = Origin("defaults")
        if path is not None:
            origin = Origin(str(path))
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"Configuration file {path} does not exist.") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        config: Self = build(cls, data, origin)
        env, origin = from_environ(cls, os.environ if environ is None else environ)
        if env:
            config = build(cls, merge(attrs.asdict(config), env), origin)
        if overrides:
            config = build(cls, merge(attrs.asdict(config), overrides), Origin("overrides"))
        return config

    def database_path(self, service: str) -> str:
        """Where `service` keeps its SQLite database (``:memory:`` stays in memory)."""
        if self.state_path == ":memory:":
            return ":memory:"
        return str(Path(self.state_path) / f"{service}.sqlite")

    def service_dir(self, *parts: str) -> Path:
        """A directory under `state_path` for a service's files (created on demand)."""
        path = self.service_path(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def service_path(self, *parts: str) -> Path:
        """Where `service_dir` would be, not created: for a directory made on first write
        (a compute host's image cache: at 10,000 hosts, 10,000 mkdirs at start-up)."""
        base = Path(self.state_path if self.state_path != ":memory:" else ".nova_lite")
        return base.joinpath(*parts)
