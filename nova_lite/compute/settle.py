"""Making one host's share of an instance's books agree with the instance's record.

The instance record (the conductor's) says where an instance is, with which flavor,
and in which state. A host's share of the books is what it holds for the instance:
its resource tracker entry, its hypervisor's guest, and (for the host the record
names) the scheduler's allocation. An action preempted mid-way (a delete, a soft
delete or another action won the compare-and-swap) may leave these disagreeing with
the record it lost to: a claim on a destination the instance never reached, a
guest spawned there, a source whose guest already left. `Settler.settle` brings the
host's share back in line, as the record now stands:

- the record is deleted: no tracker entry and no guest here (a guest this cloud
  never had is left alone, as `HostMaintenance.reap_deleted_guests` does);
- it names another host: no tracker entry and no guest here, unless a resize of the
  instance through this host is still under way;
- it names this host but is being deleted: nothing (the delete here tears it down);
- it names this host: the tracker counts its flavor, and (when asked) a guest runs
  here, spawned again if it left, in the power state the record wants, and the
  scheduler's allocation is the flavor's on this host.

The caller holds the instance's lock, so no other operation on this host interleaves.
The audit's repairs (`HostBooks.settle_instance`) use the same rules, without
respawning guests or writing allocations.
"""

from __future__ import annotations

import attrs
import structlog

from nova_lite import objects
from nova_lite.compute import migration_states, task_states, vm_states
from nova_lite.compute.guests import GuestSpawner, power_off, power_state_of
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.exceptions import InstanceNotFound, NovaLiteError, UnexpectedTaskStateError
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.virt.driver import ComputeDriver

__all__ = ["GUEST_STATES", "Settler"]

log = structlog.get_logger(__name__)

GUEST_STATES = frozenset(
    {
        vm_states.ACTIVE,
        vm_states.PAUSED,
        vm_states.SUSPENDED,
        vm_states.STOPPED,
        vm_states.RESCUED,
        vm_states.RESIZED,
        vm_states.SOFT_DELETED,
        vm_states.SHELVED,
    }
)
"""The vm_states of an instance whose host's hypervisor has its guest."""

_RESIZE_TASKS = frozenset(
    {
        task_states.RESIZE_PREP,
        task_states.RESIZE_MIGRATING,
        task_states.RESIZE_MIGRATED,
        task_states.RESIZE_FINISH,
        task_states.RESIZE_REVERTING,
        task_states.RESIZE_CONFIRMING,
    }
)
# A guest spawned again for an instance in these states (or tasks) is left powered off.
_OFF_STATES = frozenset({vm_states.STOPPED, vm_states.SOFT_DELETED, vm_states.SHELVED})
_OFF_TASKS = frozenset({task_states.SOFT_DELETING, task_states.POWERING_OFF, task_states.SHELVING})


class Settler:
    """Settles one host's share of an instance's books on its record (module doc)."""

    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        tracker: ResourceTracker,
        spawner: GuestSpawner,
        *,
        conductor: ConductorAPI,
        scheduler: SchedulerAPI,
    ) -> None:
        self.host = host
        self.driver = driver
        self.tracker = tracker
        self.spawner = spawner
        self.conductor = conductor
        self.scheduler = scheduler

    def __repr__(self) -> str:
        return f"<Settler {self.host}>"

    async def lookup(self, ctx: RequestContext, instance_uuid: str) -> objects.Instance | None:
        """The instance's record, deleted or not; None if this cloud never had it."""
        try:
            return await self.conductor.instance_get(ctx, instance_uuid, read_deleted=True)
        except InstanceNotFound:
            return None

    async def settle(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        *,
        respawn: bool = True,
        allocation: bool = True,
    ) -> list[str]:
        """Bring this host's share in line with the record; returns what was changed.

        With `respawn`, a guest the record places here but that left is spawned
        again; with `allocation`, the scheduler's allocation of the instance is made
        its flavor's on this host. The caller holds the instance's lock.
        """
        ctx = ctx.elevated()
        record = await self.lookup(ctx, instance_uuid)
        if record is None or record.deleted:
            return await self._away(instance_uuid, record)
        deleting = record.task_state == task_states.DELETING
        if record.host != self.host:
            if not deleting and await self._resizing_through_here(ctx, record):
                return []
            return await self._away(instance_uuid, record)
        if deleting:
            return []  # the delete on this host tears it all down
        return await self._here(ctx, record, respawn=respawn, allocation=allocation)

    async def _away(self, instance_uuid: str, record: objects.Instance | None) -> list[str]:
        """Nothing of the instance belongs on this host: drop its entry and its guest."""
        done = []
        if instance_uuid in self.tracker.instances:
            self.tracker.drop(instance_uuid)
            done.append(f"dropped the tracker entry on {self.host}")
        # A guest this cloud never had is not ours to destroy (as reap_deleted_guests).
        if record is not None and instance_uuid in await self.driver.list_instances():
            await self.driver.destroy(record)
            done.append(f"destroyed the guest on {self.host}")
        return done

    async def _resizing_through_here(self, ctx: RequestContext, record: objects.Instance) -> bool:
        """Whether a resize of the instance is under way with this host as one end."""
        if record.task_state not in _RESIZE_TASKS:
            return False
        live = await self.conductor.migration_list(
            ctx, instance_uuid=record.uuid, statuses=list(migration_states.IN_PROGRESS)
        )
        return any(self.host in (m.source_host, m.dest_host) for m in live)

    async def _here(
        self, ctx: RequestContext, record: objects.Instance, *, respawn: bool, allocation: bool
    ) -> list[str]:
        done = []
        if self.tracker.instances.get(record.uuid) != record.flavor:
            self.tracker.instances[record.uuid] = record.flavor
            done.append(f"tracked {record.flavor.name} on {self.host}")
        wants_guest = record.vm_state in GUEST_STATES
        if respawn and wants_guest and record.uuid not in await self.driver.list_instances():
            await self._respawn(ctx, record)
            done.append(f"spawned the guest again on {self.host}")
        if allocation and record.task_state not in _RESIZE_TASKS:
            await self.scheduler.put_allocation(ctx, record.uuid, self.host, record.flavor)
        return done

    async def _respawn(self, ctx: RequestContext, record: objects.Instance) -> None:
        """Spawn the guest here again, from its shelved image if it has one."""
        shelved = record.system_metadata.get("shelved_image_id")
        image_of = attrs.evolve(record, image_ref=shelved) if shelved else None
        await self.spawner.respawn(ctx, record, image_of=image_of)
        if record.vm_state in _OFF_STATES or record.task_state in _OFF_TASKS:
            await power_off(self.driver, record)
        state = await power_state_of(self.driver, record)
        if state == record.power_state:
            return
        try:
            await self.conductor.instance_update(
                ctx, record.uuid, {"power_state": state}, expected_task_state=[record.task_state]
            )
        except (UnexpectedTaskStateError, InstanceNotFound) as exc:
            log.info("compute.settle_power_not_saved", instance_uuid=record.uuid, error=str(exc))


async def quietly_settle(settler: Settler, ctx: RequestContext, instance_uuid: str) -> list[str]:
    """`settle`, logging instead of raising a failure (it runs on a failure path)."""
    try:
        return await settler.settle(ctx, instance_uuid)
    except NovaLiteError as exc:
        log.warning("compute.settle_failed", instance_uuid=instance_uuid, error=str(exc))
        return []
