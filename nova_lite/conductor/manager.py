"""The conductor: instance records, and the scheduling half of every build.

`ConductorManager` is composed, not inherited: it opens the conductor's database and
hands each part exactly what it uses:

- `InstanceRecords` (instances.py): instances, flavors and quotas over the
  `InstanceStore`, announcing every change;
- `ActionRecords` (actions.py): os-instance-actions and migration records over the
  `ActionStore`;
- `BuildTasks` (build.py): `schedule_and_build_instances`, `reschedule_instance`,
  and the build timeout periodic;
- `MigrationTasks` (migrate.py): resize and unshelve placement;
- `BuildReconciler` (reconcile.py): after a broker outage or at start-up, the builds
  it stranded re-sent or failed (a periodic task, no endpoint).

RPC endpoints are served by the parts themselves: `endpoints()` returns the four
parts, each with the manager's ``target``, as Nova's conductor serves its
ConductorManager and ComputeTaskManager side by side. Each endpoint is written once,
beside the code it runs, instead of again as a delegating method here (the same
choice as the compute manager's). The manager keeps the service hooks.
"""

from __future__ import annotations

from typing import ClassVar

from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.actions import ActionRecords, ActionStore
from nova_lite.conductor.build import BuildTasks
from nova_lite.conductor.instance_store import InstanceStore
from nova_lite.conductor.instances import InstanceRecords
from nova_lite.conductor.migrate import MigrationTasks
from nova_lite.conductor.reconcile import RECONCILE_INTERVAL, BuildReconciler
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.conductor.schema import MIGRATIONS
from nova_lite.config import Config
from nova_lite.db import Database
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport

__all__ = ["ConductorManager"]


class ConductorManager(Manager):
    """Owns the instance database and orchestrates scheduling."""

    topic: ClassVar[str] = "conductor"
    target: ClassVar[Target] = Target(version=ConductorAPI.version)

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("conductor"), MIGRATIONS, name="conductor")
        notifier = Notifier(transport, config.rpc.exchange, f"conductor.{host}")
        scheduler = SchedulerAPI(transport, config)
        compute = ComputeAPI(transport, config)
        self.instances = InstanceRecords(InstanceStore(self.db, config.quota), notifier)
        self.actions = ActionRecords(ActionStore(self.db))
        network = NetworkAPI(transport, config)
        self.builds = BuildTasks(
            self.instances,
            scheduler=scheduler,
            compute=compute,
            network=network,
            notifier=notifier,
            max_attempts=config.scheduler.max_attempts,
            build_timeout=config.compute.instance_build_timeout,
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
            scheduler=scheduler,
            compute=compute,
            notifier=notifier,
            allow_resize_to_same_host=config.compute.allow_resize_to_same_host,
        )

    def __repr__(self) -> str:
        return f"<ConductorManager {self.host}>"

    def endpoints(self) -> list[object]:
        """The parts that serve the conductor's RPC endpoints (see the module docstring)."""
        return [self.instances, self.actions, self.builds, self.migrations]

    async def init_host(self) -> None:
        await self.db.open()

    def periodic_tasks(self) -> list[PeriodicTask]:
        reconcile = PeriodicTask("reconcile_builds", RECONCILE_INTERVAL, self.reconciler.run)
        timeout = self.config.compute.instance_build_timeout
        if timeout <= 0:
            return [reconcile]
        return [
            reconcile,
            PeriodicTask("build_timeouts", timeout / 2, self.builds.check_build_timeouts),
        ]

    async def cleanup_host(self) -> None:
        await self.builds.drain()
        await self.db.close()
