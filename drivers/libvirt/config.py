"""The guest as values (Nova's ``nova/virt/libvirt/config.py``), and how one is designed.

`GuestConfig` says everything the domain XML will say: identity, size, how it boots,
its disks, NICs and console. `design_guest` derives one from the instance, its flavor
and image, its ports and volumes, and the host's files (`InstancePaths`). Nothing
here does I/O; `drivers.libvirt.xml` renders these values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from nova_lite import objects
from nova_lite.config import LibvirtConfig
from nova_lite.exceptions import Invalid

__all__ = [
    "DISK_FORMATS",
    "GuestBoot",
    "GuestConfig",
    "GuestDisk",
    "GuestInterface",
    "GuestMetadata",
    "InstancePaths",
    "design_guest",
    "device_name",
    "disk_format",
    "domain_name",
]

# Glance disk formats a root disk can be an overlay on, and the qemu format of each.
DISK_FORMATS = {"raw": "raw", "qcow2": "qcow2", "ami": "raw"}
ROOT_DEVICE = "vda"


@attrs.frozen(kw_only=True)
class GuestDisk:
    """One virtio disk: a file, its qemu format, and the guest device name (``vdb``)."""

    path: Path
    target: str
    format: str = "qcow2"
    serial: str | None = None  # the volume id, as the guest sees it in /dev/disk/by-id


@attrs.frozen(kw_only=True)
class GuestInterface:
    """One NIC: its MAC and how it reaches the host (``user``, ``network``, ``ethernet``)."""

    mac: str
    kind: str = "user"
    network: str | None = None  # the libvirt network, for kind "network"
    device: str | None = None  # the tap device, for kind "ethernet"


@attrs.frozen(kw_only=True)
class GuestBoot:
    """How the guest boots: from its first disk, or from a kernel and initrd."""

    kernel: Path | None = None
    initrd: Path | None = None
    cmdline: str | None = None
    arch: str = "x86_64"


@attrs.frozen(kw_only=True)
class GuestMetadata:
    """What the domain's ``<metadata>`` records about the instance (Nova's, trimmed)."""

    display_name: str
    host: str
    flavor: objects.Flavor
    user_id: str
    project_id: str
    root_image: str | None  # the image the root disk is an overlay on (None: volume)
    root_format: str = "raw"  # that image's qemu format (rescue makes another overlay)
    key_name: str | None = None  # the key pair the server was booted with, and its public
    key_data: str | None = None  # key (no config drive or metadata service hands it over)
    # Each port and the security groups the network service applies to it: recorded in
    # the metadata only (no nwfilter: README, "The libvirt driver").
    port_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()


@attrs.frozen(kw_only=True)
class GuestConfig:
    """A whole guest: renders to one libvirt domain XML document."""

    virt_type: str
    name: str
    uuid: str
    memory_mb: int
    vcpus: int
    metadata: GuestMetadata
    boot: GuestBoot
    disks: tuple[GuestDisk, ...] = ()
    interfaces: tuple[GuestInterface, ...] = ()
    console_log: Path | None = None


@attrs.frozen
class InstancePaths:
    """Where one guest's files live under ``instances_path`` (Nova's layout)."""

    instances_path: Path
    uuid: str

    @property
    def directory(self) -> Path:
        return self.instances_path / self.uuid

    @property
    def disk(self) -> Path:
        """The root disk: a qcow2 overlay on the cached base image."""
        return self.directory / "disk"

    @property
    def console_log(self) -> Path:
        return self.directory / "console.log"

    @property
    def rescue_disk(self) -> Path:
        return self.directory / "disk.rescue"

    @property
    def unrescue_xml(self) -> Path:
        """The domain as it was before rescue, defined again by unrescue."""
        return self.directory / "unrescue.xml"

    @property
    def resize_backup(self) -> Path:
        """The root disk as it was before a resize, put back by a revert."""
        return self.directory / "disk.pre-resize"

    @property
    def resize_xml(self) -> Path:
        """The domain as it was before a resize, defined again by a revert."""
        return self.directory / "pre-resize.xml"


def domain_name(template: str, uuid: str) -> str:
    """The domain name: `template` formatted with the uuid's first 32 bits as a number."""
    return template % int(uuid.replace("-", "")[:8], 16)


def disk_format(image: objects.Image) -> str:
    """The qemu format of `image`'s data; `Invalid` for formats a root disk cannot use."""
    fmt = DISK_FORMATS.get(image.disk_format)
    if fmt is None:
        raise Invalid(
            f"Image {image.id} has disk_format {image.disk_format!r}, which the libvirt "
            f"driver cannot boot; supported: {', '.join(DISK_FORMATS)}."
        )
    return fmt


def device_name(mountpoint: str | None) -> str | None:
    """The guest device of a mountpoint (``/dev/vdb`` -> ``vdb``); None if there is none."""
    name = (mountpoint or "").rsplit("/", 1)[-1]
    return name or None


def design_guest(
    instance: objects.Instance,
    *,
    settings: LibvirtConfig,
    host: str,
    paths: InstancePaths,
    image: objects.Image | None,
    boot: GuestBoot,
    ports: Sequence[objects.Port],
    volumes: Sequence[tuple[objects.Volume, Path]],
) -> GuestConfig:
    """The guest for `instance`: its root overlay (if it has an image), then each volume."""
    root = (
        [GuestDisk(path=paths.disk, target=ROOT_DEVICE, format="qcow2")]
        if image is not None
        else []
    )
    flavor = instance.flavor
    metadata = GuestMetadata(
        display_name=instance.display_name,
        host=host,
        flavor=flavor,
        user_id=instance.user_id,
        project_id=instance.project_id,
        root_image=image.id if image is not None else None,
        root_format=disk_format(image) if image is not None else "raw",
        key_name=instance.key_name,
        key_data=instance.key_data,
        port_groups=tuple((port.id, tuple(port.security_groups)) for port in ports),
    )
    return GuestConfig(
        virt_type=settings.virt_type,
        name=domain_name(settings.instance_name_template, instance.uuid),
        uuid=instance.uuid,
        memory_mb=flavor.memory_mb,
        vcpus=flavor.vcpus,
        metadata=metadata,
        boot=boot,
        disks=(*root, *_volume_disks(volumes, taken={d.target for d in root})),
        interfaces=tuple(_interface(port, settings) for port in ports),
        console_log=paths.console_log,
    )


def _volume_disks(
    volumes: Sequence[tuple[objects.Volume, Path]], *, taken: set[str]
) -> list[GuestDisk]:
    """One disk per volume, at its mountpoint unless taken, else the next free vdX."""
    disks = []
    for volume, path in volumes:
        target = device_name(volume.mountpoint)
        if target is None or target in taken:
            target = _free_device(taken, volume)
        taken.add(target)
        disks.append(GuestDisk(path=path, target=target, format="qcow2", serial=volume.id))
    return disks


def _free_device(taken: set[str], volume: objects.Volume) -> str:
    free = [f"vd{c}" for c in "bcdefghijklmnopqrstuvwxyz" if f"vd{c}" not in taken]
    if not free:
        raise Invalid(f"No virtio device is left for volume {volume.id}: vdb to vdz are taken.")
    return free[0]


def _interface(port: objects.Port, settings: LibvirtConfig) -> GuestInterface:
    if settings.vif_type == "network":
        return GuestInterface(mac=port.mac_address, kind="network", network=settings.network_name)
    if settings.vif_type == "ethernet":
        return GuestInterface(mac=port.mac_address, kind="ethernet", device=f"tap{port.id[:11]}")
    return GuestInterface(mac=port.mac_address, kind="user")
