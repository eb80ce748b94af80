"""The libvirt driver's actions on a guest's disks: rescue, snapshot, volumes, resize.

`DiskActions` is mixed into `LibvirtDriver`. Each action keeps what it needs to
undo it in the guest's directory (``unrescue.xml``, ``pre-resize.xml`` and the disk
as it was), so unrescue and a resize revert work after a compute restart too.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from drivers.libvirt import guest
from drivers.libvirt.config import GuestDisk, InstancePaths, device_name
from drivers.libvirt.host import Host
from drivers.libvirt.imagecache import GiB, ImageCache
from drivers.libvirt.xml import disk_xml, parse_metadata, rescue_xml, resized_xml
from nova_lite import objects
from nova_lite.compute.power_state import CRASHED, PAUSED, RUNNING, SHUTDOWN
from nova_lite.exceptions import HypervisorError, Invalid
from nova_lite.virt.driver import InstanceInfo

__all__ = ["DiskActions"]

VOLUME_STATES = frozenset({RUNNING, PAUSED, SHUTDOWN})
RESIZE_STATES = frozenset({RUNNING, SHUTDOWN})
RESCUE_STATES = frozenset({RUNNING, SHUTDOWN, CRASHED})


class DiskActions:
    """Rescue, snapshot, volume and same-host resize actions of `LibvirtDriver`."""

    connection: Host
    images: ImageCache
    _paths: Callable[[objects.Instance], InstancePaths]
    get_info: Callable[[objects.Instance], Awaitable[InstanceInfo]]

    # -- rescue, snapshot ------------------------------------------------------------

    async def rescue(self, instance: objects.Instance) -> None:
        """Boot from a fresh overlay of the instance's image, its own disk second."""
        uuid, paths = instance.uuid, self._paths(instance)
        await self.connection.run(guest.check, uuid, "rescue", RESCUE_STATES)
        if paths.unrescue_xml.exists():
            raise HypervisorError(f"Instance {uuid} is already in rescue mode.")
        current = await self.connection.run(guest.inactive_xml, uuid)
        record = parse_metadata(current)
        if record.root_image is None:
            raise HypervisorError(f"Instance {uuid} boots from a volume: no image to rescue it.")
        root_gb = instance.flavor.root_gb
        await self.images.overlay(record.root_image, record.root_format, paths.rescue_disk, root_gb)
        await asyncio.to_thread(paths.unrescue_xml.write_text, current)
        rescue = rescue_xml(current, GuestDisk(path=paths.rescue_disk, target="vda"))
        await self.connection.run(guest.stop_and_define, uuid, rescue)
        await self.connection.run(guest.start, uuid, "rescue")

    async def unrescue(self, instance: objects.Instance) -> None:
        """Define the guest as it was before rescue and boot it from its own disk."""
        uuid, paths = instance.uuid, self._paths(instance)
        if not paths.unrescue_xml.exists():
            raise HypervisorError(f"Instance {uuid} is not in rescue mode.")
        original = await asyncio.to_thread(paths.unrescue_xml.read_text)
        await self.connection.run(guest.stop_and_define, uuid, original)
        await asyncio.to_thread(_remove, paths.rescue_disk, paths.unrescue_xml)
        await self.connection.run(guest.start, uuid, "unrescue")

    async def snapshot(self, instance: objects.Instance) -> bytes:
        """The root disk with its base flattened in, as qcow2 (paused meanwhile if running)."""
        info = await self.get_info(instance)
        disk = self._paths(instance).disk
        if not disk.exists():
            raise HypervisorError(f"Instance {instance.uuid} has no local root disk to snapshot.")
        paused = info.state == RUNNING
        if paused:
            await self.connection.run(guest.pause, instance.uuid)
        try:
            return await self.images.qemu_img.export(disk)
        finally:
            if paused:
                await self.connection.run(guest.unpause, instance.uuid)

    # -- volumes -----------------------------------------------------------------------

    async def attach_volume(
        self, instance: objects.Instance, volume: objects.Volume, mountpoint: str
    ) -> None:
        """Plug the volume's disk (made on first use) in at `mountpoint`."""
        target = device_name(mountpoint)
        if target is None:
            raise Invalid(f"Mountpoint {mountpoint!r} names no device.")
        path = await self.images.volume_disk(volume.id, volume.size)
        if await self.connection.run(guest.find_disk, instance.uuid, path) is not None:
            raise HypervisorError(
                f"Volume {volume.id} is already attached to instance {instance.uuid}."
            )
        disk = GuestDisk(path=path, target=target, serial=volume.id)
        await self.connection.run(guest.attach_disk, instance.uuid, disk_xml(disk), VOLUME_STATES)

    async def detach_volume(self, instance: objects.Instance, volume: objects.Volume) -> None:
        """Unplug the volume's disk (its file stays: it is the volume's data)."""
        path = self.images.volume_path(volume.id)
        found = await self.connection.run(guest.find_disk, instance.uuid, path)
        if found is None:
            raise HypervisorError(
                f"Volume {volume.id} is not attached to instance {instance.uuid}."
            )
        await self.connection.run(guest.detach_disk, instance.uuid, found)

    # -- resize on this host ---------------------------------------------------------------

    async def resize(self, instance: objects.Instance, flavor: objects.Flavor) -> None:
        """Redefine the guest with `flavor`'s size, keeping its old definition and disk."""
        uuid, paths = instance.uuid, self._paths(instance)
        await self.connection.run(guest.check, uuid, "resize", RESIZE_STATES)
        current = await self.connection.run(guest.inactive_xml, uuid)
        await asyncio.to_thread(paths.resize_xml.write_text, current)
        was_active = await self.connection.run(
            guest.stop_and_define, uuid, resized_xml(current, flavor)
        )
        if paths.disk.exists():
            await asyncio.to_thread(shutil.copyfile, paths.disk, paths.resize_backup)
            await self.images.qemu_img.grow(paths.disk, flavor.root_gb * GiB)
        if was_active:
            await self.connection.run(guest.start, uuid, "resize")

    async def confirm_resize(self, instance: objects.Instance) -> None:
        """Forget the pre-resize definition and disk: the resize can no longer be reverted."""
        paths = self._paths(instance)
        if not paths.resize_xml.exists():
            raise HypervisorError(f"Instance {instance.uuid} has no resize to confirm.")
        await asyncio.to_thread(_remove, paths.resize_backup, paths.resize_xml)

    async def finish_revert_resize(self, instance: objects.Instance) -> None:
        """Define the guest as it was before the resize, with its old disk."""
        uuid, paths = instance.uuid, self._paths(instance)
        if not paths.resize_xml.exists():
            raise HypervisorError(f"Instance {uuid} has no resize to revert.")
        old = await asyncio.to_thread(paths.resize_xml.read_text)
        was_active = await self.connection.run(guest.stop_and_define, uuid, old)
        if paths.resize_backup.exists():
            await asyncio.to_thread(paths.resize_backup.replace, paths.disk)
        await asyncio.to_thread(_remove, paths.resize_xml)
        if was_active:
            await self.connection.run(guest.start, uuid, "revert resize")


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
