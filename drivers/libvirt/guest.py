"""Blocking operations on one domain (Nova's ``nova/virt/libvirt/guest.py``).

Every function takes the connection first and runs in the host's libvirt thread
through `Host.run`; none may be called on the event loop. Each checks the guest's
power state the way a real hypervisor would and refuses the others with
`HypervisorError` naming the state, as the fake driver does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import libvirt

from drivers.libvirt.xml import (
    METADATA_NS,
    disk_with_source,
    parse_metadata,
    with_device,
    without_device,
)
from nova_lite.compute import power_state
from nova_lite.compute.power_state import CRASHED, PAUSED, RUNNING, SHUTDOWN, SUSPENDED
from nova_lite.exceptions import HypervisorError, InstanceNotFound
from nova_lite.virt.driver import InstanceInfo

__all__ = [
    "POWER_STATES",
    "attach_disk",
    "check",
    "define_and_start",
    "detach_disk",
    "exists",
    "find_disk",
    "force_off",
    "get_info",
    "inactive_xml",
    "list_owned",
    "lookup",
    "pause",
    "power_state_of",
    "request_shutdown",
    "require",
    "reset",
    "restore",
    "save",
    "start",
    "stop_and_define",
    "undefine",
    "unpause",
]

# libvirt's domain states -> Nova's power states (Nova's LIBVIRT_POWER_STATE).
POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: power_state.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: SUSPENDED,
}
_UNDEFINE = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE


def lookup(conn: Any, uuid: str) -> Any:
    """The domain of instance `uuid`; `InstanceNotFound` if the hypervisor lacks it."""
    try:
        return conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise
    raise InstanceNotFound(
        f"Instance {uuid} could not be found on hypervisor {conn.getURI()}.", instance_id=uuid
    )


def exists(conn: Any, uuid: str) -> bool:
    try:
        lookup(conn, uuid)
    except InstanceNotFound:
        return False
    return True


def power_state_of(dom: Any) -> int:
    """The guest's power state; a shut-off guest with a managed save is SUSPENDED."""
    state, _reason = dom.state()
    if state == libvirt.VIR_DOMAIN_SHUTOFF and dom.hasManagedSaveImage(0):
        return SUSPENDED
    return POWER_STATES.get(state, power_state.NOSTATE)


def get_info(conn: Any, uuid: str) -> InstanceInfo:
    dom = lookup(conn, uuid)
    _state, max_kib, _kib, vcpus, _cpu_time = dom.info()
    return InstanceInfo(state=power_state_of(dom), memory_mb=int(max_kib) // 1024, vcpus=vcpus)


def require(conn: Any, uuid: str, operation: str, allowed: Collection[int]) -> tuple[Any, int]:
    """The domain and its power state, if the state is one `operation` may start from."""
    dom = lookup(conn, uuid)
    state = power_state_of(dom)
    if state not in allowed:
        names = " or ".join(sorted(power_state.STATE_MAP[s] for s in allowed))
        raise HypervisorError(
            f"Cannot {operation} instance {uuid}: it is {power_state.STATE_MAP.get(state)}, "
            f"and {operation} needs it {names}.",
            state=state,
        )
    return dom, state


def check(conn: Any, uuid: str, operation: str, allowed: Collection[int]) -> int:
    """The guest's power state, if `operation` may start from it (see `require`)."""
    return require(conn, uuid, operation, allowed)[1]


def find_disk(conn: Any, uuid: str, path: Path) -> str | None:
    """The ``<disk>`` XML of the guest's disk file `path`, defined or live (None: neither)."""
    dom = lookup(conn, uuid)
    for flags in (libvirt.VIR_DOMAIN_XML_INACTIVE, 0):
        found = disk_with_source(dom.XMLDesc(flags), path)
        if found is not None:
            return found
    return None


def list_owned(conn: Any, host: str) -> list[str]:
    """The uuids of the domains whose nova_lite metadata names `host`."""
    owned = []
    for dom in conn.listAllDomains(0):
        try:
            text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0)
        except libvirt.libvirtError:
            continue  # not a nova_lite guest
        if parse_metadata(text).host == host:
            owned.append(dom.UUIDString())
    return owned


def define_and_start(conn: Any, xml: str) -> None:
    """Define the domain `xml` describes and boot it; undefine it if the boot fails."""
    dom = conn.defineXML(xml)
    try:
        dom.create()
    except libvirt.libvirtError:
        dom.undefineFlags(_UNDEFINE)
        raise


def undefine(conn: Any, uuid: str) -> bool:
    """Stop and forget the guest; False if there was none."""
    try:
        dom = lookup(conn, uuid)
    except InstanceNotFound:
        return False
    if dom.isActive():
        dom.destroy()
    dom.undefineFlags(_UNDEFINE)
    return True


def inactive_xml(conn: Any, uuid: str) -> str:
    """The domain's persistent definition (what the next boot will use)."""
    return str(lookup(conn, uuid).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def stop_and_define(conn: Any, uuid: str, xml: str) -> bool:
    """Stop the guest if it runs, then make `xml` its definition; whether it ran."""
    dom = lookup(conn, uuid)
    was_active = bool(dom.isActive())
    if was_active:
        dom.destroy()
    conn.defineXML(xml)
    return was_active


def start(conn: Any, uuid: str, operation: str = "power on") -> None:
    """Boot a shut-down (or crashed) guest from its definition."""
    dom, _ = require(conn, uuid, operation, {SHUTDOWN, CRASHED})
    dom.create()


def request_shutdown(conn: Any, uuid: str) -> bool:
    """Ask a running guest's OS to shut down (ACPI); False if it is not running."""
    dom = lookup(conn, uuid)
    if power_state_of(dom) != RUNNING:
        return False
    dom.shutdown()
    return True


def force_off(conn: Any, uuid: str) -> None:
    """Pull the plug: the guest is off, and any saved memory is dropped."""
    dom = lookup(conn, uuid)
    if dom.isActive():
        dom.destroy()
    if dom.hasManagedSaveImage(0):
        dom.managedSaveRemove(0)


def reset(conn: Any, uuid: str) -> None:
    """Hard reboot: power off whatever the state, then boot afresh."""
    force_off(conn, uuid)
    lookup(conn, uuid).create()


def pause(conn: Any, uuid: str) -> None:
    dom, _ = require(conn, uuid, "pause", {RUNNING})
    dom.suspend()


def unpause(conn: Any, uuid: str) -> None:
    dom, _ = require(conn, uuid, "unpause", {PAUSED})
    dom.resume()


def save(conn: Any, uuid: str) -> None:
    """Suspend: save the guest's memory to disk (a managed save) and stop it."""
    dom, _ = require(conn, uuid, "suspend", {RUNNING, PAUSED})
    dom.managedSave(0)


def restore(conn: Any, uuid: str) -> None:
    """Resume a suspended guest from its managed save."""
    dom, _ = require(conn, uuid, "resume", {SUSPENDED})
    dom.create()


def _device_flags(dom: Any) -> int:
    flags = int(libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    return flags | int(libvirt.VIR_DOMAIN_AFFECT_LIVE) if dom.isActive() else flags


def attach_disk(conn: Any, uuid: str, disk_xml: str, allowed: Collection[int]) -> bool:
    """Plug a disk in (live and in the definition); False if only the definition took it.

    A hypervisor without hotplug (libvirt's test driver) gets the disk in its
    definition only: the guest sees it from its next boot.
    """
    dom, _ = require(conn, uuid, "attach a volume to", allowed)
    return _hotplug(conn, dom, dom.attachDeviceFlags, disk_xml, with_device)


def detach_disk(conn: Any, uuid: str, disk_xml: str) -> bool:
    """Unplug a disk (live and from the definition); False if only the definition lost it."""
    dom = lookup(conn, uuid)
    return _hotplug(conn, dom, dom.detachDeviceFlags, disk_xml, without_device)


def _hotplug(
    conn: Any,
    dom: Any,
    plug: Callable[[str, int], Any],
    device_xml: str,
    edit: Callable[[str, str], str],
) -> bool:
    """`plug` the device; without hotplug support, `edit` the definition instead."""
    try:
        plug(device_xml, _device_flags(dom))
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        conn.defineXML(edit(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), device_xml))
        return False
    return True
