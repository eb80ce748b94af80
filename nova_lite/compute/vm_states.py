"""An instance's stable state, with the values Nova uses (``nova/compute/vm_states.py``)."""

from __future__ import annotations

ACTIVE = "active"
BUILDING = "building"
PAUSED = "paused"
SUSPENDED = "suspended"
STOPPED = "stopped"
RESCUED = "rescued"
RESIZED = "resized"
SOFT_DELETED = "soft-delete"
DELETED = "deleted"
ERROR = "error"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"

ALL = (
    ACTIVE,
    BUILDING,
    PAUSED,
    SUSPENDED,
    STOPPED,
    RESCUED,
    RESIZED,
    SOFT_DELETED,
    DELETED,
    ERROR,
    SHELVED,
    SHELVED_OFFLOADED,
)
