"""`CloudHarness`: a started cloud as a test drives it, with the helpers tests share.

A harness holds a `Cloud` started by a `CloudFactory`, its bootstrap admin's
session, a member's session (a user ``member`` of project ``demo``), and a
`NotificationTap` on its notifications. Actions go through the library API, as a
user's would; the harness observes the services (records, guests, claims, the
audit) to check what the actions did, and waits on notifications, never on a clock::

    harness = await CloudHarness.start(clouds, computes=2)
    server_id = await harness.boot()
    with harness.faults().hold("pause") as gate:
        await harness.servers.pause(server_id)
        await gate.wait_reached()
        ...
    await harness.delete(server_id)  # and nothing of it is left anywhere
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.api.servers import Servers
from nova_lite.audit import AuditReport
from nova_lite.cloud import Cloud, compute_host_name
from nova_lite.compute import vm_states
from nova_lite.compute.manager import ComputeManager
from nova_lite.conductor.manager import ConductorManager
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid
from nova_lite.identity.manager import IdentityManager
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.testing import clouds as books
from nova_lite.testing.clouds import WAIT, CloudFactory, fake_driver
from nova_lite.testing.faults import DriverFaults
from nova_lite.testing.notifications import NotificationTap
from nova_lite.virt.driver import ComputeDriver

if TYPE_CHECKING:
    from drivers.fake import FakeDriver, FakeGuest

__all__ = ["REACHABLE", "CloudHarness", "Step"]

#: One step on the way to a state: an action on the server, and the status to await.
Step = tuple[Callable[["CloudHarness", str], Awaitable[object]], str]


async def _fail_a_pause(harness: CloudHarness, server_id: str) -> None:
    harness.faults((await harness.instance(server_id)).host).fail_next("pause")
    await harness.servers.pause(server_id)


#: How `CloudHarness.reach` walks a new ACTIVE server to each vm_state it can rest in.
REACHABLE: Mapping[str, Sequence[Step]] = {
    vm_states.ACTIVE: [],
    vm_states.PAUSED: [(lambda h, s: h.servers.pause(s), "PAUSED")],
    vm_states.SUSPENDED: [(lambda h, s: h.servers.suspend(s), "SUSPENDED")],
    vm_states.STOPPED: [(lambda h, s: h.servers.stop(s), "SHUTOFF")],
    vm_states.RESCUED: [(lambda h, s: h.servers.rescue(s), "RESCUE")],
    vm_states.RESIZED: [(lambda h, s: h.servers.resize(s, "m1.small"), "VERIFY_RESIZE")],
    vm_states.SOFT_DELETED: [(lambda h, s: h.servers.soft_delete(s), "SOFT_DELETED")],
    vm_states.SHELVED: [(lambda h, s: h.servers.shelve(s), "SHELVED")],
    vm_states.SHELVED_OFFLOADED: [
        (lambda h, s: h.servers.shelve(s), "SHELVED"),
        (lambda h, s: h.servers.shelve_offload(s), "SHELVED_OFFLOADED"),
    ],
    vm_states.ERROR: [(_fail_a_pause, "ERROR")],  # a pause the hypervisor fails
}


class CloudHarness:
    """A started cloud, its admin, a member, a notification tap, and ways to drive them.

    Make one with `start`; the `CloudFactory` that started its cloud stops it. Every
    wait is bounded by `WAIT` seconds and fails the test beyond it.
    """

    def __init__(self, cloud: Cloud, admin: Session, member: Session, tap: NotificationTap) -> None:
        self.cloud = cloud
        self.admin = admin
        self.member = member
        self.tap = tap
        self.ctx = RequestContext.admin()

    @classmethod
    async def start(
        cls,
        clouds: CloudFactory,
        *,
        computes: int = 2,
        unlimited: bool = True,
        **config: Any,
    ) -> CloudHarness:
        """A harness on a new cloud with `computes` fake hosts and the `config` overrides.

        With `unlimited` the admin's project has no quota (tests boot many servers).
        """
        cloud = await clouds.start(computes=computes, **config)
        admin = await cloud.login_admin()
        if unlimited:
            await books.unlimited_quota(cloud, admin)
        member = await books.add_user(cloud, admin, "member", project="demo")
        return cls(cloud, admin, member, await NotificationTap.attach(cloud))

    def __repr__(self) -> str:
        return f"<CloudHarness {self.cloud!r}>"

    # -- the cloud's parts ---------------------------------------------------------

    @property
    def servers(self) -> Servers:
        """The admin's ``session.servers``."""
        return self.admin.servers

    @property
    def hosts(self) -> list[str]:
        """The compute hosts' names, ``compute1`` first."""
        return [compute_host_name(i) for i in range(1, self.cloud.computes + 1)]

    @property
    def computes(self) -> list[ComputeManager]:
        """The compute managers, one per host, in `hosts` order (the order they started)."""
        return self.cloud.compute_managers()

    def compute(self, host: str | None) -> ComputeManager:
        """The compute manager of `host` (a server's ``host``: not None)."""
        if host is None:
            raise Invalid("The server has no host (it is shelved, or was never placed).")
        return self.cloud.compute(host)

    def driver(self, host: str | None) -> FakeDriver:
        """The fake hypervisor of `host`."""
        return fake_driver(self.compute(host))

    def faults(self, *hosts: str | None) -> DriverFaults:
        """Failure injection on the hypervisors of `hosts` (every host's when none is named)."""
        return DriverFaults([self.driver(h) for h in hosts or self.hosts])

    @property
    def conductor(self) -> ConductorManager:
        """The cloud's conductor manager (its parts' clients can be held)."""
        return books.conductor_of(self.cloud)

    @property
    def scheduler(self) -> SchedulerManager:
        """The cloud's scheduler manager (its host states and claims)."""
        return books.scheduler_of(self.cloud)

    @property
    def identity(self) -> IdentityManager:
        """The cloud's identity manager (tests move its clock)."""
        return books.identity_of(self.cloud)

    # -- servers -----------------------------------------------------------------

    async def boot(
        self,
        session: Session | None = None,
        *,
        name: str = "srv",
        flavor: str = "m1.tiny",
        image: str = "cirros",
    ) -> str:
        """The id of a new server of `session` (the admin's by default), once ACTIVE."""
        [server] = await (session or self.admin).servers.create(name, flavor=flavor, image=image)
        await self.wait(server.id, "ACTIVE")
        return server.id

    async def wait(self, server_id: str, *statuses: str) -> objects.Instance:
        """The instance once its server shows one of `statuses` with no task running.

        Fails if it shows another stable status (ERROR) instead, naming its fault.
        """
        server = await self.admin.servers.wait_for(server_id, statuses, timeout=WAIT)
        assert server.status in statuses, (server.status, server.fault)
        return await self.instance(server_id)

    async def instance(self, server_id: str) -> objects.Instance:
        """The server's record as the conductor has it (deleted ones too)."""
        return await self.cloud.api.conductor.instance_get(self.ctx, server_id, read_deleted=True)

    async def settle(
        self, server_id: str, check: Callable[[objects.Instance], bool]
    ) -> objects.Instance:
        """The instance once `check` holds, woken by its notifications (no polling)."""
        watcher = self.cloud.api.watcher
        await watcher.ensure_started()
        async with asyncio.timeout(WAIT):
            while True:
                event = watcher.register(server_id)
                try:
                    instance = await self.instance(server_id)
                    if check(instance):
                        return instance
                    await event.wait()
                finally:
                    watcher.unregister(server_id, event)

    async def reach(self, state: str, session: Session | None = None) -> str:
        """The id of a new server in vm_state `state`, walked there along `REACHABLE`.

        A server held ``building`` is not reachable this way: hold ``spawn`` with
        `faults` and boot.
        """
        if state not in REACHABLE:
            raise Invalid(f"vm_state {state!r} is not reachable; known: {', '.join(REACHABLE)}.")
        server_id = await self.boot(session)
        for step, status in REACHABLE[state]:
            await step(self, server_id)
            await self.wait(server_id, status)
        assert (await self.instance(server_id)).vm_state == state
        return server_id

    async def force(self, server_id: str, **values: Any) -> objects.Instance:
        """Write states into the record directly, as a crash mid-task would leave them."""
        return await self.cloud.api.conductor.instance_update(self.ctx, server_id, values)

    def guests(self, server_id: str) -> dict[str, FakeGuest]:
        """Each host whose fake hypervisor has a guest for the server, with that guest."""
        found = {h: self.driver(h).guests.get(server_id) for h in self.hosts}
        return {h: g for h, g in found.items() if g is not None}

    async def usage(self) -> dict[str, tuple[int, int]]:
        """Each host's claimed vCPUs and RAM (MB), as the scheduler reports them."""
        return {
            str(h["host"]): (_int(h["vcpus_used"]), _int(h["memory_mb_used"]))
            for h in await self.admin.hosts()
        }

    async def new_volume(self, name: str = "vol") -> str:
        """The id of a new 1 GB volume of the admin's."""
        return (await self.cloud.api.volume.create(self.ctx, 1, name=name)).id

    async def attach(self, server_id: str, volume_id: str) -> objects.Instance:
        """The instance once `volume_id` is attached to it."""
        await self.servers.attach_volume(server_id, volume_id)
        return await self.settle(
            server_id, lambda i: any(b.volume_id == volume_id for b in i.block_devices)
        )

    async def delete(self, server_id: str) -> None:
        """Delete the server and check nothing of it is left anywhere, and the books agree.

        Also checks that no host has anything claimed: call it for the last server.
        """
        await self.admin.servers.delete(server_id)
        await self.wait(server_id, "DELETED")
        await self.assert_nothing_leaked(server_id)
        assert await self.usage() == {h: (0, 0) for h in self.hosts}
        await self.assert_audit_clean()

    # -- users and books ----------------------------------------------------------------

    async def add_user(self, name: str, *, project: str, role: str = "member") -> Session:
        """A logged-in session of a new user with `role` on `project` (created if new)."""
        return await books.add_user(self.cloud, self.admin, name, project=project, role=role)

    async def assert_nothing_leaked(self, *server_ids: str) -> None:
        """No guest, tracker entry, port or claim is left for the servers."""
        await books.assert_nothing_leaked(self.cloud, self.admin, server_ids)

    async def audit(self) -> AuditReport:
        """The audit of the cloud's books (any task nothing works on counts as stuck)."""
        return await books.audit(self.cloud)

    async def assert_audit_clean(self) -> None:
        """The audit finds no disagreement at all (call it once the test's actions are done)."""
        await books.assert_audit_clean(self.cloud)

    async def restart_compute(
        self, host: str, *, driver: ComputeDriver | None = None
    ) -> ComputeManager:
        """A new compute service for `host`, recovered at start-up (see `restart_compute`).

        It runs on the same hypervisor, or on `driver` (a driver of your own under test).
        """
        return await books.restart_compute(self.cloud, host, driver=driver)


def _int(value: object) -> int:
    assert isinstance(value, int), value
    return value
