"""A real guest: a Debian kernel booted under QEMU through libvirtd, driven by the API.

The kernel (cached by scripts/setup-libvirt from Debian's linux-image package) and a
busybox initramfs built here are registered in the image service as aki/ari images
that a boot image names by its kernel_id/ramdisk_id properties. A server booted from
it must go ACTIVE, print the initramfs's marker on its serial console, and each of
stop, start, pause, unpause and delete must be what libvirtd then reports. QEMU runs
in software emulation (domain type "qemu"). Outside CI the module skips, saying
what is missing, when it cannot have a libvirtd, QEMU, busybox or the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.libvirt_fixtures import missing, require, require_libvirt, wire_image_files

libvirt = require_libvirt()
require("qemu-img", "qemu-system-x86_64", "busybox", "cpio", "ldd")

from nova_lite.api.client import Session  # noqa: E402 - after the checks
from nova_lite.cloud import Cloud  # noqa: E402
from nova_lite.testing import WAIT, CloudFactory  # noqa: E402

URI = "qemu:///system"
MARKER = "NOVA-LITE-GUEST-OK"
BOOT_TIMEOUT = 90.0  # a kernel boots in ~5 s under TCG here; CI machines may be slower
KERNEL_CACHE = Path(
    os.environ.get("NOVA_LITE_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nova-lite"
)
INIT = f"""#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t proc proc /proc
exec </dev/console >/dev/console 2>&1
echo {MARKER}
echo {MARKER} >/dev/ttyS0
while :; do /bin/busybox sleep 3600; done
"""

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)


def _libvirtd_answers() -> None:
    try:
        libvirt.open(URI).close()
    except libvirt.libvirtError as exc:
        missing(f"no libvirtd answers at {URI} ({exc.get_error_message()})")


def _kernel() -> Path:
    configured = os.environ.get("NOVA_LITE_GUEST_KERNEL")
    found = (
        [Path(configured)] if configured else sorted(KERNEL_CACHE.glob("guest-kernel/vmlinuz-*"))
    )
    if not found or not found[-1].is_file():
        missing(f"no guest kernel in {KERNEL_CACHE / 'guest-kernel'} (or NOVA_LITE_GUEST_KERNEL)")
    return found[-1]


def _static_busybox() -> Path:
    busybox = Path(shutil.which("busybox") or "")
    ldd = subprocess.run(["ldd", str(busybox)], capture_output=True, text=True)
    if "not a dynamic executable" not in ldd.stdout + ldd.stderr:
        missing(f"{busybox} is not statically linked (apt-get install busybox-static)")
    return busybox


_libvirtd_answers()
KERNEL = _kernel()
BUSYBOX = _static_busybox()


def build_initramfs(root: Path) -> bytes:
    """A gzipped newc cpio archive: static busybox and an /init that prints `MARKER`."""
    for directory in ("bin", "dev", "proc"):
        (root / directory).mkdir(parents=True)
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    names = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    archive = subprocess.run(
        ["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
        cwd=root,
        input=names,
        capture_output=True,
        check=True,
    ).stdout
    return gzip.compress(archive)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A state path QEMU (running as libvirt-qemu) may traverse; its guests die with it."""
    path = Path(tempfile.mkdtemp(prefix="nova-lite-guest-"))
    path.chmod(0o755)
    yield path
    _destroy_domains_under(path)
    shutil.rmtree(path, ignore_errors=True)


def _destroy_domains_under(path: Path) -> None:
    """Undefine every domain whose files are under `path` (left by a failed test)."""
    conn = libvirt.open(URI)
    try:
        for dom in conn.listAllDomains(0):
            if str(path) in dom.XMLDesc(0):
                with contextlib.suppress(libvirt.libvirtError):
                    dom.destroy()
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
    finally:
        conn.close()


@pytest.fixture
async def guest_cloud(
    state_dir: Path, clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Cloud, Session]]:
    """A one-host cloud whose compute boots real QEMU guests, and its admin."""
    wire_image_files(monkeypatch)
    cloud = await clouds.start(
        computes=1,
        state_path=str(state_dir / "state"),
        compute={"driver": "libvirt"},
        libvirt={"connection_uri": URI, "virt_type": "qemu", "shutdown_timeout": 0.0},
    )
    yield cloud, await cloud.login_admin()


async def register_guest_images(cloud: Cloud, admin: Session, workdir: Path) -> str:
    """The kernel, the initramfs and a boot image naming both; the boot image's id."""
    ctx = await admin.context()
    image = cloud.api.image
    initrd = await asyncio.to_thread(build_initramfs, workdir / "initramfs")
    kernel_bytes = await asyncio.to_thread(KERNEL.read_bytes)
    kernel = await image.create_from_bytes(
        ctx, "vmlinuz", kernel_bytes, disk_format="aki", container_format="aki"
    )
    ramdisk = await image.create_from_bytes(
        ctx, "initramfs", initrd, disk_format="ari", container_format="ari"
    )
    props = {"kernel_id": kernel.id, "ramdisk_id": ramdisk.id, "os_command_line": "console=ttyS0"}
    boot = await image.create_from_bytes(
        ctx, "busybox", b"\0" * 1024**2, disk_format="ami", properties=props
    )
    return boot.id


async def console_shows(admin: Session, server_id: str, text: str) -> str:
    """The console once it contains `text`: a bounded poll, as no event says "printed"."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        console = await admin.servers.console_output(server_id)
        if text in console or time.monotonic() > deadline:
            return console
        await asyncio.sleep(0.5)


async def domain_state(server_id: str) -> int | None:
    """What libvirtd itself says of the guest (None: it has no such domain)."""

    def read() -> int | None:
        conn = libvirt.open(URI)
        try:
            return int(conn.lookupByUUIDString(server_id).state()[0])
        except libvirt.libvirtError:
            return None
        finally:
            conn.close()

    return await asyncio.to_thread(read)


async def settle(admin: Session, server_id: str, status: str) -> Any:
    server = await admin.servers.wait_for(server_id, status, timeout=WAIT)
    assert server.status == status, (server.status, server.fault)
    return server


async def test_a_real_guest_boots_prints_and_follows_the_lifecycle(
    guest_cloud: tuple[Cloud, Session], tmp_path: Path
) -> None:
    """A Debian kernel and busybox initramfs boot under QEMU; libvirtd follows each action."""
    cloud, admin = guest_cloud
    image_id = await register_guest_images(cloud, admin, tmp_path)

    [server] = await admin.servers.create("guest", flavor="m1.tiny", image=image_id)
    await settle(admin, server.id, "ACTIVE")
    console = await console_shows(admin, server.id, MARKER)

    assert MARKER in console, console[-2000:]
    assert "Linux version" in console
    assert await domain_state(server.id) == libvirt.VIR_DOMAIN_RUNNING
    steps = [
        (admin.servers.stop, "SHUTOFF", libvirt.VIR_DOMAIN_SHUTOFF),
        (admin.servers.start, "ACTIVE", libvirt.VIR_DOMAIN_RUNNING),
        (admin.servers.pause, "PAUSED", libvirt.VIR_DOMAIN_PAUSED),
        (admin.servers.unpause, "ACTIVE", libvirt.VIR_DOMAIN_RUNNING),
    ]
    for action, status, libvirt_state in steps:
        await action(server.id)
        await settle(admin, server.id, status)
        assert await domain_state(server.id) == libvirt_state, status

    await admin.servers.delete(server.id)
    await admin.servers.wait_for(server.id, "DELETED", timeout=WAIT)
    assert await domain_state(server.id) is None
