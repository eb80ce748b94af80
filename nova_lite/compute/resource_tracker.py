"""A compute host's own account of its capacity and what its instances use.

The scheduler claims resources when it picks a host; the resource tracker claims them
again locally when the build starts (Nova's ``instance_claim``), so a host never
runs more than it has even if the scheduler's view was stale, and it builds the
`ComputeNode` report the host sends to the schedulers.

Liveness and resources are reported apart, as in Nova (the servicegroup heartbeat
every ``report_interval``, the resource tracker's ``update_available_resource``
less often): the scheduler counts usage from its own claims, so of a report it
reads only the capacity, ratios, zone, builds under way and failed builds
(`scheduled_fields`). `full_report_due` says when those changed since the last full
report, or ``resource_report_interval`` has passed; every other tick the host sends
a heartbeat, its name only. At 10,000 hosts a full report a tick was most of a
report's cost at both ends (a `ComputeNode` encoded, decoded and taken in).
"""

from __future__ import annotations

from nova_lite import objects
from nova_lite.config import ComputeConfig
from nova_lite.exceptions import RescheduledException
from nova_lite.virt.driver import HostResources

__all__ = ["ResourceTracker"]


class ResourceTracker:
    """Tracks the flavors of the instances placed on one host."""

    def __init__(self, host: str, config: ComputeConfig) -> None:
        self.host = host
        self.config = config
        self.resources: HostResources | None = None
        self.instances: dict[str, objects.Flavor] = {}
        self.failed_builds = 0
        self.builds_in_progress = 0
        # What the last full report heard by the schedulers said, and when (loop time).
        self._reported: tuple[object, ...] | None = None
        self._reported_at = 0.0

    def __repr__(self) -> str:
        return f"<ResourceTracker {self.host} instances={len(self.instances)}>"

    def _capacity(self) -> tuple[float, float, float]:
        if self.resources is None:
            raise RescheduledException(f"Host {self.host} has not reported its resources yet.")
        r, c = self.resources, self.config
        return (
            r.vcpus * c.cpu_allocation_ratio,
            (r.memory_mb - c.reserved_host_memory_mb) * c.ram_allocation_ratio,
            r.local_gb * c.disk_allocation_ratio,
        )

    def used(self) -> tuple[int, int, int]:
        """vCPUs, MiB of RAM and GiB of disk the tracked instances use."""
        flavors = self.instances.values()
        return (
            sum(f.vcpus for f in flavors),
            sum(f.memory_mb for f in flavors),
            sum(f.disk_gb for f in flavors),
        )

    def claim(self, instance_uuid: str, flavor: objects.Flavor) -> None:
        """Reserve the flavor's resources here, or raise RescheduledException."""
        if instance_uuid in self.instances:
            return
        vcpus, ram, disk = self._capacity()
        used_vcpus, used_ram, used_disk = self.used()
        if (
            used_vcpus + flavor.vcpus > vcpus
            or used_ram + flavor.memory_mb > ram
            or used_disk + flavor.disk_gb > disk
        ):
            raise RescheduledException(
                f"Insufficient compute resources on {self.host} for flavor {flavor.name}."
            )
        self.instances[instance_uuid] = flavor

    def drop(self, instance_uuid: str) -> None:
        """Forget an instance that was deleted or failed to build here."""
        self.instances.pop(instance_uuid, None)

    def build_result(self, *, failed: bool) -> None:
        """Count consecutive build failures, for the BuildFailureWeigher."""
        self.failed_builds = self.failed_builds + 1 if failed else 0

    def scheduled_fields(self) -> tuple[object, ...]:
        """What the scheduler takes from a report (it counts usage from its claims)."""
        r, c = self.resources, self.config
        if r is None:
            return ()
        return (
            r.vcpus, r.memory_mb - c.reserved_host_memory_mb, r.local_gb,
            r.hypervisor_hostname, r.hypervisor_type, c.availability_zone,
            c.cpu_allocation_ratio, c.ram_allocation_ratio, c.disk_allocation_ratio,
            self.failed_builds, self.builds_in_progress,
        )  # fmt: skip

    def full_report_due(self, now: float, every: float) -> bool:
        """Whether the next report must be full: none heard yet, what the scheduler
        reads changed since, or `every` seconds passed (a scheduler that lost its
        state learns the host again within that)."""
        return (
            self._reported is None
            or now - self._reported_at >= every
            or self.scheduled_fields() != self._reported
        )

    def reported(self, fields: tuple[object, ...], now: float) -> None:
        """A full report saying `fields` (`scheduled_fields` when it was made) went
        out at `now`: what `full_report_due` compares with."""
        self._reported, self._reported_at = fields, now

    def compute_node(self) -> objects.ComputeNode:
        """This host's report for the schedulers."""
        if self.resources is None:
            raise RescheduledException(f"Host {self.host} has not reported its resources yet.")
        r, c = self.resources, self.config
        vcpus_used, ram_used, disk_used = self.used()
        return objects.ComputeNode(
            host=self.host,
            hypervisor_hostname=r.hypervisor_hostname,
            hypervisor_type=r.hypervisor_type,
            vcpus=r.vcpus,
            memory_mb=r.memory_mb - c.reserved_host_memory_mb,
            local_gb=r.local_gb,
            vcpus_used=vcpus_used,
            memory_mb_used=ram_used,
            local_gb_used=disk_used,
            running_vms=len(self.instances),
            availability_zone=c.availability_zone,
            cpu_allocation_ratio=c.cpu_allocation_ratio,
            ram_allocation_ratio=c.ram_allocation_ratio,
            disk_allocation_ratio=c.disk_allocation_ratio,
            failed_builds=self.failed_builds,
            io_ops=self.builds_in_progress,
        )
