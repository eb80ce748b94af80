"""The libvirt driver (Nova's ``LibvirtDriver``): guests that are real libvirt domains.

With ``[libvirt] connection_uri = "qemu:///system"`` the guests are QEMU processes
(``virt_type`` "kvm" or "qemu", software emulation); with ``"test:///default"`` they
live in libvirt's own test hypervisor, which checks every domain XML and state
change but runs nothing. Each guest is a persistent domain whose root disk is a
qcow2 overlay on the host's cached base image (`ImageCache`), whose NICs carry its
ports' MACs and whose serial console is logged to a file. Every libvirt call runs
in the host's dedicated thread (`Host.run`); files are made by ``qemu-img``
subprocesses and worker threads. Rescue, snapshot, volumes and resize are in
`drivers.libvirt.disk_actions`.

Two hooks beyond the `ComputeDriver` contract, for the compute manager to use:

- `prepare_image_files(image, fetch)`: an image booted from a kernel and ramdisk
  (Glance's AMI/AKI/ARI style: the ``kernel_id`` and ``ramdisk_id`` properties name
  other images) needs their files on the host before `spawn`; `fetch(image_id)`
  downloads one into the compute's verified cache and returns its path.
- `set_event_handler(handler)`: `handler(uuid, power_state)` is called on the event
  loop whenever libvirt reports that one of this host's guests changed power state.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Self

import structlog

from drivers.libvirt import guest
from drivers.libvirt.config import (
    GuestBoot,
    InstancePaths,
    design_guest,
    disk_format,
    domain_name,
)
from drivers.libvirt.disk_actions import DiskActions
from drivers.libvirt.host import EventHandler, Host
from drivers.libvirt.imagecache import GiB, ImageCache, QemuImg
from drivers.libvirt.xml import domain_xml
from nova_lite import objects
from nova_lite.compute.power_state import CRASHED, RUNNING, SHUTDOWN
from nova_lite.config import Config, LibvirtConfig
from nova_lite.exceptions import ConfigError, HypervisorError, Invalid
from nova_lite.virt.driver import ComputeDriver, HostResources, InstanceInfo

__all__ = ["ImageFetcher", "LibvirtDriver"]

log = structlog.get_logger(__name__)

ImageFetcher = Callable[[str], Awaitable[Path]]  # image id -> its verified local file
CONSOLE_BYTES = 100 * 1024  # how much of the console log get_console_output returns


class LibvirtDriver(DiskActions, ComputeDriver):
    """The guests of one host, as domains of the hypervisor at ``connection_uri``."""

    capabilities: dict[str, bool] = {"supports_set_admin_password": False}

    def __init__(
        self,
        *,
        host: str,
        settings: LibvirtConfig,
        instances_path: Path,
        images_path: Path,
        qemu_img: QemuImg | None = None,
    ) -> None:
        self.host = host
        self.settings = settings
        self.instances_path = instances_path
        self.connection = Host(settings.connection_uri, name=host)
        self.images = ImageCache(images_path, instances_path / "volumes", qemu_img or QemuImg())
        self._guests: set[str] = set()  # this host's guests: other domains' events are dropped
        self._handler: EventHandler | None = None
        self.connection.set_event_handler(self._on_event)

    @classmethod
    def from_config(cls, config: Config, host: str) -> Self:
        """The driver of `host`, set up by the ``[libvirt]`` section (no I/O)."""
        settings = config.libvirt
        _check_template(settings.instance_name_template)
        state = Path(config.state_path if config.state_path != ":memory:" else ".nova_lite")
        instances = Path(settings.instances_path or state / "instances").absolute()
        images = Path(settings.images_path or instances / "_base").absolute()
        return cls(host=host, settings=settings, instances_path=instances, images_path=images)

    def __repr__(self) -> str:
        return f"<LibvirtDriver {self.host} {self.settings.connection_uri}>"

    # -- start, stop, events -------------------------------------------------------

    async def init_host(self, host: str) -> None:
        await asyncio.to_thread(self.instances_path.mkdir, parents=True, exist_ok=True)
        await self.connection.start()
        self._guests = set(await self.list_instances())

    async def cleanup_host(self, host: str) -> None:
        await self.connection.stop()

    def set_event_handler(self, handler: EventHandler | None) -> None:
        """Call `handler(uuid, power_state)` on the event loop when a guest's power changes.

        Only this host's guests are reported. The handler must not block: it should
        schedule its work (the compute manager's power-state sync) and return.
        """
        self._handler = handler

    def _on_event(self, uuid: str, state: int) -> None:
        if self._handler is not None and uuid in self._guests:
            self._handler(uuid, state)

    # -- the host ------------------------------------------------------------------

    async def get_available_resource(self) -> HostResources:
        """The host's real capacity: libvirt's node info, and the disk of instances_path."""
        cpus, memory_mb, hv_type = await self.connection.run(_node_info)
        local_gb = await asyncio.to_thread(_disk_gb, self.instances_path)
        return HostResources(
            vcpus=cpus,
            memory_mb=memory_mb,
            local_gb=local_gb,
            hypervisor_type=hv_type,
            hypervisor_hostname=self.host,
        )

    async def list_instances(self) -> list[str]:
        return await self.connection.run(guest.list_owned, self.host)

    async def get_info(self, instance: objects.Instance) -> InstanceInfo:
        return await self.connection.run(guest.get_info, instance.uuid)

    # -- spawn and destroy ---------------------------------------------------------

    async def prepare_image_files(self, image: objects.Image, fetch: ImageFetcher) -> None:
        """Put the kernel and ramdisk `image` names (if any) into the base cache."""
        for prop in ("kernel_id", "ramdisk_id"):
            image_id = image.properties.get(prop)
            if image_id and not self.images.base_path(image_id).exists():
                await self.images.add(image_id, await fetch(image_id))

    async def spawn(
        self,
        instance: objects.Instance,
        image: objects.Image | None,
        image_path: Path | None,
        network_info: Sequence[objects.Port],
        volumes: Sequence[objects.Volume],
    ) -> None:
        if await self.connection.run(guest.exists, instance.uuid):
            raise HypervisorError(f"Instance {instance.uuid} already exists on {self.host}.")
        paths = self._paths(instance)
        self._guests.add(instance.uuid)
        try:
            xml = await self._design(instance, image, image_path, network_info, volumes, paths)
            await self.connection.run(guest.define_and_start, xml)
        except BaseException:
            self._guests.discard(instance.uuid)
            await asyncio.to_thread(shutil.rmtree, paths.directory, True)
            raise
        log.info("libvirt.spawned", instance_uuid=instance.uuid, host=self.host)

    async def _design(
        self,
        instance: objects.Instance,
        image: objects.Image | None,
        image_path: Path | None,
        ports: Sequence[objects.Port],
        volumes: Sequence[objects.Volume],
        paths: InstancePaths,
    ) -> str:
        """Make the guest's disks, then its domain XML."""
        await asyncio.to_thread(paths.directory.mkdir, parents=True, exist_ok=True)
        boot = GuestBoot()
        if image is not None:
            if image_path is None:
                raise Invalid(f"Image {image.id} has no local file to boot instance from.")
            await self.images.add(image.id, image_path)
            await self.images.overlay(
                image.id, disk_format(image), paths.disk, instance.flavor.root_gb
            )
            boot = self._boot(image)
        disks = [(v, await self.images.volume_disk(v.id, v.size)) for v in volumes]
        config = design_guest(
            instance,
            settings=self.settings,
            host=self.host,
            paths=paths,
            image=image,
            boot=boot,
            ports=ports,
            volumes=disks,
        )
        return domain_xml(config)

    def _boot(self, image: objects.Image) -> GuestBoot:
        """From the disk, or from the kernel and ramdisk the image's properties name."""
        props = image.properties
        arch = props.get("architecture") or props.get("hw_architecture") or "x86_64"
        if not props.get("kernel_id"):
            return GuestBoot(arch=arch)
        return GuestBoot(
            kernel=self._prepared(image, "kernel_id"),
            initrd=self._prepared(image, "ramdisk_id") if props.get("ramdisk_id") else None,
            cmdline=props.get("os_command_line") or self.settings.kernel_cmdline,
            arch=arch,
        )

    def _prepared(self, image: objects.Image, prop: str) -> Path:
        path = self.images.base_path(image.properties[prop])
        if not path.exists():
            raise Invalid(
                f"Image {image.id} boots from {prop} {image.properties[prop]}, whose file is "
                f"not on host {self.host}: prepare_image_files must run before spawn."
            )
        return path

    async def destroy(self, instance: objects.Instance) -> None:
        """Stop and undefine the guest, then delete its disks and console log."""
        await self.connection.run(guest.undefine, instance.uuid)
        self._guests.discard(instance.uuid)
        await asyncio.to_thread(shutil.rmtree, self._paths(instance).directory, True)

    # -- power -----------------------------------------------------------------------

    async def reboot(self, instance: objects.Instance, *, hard: bool) -> None:
        """Hard: reset. Soft: a clean shutdown then a boot, or a reset if it will not stop."""
        if not hard:
            await self.connection.run(guest.check, instance.uuid, "soft reboot", {RUNNING})
            if await self._clean_shutdown(instance.uuid):
                await self.connection.run(guest.start, instance.uuid, "soft reboot")
                return
        await self.connection.run(guest.reset, instance.uuid)

    async def power_off(self, instance: objects.Instance) -> None:
        """A clean shutdown within ``shutdown_timeout``, else (or then) pull the plug."""
        if not await self._clean_shutdown(instance.uuid):
            await self.connection.run(guest.force_off, instance.uuid)

    async def _clean_shutdown(self, uuid: str) -> bool:
        """Ask a running guest to shut down and await its stop event; whether it stopped."""
        timeout = self.settings.shutdown_timeout
        if timeout <= 0:
            return False
        with self.connection.watch(uuid, {SHUTDOWN, CRASHED}) as stopped:
            if not await self.connection.run(guest.request_shutdown, uuid):
                return False
            try:
                async with asyncio.timeout(timeout):
                    await stopped
            except TimeoutError:
                log.info("libvirt.shutdown_timed_out", instance_uuid=uuid, timeout=timeout)
                return False
        return True

    async def power_on(self, instance: objects.Instance) -> None:
        await self.connection.run(guest.start, instance.uuid)

    async def pause(self, instance: objects.Instance) -> None:
        await self.connection.run(guest.pause, instance.uuid)

    async def unpause(self, instance: objects.Instance) -> None:
        await self.connection.run(guest.unpause, instance.uuid)

    async def suspend(self, instance: objects.Instance) -> None:
        await self.connection.run(guest.save, instance.uuid)

    async def resume(self, instance: objects.Instance) -> None:
        await self.connection.run(guest.restore, instance.uuid)

    async def get_console_output(self, instance: objects.Instance) -> str:
        """The last ``CONSOLE_BYTES`` of the guest's serial console log."""
        await self.get_info(instance)  # InstanceNotFound for a guest this host lacks
        return await asyncio.to_thread(_tail, self._paths(instance).console_log, CONSOLE_BYTES)

    def _paths(self, instance: objects.Instance) -> InstancePaths:
        return InstancePaths(self.instances_path, instance.uuid)


def _check_template(template: str) -> None:
    try:
        domain_name(template, "00000000-0000-0000-0000-000000000000")
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"[libvirt] instance_name_template = {template!r} cannot name a domain ({exc}); "
            "it takes one number, e.g. 'instance-%08x'."
        ) from None


def _node_info(conn: Any) -> tuple[int, int, str]:
    """The host's CPUs, memory (MiB) and hypervisor type, from libvirt's node info."""
    _model, memory_mb, cpus, *_ = conn.getInfo()
    return int(cpus), int(memory_mb), str(conn.getType()).lower()


def _disk_gb(path: Path) -> int:
    """The size in GiB of the filesystem holding `path` (or its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).total // GiB


def _tail(path: Path, size: int) -> str:
    """The last `size` bytes of the file at `path`, from a line start ("" if none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            start = max(handle.tell() - size, 0)
            handle.seek(start)
            data = handle.read()
    except FileNotFoundError:
        return ""
    if start > 0:
        data = data.partition(b"\n")[2]
    return data.decode(errors="replace")
