"""The audit's reading of the books over RPC, and its repairs.

`Audit.read_books` asks each service for its own books (none reads another's
database); `Audit.run` compares them (`findings.find_disagreements`); `Audit.heal`
then repairs each healable finding on the service that owns the book, after reading
that book again: a finding caught half-way through a change agrees by then, and is
left alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

from nova_lite import objects
from nova_lite.audit.findings import (
    ALLOCATION_MISMATCH,
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
from nova_lite.compute import migration_states, vm_states
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import InstanceNotFound, NotFound, NovaLiteError, PortNotFound
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.transport import Transport

__all__ = ["Audit"]

# Repairs run in this order: a migration ends before its allocation is released.
_REPAIR_ORDER = (
    STUCK_MIGRATION,
    ORPHANED_ALLOCATION,
    ALLOCATION_MISMATCH,
    MISSING_ALLOCATION,
    TRACKER_ORPHAN,
    TRACKER_MISMATCH,
    PHANTOM_GUEST,
    ORPHANED_PORT,
)


class _Busy:
    """The consumer's instance is mid-operation: leave its allocation alone."""


_BUSY = _Busy()
_Wanted = tuple[str, objects.Flavor] | _Busy | None


class Audit:
    """Reads every service's books over RPC, lists disagreements, repairs the safe ones."""

    def __init__(
        self,
        transport: Transport,
        config: Config,
        *,
        stuck_after: float = 300.0,
        now: Callable[[], datetime.datetime] = objects.utcnow,
    ) -> None:
        self.conductor = ConductorAPI(transport, config)
        self.scheduler = SchedulerAPI(transport, config)
        self.compute = ComputeAPI(transport, config)
        self.network = NetworkAPI(transport, config)
        self.stuck_after = stuck_after
        self.now = now

    def __repr__(self) -> str:
        return f"<Audit stuck_after={self.stuck_after:g}s>"

    async def read_books(self, ctx: RequestContext) -> Books:
        """Every book, consumers' before their owners' (so no new owner looks missing)."""
        ctx = ctx.elevated()
        hosts = await self.scheduler.all_hosts(ctx)
        allocations = {a["instance_uuid"]: a for a in await self.scheduler.all_allocations(ctx)}
        ledgers: dict[str, objects.HostLedger] = {}
        unaudited: dict[str, str] = {}
        for host in hosts:
            name = str(host["host"])
            if host["state"] != "up":
                unaudited[name] = f"Compute host {name} is down: its books were not read."
                continue
            try:
                ledgers[name] = await self.compute.host_ledger(ctx, name)
            except NovaLiteError as exc:
                unaudited[name] = f"Compute host {name} did not show its books: {exc}"
        ports = await self.network.all_ports(ctx)
        instances = await self.conductor.all_instances(ctx)
        migrations = await self.conductor.migration_list(
            ctx, statuses=[*migration_states.IN_PROGRESS, *migration_states.LIVE_IN_PROGRESS]
        )
        return Books(
            hosts=tuple(str(h["host"]) for h in hosts),
            ledgers=ledgers,
            unaudited=unaudited,
            allocations=allocations,
            ports=tuple(ports),
            instances={i.uuid: i for i in instances},
            migrations=tuple(migrations),
        )

    async def run(self, ctx: RequestContext) -> AuditReport:
        """Read the books and list every disagreement."""
        books = await self.read_books(ctx)
        found = find_disagreements(books, now=self.now(), stuck_after=self.stuck_after)
        return AuditReport(findings=tuple(found))

    async def heal(self, ctx: RequestContext) -> AuditReport:
        """Audit, then repair every healable finding; the report says what was done."""
        report = await self.run(ctx)
        ctx = ctx.elevated()
        repairs: list[Repair] = []
        settled: dict[tuple[str, str], list[str]] = {}
        ordered = sorted(report.findings, key=_repair_rank)
        for finding in ordered:
            repairs.append(await self._repair(ctx, finding, settled))
        return AuditReport(findings=report.findings, repairs=tuple(repairs))

    async def _repair(
        self, ctx: RequestContext, finding: Finding, settled: dict[tuple[str, str], list[str]]
    ) -> Repair:
        if not finding.healable:
            return Repair(finding=finding, done=False, detail=_UNHEALED[finding.kind])
        repair = self._repairs[finding.kind]
        try:
            done, detail = await repair(self, ctx, finding, settled)
        except NovaLiteError as exc:
            done, detail = False, f"The repair failed: {exc}"
        return Repair(finding=finding, done=done, detail=detail)

    # -- repairs: each reads again what it changes, and changes nothing that agrees now

    async def _instance(self, ctx: RequestContext, uuid: str) -> objects.Instance | None:
        """The live instance `uuid`, or None if it is deleted or unknown."""
        try:
            found = await self.conductor.instance_get(ctx, uuid, read_deleted=True)
        except InstanceNotFound:
            return None
        return None if found.deleted else found

    async def _end_migration(
        self, ctx: RequestContext, finding: Finding, settled: object
    ) -> tuple[bool, str]:
        migration = await self.conductor.migration_get(ctx, finding.subject)
        if migration.status in migration_states.FINAL:
            return False, f"Left alone: it has ended meanwhile ({migration.status})."
        instance = await self._instance(ctx, migration.instance_uuid)
        if instance is not None and instance.task_state is not None:
            return False, f"Left alone: the instance is now {instance.task_state}."
        await self.conductor.migration_update(ctx, migration.uuid, status=migration_states.ERROR)
        return True, "Marked the migration error (it holds nothing any more)."

    async def _wanted(self, ctx: RequestContext, consumer: str) -> _Wanted:
        """What `consumer` should hold now: (host, flavor), None (nothing), or BUSY."""
        instance = await self._instance(ctx, consumer)
        if instance is not None:
            if instance.task_state is not None:
                return _BUSY
            return None if instance.host is None else (instance.host, instance.flavor)
        try:
            migration = await self.conductor.migration_get(ctx, consumer)
        except NotFound:
            return None
        if migration.status in migration_states.FINAL:
            return None
        owner = await self._instance(ctx, migration.instance_uuid)
        if owner is None:
            return None
        if owner.task_state is not None:
            return _BUSY
        if migration.status == migration_states.FINISHED and owner.vm_state == vm_states.RESIZED:
            return (migration.source_host, migration.old_flavor)
        return None

    async def _release(
        self, ctx: RequestContext, finding: Finding, settled: object
    ) -> tuple[bool, str]:
        wanted = await self._wanted(ctx, finding.subject)
        if wanted is _BUSY:
            return False, "Left alone: an operation on its instance is under way."
        if wanted is not None:
            return False, "Left alone: the consumer holds it rightly now."
        await self.scheduler.release(ctx, finding.subject)
        return True, "Released the allocation."

    async def _correct(
        self, ctx: RequestContext, finding: Finding, settled: object
    ) -> tuple[bool, str]:
        wanted = await self._wanted(ctx, finding.subject)
        if not isinstance(wanted, tuple):
            return False, "Left alone: the consumer holds nothing rightly now, or is busy."
        host, flavor = wanted
        await self.scheduler.put_allocation(ctx, finding.subject, host, flavor)
        return True, f"Set the allocation to {flavor.name} on {host}."

    async def _settle(
        self, ctx: RequestContext, finding: Finding, settled: dict[tuple[str, str], list[str]]
    ) -> tuple[bool, str]:
        key = (finding.host or "", finding.subject)
        if key not in settled:
            settled[key] = await self.compute.settle_instance(ctx, key[0], key[1])
        done = settled[key]
        if not done:
            return False, "Left alone: the host's books agree now, or the guest is not ours."
        return True, "; ".join(done).capitalize() + "."

    async def _release_port(
        self, ctx: RequestContext, finding: Finding, settled: object
    ) -> tuple[bool, str]:
        try:
            port = await self.network.get_port(ctx, finding.subject)
        except PortNotFound:
            return True, "Released already, with another port of its instance."
        device = port.device_id
        if device is None or await self._instance(ctx, device) is not None:
            return False, "Left alone: its instance is live (or it has none) now."
        await self.network.deallocate_for_instance(ctx, device)
        return True, f"Released the ports of instance {device}."

    _repairs: dict[
        str,
        Callable[[Audit, RequestContext, Finding, Any], Awaitable[tuple[bool, str]]],
    ] = {
        STUCK_MIGRATION: _end_migration,
        ORPHANED_ALLOCATION: _release,
        ALLOCATION_MISMATCH: _correct,
        MISSING_ALLOCATION: _correct,
        TRACKER_ORPHAN: _settle,
        TRACKER_MISMATCH: _settle,
        PHANTOM_GUEST: _settle,
        ORPHANED_PORT: _release_port,
    }


_UNHEALED = {
    MISSING_GUEST: "Not repaired: rebuild, reboot hard or delete the server.",
    STUCK_INSTANCE: "Not repaired: reset its state or delete the server.",
    UNAUDITED_HOST: "Not repaired: audit again once the host is up.",
}


def _repair_rank(finding: Finding) -> int:
    if finding.kind in _REPAIR_ORDER:
        return _REPAIR_ORDER.index(finding.kind)
    return len(_REPAIR_ORDER)
