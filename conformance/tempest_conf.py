"""``tempest.conf`` for a nova_lite cloud: every switch that matters, each with its reason.

Tempest's defaults assume a full OpenStack. Here each option that must differ, or
that says what nova_lite serves, is written with a comment saying why; an "off"
switch (a feature nova_lite does not serve, so its tests are skipped rather than
failed) names what is missing, and the README's list of what is not served lists
every one of them (a test checks both). Values read from the running cloud
(`conformance.discovery`) need no edit here when nova_lite grows: the microversion
ranges and the Neutron and Cinder extension lists. When a service engineer makes
a feature work, they turn its switch on here and in the README.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from conformance.accounts import DOMAIN
from conformance.cloud import ENABLED_FILTERS
from conformance.discovery import Discovered
from nova_lite.api.http.catalog import REGION

__all__ = ["Option", "Section", "TempestSettings", "build", "off_switches", "render"]


@attrs.frozen
class Option:
    """One option: its value as Tempest reads it, and why it has that value."""

    name: str
    value: str
    why: str = ""

    @property
    def is_off(self) -> bool:
        """Whether this switches a feature off (a false boolean or an empty extension list)."""
        return self.value == "false" or (self.value == "" and self.name == "api_extensions")


@attrs.frozen
class Section:
    """One ``[section]`` of ``tempest.conf``."""

    name: str
    options: tuple[Option, ...]


@attrs.frozen
class TempestSettings:
    """What the configuration is made from: the cloud, the workspace, the accounts."""

    base_url: str
    workspace: Path
    discovered: Discovered
    accounts_file: Path | None  # None: dynamic credentials
    admin: tuple[str, str, str]  # username, password, project (dynamic credentials)
    computes: int = 3


TIMEOUT = "60"
TIMEOUT_WHY = (
    "the fake driver builds, stops and deletes in well under a second; a minute bounds the"
    " wait for a state nova_lite never reaches (Tempest's default is 300 s)"
)


def _off(name: str, why: str) -> Option:
    return Option(name, "false", why)


def _on(name: str, why: str) -> Option:
    return Option(name, "true", why)


def _extensions(aliases: Sequence[str], service: str) -> Option:
    why = f"what {service}'s /extensions advertises, read from the running cloud" + (
        "" if aliases else ": none yet, so every test needing an extension is skipped"
    )
    return Option("api_extensions", ",".join(aliases), why)


def _auth(settings: TempestSettings) -> Section:
    options = [
        Option("default_credentials_domain_name", DOMAIN),
        _off(
            "create_isolated_networks",
            "servers use the shared network 'private' (which router1 joins to 'public'),"
            " as with pre-provisioned accounts everywhere",
        ),
    ]
    if settings.accounts_file is not None:
        options += [
            Option(
                "use_dynamic_credentials",
                "false",
                "pre-provisioned accounts (the runner's default; the identity admin classes"
                " make their own all the same); --accounts dynamic lets Tempest make a"
                " project and users per class",
            ),
            Option("test_accounts_file", str(settings.accounts_file)),
        ]
    else:
        options += [
            Option("use_dynamic_credentials", "true", "--accounts dynamic"),
            Option("tempest_roles", "member"),
        ]
    username, password, project = settings.admin
    why = "the bootstrap admin (dynamic credentials, and classes that always make their own)"
    options += [
        Option("admin_username", username, why),
        Option("admin_password", password),
        Option("admin_project_name", project),
        Option("admin_domain_name", DOMAIN),
    ]
    return Section("auth", tuple(options))


def _identity(settings: TempestSettings) -> tuple[Section, Section]:
    identity = Section(
        "identity",
        (
            Option("uri_v3", settings.base_url + "/v3"),
            Option("auth_version", "v3"),
            Option("region", REGION),
            Option("v3_endpoint_type", "public"),
            Option("default_domain_id", "default"),
        ),
    )
    features = Section(
        "identity-feature-enabled",
        (
            _off("api_v2", "Keystone v2.0 is not served (upstream removed it too)"),
            _on("api_v3", "Keystone v3 is served"),
            _off("trust", "OS-TRUST (trusts) is not served"),
            _off(
                "access_rules",
                "access rules of application credentials are not served (the credentials are)",
            ),
            _off(
                "security_compliance",
                "Keystone's security compliance (password history, expiry, lockout) is not served",
            ),
            Option(
                "api_extensions",
                "OS-EC2,OS-INHERIT",
                "the extensions Tempest checks for that are served: ec2 credentials per user,"
                " inherited grants (OS-TRUST is the trust switch above)",
            ),
        ),
    )
    return identity, features


def _compute(settings: TempestSettings) -> tuple[Section, Section]:
    found = settings.discovered
    low, high = found.compute_microversions
    compute = Section(
        "compute",
        (
            Option("image_ref", found.image_ref, "the seeded public image 'cirros'"),
            Option("image_ref_alt", found.image_ref_alt, "a second public image, made for Tempest"),
            Option("flavor_ref", "1", "m1.tiny"),
            Option("flavor_ref_alt", "2", "m1.small"),
            Option("fixed_network_name", "private", "the seeded shared network"),
            Option("min_microversion", low, "the compute version document's min_version"),
            Option("max_microversion", high, "the compute version document's version"),
            Option("min_compute_nodes", str(settings.computes), "nova-lite all --computes"),
            Option("build_timeout", TIMEOUT, TIMEOUT_WHY),
            Option("shelved_offload_time", "0", "nova_lite's default: offload at once, as Nova"),
        ),
    )
    filters = ",".join(ENABLED_FILTERS)
    features = Section(
        "compute-feature-enabled",
        (
            _on("change_password", "the changePassword action is served"),
            _on("resize", "resize, confirmResize and revertResize are served"),
            _on("cold_migration", "the migrate action (a resize keeping the flavor) is served"),
            _on("live_migration", "os-migrateLive is served (the fake driver moves the guest)"),
            _on(
                "block_migration_for_live_migration",
                "a live migration moves the guest's disk with it (there is no shared storage)",
            ),
            _on(
                "volume_backed_live_migration",
                "a server booted from a volume live-migrates too (its volumes go with it)",
            ),
            _off("metadata_service", "there is no metadata service (169.254.169.254)"),
            _off("config_drive", "there is no config drive"),
            _off("interface_attach", "os-interface (port attach and detach) is not served"),
            _off(
                "attach_encrypted_volume",
                "volume encryption (encrypted volume types) is not served",
            ),
            _off("vnc_console", "remote consoles are not served"),
            _off("serial_console", "remote consoles are not served"),
            _off("spice_console", "remote consoles are not served"),
            _off("personality", "file injection (personality) is not served"),
            _off(
                "volume_multiattach",
                "multi-attach volumes are not served (a volume has one attachment at most)",
            ),
            _off(
                "swap_volume",
                "a swap happens only in a Cinder volume migration, and no volume migrates here"
                " (the swap route answers 409, as Nova's for a swap Cinder did not start)",
            ),
            _off("stable_rescue", "stable device rescue (2.87) is past the max microversion 2.79"),
            _off(
                "hostname_fqdn_sanitization",
                "FQDN hostnames (2.94) are past the max microversion 2.79",
            ),
            Option(
                "scheduler_enabled_filters",
                filters,
                "the cloud's [scheduler] enabled_filters: nova_lite's defaults and the"
                " SameHostFilter and DifferentHostFilter",
            ),
        ),
    )
    return compute, features


def _image() -> tuple[Section, Section]:
    image = Section(
        "image",
        (
            Option("container_formats", "bare,ovf,aki,ari,ami", "nova_lite's container formats"),
            Option(
                "disk_formats",
                "raw,qcow2,vmdk,vdi,iso,ari,aki,ami",
                "nova_lite's disk formats",
            ),
            Option("build_timeout", TIMEOUT, TIMEOUT_WHY),
            _off("image_caching_enabled", "Glance's image cache API (/v2/cache) is not served"),
        ),
    )
    features = Section(
        "image-feature-enabled",
        (
            _on("api_v2", "Glance v2 is served"),
            _on(
                "import_image",
                "the image import API is served with glance-direct (not web-download,"
                " glance-download or copy-image: /v2/info/import lists the one method)",
            ),
            _off("os_glance_reserved", "os_glance_* properties are not reserved"),
            _off(
                "manage_locations",
                "image locations (show_multiple_locations, the locations API) are not served",
            ),
            _off("http_store_enabled", "there is no http store (the one store is file)"),
            _off("store_weight_enabled", "there is one store, so no store weights"),
            _off(
                "image_format_enforcement",
                "uploaded data is not inspected against its disk_format",
            ),
            _on("do_secure_hash", "os_hash_algo and os_hash_value (sha512) are served"),
        ),
    )
    return image, features


def _public_network(settings: TempestSettings) -> Option:
    network = settings.discovered.public_network_id
    if not network:
        return Option("public_network_id", "", "no external network (Neutron serves no routers)")
    return Option(
        "public_network_id", network, "the external network 'public' the runner makes, with router1"
    )


def _network(settings: TempestSettings) -> tuple[Section, Section]:
    network = Section(
        "network",
        (
            Option("project_network_cidr", "10.100.0.0/16"),
            Option("project_network_mask_bits", "28"),
            _public_network(settings),
            Option("floating_network_name", "public", "the external network the runner makes"),
            Option("build_timeout", TIMEOUT, TIMEOUT_WHY),
        ),
    )
    features = Section(
        "network-feature-enabled",
        (
            _on("ipv6", "IPv6 subnets are served (SLAAC and DHCPv6 modes recorded)"),
            _on("ipv6_subnet_attributes", "ipv6_ra_mode and ipv6_address_mode are served"),
            _on(
                "floating_ips",
                "floating IPs are served by Neutron's API, but Nova's os-floating-ips proxy"
                " (which the compute tests this switch enables use) is not",
            ),
            _on("port_security", "port_security_enabled is served (recorded, not enforced)"),
            _extensions(settings.discovered.network_extensions, "Neutron"),
        ),
    )
    return network, features


VOLUME_BASE = "3.0"  # Cinder v3's base microversion


def _volume(settings: TempestSettings) -> tuple[Section, Section]:
    """Cinder. Microversions are asked for only when the version document offers more
    than the base 3.0: nova_lite's volume responses carry no ``OpenStack-API-Version``
    header yet, and Tempest refuses a response without the one it asked for."""
    low, high = settings.discovered.volume_microversions
    options = [Option("catalog_type", "volumev3", "the catalog's service type for Cinder v3")]
    if (low, high) != (VOLUME_BASE, VOLUME_BASE):
        options += [
            Option("min_microversion", low, "the volume version document's min_version"),
            Option("max_microversion", high, "the volume version document's version"),
        ]
    options.append(Option("build_timeout", TIMEOUT, TIMEOUT_WHY))
    volume = Section("volume", tuple(options))
    features = Section(
        "volume-feature-enabled",
        (
            _on("backup", "volume backups are served (kept as records, restorable)"),
            _on("snapshot", "volume snapshots are served"),
            _on("clone", "creating a volume from a volume (source_volid) is served"),
            _off("multi_backend", "there is one backend (lvmdriver-1)"),
            _off("manage_volume", "volume manage and unmanage are not served"),
            _off("manage_snapshot", "snapshot manage and unmanage are not served"),
            _off("extend_attached_volume", "extending an in-use volume (3.42) is not served"),
            _off(
                "extend_attached_encrypted_volume",
                "encrypted volume types are not served, so neither is their extend",
            ),
            _extensions(settings.discovered.volume_extensions, "Cinder"),
        ),
    )
    return volume, features


def build(settings: TempestSettings) -> list[Section]:
    """Every section of the configuration, in the order they are written."""
    logs = settings.workspace / "logs"
    sections = [
        Section("DEFAULT", (Option("log_dir", str(logs)), Option("log_file", "tempest.log"))),
        Section("oslo_concurrency", (Option("lock_path", str(settings.workspace / "lock")),)),
        _auth(settings),
        *_identity(settings),
        *_compute(settings),
        *_image(),
        *_network(settings),
        *_volume(settings),
        Section(
            "service_available",
            (
                _on("nova", "served"),
                _on("glance", "served"),
                _on("neutron", "served"),
                _on("cinder", "served"),
                _off("swift", "object storage is not served"),
                _off("horizon", "there is no dashboard"),
            ),
        ),
        Section(
            "validation",
            (
                _off(
                    "run_validation",
                    "guests are the fake driver's: nothing to SSH or ping into, and no"
                    " floating IPs to reach them by",
                ),
            ),
        ),
    ]
    return sections


def render(sections: Iterable[Section]) -> str:
    """The configuration file's text, each reason as a comment above its option."""
    lines = [
        "# Written by scripts/tempest (conformance/tempest_conf.py) for a nova_lite cloud.",
        "# Each switch says above it why it has its value; one set to false (or an empty",
        "# extension list) is something nova_lite does not serve yet (README, Conformance).",
    ]
    for section in sections:
        lines += ["", f"[{section.name}]"]
        for option in section.options:
            if option.why:
                lines.append(f"# {option.why}")
            lines.append(f"{option.name} = {option.value}")
    return "\n".join(lines) + "\n"


def off_switches(sections: Iterable[Section]) -> list[tuple[str, Option]]:
    """Every switch that turns a feature off, with its section."""
    return [(s.name, o) for s in sections for o in s.options if o.is_off]
