"""Domain XML: `GuestConfig` rendered as libvirt wants it, and the edits later steps make.

`domain_xml` writes a whole domain (Nova's ``LibvirtConfigGuest.to_xml``); `disk_xml`
one disk, for hot attach and detach. The edits take the XML libvirt reports and change
only what the step changes: `rescue_xml` (boot from a rescue disk, the root disk
second), `resized_xml` (a new flavor's size), `disk_with_source` (the disk of a
volume, to detach it). `parse_metadata` reads back what ``<metadata>`` recorded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import attrs

from drivers.libvirt.config import GuestBoot, GuestConfig, GuestDisk, GuestInterface, GuestMetadata
from nova_lite import objects
from nova_lite.exceptions import HypervisorError

__all__ = [
    "METADATA_NS",
    "MetadataRecord",
    "disk_with_source",
    "disk_xml",
    "domain_xml",
    "metadata_xml",
    "parse_metadata",
    "rescue_xml",
    "resized_xml",
    "with_device",
    "without_device",
]

METADATA_NS = "urn:nova-lite:libvirt:instance:1.0"
PREFIX = "nova_lite"
_N = f"{{{METADATA_NS}}}"

ET.register_namespace(PREFIX, METADATA_NS)


def domain_xml(guest: GuestConfig) -> str:
    """The libvirt domain XML document of `guest`."""
    domain = ET.Element("domain", type=guest.virt_type)
    _text(domain, "name", guest.name)
    _text(domain, "uuid", guest.uuid)
    ET.SubElement(domain, "metadata").append(_metadata(guest.metadata))
    _text(domain, "memory", str(guest.memory_mb), unit="MiB")
    _text(domain, "currentMemory", str(guest.memory_mb), unit="MiB")
    _text(domain, "vcpu", str(guest.vcpus))
    domain.append(_os(guest.boot))
    features = ET.SubElement(domain, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    if guest.virt_type == "kvm":
        ET.SubElement(domain, "cpu", mode="host-model")
    ET.SubElement(domain, "clock", offset="utc")
    for event, action in (("poweroff", "destroy"), ("reboot", "restart"), ("crash", "destroy")):
        _text(domain, f"on_{event}", action)
    domain.append(_devices(guest))
    return _dump(domain)


def disk_xml(disk: GuestDisk) -> str:
    """One ``<disk>`` element, as attachDeviceFlags and detachDeviceFlags take it."""
    return _dump(_disk(disk))


def metadata_xml(metadata: GuestMetadata) -> str:
    """The ``<nova_lite:instance>`` element alone, as virDomain.setMetadata takes it."""
    return _dump(_metadata(metadata))


def _dump(element: ET.Element) -> str:
    ET.indent(element)
    return ET.tostring(element, encoding="unicode")


def _text(parent: ET.Element, tag: str, text: str, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    element.text = text
    return element


def _metadata(meta: GuestMetadata) -> ET.Element:
    """Nova's ``<nova:instance>`` metadata, in nova_lite's namespace."""
    root = ET.Element(_N + "instance")
    _text(root, _N + "name", meta.display_name)
    _text(root, _N + "host", meta.host)
    root.append(_flavor(meta.flavor))
    owner = ET.SubElement(root, _N + "owner")
    ET.SubElement(owner, _N + "user", uuid=meta.user_id)
    ET.SubElement(owner, _N + "project", uuid=meta.project_id)
    if meta.root_image is not None:
        ET.SubElement(
            root, _N + "root", type="image", uuid=meta.root_image, format=meta.root_format
        )
    else:
        ET.SubElement(root, _N + "root", type="volume")
    if meta.key_name is not None:
        _text(root, _N + "key", meta.key_data or "", name=meta.key_name)
    if meta.port_groups:
        root.append(_ports(meta.port_groups))
    return root


def _ports(port_groups: tuple[tuple[str, tuple[str, ...]], ...]) -> ET.Element:
    """``<nova:ports>``: each port, with the security groups applied to it (a record)."""
    ports = ET.Element(_N + "ports")
    for port_id, groups in port_groups:
        port = ET.SubElement(ports, _N + "port", uuid=port_id)
        for group in groups:
            ET.SubElement(port, _N + "security-group", uuid=group)
    return ports


def _flavor(flavor: objects.Flavor) -> ET.Element:
    element = ET.Element(_N + "flavor", id=flavor.flavorid, name=flavor.name)
    for tag, value in (
        ("memory", flavor.memory_mb),
        ("vcpus", flavor.vcpus),
        ("disk", flavor.root_gb),
        ("ephemeral", flavor.ephemeral_gb),
        ("swap", flavor.swap),
    ):
        _text(element, _N + tag, str(value))
    return element


def _os(boot: GuestBoot) -> ET.Element:
    os_ = ET.Element("os")
    _text(os_, "type", "hvm", arch=boot.arch)
    if boot.kernel is None:
        ET.SubElement(os_, "boot", dev="hd")
        return os_
    _text(os_, "kernel", str(boot.kernel))
    if boot.initrd is not None:
        _text(os_, "initrd", str(boot.initrd))
    if boot.cmdline:
        _text(os_, "cmdline", boot.cmdline)
    return os_


def _devices(guest: GuestConfig) -> ET.Element:
    devices = ET.Element("devices")
    devices.extend(_disk(disk) for disk in guest.disks)
    devices.extend(_interface(nic) for nic in guest.interfaces)
    if guest.console_log is not None:
        serial = ET.SubElement(devices, "serial", type="file")
        ET.SubElement(serial, "source", path=str(guest.console_log), append="on")
        ET.SubElement(serial, "target", port="0")
    return devices


def _disk(disk: GuestDisk) -> ET.Element:
    element = ET.Element("disk", type="file", device="disk")
    ET.SubElement(element, "driver", name="qemu", type=disk.format)
    ET.SubElement(element, "source", file=str(disk.path))
    ET.SubElement(element, "target", dev=disk.target, bus="virtio")
    if disk.serial is not None:
        _text(element, "serial", disk.serial)
    return element


def _interface(nic: GuestInterface) -> ET.Element:
    element = ET.Element("interface", type=nic.kind)
    ET.SubElement(element, "mac", address=nic.mac)
    if nic.network is not None:
        ET.SubElement(element, "source", network=nic.network)
    if nic.device is not None:
        ET.SubElement(element, "target", dev=nic.device)
    ET.SubElement(element, "model", type="virtio")
    return element


# -- edits of the XML libvirt reports -------------------------------------------------


def rescue_xml(current: str, rescue_disk: GuestDisk) -> str:
    """`current` booting from `rescue_disk` (vda), its own root disk second (vdb).

    Volumes are left out while rescued, as Nova does; unrescue defines the saved
    original again.
    """
    domain = ET.fromstring(current)
    devices = _find(domain, "devices")
    root = next((d for d in devices.findall("disk") if _target(d) == "vda"), None)
    for disk in devices.findall("disk"):
        devices.remove(disk)
    devices.insert(0, _disk(rescue_disk))
    if root is not None:
        _find(root, "target").set("dev", "vdb")
        _drop_addresses(root)
        devices.insert(1, root)
    return _dump(domain)


def resized_xml(current: str, flavor: objects.Flavor) -> str:
    """`current` with `flavor`'s memory and vCPUs, and `flavor` in its metadata."""
    domain = ET.fromstring(current)
    for tag in ("memory", "currentMemory"):
        element = domain.find(tag)
        if element is not None:
            element.attrib = {"unit": "MiB"}
            element.text = str(flavor.memory_mb)
    _find(domain, "vcpu").text = str(flavor.vcpus)
    instance = _find(domain, f"metadata/{_N}instance")
    old = _find(instance, _N + "flavor")
    index = list(instance).index(old)
    instance.remove(old)
    instance.insert(index, _flavor(flavor))
    return _dump(domain)


def disk_with_source(current: str, path: Path) -> str | None:
    """The ``<disk>`` of `current` whose file is `path`, as XML (None if it has none)."""
    for disk in ET.fromstring(current).iter("disk"):
        source = disk.find("source")
        if source is not None and source.get("file") == str(path):
            return _dump(disk)
    return None


def with_device(current: str, device_xml: str) -> str:
    """`current` with one more device (a hypervisor without hotplug takes it this way)."""
    domain = ET.fromstring(current)
    _find(domain, "devices").append(ET.fromstring(device_xml))
    return _dump(domain)


def without_device(current: str, disk_xml: str) -> str:
    """`current` without the disk whose file `disk_xml` names."""
    source = _find(ET.fromstring(disk_xml), "source").get("file")
    domain = ET.fromstring(current)
    devices = _find(domain, "devices")
    for disk in devices.findall("disk"):
        found = disk.find("source")
        if found is not None and found.get("file") == source:
            devices.remove(disk)
    return _dump(domain)


def _target(disk: ET.Element) -> str | None:
    target = disk.find("target")
    return target.get("dev") if target is not None else None


def _drop_addresses(element: ET.Element) -> None:
    """Forget the PCI address libvirt gave a device, so it can take another slot."""
    for address in element.findall("address"):
        element.remove(address)


def _find(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path)
    if found is None:
        raise HypervisorError(f"The domain XML has no <{path}> element.")
    return found


# -- metadata read back ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class MetadataRecord:
    """What a domain's ``<nova_lite:instance>`` says: its host, root image, key pair and
    its ports' security groups."""

    host: str | None
    root_image: str | None
    root_format: str = "raw"
    key_name: str | None = None
    security_groups: dict[str, tuple[str, ...]] = attrs.field(factory=dict)  # port id -> ids


def parse_metadata(text: str) -> MetadataRecord:
    """Read a ``<nova_lite:instance>`` element, alone or inside a whole domain's XML.

    virDomain.metadata returns the element alone and without its namespace.
    """
    element = ET.fromstring(text)
    if element.tag == "domain":
        element = _find(element, f"metadata/{_N}instance")
    for child in element.iter():
        child.tag = child.tag.removeprefix(_N)
    host = element.findtext("host")
    root = element.find("root")
    image = root.get("uuid") if root is not None and root.get("type") == "image" else None
    fmt = root.get("format", "raw") if root is not None else "raw"
    key = element.find("key")
    key_name = key.get("name") if key is not None else None
    groups = {
        port.get("uuid", ""): tuple(g.get("uuid", "") for g in port.findall("security-group"))
        for port in element.findall("ports/port")
    }
    return MetadataRecord(
        host=host, root_image=image, root_format=fmt, key_name=key_name, security_groups=groups
    )
