"""The conductor: instance records, and the scheduling half of every build.

`ConductorManager` is composed, not inherited: it opens the conductor's database and
hands each part exactly what it uses:

- `InstanceRecords` (instances.py): instances over the `InstanceStore` (creates
  within the `QuotaBook`'s limits), announcing every change;
- `QuotaRecords` (quotas.py): compute quotas per project and user, quota classes;
- `ServerGroupRecords` (server_groups.py): server groups and their members;
- `AggregateRecords` (aggregates.py): host aggregates and the availability zones
  they define;
- `FlavorRecords` (flavors.py): flavors, their access lists and extra specs;
- `ActionRecords` (actions.py): os-instance-actions and migration records over the
  `ActionStore`;
- `BuildTasks` (build.py): `schedule_and_build_instances`, `reschedule_instance`,
  and the build timeout periodic; each build waits its turn at the `BuildAdmission`
  (admission.py), which hears of every instance saved through `InstanceRecords`;
- `MigrationTasks` (migrate.py): resize and unshelve placement;
- `InstanceEdits` (instance_edits.py): metadata and tags merged into the record;
- `KeypairRecords` (keypairs.py): users' key pairs;
- `BuildReconciler` (reconcile.py): after a broker outage or at start-up, the builds
  it stranded re-sent or failed (a periodic task, no endpoint).

RPC endpoints are served by the parts themselves: `endpoints()` returns the
parts, each with the manager's ``target``, as Nova's conductor serves its
ConductorManager and ComputeTaskManager side by side. Each endpoint is written once,
beside the code it runs, instead of again as a delegating method here (the same
choice as the compute manager's). The manager keeps the service hooks.
"""

from __future__ import annotations

from typing import ClassVar

from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.actions import ActionRecords, ActionStore
from nova_lite.conductor.admission import BuildAdmission
from nova_lite.conductor.aggregates import AggregateRecords, AggregateStore
from nova_lite.conductor.build import ADMISSION_SWEEP_SECONDS, BuildTasks
from nova_lite.conductor.flavors import FlavorRecords, FlavorStore
from nova_lite.conductor.instance_edits import InstanceEdits
from nova_lite.conductor.instance_store import InstanceStore
from nova_lite.conductor.instances import InstanceRecords
from nova_lite.conductor.keypairs import KeypairRecords
from nova_lite.conductor.live_migrate import LiveMigrationTasks
from nova_lite.conductor.migrate import MigrationTasks
from nova_lite.conductor.quotas import QuotaBook, QuotaRecords
from nova_lite.conductor.reconcile import RECONCILE_INTERVAL, BuildReconciler
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.conductor.schema import MIGRATIONS
from nova_lite.conductor.server_groups import ServerGroupRecords, ServerGroupStore
from nova_lite.config import Config
from nova_lite.db import Database
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport

# Builds waiting for admission are let in a sixteenth of the limit at a time
# (`BuildAdmission.chunk`): enough together for one scheduler call per chunk.
ADMISSION_CHUNKS = 16

__all__ = ["ConductorManager"]


class ConductorManager(Manager):
    """Owns the instance database and orchestrates scheduling."""

    topic: ClassVar[str] = "conductor"
    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(
            config.database_path("conductor"), MIGRATIONS, name="conductor", group_commit=True
        )
        notifier = Notifier(transport, config.rpc.exchange, f"conductor.{host}")
        scheduler = SchedulerAPI(transport, config)
        compute = ComputeAPI(transport, config)
        limits = config.conductor
        admission = BuildAdmission(
            limits.max_concurrent_builds,
            lease=limits.build_slot_lease,
            chunk=max(1, limits.max_concurrent_builds // ADMISSION_CHUNKS),
        )
        quotas = QuotaBook(self.db, config.quota)
        groups = ServerGroupStore(self.db, quotas)
        store = InstanceStore(self.db, quotas, groups)
        actions = ActionStore(self.db)
        self.instances = InstanceRecords(
            store,
            notifier,
            on_saved=admission.saw,
            actions=actions,
            every_save=config.notifications.notify_on_state_change == "vm_and_task_state",
        )
        self.edits = InstanceEdits(store, notifier)
        self.keypairs = KeypairRecords(self.db, quotas=quotas)
        self.quotas = QuotaRecords(quotas)
        self.server_groups = ServerGroupRecords(groups)
        zones = AggregateStore(self.db)
        self.aggregates = AggregateRecords(zones)
        self.actions = ActionRecords(actions)
        self.flavors = FlavorRecords(FlavorStore(self.db))
        network = NetworkAPI(transport, config)
        self.builds = BuildTasks(
            self.instances,
            scheduler=scheduler,
            compute=compute,
            network=network,
            notifier=notifier,
            max_attempts=config.scheduler.max_attempts,
            build_timeout=config.compute.instance_build_timeout,
            admission=admission,
            conductor=ConductorAPI(transport, config),
            zones=zones,
            actions=actions,
            host=host,
        )
        self.reconciler = BuildReconciler(
            self.instances,
            self.builds,
            transport,
            compute=compute,
            scheduler=scheduler,
            network=network,
            notifier=notifier,
        )
        self.migrations = MigrationTasks(
            host,
            self.instances,
            self.actions,
            groups=groups,
            zones=zones,
            scheduler=scheduler,
            compute=compute,
            notifier=notifier,
            allow_resize_to_same_host=config.compute.allow_resize_to_same_host,
        )
        self.live_migrations = LiveMigrationTasks(
            host, self.instances, self.actions, groups=groups, zones=zones,
            scheduler=scheduler, compute=compute,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<ConductorManager {self.host}>"

    def endpoints(self) -> list[object]:
        """The parts that serve the conductor's RPC endpoints (see the module docstring)."""
        return [
            self.instances,
            self.actions,
            self.builds,
            self.migrations,
            self.live_migrations,
            self.edits,
            self.keypairs,
            self.flavors,
            self.quotas,
            self.server_groups,
            self.aggregates,
        ]

    async def init_host(self) -> None:
        await self.db.open()

    def periodic_tasks(self) -> list[PeriodicTask]:
        tasks = [PeriodicTask("reconcile_builds", RECONCILE_INTERVAL, self.reconciler.run)]
        if self.config.conductor.max_concurrent_builds:
            every = ADMISSION_SWEEP_SECONDS
            tasks.append(PeriodicTask("build_admission", every, self.builds.sweep_admissions))
        timeout = self.config.compute.instance_build_timeout
        if timeout > 0:
            tasks.append(
                PeriodicTask("build_timeouts", timeout / 2, self.builds.check_build_timeouts)
            )
        return tasks

    async def cleanup_host(self) -> None:
        await self.builds.drain()
        await self.db.close()
