"""The contract between the compute manager and a hypervisor (Nova's ComputeDriver).

Drivers live in the top-level `drivers` package (``drivers.fake``,
``drivers.libvirt``) and are loaded by name through `nova_lite.loader`. A driver
manages the guests of one host; the compute manager owns all state changes and calls
the driver only to make the hypervisor match.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from nova_lite import objects

__all__ = ["ComputeDriver", "HostResources", "InstanceInfo"]


@attrs.frozen(kw_only=True)
class InstanceInfo:
    """What the hypervisor reports about one guest."""

    state: int  # a nova_lite.compute.power_state value
    memory_mb: int = 0
    vcpus: int = 0


@attrs.frozen(kw_only=True)
class HostResources:
    """A host's total capacity and the hypervisor's identity."""

    vcpus: int
    memory_mb: int
    local_gb: int
    hypervisor_type: str
    hypervisor_hostname: str


class ComputeDriver(abc.ABC):
    """A hypervisor as the compute manager sees it.

    Every method is a coroutine: a driver over a blocking library (libvirt-python)
    must run that library off the event loop thread. Failures raise
    `nova_lite.exceptions.HypervisorError` (or a subclass).
    """

    capabilities: dict[str, bool] = {"supports_set_admin_password": False}

    async def init_host(self, host: str) -> None:  # noqa: B027 - optional hook
        """Prepare the hypervisor for this host (called once at compute start)."""

    async def cleanup_host(self, host: str) -> None:  # noqa: B027 - optional hook
        """Release what `init_host` took (called at compute stop)."""

    @abc.abstractmethod
    async def get_available_resource(self) -> HostResources:
        """The host's total capacity."""

    @abc.abstractmethod
    async def list_instances(self) -> list[str]:
        """The uuids of the guests the hypervisor has."""

    @abc.abstractmethod
    async def get_info(self, instance: objects.Instance) -> InstanceInfo:
        """The guest's power state; raise InstanceNotFound if the hypervisor lacks it."""

    @abc.abstractmethod
    async def spawn(
        self,
        instance: objects.Instance,
        image: objects.Image | None,
        image_path: Path | None,
        network_info: Sequence[objects.Port],
        volumes: Sequence[objects.Volume],
    ) -> None:
        """Create and start the guest from the cached image and the prepared devices."""

    @abc.abstractmethod
    async def destroy(self, instance: objects.Instance) -> None:
        """Stop and remove the guest and its local disks (no error if already gone)."""

    async def reboot(self, instance: objects.Instance, *, hard: bool) -> None:
        """Reboot the guest (soft: ask the OS; hard: reset)."""
        raise NotImplementedError

    async def power_off(self, instance: objects.Instance) -> None:
        """Shut the guest down."""
        raise NotImplementedError

    async def power_on(self, instance: objects.Instance) -> None:
        """Start a shut-down guest."""
        raise NotImplementedError

    async def pause(self, instance: objects.Instance) -> None:
        """Freeze the guest in memory."""
        raise NotImplementedError

    async def unpause(self, instance: objects.Instance) -> None:
        """Resume a paused guest."""
        raise NotImplementedError

    async def suspend(self, instance: objects.Instance) -> None:
        """Save the guest's memory to disk and stop it."""
        raise NotImplementedError

    async def resume(self, instance: objects.Instance) -> None:
        """Restore a suspended guest."""
        raise NotImplementedError

    async def get_console_output(self, instance: objects.Instance) -> str:
        """The tail of the guest's serial console."""
        raise NotImplementedError

    async def rescue(self, instance: objects.Instance) -> None:
        """Boot the guest from a rescue image, keeping its disk attached."""
        raise NotImplementedError

    async def unrescue(self, instance: objects.Instance) -> None:
        """Return a rescued guest to its own disk."""
        raise NotImplementedError

    async def set_admin_password(self, instance: objects.Instance, new_pass: str) -> None:
        """Set the guest's administrator password (if `capabilities` says supported)."""
        raise NotImplementedError

    async def snapshot(self, instance: objects.Instance) -> bytes:
        """The guest's root disk, as image bytes for the image service."""
        raise NotImplementedError

    async def attach_volume(
        self, instance: objects.Instance, volume: objects.Volume, mountpoint: str
    ) -> None:
        """Attach a volume to the guest at `mountpoint`."""
        raise NotImplementedError

    async def detach_volume(self, instance: objects.Instance, volume: objects.Volume) -> None:
        """Detach a volume from the guest."""
        raise NotImplementedError

    async def resize(self, instance: objects.Instance, flavor: objects.Flavor) -> None:
        """Give a guest staying on this host a new flavor (same-host resize)."""
        raise NotImplementedError

    async def confirm_resize(self, instance: objects.Instance) -> None:
        """Forget what a same-host resize kept for a revert."""
        raise NotImplementedError

    async def finish_revert_resize(self, instance: objects.Instance) -> None:
        """Give a guest resized on this host its old flavor back."""
        raise NotImplementedError

    async def live_migration(self, instance: objects.Instance, dest: str) -> dict[str, Any]:
        """Hand a running guest over to host `dest` (a driver of the same kind there):
        its state, as JSON primitives for the destination's
        `post_live_migration_at_destination`. The guest runs here until it is destroyed.
        A driver that cannot live-migrate leaves this out (the compute manager then
        refuses the migration with a clear error, and the guest stays)."""
        raise NotImplementedError

    async def post_live_migration_at_destination(
        self, instance: objects.Instance, state: dict[str, Any]
    ) -> None:
        """Take in a guest the source's `live_migration` handed over: it runs here now."""
        raise NotImplementedError
