"""Host weighers: which of the passing hosts is best.

As in Nova, each weigher gives every host a raw value, the values are normalised to
0..1 across the hosts (min-max), multiplied by the weigher's multiplier from
``[scheduler]``, and summed; the highest total wins. Weighers are small classes
enabled by name in ``[scheduler] weighers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.exceptions import ConfigError
from nova_lite.scheduler.host_manager import HostState

__all__ = ["WEIGHERS", "Weigher", "build_weighers", "weigh_hosts"]


class Weigher(Protocol):
    """Gives a host a raw weight; higher is better before the multiplier."""

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


class CPUWeigher:
    """Prefers hosts with more free vCPUs."""

    name: ClassVar[str] = "CPUWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.cpu_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return host.free_vcpus


class DiskWeigher:
    """Prefers hosts with more free disk."""

    name: ClassVar[str] = "DiskWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.disk_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return host.free_disk_gb


class IoOpsWeigher:
    """Weighs by builds in progress; the default negative multiplier avoids busy hosts."""

    name: ClassVar[str] = "IoOpsWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.io_ops_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return host.in_progress + host.node.io_ops


class BuildFailureWeigher:
    """Pushes away hosts whose recent builds failed (Nova's huge default multiplier)."""

    name: ClassVar[str] = "BuildFailureWeigher"

    def __init__(self, config: Config) -> None:
        self.multiplier = config.scheduler.build_failure_weight_multiplier

    def weigh(self, host: HostState, spec: objects.RequestSpec) -> float:
        return -host.node.failed_builds


WEIGHERS: dict[str, type] = {
    cls.name: cls
    for cls in (RAMWeigher, CPUWeigher, DiskWeigher, IoOpsWeigher, BuildFailureWeigher)
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


def weigh_hosts(
    hosts: Sequence[HostState], spec: objects.RequestSpec, weighers: Sequence[Weigher]
) -> list[tuple[float, HostState]]:
    """Every host with its total weight, best first (ties keep the hosts' order)."""
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        if not weigher.multiplier:
            continue
        raw = [weigher.weigh(host, spec) for host in hosts]
        low, high = min(raw), max(raw)
        if high == low:
            continue
        scale = weigher.multiplier / (high - low)
        for i, value in enumerate(raw):
            totals[i] += (value - low) * scale
    order = sorted(range(len(hosts)), key=lambda i: -totals[i])
    return [(totals[i], hosts[i]) for i in order]
