"""Host filters: which hosts can take an instance at all.

Each filter is a small class with ``host_passes(host_state, spec) -> bool``, enabled
by name in ``[scheduler] enabled_filters``. They keep Nova's names and meaning.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.exceptions import ConfigError
from nova_lite.scheduler.host_manager import HostManager, HostState

__all__ = ["FILTERS", "HostFilter", "build_filters"]


class HostFilter(Protocol):
    """Decides whether one host can take the instance a RequestSpec describes."""

    name: ClassVar[str]

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool: ...


class ComputeFilter:
    """Passes hosts whose compute service is up (reported recently) and enabled."""

    name: ClassVar[str] = "ComputeFilter"

    def __init__(self, config: Config, hosts: HostManager) -> None:
        self._down_after = config.compute.service_down_time
        self._hosts = hosts

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        return not host.node.disabled and self._hosts.is_up(host, self._down_after)


class ResourceFilter:
    """Passes hosts with enough free vCPU, RAM and disk, after allocation ratios."""

    name: ClassVar[str] = "ResourceFilter"

    def __init__(self, config: Config, hosts: HostManager) -> None:
        pass

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        flavor = spec.flavor
        return (
            host.free_vcpus >= flavor.vcpus
            and host.free_ram_mb >= flavor.memory_mb
            and host.free_disk_gb >= flavor.disk_gb
        )


class AvailabilityZoneFilter:
    """Passes hosts in the availability zone the request asks for (any if none)."""

    name: ClassVar[str] = "AvailabilityZoneFilter"

    def __init__(self, config: Config, hosts: HostManager) -> None:
        pass

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        return spec.availability_zone in (None, host.node.availability_zone)


class ComputeCapabilitiesFilter:
    """Passes hosts matching the flavor's ``capabilities:<key>`` extra specs."""

    name: ClassVar[str] = "ComputeCapabilitiesFilter"

    def __init__(self, config: Config, hosts: HostManager) -> None:
        pass

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        for key, wanted in spec.flavor.extra_specs.items():
            scope, _, capability = key.partition(":")
            if scope != "capabilities" or not capability:
                continue
            have = getattr(host.node, capability, None)
            if have is None or str(have) != wanted:
                return False
        return True


class ImagePropertiesFilter:
    """Passes hosts that support the image's architecture and hypervisor type."""

    name: ClassVar[str] = "ImagePropertiesFilter"

    def __init__(self, config: Config, hosts: HostManager) -> None:
        pass

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        if spec.image is None:
            return True
        props = spec.image.properties
        arch = props.get("hw_architecture") or props.get("architecture")
        if arch and arch not in host.node.supported_instances:
            return False
        hv_type = props.get("img_hv_type") or props.get("hypervisor_type")
        return not hv_type or hv_type == host.node.hypervisor_type


class ServerGroupAntiAffinityFilter:
    """For an anti-affinity group, passes only hosts with no member of the group."""

    name: ClassVar[str] = "ServerGroupAntiAffinityFilter"

    def __init__(self, config: Config, hosts: HostManager) -> None:
        pass

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        if spec.group_policy != "anti-affinity" or not spec.instance_group:
            return True
        return spec.instance_group not in host.groups


class ServerGroupAffinityFilter:
    """For an affinity group, passes only the hosts that already hold its members."""

    name: ClassVar[str] = "ServerGroupAffinityFilter"

    def __init__(self, config: Config, hosts: HostManager) -> None:
        self._hosts = hosts

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        group = spec.instance_group
        if spec.group_policy != "affinity" or not group:
            return True
        return group in host.groups or not self._hosts.group_has_members(group)


FILTERS: dict[str, type] = {
    cls.name: cls
    for cls in (
        ComputeFilter,
        ResourceFilter,
        AvailabilityZoneFilter,
        ComputeCapabilitiesFilter,
        ImagePropertiesFilter,
        ServerGroupAntiAffinityFilter,
        ServerGroupAffinityFilter,
    )
}


def build_filters(config: Config, hosts: HostManager) -> list[HostFilter]:
    """The filters ``[scheduler] enabled_filters`` names, in that order."""
    unknown = [n for n in config.scheduler.enabled_filters if n not in FILTERS]
    if unknown:
        raise ConfigError(
            f"[scheduler] enabled_filters names unknown filters {unknown}; "
            f"known filters: {', '.join(sorted(FILTERS))}."
        )
    return [FILTERS[name](config, hosts) for name in config.scheduler.enabled_filters]
