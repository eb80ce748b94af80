"""An audit of the cloud's books, as ``nova-manage placement audit`` audits placement.

Several services keep books about one instance: the conductor its record (host,
flavor, states) and its migrations, the scheduler its allocations, each compute
host its resource tracker and its hypervisor's guests, the network service its
ports. They should agree; an action that lost a race, a crash or a bug can make them
disagree, and a disagreement that nobody notices leaks capacity for ever. `Audit`
reads every book over RPC (each service shows its own; none reads another's
database), lists each disagreement as a `Finding`, and with `heal` repairs the ones
that can be repaired safely:

====================== ========================================================= ======
kind                   what disagrees                                            healed
====================== ========================================================= ======
orphaned_allocation    an allocation whose consumer is no live instance (or one   yes
                       with no host), nor an unfinished migration
allocation_mismatch    an allocation on another host, or of another size, than   yes
                       the instance's (or migration's) flavor where it is
missing_allocation     an instance on a host with no allocation                   yes
phantom_guest          a guest on a hypervisor whose instance is deleted, or      yes
                       recorded on another host
missing_guest          an instance whose state has a guest, none on its host     no
tracker_orphan         a tracker entry for an instance not on that host           yes
tracker_mismatch       an instance on a host that its tracker does not count, or  yes
                       counts with another flavor
stuck_migration        a migration not ended whose instance has no resize task    yes
orphaned_port          a port of a deleted or unknown instance                    yes
stuck_instance         a transitional task_state, nothing working on it for       no
                       longer than ``stuck_after`` seconds
unaudited_host         a compute host that is down or does not answer             no
====================== ========================================================= ======

Instances that an operation is working on (a task under way, or their lock held on
a host) are left out of the comparison: their books are mid-change. The audit reads
the books one after the other, not in one snapshot, so on a busy cloud a finding may
be a change caught half-way; every repair therefore reads the books it touches again
first, and does nothing if they agree by then. Repairs run on the service that owns
each book: the scheduler releases or corrects allocations, a compute host drops a
tracker entry or destroys a guest (under the instance's lock), the conductor ends a
migration, the network service releases ports.
"""

from __future__ import annotations

from nova_lite.audit.auditor import Audit
from nova_lite.audit.findings import (
    ALLOCATION_MISMATCH,
    HEALABLE,
    KINDS,
    MISSING_ALLOCATION,
    MISSING_GUEST,
    ORPHANED_ALLOCATION,
    ORPHANED_PORT,
    PHANTOM_GUEST,
    STUCK_INSTANCE,
    STUCK_MIGRATION,
    TRACKER_MISMATCH,
    TRACKER_ORPHAN,
    UNAUDITED_HOST,
    AuditReport,
    Books,
    Finding,
    Repair,
    find_disagreements,
)

__all__ = [
    "ALLOCATION_MISMATCH",
    "HEALABLE",
    "KINDS",
    "MISSING_ALLOCATION",
    "MISSING_GUEST",
    "ORPHANED_ALLOCATION",
    "ORPHANED_PORT",
    "PHANTOM_GUEST",
    "STUCK_INSTANCE",
    "STUCK_MIGRATION",
    "TRACKER_MISMATCH",
    "TRACKER_ORPHAN",
    "UNAUDITED_HOST",
    "Audit",
    "AuditReport",
    "Books",
    "Finding",
    "Repair",
    "find_disagreements",
]
