"""The libvirt driver against libvirt's test hypervisor (``test:///default``).

The test hypervisor keeps real domain definitions and states (one set per
connection, so per driver) but runs no guest, so every operation is checked for
what libvirt then reports: the domain's state and XML, the files on disk
(``qemu-img`` makes real overlays), the events libvirt sends. The second half boots
and walks servers through the whole API on a cloud whose compute uses the driver.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from nova_lite.testing import WAIT, CloudFactory, NotificationTap, unlimited_quota
from tests.libvirt_fixtures import (
    PORT,
    SMALL,
    make_instance,
    require,
    require_libvirt,
    wire_image_files,
)

libvirt = require_libvirt()
require("qemu-img")

from drivers.libvirt import LibvirtDriver, guest  # noqa: E402 - after the checks
from nova_lite import objects  # noqa: E402
from nova_lite.api.client import Session  # noqa: E402
from nova_lite.cloud import Cloud  # noqa: E402
from nova_lite.compute.power_state import (  # noqa: E402
    NOSTATE,
    PAUSED,
    RUNNING,
    SHUTDOWN,
    SUSPENDED,
)
from nova_lite.config import Config  # noqa: E402
from nova_lite.context import RequestContext  # noqa: E402
from nova_lite.exceptions import (  # noqa: E402
    ConfigError,
    HypervisorError,
    InstanceNotFound,
    Invalid,
)
from nova_lite.loader import load_driver_for_host  # noqa: E402

ADMIN = RequestContext.admin()
IMAGE = objects.Image(id="img-1", name="cirros", disk_format="raw")
VOLUME = objects.Volume(id="vol-1", name="data", size=1, mountpoint="/dev/vdb")


def config(tmp_path: Path, **libvirt_options: Any) -> Config:
    options = {"connection_uri": "test:///default", "shutdown_timeout": 5.0, **libvirt_options}
    return Config.load(environ={}, state_path=str(tmp_path / "state"), libvirt=options)


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[LibvirtDriver]:
    """A started driver of host1 on its own test hypervisor."""
    driver = LibvirtDriver.from_config(config(tmp_path), "host1")
    await driver.init_host("host1")
    yield driver
    await driver.cleanup_host("host1")


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    """A small raw disk image, as the compute's verified cache would hold it."""
    path = tmp_path / "cache" / IMAGE.id
    path.parent.mkdir()
    path.write_bytes(hashlib.sha256(b"nova-lite").digest() * 2048)
    return path


async def spawned(driver: LibvirtDriver, image_file: Path, **kwargs: Any) -> objects.Instance:
    instance = make_instance(**kwargs)
    await driver.spawn(instance, IMAGE, image_file, [PORT], [VOLUME])
    return instance


async def state_of(driver: LibvirtDriver, instance: objects.Instance) -> int:
    return (await driver.get_info(instance)).state


async def xml_of(driver: LibvirtDriver, instance: objects.Instance) -> ET.Element:
    return ET.fromstring(await driver.connection.run(guest.inactive_xml, instance.uuid))


def disk_info(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)], capture_output=True, check=True
    ).stdout
    info: dict[str, Any] = json.loads(out)
    return info


# -- the driver alone -----------------------------------------------------------------


async def test_spawn_makes_a_running_domain_on_a_qcow2_overlay(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """Spawn defines and starts the domain; its root disk is an overlay on the cached base."""
    instance = await spawned(driver, image_file)

    assert await driver.list_instances() == [instance.uuid]
    info = await driver.get_info(instance)
    assert (info.state, info.memory_mb, info.vcpus) == (RUNNING, 512, 1)
    disk = driver.instances_path / instance.uuid / "disk"
    overlay = disk_info(disk)
    assert overlay["format"] == "qcow2" and overlay["virtual-size"] == 1024**3
    assert overlay["full-backing-filename"] == str(driver.images.base_path(IMAGE.id))
    base = driver.images.base_path(IMAGE.id)
    assert await asyncio.to_thread(os.path.samefile, base, image_file)  # linked, not copied
    assert disk_info(driver.images.volume_path(VOLUME.id))["virtual-size"] == 1024**3


async def test_destroy_removes_the_domain_and_its_files_and_is_idempotent(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """Destroy undefines the guest and deletes its directory; a second destroy is a no-op."""
    instance = await spawned(driver, image_file)

    await driver.destroy(instance)
    await driver.destroy(instance)

    assert await driver.list_instances() == []
    assert not (driver.instances_path / instance.uuid).exists()
    assert driver.images.base_path(IMAGE.id).exists()  # the base stays for other guests
    with pytest.raises(InstanceNotFound, match=instance.uuid):
        await driver.get_info(instance)


async def test_spawning_an_existing_guest_fails_and_keeps_it(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """A second spawn of one uuid raises HypervisorError and leaves the first guest alone."""
    instance = await spawned(driver, image_file)

    with pytest.raises(HypervisorError, match="already exists"):
        await driver.spawn(instance, IMAGE, image_file, [], [])

    assert await state_of(driver, instance) == RUNNING
    assert (driver.instances_path / instance.uuid / "disk").exists()


async def test_a_failed_spawn_leaves_nothing_behind(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """An image larger than the flavor's root disk is refused; no domain or file is left."""
    with image_file.open("r+b") as handle:
        handle.truncate(1024**3 + 512)  # sparse: one sector more than the flavor's 1 GiB
    instance = make_instance()

    with pytest.raises(Invalid, match="larger than the flavor's root disk"):
        await driver.spawn(instance, IMAGE, image_file, [PORT], [])

    assert await driver.list_instances() == []
    assert not (driver.instances_path / instance.uuid).exists()


async def test_power_actions_move_the_domain_through_libvirts_states(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """Pause, suspend (managed save), stop and their inverses reach the right power state."""
    instance = await spawned(driver, image_file)
    steps: list[tuple[Callable[[objects.Instance], Awaitable[None]], int]] = [
        (driver.pause, PAUSED),
        (driver.unpause, RUNNING),
        (driver.suspend, SUSPENDED),
        (driver.resume, RUNNING),
        (driver.power_off, SHUTDOWN),
        (driver.power_on, RUNNING),
    ]
    for operation, expected in steps:
        await operation(instance)
        assert await state_of(driver, instance) == expected, operation.__name__
    dom_state = await driver.connection.run(lambda c: c.lookupByUUIDString(instance.uuid).state())
    assert dom_state[0] == libvirt.VIR_DOMAIN_RUNNING


async def test_transitions_a_hypervisor_refuses_name_the_state(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """Unpausing a running guest or resuming an unsuspended one fails, naming its state."""
    instance = await spawned(driver, image_file)

    with pytest.raises(HypervisorError, match="it is running, and unpause needs it paused"):
        await driver.unpause(instance)
    with pytest.raises(HypervisorError, match="resume needs it suspended"):
        await driver.resume(instance)
    with pytest.raises(HypervisorError, match="power on needs it"):
        await driver.power_on(instance)


@pytest.mark.parametrize(
    ("libvirt_state", "managed_save", "expected"),
    [
        ("VIR_DOMAIN_NOSTATE", False, NOSTATE),
        ("VIR_DOMAIN_RUNNING", False, RUNNING),
        ("VIR_DOMAIN_BLOCKED", False, RUNNING),
        ("VIR_DOMAIN_PAUSED", False, PAUSED),
        ("VIR_DOMAIN_SHUTDOWN", False, SHUTDOWN),
        ("VIR_DOMAIN_SHUTOFF", False, SHUTDOWN),
        ("VIR_DOMAIN_SHUTOFF", True, SUSPENDED),
        ("VIR_DOMAIN_CRASHED", False, 0x06),
        ("VIR_DOMAIN_PMSUSPENDED", False, SUSPENDED),
    ],
)
def test_libvirt_states_map_to_novas_power_states(
    libvirt_state: str, managed_save: bool, expected: int
) -> None:
    """Nova's mapping; a shut-off domain with a managed save image is SUSPENDED."""

    class Domain:
        def state(self) -> list[int]:
            return [getattr(libvirt, libvirt_state), 0]

        def hasManagedSaveImage(self, flags: int) -> bool:
            return managed_save

    assert guest.power_state_of(Domain()) == expected


async def test_soft_reboot_waits_for_the_stop_event_and_hard_reboot_resets(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """Soft reboot shuts down cleanly then boots; hard reboot boots even a paused guest."""
    events = watch(driver)
    instance = await spawned(driver, image_file)
    assert await next_states(events, 1) == [RUNNING]

    await driver.reboot(instance, hard=False)
    assert await state_of(driver, instance) == RUNNING
    assert await next_states(events, 2) == [SHUTDOWN, RUNNING]

    await driver.pause(instance)
    with pytest.raises(HypervisorError, match="soft reboot needs it running"):
        await driver.reboot(instance, hard=False)
    await driver.reboot(instance, hard=True)
    assert await state_of(driver, instance) == RUNNING


async def test_power_off_pulls_the_plug_when_the_guest_ignores_shutdown(
    tmp_path: Path, image_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guest that ignores the ACPI request is destroyed once shutdown_timeout passes."""
    driver = LibvirtDriver.from_config(config(tmp_path, shutdown_timeout=0.05), "host1")
    instance = await spawned(driver, image_file)
    monkeypatch.setattr(guest, "request_shutdown", lambda conn, uuid: True)  # ignored

    await driver.power_off(instance)

    assert await state_of(driver, instance) == SHUTDOWN
    await driver.cleanup_host("host1")


def watch(driver: LibvirtDriver) -> asyncio.Queue[tuple[str, int]]:
    """The (uuid, power state) pairs the driver reports, queued as they come."""
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    driver.set_event_handler(lambda uuid, state: queue.put_nowait((uuid, state)))
    return queue


async def next_states(queue: asyncio.Queue[tuple[str, int]], count: int) -> list[int]:
    """The power states of the next `count` events (awaited, never polled)."""
    return [(await asyncio.wait_for(queue.get(), 5))[1] for _ in range(count)]


async def test_lifecycle_events_of_this_hosts_guests_reach_the_handler(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """libvirt's lifecycle events arrive on the loop as (uuid, power state); others don't."""
    queue = watch(driver)
    instance = await spawned(driver, image_file)

    await driver.connection.run(lambda c: c.lookupByName("test").suspend())  # not ours
    await driver.pause(instance)
    await driver.suspend(instance)

    got = [await asyncio.wait_for(queue.get(), 5) for _ in range(3)]
    assert got == [(instance.uuid, state) for state in (RUNNING, PAUSED, SUSPENDED)]
    assert queue.empty()  # libvirt sends events in order: the other domain's came first


async def test_libvirt_calls_run_in_the_hosts_own_thread_not_the_loop(
    driver: LibvirtDriver,
) -> None:
    """Every call runs in the host's libvirt thread; a blocked call leaves the loop free."""
    gate = threading.Event()
    names = await driver.connection.run(lambda c: threading.current_thread().name)
    blocked = asyncio.create_task(driver.connection.run(lambda c: gate.wait(10)))

    loop_ran = asyncio.Event()
    asyncio.get_running_loop().call_soon(loop_ran.set)
    await asyncio.wait_for(loop_ran.wait(), 5)
    assert not blocked.done()
    gate.set()

    assert await blocked is True
    assert names.startswith("libvirt-host1") and names != threading.main_thread().name


async def test_rescue_boots_a_fresh_image_disk_and_unrescue_restores_the_guest(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """Rescue: a new overlay as vda, the own disk as vdb; unrescue: the old definition."""
    instance = await spawned(driver, image_file)
    directory = driver.instances_path / instance.uuid
    before = ET.tostring(await xml_of(driver, instance))

    await driver.rescue(instance)
    targets = {
        d.find("target").get("dev"): d.find("source").get("file")  # type: ignore[union-attr]
        for d in (await xml_of(driver, instance)).iterfind("devices/disk")
    }
    assert targets == {"vda": str(directory / "disk.rescue"), "vdb": str(directory / "disk")}
    assert await state_of(driver, instance) == RUNNING
    with pytest.raises(HypervisorError, match="already in rescue mode"):
        await driver.rescue(instance)

    await driver.unrescue(instance)
    assert ET.tostring(await xml_of(driver, instance)) == before
    assert not (directory / "disk.rescue").exists()
    with pytest.raises(HypervisorError, match="not in rescue mode"):
        await driver.unrescue(instance)


async def test_snapshot_is_the_flattened_disk_as_qcow2(
    driver: LibvirtDriver, image_file: Path, tmp_path: Path
) -> None:
    """Snapshot bytes are a qcow2 image with no backing file, and the guest runs on."""
    instance = await spawned(driver, image_file)

    data = await driver.snapshot(instance)

    assert data[:4] == b"QFI\xfb"
    (tmp_path / "snap.qcow2").write_bytes(data)
    info = disk_info(tmp_path / "snap.qcow2")
    assert "backing-filename" not in info and info["virtual-size"] == 1024**3
    assert await state_of(driver, instance) == RUNNING


async def test_resize_redefines_the_size_and_revert_or_confirm_end_it(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """Resize gives the new size and a larger disk; revert restores both; confirm forgets."""
    instance = await spawned(driver, image_file)
    disk = driver.instances_path / instance.uuid / "disk"

    await driver.resize(instance, SMALL)
    info = await driver.get_info(instance)
    assert (info.state, info.memory_mb, info.vcpus) == (RUNNING, 2048, 2)
    assert disk_info(disk)["virtual-size"] == 2 * 1024**3

    await driver.finish_revert_resize(instance)
    info = await driver.get_info(instance)
    assert (info.memory_mb, info.vcpus, disk_info(disk)["virtual-size"]) == (512, 1, 1024**3)
    with pytest.raises(HypervisorError, match="no resize to revert"):
        await driver.finish_revert_resize(instance)

    await driver.resize(instance, SMALL)
    await driver.confirm_resize(instance)
    assert (await driver.get_info(instance)).memory_mb == 2048
    with pytest.raises(HypervisorError, match="no resize to confirm"):
        await driver.confirm_resize(instance)


async def test_volumes_attach_and_detach_as_virtio_disks(
    driver: LibvirtDriver, image_file: Path
) -> None:
    """A volume's disk (made on first use) is plugged in at its mountpoint, then unplugged."""
    instance = await spawned(driver, image_file)
    volume = objects.Volume(id="vol-2", name="more", size=2)
    path = str(driver.images.volume_path("vol-2"))

    await driver.attach_volume(instance, volume, "/dev/vdc")
    disk = (await xml_of(driver, instance)).find(f"devices/disk/source[@file='{path}']/..")
    assert disk is not None and disk.find("target").get("dev") == "vdc"  # type: ignore[union-attr]
    assert disk.findtext("serial") == "vol-2"
    with pytest.raises(HypervisorError, match="already attached"):
        await driver.attach_volume(instance, volume, "/dev/vdd")

    await driver.detach_volume(instance, volume)
    assert path not in ET.tostring(await xml_of(driver, instance), encoding="unicode")
    assert await asyncio.to_thread(os.path.exists, path)  # the data outlives the attachment
    with pytest.raises(HypervisorError, match="not attached"):
        await driver.detach_volume(instance, volume)


async def test_console_output_is_the_tail_of_the_serial_log(
    driver: LibvirtDriver, image_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console is read from the log libvirt writes, from a line start, at most 100 KiB."""
    instance = await spawned(driver, image_file)
    log = driver.instances_path / instance.uuid / "console.log"
    assert await driver.get_console_output(instance) == ""  # the test hypervisor writes none

    log.write_text("".join(f"line {i}\n" for i in range(20000)))
    tail = await driver.get_console_output(instance)

    assert tail.endswith("line 19999\n") and tail.startswith("line ")
    assert 90 * 1024 < len(tail) <= 100 * 1024
    with pytest.raises(InstanceNotFound):
        await driver.get_console_output(make_instance())


async def test_available_resources_are_the_hosts_real_capacity(driver: LibvirtDriver) -> None:
    """CPUs and memory come from libvirt's node info, disk from instances_path's filesystem."""
    resources = await driver.get_available_resource()

    node = await driver.connection.run(lambda c: c.getInfo())
    assert (resources.vcpus, resources.memory_mb) == (node[2], node[1])
    assert resources.local_gb > 0 and resources.hypervisor_type == "test"
    assert resources.hypervisor_hostname == "host1"


async def test_a_kernel_image_boots_from_files_prepared_before_spawn(
    driver: LibvirtDriver, image_file: Path, tmp_path: Path
) -> None:
    """kernel_id/ramdisk_id files are fetched once into the base cache and booted from."""
    props = {"kernel_id": "aki-1", "ramdisk_id": "ari-1", "os_command_line": "quiet"}
    image = objects.Image(id="ami-1", name="ami", disk_format="ami", properties=props)
    fetched: list[str] = []

    async def fetch(image_id: str) -> Path:
        fetched.append(image_id)
        path = tmp_path / "cache" / image_id
        path.write_bytes(image_id.encode())
        return path

    instance = make_instance(image_ref=image.id)
    with pytest.raises(Invalid, match="prepare_image_files must run before spawn"):
        await driver.spawn(instance, image, image_file, [], [])
    await driver.prepare_image_files(image, fetch)
    await driver.prepare_image_files(image, fetch)
    await driver.spawn(instance, image, image_file, [], [])

    assert fetched == ["aki-1", "ari-1"]
    os_ = (await xml_of(driver, instance)).find("os")
    assert os_ is not None
    assert os_.findtext("kernel") == str(driver.images.base_path("aki-1"))
    assert os_.findtext("initrd") == str(driver.images.base_path("ari-1"))
    assert os_.findtext("cmdline") == "quiet"


def test_a_bad_name_template_is_a_configuration_error(tmp_path: Path) -> None:
    """instance_name_template must take one number; the error names the key and value."""
    with pytest.raises(ConfigError, match="instance_name_template = 'instance-%s-%s'"):
        LibvirtDriver.from_config(config(tmp_path, instance_name_template="instance-%s-%s"), "h")


def test_the_loader_builds_the_libvirt_driver(tmp_path: Path) -> None:
    """[compute] driver = "libvirt" loads LibvirtDriver with the [libvirt] settings."""
    cfg = Config.load(
        environ={}, state_path=str(tmp_path), compute={"driver": "libvirt"}, libvirt={}
    )
    built = load_driver_for_host(cfg, "host7")
    assert isinstance(built, LibvirtDriver) and built.host == "host7"
    assert built.settings.connection_uri == "qemu:///system"
    assert built.instances_path == (tmp_path / "instances").absolute()
    assert built.images.images_path == tmp_path / "instances" / "_base"


def test_without_libvirt_python_the_loader_says_what_to_install() -> None:
    """With libvirt-python missing, loading the driver names the extra to install."""
    code = (
        "import sys; sys.modules['libvirt'] = None\n"
        "from nova_lite.loader import load_plugin\n"
        "from nova_lite.exceptions import PluginNotFound\n"
        "try:\n    load_plugin('driver', 'libvirt')\n"
        "except PluginNotFound as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install 'nova-lite[libvirt]'" in result.stdout, result.stdout + result.stderr


# -- whole clouds whose compute host runs the libvirt driver ------------------------------

LIBVIRT_CLOUD: dict[str, Any] = {
    "compute": {"driver": "libvirt", "allow_resize_to_same_host": True},
    "libvirt": {"connection_uri": "test:///default", "shutdown_timeout": 5.0},
}


async def libvirt_cloud(clouds: CloudFactory) -> tuple[Cloud, Session, LibvirtDriver]:
    """A started one-host cloud on the test hypervisor, its admin and its driver."""
    cloud = await clouds.start(computes=1, **LIBVIRT_CLOUD)
    admin = await cloud.login_admin()
    await unlimited_quota(cloud, admin)
    driver = cloud.compute("compute1").driver
    assert isinstance(driver, LibvirtDriver)
    return cloud, admin, driver


async def settled(admin: Session, server_id: str, status: str) -> objects.Instance:
    """The instance once its server shows `status` with no task running."""
    server = await admin.servers.wait_for(server_id, status, timeout=WAIT)
    assert server.status == status, (server.status, server.fault)
    return await admin.api.conductor.instance_get(ADMIN, server_id)


async def test_a_server_walks_through_every_action_on_libvirt(clouds: CloudFactory) -> None:
    """Boot, every lifecycle action and delete through the API; libvirt agrees at each step."""
    cloud, admin, driver = await libvirt_cloud(clouds)
    servers = admin.servers
    [server] = await servers.create("web", flavor="m1.tiny", image="cirros")
    sid = server.id
    instance = await settled(admin, sid, "ACTIVE")
    [port] = await cloud.api.network.list_ports(ADMIN, device_id=sid)
    nic = (await xml_of(driver, instance)).find("devices/interface/mac")
    assert nic is not None and nic.get("address") == port.mac_address
    steps: list[tuple[Callable[[], Awaitable[Any]], str]] = [
        (lambda: servers.pause(sid), "PAUSED"),
        (lambda: servers.unpause(sid), "ACTIVE"),
        (lambda: servers.suspend(sid), "SUSPENDED"),
        (lambda: servers.resume(sid), "ACTIVE"),
        (lambda: servers.stop(sid), "SHUTOFF"),
        (lambda: servers.start(sid), "ACTIVE"),
        (lambda: servers.reboot(sid), "ACTIVE"),
        (lambda: servers.reboot(sid, hard=True), "ACTIVE"),
        (lambda: servers.rescue(sid), "RESCUE"),
        (lambda: servers.unrescue(sid), "ACTIVE"),
        (lambda: servers.rebuild(sid, "cirros"), "ACTIVE"),
        (lambda: servers.resize(sid, "m1.small"), "VERIFY_RESIZE"),
        (lambda: servers.revert_resize(sid), "ACTIVE"),
        (lambda: servers.resize(sid, "m1.small"), "VERIFY_RESIZE"),
        (lambda: servers.confirm_resize(sid), "ACTIVE"),
        (lambda: servers.soft_delete(sid), "SOFT_DELETED"),
        (lambda: servers.restore(sid), "ACTIVE"),
        (lambda: servers.shelve(sid), "SHELVED_OFFLOADED"),
        (lambda: servers.unshelve(sid), "ACTIVE"),
    ]
    for step, status in steps:
        await step()
        instance = await settled(admin, sid, status)
        if instance.host is None:
            assert await driver.list_instances() == [], status
        else:
            assert await state_of(driver, instance) == instance.power_state, status
    info = await driver.get_info(instance)
    assert (info.memory_mb, info.vcpus) == (2048, 1)  # the confirmed m1.small

    await servers.delete(sid)
    await admin.servers.wait_for(sid, "DELETED", timeout=WAIT)
    assert await driver.list_instances() == []
    assert not (driver.instances_path / sid).exists()


async def test_snapshot_volumes_and_password_through_the_api(clouds: CloudFactory) -> None:
    """A snapshot becomes an active qcow2 image; volumes plug in; passwords are refused."""
    cloud, admin, driver = await libvirt_cloud(clouds)
    tap = await NotificationTap.attach(cloud)
    [server] = await admin.servers.create("db", flavor="m1.tiny", image="cirros")
    instance = await settled(admin, server.id, "ACTIVE")

    image_id = await admin.servers.snapshot(server.id, "db-snap")
    await settled(admin, server.id, "ACTIVE")
    image = await cloud.api.image.get(ADMIN, image_id)
    assert (image.status, image.disk_format) == ("active", "qcow2") and image.size

    volume = await cloud.api.volume.create(ADMIN, 1, name="data")
    device = await admin.servers.attach_volume(server.id, volume.id)
    await tap.wait_event(server.id, "instance.attach_volume.end")
    disk_file = str(driver.images.volume_path(volume.id))
    xml = ET.tostring(await xml_of(driver, instance), encoding="unicode")
    assert disk_file in xml and f'dev="{device.rsplit("/", 1)[-1]}"' in xml
    await admin.servers.detach_volume(server.id, volume.id)
    await tap.wait_event(server.id, "instance.detach_volume.end")
    assert disk_file not in ET.tostring(await xml_of(driver, instance), encoding="unicode")

    await admin.servers.set_admin_password(server.id, "n3w-pw")
    note = await tap.wait_event(server.id, "instance.set_admin_password.error")
    assert note.payload["status"] == "ACTIVE"
    [*_, action] = await admin.servers.actions(server.id)
    assert "does not support setting the admin password" in (action.events[0].traceback or "")


async def test_a_kernel_image_boots_through_the_api_on_libvirt(
    clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image whose kernel_id/ramdisk_id name aki/ari images boots from their files."""
    wire_image_files(monkeypatch)
    cloud, admin, driver = await libvirt_cloud(clouds)
    ctx = await admin.context()
    kernel = await cloud.api.image.create_from_bytes(
        ctx, "vmlinuz", b"kernel", disk_format="aki", container_format="aki", visibility="public"
    )
    ramdisk = await cloud.api.image.create_from_bytes(
        ctx, "initrd", b"ramdisk", disk_format="ari", container_format="ari", visibility="public"
    )
    props = {"kernel_id": kernel.id, "ramdisk_id": ramdisk.id}
    boot = await cloud.api.image.create_from_bytes(
        ctx, "ami", b"\0" * 4096, disk_format="ami", visibility="public", properties=props
    )

    [server] = await admin.servers.create("k", flavor="m1.tiny", image=boot.id)
    instance = await settled(admin, server.id, "ACTIVE")

    os_ = (await xml_of(driver, instance)).find("os")
    assert os_ is not None and os_.findtext("cmdline") == "console=ttyS0"
    assert os_.findtext("kernel") == str(driver.images.base_path(kernel.id))
    assert os_.findtext("initrd") == str(driver.images.base_path(ramdisk.id))
