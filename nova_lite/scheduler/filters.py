"""Host filters: which hosts can take an instance at all.

Each filter is a small class enabled by name in ``[scheduler] enabled_filters``,
keeping Nova's names and meaning. ``host_passes(host, spec)`` decides for one host;
``filter_all(hosts, spec)`` decides for the whole list at once, which is what the
scheduler calls: it lets a filter that has nothing to check for this request return
the list untouched, and the others run one tight loop instead of a call per host. A
filter with only ``host_passes`` works too (`filter_hosts` asks it host by host).

A filter may also ``narrow(spec)``: name, from the scheduler's indexes, a pool of
hosts outside which it passes none (the ResourceFilter: hosts with enough free of the
scarcest resource; the AvailabilityZoneFilter: the zone's hosts; the
ServerGroupAffinityFilter: the hosts holding the group; the SameHostFilter: the hosts
holding the servers its hint names). The scheduler starts from
the smallest such pool instead of every host. A pool may hold hosts the filter then
refuses, never the reverse; None means every host may pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.exceptions import ConfigError
from nova_lite.scheduler.host_index import HostList, HostPool
from nova_lite.scheduler.host_manager import HostManager, HostState

__all__ = ["FILTERS", "BaseHostFilter", "HostFilter", "build_filters", "filter_hosts", "narrow"]


class HostFilter(Protocol):
    """Decides which hosts can take the instance a RequestSpec describes.

    `host_passes` is all a filter needs; ``filter_all(hosts, spec)`` and
    ``narrow(spec)`` are optional (`BaseHostFilter` has both), called through
    `filter_hosts` and `narrow`.
    """

    name: ClassVar[str]

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool: ...


class BaseHostFilter:
    """A filter whose `filter_all` asks `host_passes` of each host."""

    name: ClassVar[str] = ""

    def __init__(self, config: Config, hosts: HostManager) -> None:
        self._config = config
        self._hosts = hosts

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        raise NotImplementedError

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        passes = self.host_passes
        return [host for host in hosts if passes(host, spec)]

    def narrow(self, spec: objects.RequestSpec) -> HostPool | None:
        """A pool holding every host this filter can pass, or None (any host may)."""
        return None


class ComputeFilter(BaseHostFilter):
    """Passes hosts whose compute service is up (reported recently) and enabled."""

    name: ClassVar[str] = "ComputeFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        down_after = self._config.compute.service_down_time
        return not host.node.disabled and self._hosts.is_up(host, down_after)

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        cutoff = self._hosts.clock() - self._config.compute.service_down_time
        return [h for h in hosts if h.last_seen >= cutoff and not h.disabled]


class ResourceFilter(BaseHostFilter):
    """Passes hosts with enough free vCPU, RAM and disk, after allocation ratios."""

    name: ClassVar[str] = "ResourceFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        return bool(self.filter_all([host], spec))

    def narrow(self, spec: objects.RequestSpec) -> HostPool:
        flavor = spec.flavor
        return self._hosts.index.feasible(flavor.vcpus, flavor.memory_mb, flavor.disk_gb)

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        flavor = spec.flavor
        vcpus, ram, disk = flavor.vcpus, flavor.memory_mb, flavor.disk_gb
        return [
            h
            for h in hosts
            if h.free_vcpus >= vcpus and h.free_ram_mb >= ram and h.free_disk_gb >= disk
        ]


class AvailabilityZoneFilter(BaseHostFilter):
    """Passes hosts in the availability zone the request asks for (any if none).

    A host's zone is the one its aggregates give it (``spec.host_zones``, read by the
    conductor from the aggregates for each request), else its own
    ``[compute] availability_zone`` (Nova's ``default_availability_zone``).
    """

    name: ClassVar[str] = "AvailabilityZoneFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        if spec.availability_zone is None:
            return True
        return spec.host_zones.get(host.host, host.node.availability_zone) == spec.availability_zone

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        zone = spec.availability_zone
        if zone is None:
            return list(hosts)
        zones = spec.host_zones
        return [h for h in hosts if zones.get(h.host, h.node.availability_zone) == zone]

    def narrow(self, spec: objects.RequestSpec) -> HostPool | None:
        zone = spec.availability_zone
        if zone is None or spec.host_zones:
            # Aggregates give hosts zones the index (hosts' own zones) does not know:
            # then the filter itself decides, host by host.
            return None
        return self._hosts.zone_hosts(zone)


def _capabilities(spec: objects.RequestSpec) -> list[tuple[str, str]]:
    wanted = []
    for key, value in spec.flavor.extra_specs.items():
        scope, _, capability = key.partition(":")
        if scope == "capabilities" and capability:
            wanted.append((capability, value))
    return wanted


class ComputeCapabilitiesFilter(BaseHostFilter):
    """Passes hosts matching the flavor's ``capabilities:<key>`` extra specs."""

    name: ClassVar[str] = "ComputeCapabilitiesFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        for capability, wanted in _capabilities(spec):
            have = getattr(host.node, capability, None)
            if have is None or str(have) != wanted:
                return False
        return True

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        if not _capabilities(spec):
            return list(hosts)
        return super().filter_all(hosts, spec)


def _image_wants(spec: objects.RequestSpec) -> tuple[str | None, str | None]:
    if spec.image is None:
        return None, None
    props = spec.image.properties
    arch = props.get("hw_architecture") or props.get("architecture")
    return arch, props.get("img_hv_type") or props.get("hypervisor_type")


class ImagePropertiesFilter(BaseHostFilter):
    """Passes hosts that support the image's architecture and hypervisor type."""

    name: ClassVar[str] = "ImagePropertiesFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        arch, hv_type = _image_wants(spec)
        if arch and arch not in host.node.supported_instances:
            return False
        return not hv_type or hv_type == host.node.hypervisor_type

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        if _image_wants(spec) == (None, None):
            return list(hosts)
        return super().filter_all(hosts, spec)


def _max_per_host(spec: objects.RequestSpec) -> int:
    """How many of an anti-affinity group's members one host may hold (2.64's rule; 1)."""
    return max(1, int(spec.group_rules.get("max_server_per_host", 1)))


class ServerGroupAntiAffinityFilter(BaseHostFilter):
    """For an anti-affinity group, passes the hosts with fewer of its members than
    ``max_server_per_host`` (1 unless the group's rules say more)."""

    name: ClassVar[str] = "ServerGroupAntiAffinityFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        group = spec.instance_group
        if spec.group_policy != "anti-affinity" or not group:
            return True
        return host.groups.get(group, 0) < _max_per_host(spec)

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        group = spec.instance_group
        if spec.group_policy != "anti-affinity" or not group:
            return list(hosts)
        most = _max_per_host(spec)
        return [h for h in hosts if h.groups.get(group, 0) < most]


class ServerGroupAffinityFilter(BaseHostFilter):
    """For an affinity group, passes only the hosts that already hold its members."""

    name: ClassVar[str] = "ServerGroupAffinityFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        group = spec.instance_group
        if spec.group_policy != "affinity" or not group:
            return True
        return group in host.groups or not self._hosts.group_has_members(group)

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        group = spec.instance_group
        if spec.group_policy != "affinity" or not group:
            return list(hosts)
        if not self._hosts.group_has_members(group):  # the first member goes anywhere
            return list(hosts)
        return [h for h in hosts if group in h.groups]

    def narrow(self, spec: objects.RequestSpec) -> HostPool | None:
        if spec.group_policy != "affinity" or not spec.instance_group:
            return None
        return self._hosts.group_hosts(spec.instance_group)


def _hinted(spec: objects.RequestSpec, hint: str) -> frozenset[str]:
    """The servers a ``same_host`` or ``different_host`` hint names (one uuid, or a list)."""
    value = spec.scheduler_hints.get(hint)
    if not value:
        return frozenset()
    return frozenset([value] if isinstance(value, str) else (str(v) for v in value))


class SameHostFilter(BaseHostFilter):
    """With the hint ``same_host``, passes only the hosts holding one of the servers it
    names (none, if none of them is placed); any host without the hint. Not enabled by
    default, as in Nova."""

    name: ClassVar[str] = "SameHostFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        wanted = _hinted(spec, "same_host")
        return not wanted or not wanted.isdisjoint(host.instances)

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        wanted = _hinted(spec, "same_host")
        if not wanted:
            return list(hosts)
        return [h for h in hosts if not wanted.isdisjoint(h.instances)]

    def narrow(self, spec: objects.RequestSpec) -> HostPool | None:
        wanted = _hinted(spec, "same_host")
        if not wanted:
            return None
        pool = HostList()
        for uuid in sorted(wanted):
            allocation = self._hosts.allocations.get(uuid)
            state = None if allocation is None else self._hosts.hosts.get(allocation.host)
            if state is not None:
                pool.add(state)
        return pool


class DifferentHostFilter(BaseHostFilter):
    """With the hint ``different_host``, passes only the hosts holding none of the
    servers it names; any host without the hint. Not enabled by default, as in Nova."""

    name: ClassVar[str] = "DifferentHostFilter"

    def host_passes(self, host: HostState, spec: objects.RequestSpec) -> bool:
        return _hinted(spec, "different_host").isdisjoint(host.instances)

    def filter_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[HostState]:
        avoided = _hinted(spec, "different_host")
        if not avoided:
            return list(hosts)
        return [h for h in hosts if avoided.isdisjoint(h.instances)]


FILTERS: dict[str, type[BaseHostFilter]] = {
    cls.name: cls
    for cls in (
        ComputeFilter,
        ResourceFilter,
        AvailabilityZoneFilter,
        ComputeCapabilitiesFilter,
        ImagePropertiesFilter,
        ServerGroupAntiAffinityFilter,
        ServerGroupAffinityFilter,
        SameHostFilter,
        DifferentHostFilter,
    )
}


def filter_hosts(
    host_filter: HostFilter, hosts: Sequence[HostState], spec: objects.RequestSpec
) -> list[HostState]:
    """The hosts `host_filter` passes: its `filter_all`, or `host_passes` host by host."""
    filter_all: Callable[..., list[HostState]] | None = getattr(host_filter, "filter_all", None)
    if filter_all is not None:
        return filter_all(hosts, spec)
    passes = host_filter.host_passes
    return [host for host in hosts if passes(host, spec)]


def narrow(host_filter: HostFilter, spec: objects.RequestSpec) -> HostPool | None:
    """The filter's pool for this request, if it names one (filters without `narrow`: None)."""
    method: Callable[[objects.RequestSpec], HostPool | None] | None = getattr(
        host_filter, "narrow", None
    )
    return None if method is None else method(spec)


def build_filters(config: Config, hosts: HostManager) -> list[HostFilter]:
    """The filters ``[scheduler] enabled_filters`` names, in that order."""
    unknown = [n for n in config.scheduler.enabled_filters if n not in FILTERS]
    if unknown:
        raise ConfigError(
            f"[scheduler] enabled_filters names unknown filters {unknown}; "
            f"known filters: {', '.join(sorted(FILTERS))}."
        )
    return [FILTERS[name](config, hosts) for name in config.scheduler.enabled_filters]
