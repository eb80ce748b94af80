"""The API status of a server, derived from its vm_state and task_state as Nova does.

This is the table of ``nova/api/openstack/common.py`` (``_STATE_MAP``): each vm_state
has a default status, and some task_states override it (an ACTIVE server that is
rebooting shows REBOOT).
"""

from __future__ import annotations

from nova_lite.compute import task_states as ts
from nova_lite.compute import vm_states as vm

__all__ = ["status_from_state"]

_DEFAULT = "default"

_STATE_MAP: dict[str, dict[str | None, str]] = {
    vm.ACTIVE: {
        _DEFAULT: "ACTIVE",
        ts.REBOOTING: "REBOOT",
        ts.REBOOT_PENDING: "REBOOT",
        ts.REBOOT_STARTED: "REBOOT",
        ts.REBOOTING_HARD: "HARD_REBOOT",
        ts.REBOOT_PENDING_HARD: "HARD_REBOOT",
        ts.REBOOT_STARTED_HARD: "HARD_REBOOT",
        ts.UPDATING_PASSWORD: "PASSWORD",
        ts.REBUILDING: "REBUILD",
        ts.REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        ts.REBUILD_SPAWNING: "REBUILD",
        ts.MIGRATING: "MIGRATING",
        ts.RESIZE_PREP: "RESIZE",
        ts.RESIZE_MIGRATING: "RESIZE",
        ts.RESIZE_MIGRATED: "RESIZE",
        ts.RESIZE_FINISH: "RESIZE",
    },
    vm.BUILDING: {_DEFAULT: "BUILD"},
    vm.STOPPED: {
        _DEFAULT: "SHUTOFF",
        ts.RESIZE_PREP: "RESIZE",
        ts.RESIZE_MIGRATING: "RESIZE",
        ts.RESIZE_MIGRATED: "RESIZE",
        ts.RESIZE_FINISH: "RESIZE",
        ts.REBUILDING: "REBUILD",
        ts.REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        ts.REBUILD_SPAWNING: "REBUILD",
    },
    vm.RESIZED: {_DEFAULT: "VERIFY_RESIZE", ts.RESIZE_REVERTING: "REVERT_RESIZE"},
    vm.PAUSED: {_DEFAULT: "PAUSED", ts.MIGRATING: "MIGRATING"},
    vm.SUSPENDED: {_DEFAULT: "SUSPENDED"},
    vm.RESCUED: {_DEFAULT: "RESCUE"},
    vm.ERROR: {_DEFAULT: "ERROR", ts.REBUILDING: "REBUILD"},
    vm.DELETED: {_DEFAULT: "DELETED"},
    vm.SOFT_DELETED: {_DEFAULT: "SOFT_DELETED"},
    vm.SHELVED: {_DEFAULT: "SHELVED"},
    vm.SHELVED_OFFLOADED: {_DEFAULT: "SHELVED_OFFLOADED"},
}


def status_from_state(vm_state: str, task_state: str | None = None) -> str:
    """The API status (ACTIVE, BUILD, SHUTOFF, ...) of a server in these states."""
    states = _STATE_MAP.get(vm_state, {_DEFAULT: "UNKNOWN"})
    return states.get(task_state, states[_DEFAULT])
