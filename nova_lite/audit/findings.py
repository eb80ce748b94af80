"""What the audit finds: the kinds of disagreement, and the comparison of the books.

`find_disagreements` compares one set of `Books` (what every service showed) and
returns each disagreement as a `Finding`; it does no I/O, so it can be tested and
reasoned about apart from the reading and the repairs (`auditor.py`). The kinds are
listed in the package docstring.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

import attrs

from nova_lite import objects
from nova_lite.compute import migration_states, vm_states
from nova_lite.compute.settle import GUEST_STATES

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
    "AuditReport",
    "Books",
    "Finding",
    "Repair",
    "find_disagreements",
]

ORPHANED_ALLOCATION = "orphaned_allocation"
ALLOCATION_MISMATCH = "allocation_mismatch"
MISSING_ALLOCATION = "missing_allocation"
PHANTOM_GUEST = "phantom_guest"
MISSING_GUEST = "missing_guest"
TRACKER_ORPHAN = "tracker_orphan"
TRACKER_MISMATCH = "tracker_mismatch"
STUCK_MIGRATION = "stuck_migration"
ORPHANED_PORT = "orphaned_port"
STUCK_INSTANCE = "stuck_instance"
UNAUDITED_HOST = "unaudited_host"

KINDS = (
    ORPHANED_ALLOCATION,
    ALLOCATION_MISMATCH,
    MISSING_ALLOCATION,
    PHANTOM_GUEST,
    MISSING_GUEST,
    TRACKER_ORPHAN,
    TRACKER_MISMATCH,
    STUCK_MIGRATION,
    ORPHANED_PORT,
    STUCK_INSTANCE,
    UNAUDITED_HOST,
)
"""Every kind of disagreement, in the order a report lists them."""

HEALABLE = frozenset(
    {
        ORPHANED_ALLOCATION,
        ALLOCATION_MISMATCH,
        MISSING_ALLOCATION,
        PHANTOM_GUEST,
        TRACKER_ORPHAN,
        TRACKER_MISMATCH,
        STUCK_MIGRATION,
        ORPHANED_PORT,
    }
)
"""The kinds `Audit.heal` repairs; the others need an operator (or a host back up)."""


@attrs.frozen(kw_only=True)
class Finding:
    """One disagreement between the books."""

    kind: str
    subject: str  # the allocation consumer, instance, migration, port or host concerned
    host: str | None
    detail: str  # a sentence for an operator

    @property
    def healable(self) -> bool:
        return self.kind in HEALABLE


@attrs.frozen(kw_only=True)
class Repair:
    """What `Audit.heal` did about one finding."""

    finding: Finding
    done: bool
    detail: str


@attrs.frozen(kw_only=True)
class AuditReport:
    """The findings of one audit and, after a heal, the repairs made."""

    findings: tuple[Finding, ...] = ()
    repairs: tuple[Repair, ...] = ()

    @property
    def clean(self) -> bool:
        """Whether every book agreed."""
        return not self.findings

    def kinds(self) -> list[str]:
        """The kinds found, in report order, once each."""
        return [k for k in KINDS if any(f.kind == k for f in self.findings)]

    def about(self, kind: str) -> list[Finding]:
        """The findings of one kind."""
        return [f for f in self.findings if f.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON values."""
        return {
            "clean": self.clean,
            "findings": [attrs.asdict(f) for f in self.findings],
            "repairs": [
                {**attrs.asdict(r.finding), "repaired": r.done, "repair": r.detail}
                for r in self.repairs
            ],
        }


@attrs.frozen(kw_only=True)
class Books:
    """Everything the audit read, service by service (no I/O)."""

    hosts: tuple[str, ...]  # every compute host the scheduler knows
    ledgers: dict[str, objects.HostLedger]  # the hosts that answered
    unaudited: dict[str, str]  # host -> why its books could not be read
    allocations: dict[str, dict[str, Any]]  # consumer -> the scheduler's allocation
    ports: tuple[objects.Port, ...]
    instances: dict[str, objects.Instance]  # the live (not deleted) ones
    migrations: tuple[objects.Migration, ...]  # those not ended


def find_disagreements(
    books: Books, *, now: datetime.datetime, stuck_after: float
) -> list[Finding]:
    """Every disagreement between `books`, in report order (see the module docstring)."""
    check = _Checker(books, now=now, stuck_after=stuck_after)
    found = [
        *check.hosts(),
        *check.instances(),
        *check.migrations(),
        *check.allocations(),
        *check.trackers(),
        *check.guests(),
        *check.ports(),
    ]
    return sorted(found, key=lambda f: (KINDS.index(f.kind), f.host or "", f.subject))


class _Checker:
    """The comparisons of `find_disagreements`, over one set of books."""

    def __init__(self, books: Books, *, now: datetime.datetime, stuck_after: float) -> None:
        self.books = books
        self.stuck = {
            i.uuid: i for i in books.instances.values() if _stuck(books, i, now, stuck_after)
        }
        busy = {u for ledger in books.ledgers.values() for u in ledger.busy}
        busy |= {i.uuid for i in books.instances.values() if i.task_state is not None}
        self.skip = busy | set(self.stuck)  # books mid-change (or frozen mid-change)
        self.skip |= {m.uuid for m in books.migrations if m.instance_uuid in self.skip}
        self.idle = [i for i in books.instances.values() if i.uuid not in self.skip]
        self.expected = self._expected_allocations()

    def _expected_allocations(self) -> dict[str, tuple[str, objects.Flavor]]:
        """What each consumer should hold: idle instances and migrations awaiting confirm."""
        expected = {i.uuid: (i.host, i.flavor) for i in self.idle if i.host is not None}
        for migration in self.books.migrations:
            if migration.uuid not in self.skip and self._awaits_confirmation(migration):
                expected[migration.uuid] = (migration.source_host, migration.old_flavor)
        return expected

    def _awaits_confirmation(self, migration: objects.Migration) -> bool:
        instance = self.books.instances.get(migration.instance_uuid)
        return (
            migration.status == migration_states.FINISHED
            and instance is not None
            and instance.vm_state == vm_states.RESIZED
        )

    def hosts(self) -> Iterable[Finding]:
        for host, why in sorted(self.books.unaudited.items()):
            yield Finding(kind=UNAUDITED_HOST, subject=host, host=host, detail=why)

    def instances(self) -> Iterable[Finding]:
        for instance in self.stuck.values():
            yield Finding(
                kind=STUCK_INSTANCE,
                subject=instance.uuid,
                host=instance.host,
                detail=f"Instance {instance.uuid} is in task_state {instance.task_state} "
                f"(vm_state {instance.vm_state}) and nothing is working on it.",
            )

    def migrations(self) -> Iterable[Finding]:
        for migration in self.books.migrations:
            if migration.uuid in self.skip or self._awaits_confirmation(migration):
                continue
            instance = self.books.instances.get(migration.instance_uuid)
            state = (
                "is deleted" if instance is None else f"has no resize task ({instance.vm_state})"
            )
            yield Finding(
                kind=STUCK_MIGRATION,
                subject=migration.uuid,
                host=migration.source_host,
                detail=f"Migration {migration.uuid} is {migration.status}, but instance "
                f"{migration.instance_uuid} {state}.",
            )

    def allocations(self) -> Iterable[Finding]:
        allocations = self.books.allocations
        for consumer, allocation in sorted(allocations.items()):
            if consumer in self.skip:
                continue
            wanted = self.expected.get(consumer)
            if wanted is None:
                yield self._orphaned(consumer, allocation)
            elif _differs(allocation, *wanted):
                host, flavor = wanted
                yield Finding(
                    kind=ALLOCATION_MISMATCH,
                    subject=consumer,
                    host=allocation["host"],
                    detail=f"Consumer {consumer} holds {_size(allocation)} on "
                    f"{allocation['host']}, but its flavor {flavor.name} "
                    f"({_flavor_size(flavor)}) is on {host}.",
                )
        for consumer, (host, flavor) in sorted(self.expected.items()):
            if consumer not in allocations:
                yield Finding(
                    kind=MISSING_ALLOCATION,
                    subject=consumer,
                    host=host,
                    detail=f"Consumer {consumer} is on {host} with flavor {flavor.name}, "
                    "but the scheduler holds no allocation for it.",
                )

    def _orphaned(self, consumer: str, allocation: dict[str, Any]) -> Finding:
        instance = self.books.instances.get(consumer)
        why = (
            "is no live instance nor an unfinished migration"
            if instance is None
            else f"is an instance with no host ({instance.vm_state})"
        )
        return Finding(
            kind=ORPHANED_ALLOCATION,
            subject=consumer,
            host=allocation["host"],
            detail=f"Consumer {consumer} holds {_size(allocation)} on {allocation['host']} "
            f"but {why}.",
        )

    def trackers(self) -> Iterable[Finding]:
        for host, ledger in sorted(self.books.ledgers.items()):
            for uuid, flavor in sorted(ledger.tracked.items()):
                if uuid in self.skip:
                    continue
                instance = self.books.instances.get(uuid)
                if instance is None or instance.host != host:
                    where = "is deleted" if instance is None else f"is on {instance.host}"
                    yield Finding(
                        kind=TRACKER_ORPHAN,
                        subject=uuid,
                        host=host,
                        detail=f"The tracker of {host} counts {flavor.name} for instance "
                        f"{uuid}, which {where}.",
                    )
                elif flavor != instance.flavor:
                    yield self._tracker_mismatch(host, instance, flavor)
            for instance in self.idle:
                if instance.host == host and instance.uuid not in ledger.tracked:
                    yield self._tracker_mismatch(host, instance, None)

    def _tracker_mismatch(
        self, host: str, instance: objects.Instance, tracked: objects.Flavor | None
    ) -> Finding:
        counted = "does not count it" if tracked is None else f"counts {tracked.name}"
        return Finding(
            kind=TRACKER_MISMATCH,
            subject=instance.uuid,
            host=host,
            detail=f"Instance {instance.uuid} is on {host} with flavor {instance.flavor.name}, "
            f"but the host's tracker {counted}.",
        )

    def guests(self) -> Iterable[Finding]:
        for host, ledger in sorted(self.books.ledgers.items()):
            for uuid in ledger.guests:
                instance = self.books.instances.get(uuid)
                if uuid in self.skip or (instance is not None and instance.host == host):
                    continue
                where = "is deleted or unknown" if instance is None else f"is on {instance.host}"
                yield Finding(
                    kind=PHANTOM_GUEST,
                    subject=uuid,
                    host=host,
                    detail=f"The hypervisor of {host} runs a guest for instance {uuid}, "
                    f"which {where}.",
                )
            for instance in self.idle:
                wants = instance.host == host and instance.vm_state in GUEST_STATES
                if wants and instance.uuid not in ledger.guests:
                    yield Finding(
                        kind=MISSING_GUEST,
                        subject=instance.uuid,
                        host=host,
                        detail=f"Instance {instance.uuid} is {instance.vm_state} on {host}, "
                        "but the host's hypervisor has no guest for it.",
                    )

    def ports(self) -> Iterable[Finding]:
        for port in self.books.ports:
            device = port.device_id
            if device is None or device in self.books.instances or device in self.skip:
                continue
            yield Finding(
                kind=ORPHANED_PORT,
                subject=port.id,
                host=port.binding_host,
                detail=f"Port {port.id} ({port.mac_address}) belongs to instance {device}, "
                "which is deleted or unknown.",
            )


def _stuck(
    books: Books, instance: objects.Instance, now: datetime.datetime, stuck_after: float
) -> bool:
    """A task under way that no host works on, for longer than `stuck_after` seconds."""
    if instance.task_state is None:
        return False
    if any(instance.uuid in ledger.busy for ledger in books.ledgers.values()):
        return False
    changed = instance.updated_at or instance.created_at
    return (now - changed).total_seconds() >= stuck_after


def _differs(allocation: dict[str, Any], host: str, flavor: objects.Flavor) -> bool:
    return (
        allocation["host"],
        allocation["vcpus"],
        allocation["memory_mb"],
        allocation["disk_gb"],
    ) != (host, flavor.vcpus, flavor.memory_mb, flavor.disk_gb)


def _size(allocation: dict[str, Any]) -> str:
    return f"{allocation['vcpus']} vCPU/{allocation['memory_mb']} MiB/{allocation['disk_gb']} GiB"


def _flavor_size(flavor: objects.Flavor) -> str:
    return f"{flavor.vcpus} vCPU/{flavor.memory_mb} MiB/{flavor.disk_gb} GiB"
