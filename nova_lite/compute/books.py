"""The compute endpoints that show one host's books to the audit, and repair them.

`nova_lite.audit` compares what every service holds; a compute host holds two of
those books itself: its resource tracker (what it counts as placed here) and its
hypervisor's guests. `host_ledger` shows both, with the instances an operation is
working on right now; `settle_instance` repairs this host's share of one instance's
books by the rules of `Settler` (read fresh, under the instance's lock), without
spawning guests or writing allocations. Both are for administrators only.
"""

from __future__ import annotations

from typing import ClassVar

from nova_lite import objects
from nova_lite.admin import require_admin
from nova_lite.compute.locks import InstanceLocks
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.compute.settle import Settler
from nova_lite.context import RequestContext
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.virt.driver import ComputeDriver

__all__ = ["HostBooks"]


class HostBooks:
    """One host's tracker and guests, for the audit (see the module docstring)."""

    target: ClassVar[Target] = Target(version=ComputeAPI.served_version)

    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        tracker: ResourceTracker,
        locks: InstanceLocks,
        settler: Settler,
    ) -> None:
        self.host = host
        self.driver = driver
        self.tracker = tracker
        self.locks = locks
        self.settler = settler

    def __repr__(self) -> str:
        return f"<HostBooks {self.host}>"

    @endpoint
    async def host_ledger(self, ctx: RequestContext) -> objects.HostLedger:
        """This host's tracker entries, hypervisor guests and busy instances."""
        require_admin(ctx, "read a compute host's books")
        busy = self.locks.held()
        guests = await self.driver.list_instances()
        return objects.HostLedger(
            host=self.host,
            tracked=dict(self.tracker.instances),
            guests=tuple(sorted(guests)),
            busy=tuple(sorted(busy | self.locks.held())),
        )

    @endpoint
    async def settle_instance(self, ctx: RequestContext, instance_uuid: str) -> list[str]:
        """Make this host's tracker entry and guest of one instance agree with its record.

        Returns what was changed (nothing if they already agree, or if an operation
        on the instance is under way here: it is then left to that operation).
        """
        require_admin(ctx, "repair a compute host's books")
        if instance_uuid in self.locks.held():
            return []
        async with self.locks.hold(instance_uuid):
            return await self.settler.settle(ctx, instance_uuid, respawn=False, allocation=False)
