"""Host weighers: which of the passing hosts is best.

As in Nova, each weigher gives every host a raw value, the values are normalised to
0..1 across the hosts (min-max), multiplied by the weigher's multiplier from
``[scheduler]``, and summed; the highest total wins. Weighers are small classes
enabled by name in ``[scheduler] weighers``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.exceptions import ConfigError
from nova_lite.scheduler.host_manager import HostState

__all__ = ["WEIGHERS", "Weigher", "build_weighers", "weigh_hosts"]


class Weigher(Protocol):
    """Gives a host a raw weight; higher is better before the multiplier.

    ``weigh_all(hosts, spec)``, `weigh` for every host in one loop, is optional: the
    scheduler calls it when a weigher has it (every weigher here does) and `weigh`
    host by host otherwise.
    """

    name: ClassVar[str]
    multiplier: float

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float: ...


class RAMWeigher:
    """Prefers hosts with more free RAM (spreading); a negative multiplier stacks."""

    name: ClassVar[str] = "RAMWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.ram_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return host.free_ram_mb

    def weigh_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[float]:
        return [h.free_ram_mb for h in hosts]


class CPUWeigher:
    """Prefers hosts with more free vCPUs."""

    name: ClassVar[str] = "CPUWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.cpu_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return host.free_vcpus

    def weigh_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[float]:
        return [h.free_vcpus for h in hosts]


class DiskWeigher:
    """Prefers hosts with more free disk."""

    name: ClassVar[str] = "DiskWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.disk_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return host.free_disk_gb

    def weigh_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[float]:
        return [h.free_disk_gb for h in hosts]


class IoOpsWeigher:
    """Weighs by builds in progress; the default negative multiplier avoids busy hosts."""

    name: ClassVar[str] = "IoOpsWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.io_ops_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return host.in_progress + host.io_ops

    def weigh_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[float]:
        return [h.in_progress + h.io_ops for h in hosts]


class BuildFailureWeigher:
    """Pushes away hosts whose recent builds failed (Nova's huge default multiplier)."""

    name: ClassVar[str] = "BuildFailureWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.build_failure_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return -host.failed_builds

    def weigh_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[float]:
        return [-h.failed_builds for h in hosts]


class ServerGroupSoftAffinityWeigher:
    """For a soft-affinity group, prefers the hosts holding more of its members."""

    name: ClassVar[str] = "ServerGroupSoftAffinityWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.soft_affinity_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return self.weigh_all([host], spec)[0]

    def weigh_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[float]:
        return _members_on(hosts, spec, "soft-affinity", sign=1)


class ServerGroupSoftAntiAffinityWeigher:
    """For a soft-anti-affinity group, prefers the hosts holding fewer of its members."""

    name: ClassVar[str] = "ServerGroupSoftAntiAffinityWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.soft_anti_affinity_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return self.weigh_all([host], spec)[0]

    def weigh_all(self, hosts: Sequence[HostState], spec: objects.RequestSpec) -> list[float]:
        return _members_on(hosts, spec, "soft-anti-affinity", sign=-1)


def _members_on(
    hosts: Sequence[HostState], spec: objects.RequestSpec, policy: str, *, sign: int
) -> list[float]:
    """Each host's count of the request's group members (signed), or 0 for other policies."""
    group = spec.instance_group
    if spec.group_policy != policy or not group:
        return [0.0] * len(hosts)
    return [sign * h.groups.get(group, 0) for h in hosts]


WEIGHERS: dict[str, type] = {
    cls.name: cls
    for cls in (
        RAMWeigher,
        CPUWeigher,
        DiskWeigher,
        IoOpsWeigher,
        BuildFailureWeigher,
        ServerGroupSoftAffinityWeigher,
        ServerGroupSoftAntiAffinityWeigher,
    )
}


def build_weighers(config: Config) -> list[Weigher]:
    """The weighers ``[scheduler] weighers`` names, in that order."""
    unknown = [n for n in config.scheduler.weighers if n not in WEIGHERS]
    if unknown:
        raise ConfigError(
            f"[scheduler] weighers names unknown weighers {unknown}; "
            f"known weighers: {', '.join(sorted(WEIGHERS))}."
        )
    return [WEIGHERS[name](config) for name in config.scheduler.weighers]


def _raw_weights(
    weigher: Weigher, hosts: Sequence[HostState], spec: objects.RequestSpec
) -> list[float]:
    weigh_all: Callable[..., list[float]] | None = getattr(weigher, "weigh_all", None)
    if weigh_all is not None:
        return weigh_all(hosts, spec)
    weigh = weigher.weigh
    return [weigh(host, spec) for host in hosts]


def weigh_hosts(
    hosts: Sequence[HostState],
    spec: objects.RequestSpec,
    weighers: Sequence[Weigher],
    *,
    limit: int | None = None,
) -> list[tuple[float, HostState]]:
    """Hosts with their total weights, best first (ties keep the hosts' order).

    With `limit`, only the best `limit` hosts are returned.
    """
    if not hosts:
        return []
    # Each total is kept as the sum of value * scale; the sum of low * scale, the
    # same for every host, is taken off the returned weights only.
    totals: list[float] | None = None
    offset = 0.0
    for weigher in weighers:
        if not weigher.multiplier:
            continue
        raw = _raw_weights(weigher, hosts, spec)
        low, high = min(raw), max(raw)
        if high == low:
            continue
        scale = weigher.multiplier / (high - low)
        offset += low * scale
        if totals is None:
            totals = [value * scale for value in raw]
        else:
            totals = [t + value * scale for t, value in zip(totals, raw, strict=True)]
    if totals is None:
        return [(0.0, host) for host in hosts[:limit]]
    order = sorted(range(len(hosts)), key=totals.__getitem__, reverse=True)[:limit]
    return [(totals[i] - offset, hosts[i]) for i in order]
