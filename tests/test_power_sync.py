"""A compute host's housekeeping: power-state sync, recovery at start-up, build timeouts.

The fake hypervisor changes guests "from inside" (`inject_power_state`), the tests
call the compute manager's periodic tasks directly (or let the service run one,
awaiting its notification), and restart a compute service on the same hypervisor
to see what start-up recovery makes of instances a crash left mid-task.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.compute import power_state, task_states, vm_states
from nova_lite.context import RequestContext
from nova_lite.testing import CloudFactory, CloudHarness, assert_audit_clean, assert_nothing_leaked

ADMIN = RequestContext.admin()
HOST = "compute1"
RUNNING, PAUSED, SUSPENDED = power_state.RUNNING, power_state.PAUSED, power_state.SUSPENDED
SHUTDOWN, CRASHED, NOSTATE = power_state.SHUTDOWN, power_state.CRASHED, power_state.NOSTATE

StartHost = Callable[..., Awaitable[CloudHarness]]


def guest_state(host: CloudHarness, server_id: str) -> int | None:
    """The power state the host's fake hypervisor gives the server's guest (None: none)."""
    guest = host.driver(HOST).guests.get(server_id)
    return None if guest is None else int(guest.state)


@pytest.fixture
def start_host(memory_clouds: CloudFactory) -> StartHost:
    """Starts one-host clouds on the in-memory broker (with config overrides)."""

    async def start(**config: Any) -> CloudHarness:
        return await CloudHarness.start(memory_clouds, computes=1, **config)

    return start


@pytest.fixture
async def host(start_host: StartHost) -> CloudHarness:
    """A one-host cloud whose periodic tasks do not run during the test."""
    return await start_host()


# -- power-state sync ---------------------------------------------------------------


async def test_a_guest_shut_down_from_inside_stops_an_active_server(host: CloudHarness) -> None:
    """ACTIVE with a guest that shut itself down becomes SHUTOFF at the next sync."""
    sid = await host.boot()
    host.driver(HOST).inject_power_state(sid, SHUTDOWN)

    await host.compute(HOST).maintenance.sync_power_states(ADMIN)

    instance = await host.wait(sid, "SHUTOFF")
    assert (instance.vm_state, instance.power_state) == (vm_states.STOPPED, SHUTDOWN)
    assert guest_state(host, sid) == SHUTDOWN


@pytest.mark.parametrize("inside", [CRASHED, SUSPENDED], ids=["crashed", "suspended"])
async def test_a_crashed_or_suspended_guest_stops_an_active_server(
    host: CloudHarness, inside: int
) -> None:
    """ACTIVE with a crashed or suspended guest is stopped: the guest is powered off."""
    sid = await host.boot()
    host.driver(HOST).inject_power_state(sid, inside)

    await host.compute(HOST).maintenance.sync_power_states(ADMIN)

    instance = await host.wait(sid, "SHUTOFF")
    assert (instance.power_state, guest_state(host, sid)) == (SHUTDOWN, SHUTDOWN)


@pytest.mark.parametrize(
    "inside", [RUNNING, PAUSED, SUSPENDED], ids=["running", "paused", "suspended"]
)
async def test_a_stopped_server_whose_guest_runs_is_powered_off_again(
    host: CloudHarness, inside: int
) -> None:
    """STOPPED with a guest running (or paused, or suspended) has its guest powered off."""
    sid = await host.boot()
    await host.admin.servers.stop(sid)
    await host.wait(sid, "SHUTOFF")
    host.driver(HOST).inject_power_state(sid, inside)

    await host.compute(HOST).maintenance.sync_power_states(ADMIN)

    instance = await host.wait(sid, "SHUTOFF")
    assert (instance.power_state, guest_state(host, sid)) == (SHUTDOWN, SHUTDOWN)
    note = await host.tap.wait_for(
        lambda n: n.payload["uuid"] == sid and n.payload["power_state"] == SHUTDOWN
    )
    assert note.event_type == "instance.update"


async def test_a_paused_server_whose_guest_shut_down_is_stopped(host: CloudHarness) -> None:
    """PAUSED with a guest that shut down becomes SHUTOFF, as Nova's sync force-stops it."""
    sid = await host.boot()
    await host.admin.servers.pause(sid)
    await host.wait(sid, "PAUSED")
    host.driver(HOST).inject_power_state(sid, SHUTDOWN)

    await host.compute(HOST).maintenance.sync_power_states(ADMIN)

    instance = await host.wait(sid, "SHUTOFF")
    assert instance.power_state == SHUTDOWN


async def test_a_guest_paused_or_missing_leaves_an_active_server_alone(host: CloudHarness) -> None:
    """As in Nova, a guest paused from inside or not found only updates the power state."""
    paused, missing = await host.boot(), await host.boot()
    host.driver(HOST).inject_power_state(paused, PAUSED)
    del host.driver(HOST).guests[missing]

    await host.compute(HOST).maintenance.sync_power_states(ADMIN)

    assert (await host.wait(paused, "ACTIVE")).power_state == PAUSED
    assert (await host.wait(missing, "ACTIVE")).power_state == NOSTATE
    assert guest_state(host, paused) == PAUSED


async def test_the_sync_skips_a_server_with_a_task_in_progress(host: CloudHarness) -> None:
    """An instance whose task is running is left to that task, whatever its guest does."""
    sid = await host.boot()
    await host.force(sid, task_state=task_states.POWERING_ON)
    host.driver(HOST).inject_power_state(sid, SHUTDOWN)

    await host.compute(HOST).maintenance.sync_power_states(ADMIN)

    instance = await host.instance(sid)
    assert (instance.vm_state, instance.task_state) == (vm_states.ACTIVE, task_states.POWERING_ON)
    assert instance.power_state == RUNNING


async def test_an_action_on_a_guest_the_hypervisor_lost_ends_in_error(host: CloudHarness) -> None:
    """A pause whose guest vanished fails into ERROR with a fault instead of hanging."""
    sid = await host.boot()
    del host.driver(HOST).guests[sid]

    await host.admin.servers.pause(sid)

    instance = await host.wait(sid, "ERROR")
    assert instance.fault is not None and "no guest" in instance.fault.message


async def test_the_sync_runs_as_a_periodic_task(start_host: StartHost) -> None:
    """With a short sync_power_state_interval the service itself stops a shut-down guest."""
    host = await start_host(compute={"sync_power_state_interval": 0.05})
    sid = await host.boot()

    host.driver(HOST).inject_power_state(sid, SHUTDOWN)

    instance = await host.wait(sid, "SHUTOFF")
    assert instance.power_state == SHUTDOWN


# -- recovery at start-up --------------------------------------------------------------


async def test_a_restart_errors_builds_and_finishes_deletes(host: CloudHarness) -> None:
    """At start an instance left building goes to ERROR, freed; one left deleting is deleted."""
    building, deleting = await host.boot(), await host.boot()
    await host.force(building, vm_state=vm_states.BUILDING, task_state=task_states.SPAWNING)
    await host.force(deleting, task_state=task_states.DELETING)

    await host.restart_compute(HOST)

    failed = await host.wait(building, "ERROR")
    assert failed.fault is not None and failed.fault.details == "RecoveredAtStartup"
    assert guest_state(host, building) is None
    assert await host.cloud.api.network.list_ports(ADMIN, device_id=building) == []
    await host.wait(deleting, "DELETED")
    await assert_nothing_leaked(host.cloud, host.admin, [deleting])
    await assert_audit_clean(host.cloud)


@pytest.mark.parametrize(
    ("inside", "status"),
    [(RUNNING, "ACTIVE"), (SHUTDOWN, "SHUTOFF"), (PAUSED, "PAUSED")],
    ids=["running", "shutdown", "paused"],
)
async def test_a_restart_clears_a_reboot_taking_the_state_from_the_hypervisor(
    host: CloudHarness, inside: int, status: str
) -> None:
    """A reboot cut short by a restart is cleared, the vm_state read from the guest."""
    sid = await host.boot()
    await host.force(sid, task_state=task_states.REBOOTING)
    host.driver(HOST).inject_power_state(sid, inside)

    await host.restart_compute(HOST)

    instance = await host.wait(sid, status)
    assert (instance.task_state, instance.power_state, instance.fault) == (None, inside, None)
    await assert_audit_clean(host.cloud)


async def test_a_restart_keeps_non_power_states_and_errors_resizes(host: CloudHarness) -> None:
    """A rescued server's task is cleared keeping RESCUE; a resize cut short goes to ERROR."""
    rescued, resizing = await host.boot(), await host.boot()
    await host.admin.servers.rescue(rescued)
    await host.wait(rescued, "RESCUE")
    await host.force(rescued, task_state=task_states.UNRESCUING)
    await host.force(resizing, task_state=task_states.RESIZE_MIGRATING)

    await host.restart_compute(HOST)

    assert (await host.wait(rescued, "RESCUE")).task_state is None
    failed = await host.wait(resizing, "ERROR")
    assert failed.fault is not None and "resize_migrating" in failed.fault.message
    await assert_audit_clean(host.cloud)


async def test_a_restarted_compute_serves_actions_again(host: CloudHarness) -> None:
    """After a restart on the same hypervisor the host's servers take actions as before."""
    sid = await host.boot()

    await host.restart_compute(HOST)
    await host.admin.servers.stop(sid)

    assert (await host.wait(sid, "SHUTOFF")).power_state == SHUTDOWN
    await assert_audit_clean(host.cloud)


# -- reclaim and build timeouts ------------------------------------------------------------


async def test_a_build_older_than_the_timeout_goes_to_error(
    start_host: StartHost,
) -> None:
    """A build still spawning after instance_build_timeout is put in ERROR and cleaned up."""
    host = await start_host(compute={"instance_build_timeout": 3600})
    with host.faults().hold("spawn") as gate:
        [server] = await host.admin.servers.create("slow", flavor="m1.tiny", image="cirros")
        await gate.wait_reached()
        await host.compute(HOST).maintenance.check_build_timeouts(ADMIN)
        assert (await host.instance(server.id)).vm_state == vm_states.BUILDING
        later = objects.utcnow() + datetime.timedelta(hours=2)
        host.compute(HOST).maintenance.now = lambda: later

        await host.compute(HOST).maintenance.check_build_timeouts(ADMIN)

        failed = await host.wait(server.id, "ERROR")
        assert failed.fault is not None and failed.fault.details == "BuildTimeout"
    await host.tap.wait_event(server.id, "instance.create.error")
    assert (await host.instance(server.id)).vm_state == vm_states.ERROR
    await assert_nothing_leaked(host.cloud, host.admin, [server.id])
    await assert_audit_clean(host.cloud)


async def test_the_sync_reads_only_what_disagrees_with_its_guest(host: CloudHarness) -> None:
    """One listing of the host's instances; an instance whose record agrees with its
    guest is not read again (nor locked); one that disagrees is read and reconciled;
    a guest the listing does not account for is asked about (and reaped if deleted)."""
    agree, shut = await host.boot(), await host.boot()
    host.driver(HOST).inject_power_state(shut, SHUTDOWN)
    conductor = host.compute(HOST).maintenance.conductor
    reads: list[str] = []
    listings: list[dict[str, Any]] = []
    instance_get, all_instances = conductor.instance_get, conductor.all_instances

    async def counted_get(ctx: RequestContext, uuid: str, **kwargs: Any) -> objects.Instance:
        reads.append(uuid)
        return await instance_get(ctx, uuid, **kwargs)

    async def counted_all(ctx: RequestContext, **kwargs: Any) -> list[objects.Instance]:
        listings.append(kwargs)
        return await all_instances(ctx, **kwargs)

    conductor.instance_get = counted_get  # type: ignore[method-assign,assignment]
    conductor.all_instances = counted_all  # type: ignore[method-assign]
    stray = "00000000-0000-4000-8000-000000000001"  # a guest this cloud never had
    host.driver(HOST).guests[stray] = host.driver(HOST).guests[agree]
    try:
        await host.compute(HOST).maintenance.sync_power_states(ADMIN)
    finally:
        del host.driver(HOST).guests[stray]

    assert listings == [{"host": HOST}]
    assert sorted(reads) == sorted([stray, shut])  # not `agree`
    assert (await host.wait(shut, "SHUTOFF")).power_state == SHUTDOWN
    assert (await host.wait(agree, "ACTIVE")).power_state == RUNNING
