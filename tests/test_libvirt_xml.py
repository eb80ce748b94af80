"""The libvirt driver's domain XML, checked by libvirt itself.

Each representative guest is designed from an instance, rendered, defined on
libvirt's test hypervisor (``test:///default``, which validates the document) and
read back with XMLDesc; the assertions are about what libvirt kept.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.libvirt_fixtures import PORT, SMALL, make_instance, require_libvirt

libvirt = require_libvirt()

from drivers.libvirt.config import (  # noqa: E402 - after the libvirt check
    GuestBoot,
    GuestConfig,
    GuestDisk,
    InstancePaths,
    design_guest,
    disk_format,
    domain_name,
)
from drivers.libvirt.xml import (  # noqa: E402
    METADATA_NS,
    disk_xml,
    domain_xml,
    parse_metadata,
    rescue_xml,
    resized_xml,
    with_device,
    without_device,
)
from nova_lite import objects  # noqa: E402
from nova_lite.config import LibvirtConfig  # noqa: E402
from nova_lite.exceptions import Invalid  # noqa: E402

NS = {"n": METADATA_NS}
IMAGE = objects.Image(id="img-1", name="cirros", disk_format="qcow2")
VOLUME = objects.Volume(id="vol-1", name="data", size=1, mountpoint="/dev/vdb")
BASE = Path("/srv/nova/instances")
FORMATS = ("raw", "qcow2", "ami")


@pytest.fixture
def conn() -> Iterator[Any]:
    """A connection to a fresh libvirt test hypervisor (its state is per connection)."""
    connection = libvirt.open("test:///default")
    yield connection
    connection.close()


def design(
    instance: objects.Instance,
    *,
    settings: LibvirtConfig | None = None,
    boot: GuestBoot | None = None,
    image: objects.Image | None = IMAGE,
    ports: tuple[objects.Port, ...] = (PORT,),
    volumes: tuple[objects.Volume, ...] = (VOLUME,),
) -> GuestConfig:
    return design_guest(
        instance,
        settings=settings or LibvirtConfig(),
        host="host1",
        paths=InstancePaths(BASE, instance.uuid),
        image=image,
        boot=boot or GuestBoot(),
        ports=ports,
        volumes=[(v, BASE / "volumes" / f"{v.id}.qcow2") for v in volumes],
    )


def defined(conn: Any, guest: GuestConfig) -> ET.Element:
    """The domain as libvirt keeps it after defining `guest`'s XML."""
    dom = conn.defineXML(domain_xml(guest))
    return ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def disks(domain: ET.Element) -> dict[str, tuple[str | None, str | None]]:
    """Each disk's target device: (its file, its format)."""
    found = {}
    for disk in domain.iterfind("devices/disk"):
        target = disk.find("target")
        source, driver = disk.find("source"), disk.find("driver")
        assert target is not None and source is not None and driver is not None
        found[target.get("dev") or ""] = (source.get("file"), driver.get("type"))
    return found


def test_a_kernel_booted_guest_is_what_libvirt_keeps(conn: Any) -> None:
    """Name, uuid, size, kernel/initrd/cmdline, overlay, volume, NIC and console survive."""
    instance = make_instance("web")
    boot = GuestBoot(kernel=Path("/b/k"), initrd=Path("/b/r"), cmdline="console=ttyS0")
    domain = defined(conn, design(instance, boot=boot))

    assert domain.get("type") == "qemu"
    assert domain.findtext("name") == "instance-" + instance.uuid[:8]
    assert domain.findtext("uuid") == instance.uuid
    assert (domain.findtext("memory"), domain.find("memory").get("unit")) == ("524288", "KiB")  # type: ignore[union-attr]
    assert domain.findtext("vcpu") == "1"
    assert [domain.findtext(f"os/{tag}") for tag in ("kernel", "initrd", "cmdline")] == [
        "/b/k",
        "/b/r",
        "console=ttyS0",
    ]
    directory = BASE / instance.uuid
    assert disks(domain) == {
        "vda": (str(directory / "disk"), "qcow2"),
        "vdb": (str(BASE / "volumes" / "vol-1.qcow2"), "qcow2"),
    }
    assert domain.findtext("devices/disk[2]/serial") == "vol-1"
    [nic] = domain.findall("devices/interface")
    assert nic.get("type") == "user" and nic.find("mac").get("address") == PORT.mac_address  # type: ignore[union-attr]
    serial = domain.find("devices/serial/source")
    assert serial is not None and serial.get("path") == str(directory / "console.log")


def test_metadata_records_the_instance_in_nova_lites_namespace(conn: Any) -> None:
    """<metadata> names the instance, host, flavor, owner and root image, as Nova's does."""
    instance = make_instance("web")
    domain = defined(conn, design(instance))

    meta = domain.find("metadata/n:instance", NS)
    assert meta is not None
    assert meta.findtext("n:name", namespaces=NS) == "web"
    assert meta.findtext("n:host", namespaces=NS) == "host1"
    flavor = meta.find("n:flavor", NS)
    assert flavor is not None and flavor.get("name") == "m1.tiny"
    assert flavor.findtext("n:memory", namespaces=NS) == "512"
    assert meta.find("n:owner/n:user", NS).get("uuid") == "u1"  # type: ignore[union-attr]
    assert meta.find("n:owner/n:project", NS).get("uuid") == "p1"  # type: ignore[union-attr]
    dom = conn.lookupByUUIDString(instance.uuid)
    alone = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0)
    for text in (alone, dom.XMLDesc(0)):
        record = parse_metadata(text)
        assert (record.host, record.root_image, record.root_format) == ("host1", "img-1", "qcow2")


def test_the_key_pair_is_recorded_in_the_domain_metadata(conn: Any) -> None:
    """A server booted with a key pair has its name and public key in <metadata>."""
    instance = attrs.evolve(make_instance("web"), key_name="mine", key_data="ssh-rsa AAAA me")
    domain = defined(conn, design(instance))

    key = domain.find("metadata/n:instance/n:key", NS)
    assert key is not None and key.get("name") == "mine" and key.text == "ssh-rsa AAAA me"
    dom = conn.lookupByUUIDString(instance.uuid)
    alone = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0)
    assert parse_metadata(alone).key_name == "mine"
    keyless = defined(conn, design(make_instance("other")))
    assert keyless.find("metadata/n:instance/n:key", NS) is None


def test_metadata_records_each_ports_security_groups(conn: Any) -> None:
    """<nova:ports> records the groups the network service applies to each port (libvirt
    enforces none of them: no nwfilter), and parse_metadata reads them back."""
    secured = attrs.evolve(PORT, security_groups=("sg-web", "sg-ssh"))
    domain = defined(conn, design(make_instance(), ports=(secured,)))

    port = domain.find("metadata/n:instance/n:ports/n:port", NS)
    assert port is not None and port.get("uuid") == PORT.id
    assert [g.get("uuid") for g in port.findall("n:security-group", NS)] == ["sg-web", "sg-ssh"]
    record = parse_metadata(ET.tostring(domain, encoding="unicode"))
    assert record.security_groups == {PORT.id: ("sg-web", "sg-ssh")}


def test_a_disk_booted_kvm_guest_boots_from_hd_with_the_host_cpu(conn: Any) -> None:
    """Without a kernel the guest boots from vda; kvm guests get the host-model CPU."""
    settings = LibvirtConfig(virt_type="kvm")
    domain = defined(conn, design(make_instance(), settings=settings, volumes=()))

    assert domain.get("type") == "kvm"
    assert domain.find("os/boot").get("dev") == "hd"  # type: ignore[union-attr]
    assert domain.find("os/kernel") is None
    assert domain.find("cpu").get("mode") == "host-model"  # type: ignore[union-attr]


def test_a_volume_booted_guest_has_no_root_overlay(conn: Any) -> None:
    """With no image, the volumes are the disks, at their mountpoints, from vda."""
    volume = objects.Volume(id="boot-vol", name="boot", size=1, mountpoint="/dev/vda")
    domain = defined(conn, design(make_instance(image_ref=None), image=None, volumes=(volume,)))

    assert disks(domain) == {"vda": (str(BASE / "volumes" / "boot-vol.qcow2"), "qcow2")}
    assert parse_metadata(ET.tostring(domain, encoding="unicode")).root_image is None


def test_ports_become_nics_of_the_configured_kind(conn: Any) -> None:
    """vif_type "network" joins the named network; "ethernet" names a tap per port."""
    ports = (PORT, attrs.evolve(PORT, id="9a8b7c6d-aaaa", mac_address="fa:16:3e:00:00:02"))
    net = defined(conn, design(make_instance(), settings=LibvirtConfig(vif_type="network")))
    tap = design(make_instance(), settings=LibvirtConfig(vif_type="ethernet"), ports=ports)

    assert net.find("devices/interface/source").get("network") == "default"  # type: ignore[union-attr]
    assert [nic.kind for nic in tap.interfaces] == ["ethernet", "ethernet"]
    assert [nic.device for nic in tap.interfaces] == ["tap3f2b8c1e-5d", "tap9a8b7c6d-aa"]
    assert [nic.mac for nic in tap.interfaces] == ["fa:16:3e:00:00:01", "fa:16:3e:00:00:02"]


def test_volumes_whose_mountpoint_is_taken_get_the_next_free_device() -> None:
    """A volume asking for vda (the root disk) or a taken device moves to the next free one."""
    volumes = (
        objects.Volume(id="a", name="a", size=1, mountpoint="/dev/vda"),
        objects.Volume(id="b", name="b", size=1, mountpoint="/dev/vdc"),
        objects.Volume(id="c", name="c", size=1, mountpoint=None),
    )
    guest = design(make_instance(), volumes=volumes)

    assert [(d.target, d.serial) for d in guest.disks] == [
        ("vda", None),
        ("vdb", "a"),
        ("vdc", "b"),
        ("vdd", "c"),
    ]


def test_rescue_boots_from_the_rescue_disk_with_the_root_disk_second(conn: Any) -> None:
    """The rescue definition has the rescue disk as vda, the old root as vdb, no volumes."""
    instance = make_instance()
    domain = defined(conn, design(instance))
    current = ET.tostring(domain, encoding="unicode")
    rescue = GuestDisk(path=BASE / instance.uuid / "disk.rescue", target="vda")

    kept = ET.fromstring(conn.defineXML(rescue_xml(current, rescue)).XMLDesc(0))

    assert disks(kept) == {
        "vda": (str(BASE / instance.uuid / "disk.rescue"), "qcow2"),
        "vdb": (str(BASE / instance.uuid / "disk"), "qcow2"),
    }


def test_resize_changes_memory_vcpus_and_the_recorded_flavor(conn: Any) -> None:
    """The resized definition has the new flavor's size, in <memory>, <vcpu> and metadata."""
    instance = make_instance()
    current = ET.tostring(defined(conn, design(instance)), encoding="unicode")

    kept = ET.fromstring(conn.defineXML(resized_xml(current, SMALL)).XMLDesc(0))

    assert (kept.findtext("memory"), kept.findtext("vcpu")) == ("2097152", "2")
    flavor = kept.find("metadata/n:instance/n:flavor", NS)
    assert flavor is not None and flavor.get("name") == SMALL.name
    assert kept.findtext("uuid") == instance.uuid


def test_a_disk_is_added_to_and_removed_from_a_definition(conn: Any) -> None:
    """with_device adds a volume's disk; without_device removes the disk of that file."""
    instance = make_instance()
    current = ET.tostring(defined(conn, design(instance, volumes=())), encoding="unicode")
    disk = GuestDisk(path=BASE / "volumes" / "v9.qcow2", target="vdc", serial="v9")

    added = ET.fromstring(conn.defineXML(with_device(current, disk_xml(disk))).XMLDesc(0))
    assert set(disks(added)) == {"vda", "vdc"}
    removed = without_device(ET.tostring(added, encoding="unicode"), disk_xml(disk))
    assert set(disks(ET.fromstring(removed))) == {"vda"}


def test_domain_names_use_the_uuids_first_32_bits() -> None:
    """Nova's template "instance-%08x" gives "instance-" and the uuid's first 8 hex digits."""
    some = str(uuid.UUID("0000abcd-1234-5678-9abc-def012345678"))
    assert domain_name("instance-%08x", some) == "instance-0000abcd"
    assert domain_name("vm-%d", some) == "vm-43981"


def test_only_raw_qcow2_and_ami_images_can_be_root_disks() -> None:
    """disk_format maps Glance formats to qemu's and refuses the rest, naming them."""
    assert [disk_format(objects.Image(id="i", name="i", disk_format=f)) for f in FORMATS] == [
        "raw",
        "qcow2",
        "raw",
    ]
    with pytest.raises(Invalid, match=r"'vmdk'.*supported: raw, qcow2, ami"):
        disk_format(objects.Image(id="i", name="i", disk_format="vmdk"))
