"""A guest's diagnostics and the host's uptime, as the host sees them.

Nova's ``get_instance_diagnostics`` and ``get_host_uptime``.

The figures come from the hypervisor driver's view of the guest (`get_info`: power
state, memory, vCPUs) and from the instance's record (its ports and disks); the
drivers keep no I/O counters, so those are reported as 0, and the uptime is counted
from when the guest was launched. The shape is Nova's standard diagnostics
(microversion 2.48); the API derives the older per-driver form from it.
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.admin import require_admin
from nova_lite.compute import power_state
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.virt.driver import ComputeDriver

__all__ = ["GuestDiagnostics", "diagnostics"]

# Nova's API names the driver family, from a fixed list: a fake hypervisor reports
# "libvirt", as Nova's own fake driver does.
_DRIVER_FAMILY = {"libvirt": "libvirt"}
_NIC_COUNTERS = ("rx_octets", "rx_errors", "rx_drop", "rx_packets", "rx_rate")
_DISK_COUNTERS = ("read_bytes", "read_requests", "write_bytes", "write_requests", "errors_count")


def diagnostics(
    instance: objects.Instance, info_state: int, *, hypervisor: str, now: float
) -> dict[str, Any]:
    """The standard diagnostics of `instance`, whose guest is in power state `info_state`."""
    disks = 1 + sum(1 for b in instance.block_devices if b.volume_id is not None)
    launched = instance.launched_at.timestamp() if instance.launched_at else None
    return {
        "state": power_state.STATE_MAP.get(info_state, "pending"),
        "driver": _DRIVER_FAMILY.get(hypervisor, "libvirt"),
        "hypervisor": hypervisor,
        "hypervisor_os": "linux",
        "uptime": int(now - launched) if launched is not None else None,
        "config_drive": False,
        "num_cpus": instance.flavor.vcpus,
        "num_nics": len(instance.addresses),
        "num_disks": disks,
        "memory_details": {"maximum": instance.flavor.memory_mb, "used": 0},
        "cpu_details": [
            {"id": cpu, "time": 0, "utilisation": 0} for cpu in range(instance.flavor.vcpus)
        ],
        "nic_details": [_nic(address.get("mac")) for address in instance.addresses],
        "disk_details": [dict.fromkeys(_DISK_COUNTERS, 0) for _ in range(disks)],
    }


def _nic(mac: str | None) -> dict[str, Any]:
    counters = [*_NIC_COUNTERS, *(c.replace("rx_", "tx_") for c in _NIC_COUNTERS)]
    return {"mac_address": mac or None, **dict.fromkeys(counters, 0)}


class GuestDiagnostics:
    """The compute endpoints reporting a guest's diagnostics and the host's uptime (admins)."""

    target: ClassVar[Target] = Target(version=ComputeAPI.served_version)

    def __init__(self, host: str, driver: ComputeDriver, conductor: ConductorAPI) -> None:
        self.host = host
        self.driver = driver
        self.conductor = conductor
        self.started = time.monotonic()

    def __repr__(self) -> str:
        return f"<GuestDiagnostics {self.host}>"

    @endpoint
    async def get_instance_diagnostics(
        self, ctx: RequestContext, instance_uuid: str
    ) -> dict[str, Any]:
        """The guest's diagnostics (Nova's standard form)."""
        require_admin(ctx, "read a guest's diagnostics")
        instance = await self.conductor.instance_get(ctx, instance_uuid)
        info = await self.driver.get_info(instance)
        resources = await self.driver.get_available_resource()
        now = objects.utcnow().timestamp()
        return diagnostics(instance, info.state, hypervisor=resources.hypervisor_type, now=now)

    @endpoint
    async def get_host_uptime(self, ctx: RequestContext) -> str:
        """The host's uptime as ``uptime`` prints it (since this compute service started)."""
        require_admin(ctx, "read a host's uptime")
        return uptime_text(time.monotonic() - self.started, time.localtime(), os.getloadavg())


def uptime_text(seconds: float, now: time.struct_time, load: tuple[float, float, float]) -> str:
    """`` 08:32:11 up 3 days,  2:05,  0 users,  load average: 0.20, 0.12, 0.14``."""
    days, rest = divmod(int(seconds), 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    up = f"{days} day{'s' if days != 1 else ''}, " if days else ""
    averages = ", ".join(f"{value:.2f}" for value in load)
    return (
        f" {time.strftime('%H:%M:%S', now)} up {up}{hours:2d}:{minutes:02d},  0 users,  "
        f"load average: {averages}"
    )
