"""The conductor's reconciliation of stranded builds, one rule at a time (in-memory broker).

Each test makes one kind of stranded build on purpose (a cast that never reached its
host, a host's handler gone mid-build, a build nobody placed), runs one pass of
`BuildReconciler`, and checks the build ended as the rule says, with the books clean.
The reconciliation's grace is set to zero: the test decides when a build is stranded.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.conductor.reconcile import BuildReconciler
from nova_lite.context import RequestContext
from nova_lite.testing import (
    WAIT,
    CloudFactory,
    CloudHarness,
    capture_logs,
    conductor_of,
    events_named,
)


async def _create(harness: CloudHarness) -> str:
    """A new server's id, at once (still building)."""
    [server] = await harness.admin.servers.create("srv", flavor="m1.tiny", image="cirros")
    return server.id


async def _placed(harness: CloudHarness, server_id: str) -> None:
    """Until the conductor has recorded the server's host and is done placing it."""
    await harness.settle(server_id, lambda i: i.host is not None)
    await asyncio.wait_for(conductor_of(harness.cloud).builds.drain(), WAIT)


async def _harness(memory_clouds: CloudFactory) -> tuple[CloudHarness, BuildReconciler]:
    harness = await CloudHarness.start(memory_clouds, computes=1)
    reconciler = conductor_of(harness.cloud).reconciler
    reconciler.grace = 0.0
    return harness, reconciler


def _worker_tasks(harness: CloudHarness, host: str) -> list[asyncio.Task[None]]:
    compute = harness.compute(host)
    [service] = [s for s in harness.cloud.services if s.manager is compute]
    return list(service.worker._tasks)


async def _in_flight(harness: CloudHarness, host: str) -> None:
    """Until the requests the host is handling now have returned."""
    await asyncio.gather(*_worker_tasks(harness, host))


async def _kill_handlers(harness: CloudHarness, host: str) -> None:
    """Cancel the host's running requests where they stand, as a crash would."""
    doomed = _worker_tasks(harness, host)
    for task in doomed:
        task.cancel()
    await asyncio.gather(*doomed, return_exceptions=True)


async def test_a_build_whose_cast_never_reached_its_host_is_sent_again(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Placed on a host that never got its cast: the cast goes again, the server goes ACTIVE.

    The lost cast, delivered late after all, finds the build moved on and is dropped.
    """
    harness, reconciler = await _harness(memory_clouds)
    casts = conductor_of(harness.cloud).builds.compute  # the reconciler casts through it too
    send = casts.build_and_run_instance
    lost: list[tuple[Any, ...]] = []
    dropped = asyncio.Event()

    async def lose_the_first(*args: Any) -> None:
        if not lost:
            lost.append(args)
            dropped.set()
            return
        await send(*args)

    monkeypatch.setattr(casts, "build_and_run_instance", lose_the_first)
    with capture_logs() as events:
        server_id = await _create(harness)
        await asyncio.wait_for(dropped.wait(), WAIT)
        await _placed(harness, server_id)

        assert await reconciler.reconcile(harness.ctx) == 1  # sent again, and watched

        await harness.wait(server_id, "ACTIVE")
        await send(*lost[0])  # the lost cast arrives after all
        await harness.tap.wait_event(server_id, "instance.create.end")
        await asyncio.wait_for(_in_flight(harness, "compute1"), WAIT)
    assert [e["instance_uuid"] for e in events_named(events, "compute.build.stale")] == [server_id]
    assert len(harness.tap.about(server_id, "instance.create.start")) == 1
    await harness.assert_audit_clean()


async def test_a_build_cast_reaching_a_host_it_was_not_placed_on_takes_nothing_there(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of a build's cast at another host (a placement gone stale) is dropped: that
    host's first save is conditional on the record naming it, so it claims, allocates
    and announces nothing, and the build goes on where it was placed."""
    harness = await CloudHarness.start(memory_clouds, computes=2)
    reconciler = conductor_of(harness.cloud).reconciler
    reconciler.grace = 0.0
    casts = conductor_of(harness.cloud).builds.compute
    send = casts.build_and_run_instance
    lost: list[tuple[Any, ...]] = []
    dropped = asyncio.Event()

    async def lose_the_first(*args: Any) -> None:
        if not lost:
            lost.append(args)
            dropped.set()
            return
        await send(*args)

    monkeypatch.setattr(casts, "build_and_run_instance", lose_the_first)
    with capture_logs() as events:
        server_id = await _create(harness)
        await asyncio.wait_for(dropped.wait(), WAIT)
        await _placed(harness, server_id)
        ctx, placed_on, *rest = lost[0]
        elsewhere = "compute2" if placed_on == "compute1" else "compute1"
        await send(ctx, elsewhere, *rest)
        await asyncio.wait_for(_in_flight(harness, elsewhere), WAIT)

        record = await harness.instance(server_id)
        assert (record.task_state, record.host) == (task_states.SCHEDULING, placed_on)
        assert server_id not in harness.compute(elsewhere).tracker.instances
        assert await harness.cloud.api.network.list_ports(ctx, device_id=server_id) == []
        assert harness.tap.about(server_id, "instance.create.start") == []

        assert await reconciler.reconcile(harness.ctx) == 1  # the cast goes again, home
        await harness.wait(server_id, "ACTIVE")
    assert [e["instance_uuid"] for e in events_named(events, "compute.build.stale")] == [server_id]
    starts = harness.tap.about(server_id, "instance.create.start")
    assert [n.publisher_id for n in starts] == [f"compute.{placed_on}"]
    await harness.assert_audit_clean()


async def test_a_build_whose_host_handler_died_ends_in_error_with_its_resources_back(
    memory_clouds: CloudFactory,
) -> None:
    """Spawning when the host's handler died: ERROR with a fault, claim, ports, entry freed."""
    harness, reconciler = await _harness(memory_clouds)
    with harness.faults().hold("spawn") as spawning:
        server_id = await _create(harness)
        await spawning.wait_reached()
        await _kill_handlers(harness, "compute1")
    assert (await harness.instance(server_id)).task_state == task_states.SPAWNING

    assert await reconciler.reconcile(harness.ctx) == 0

    failed = await harness.admin.servers.wait_for(server_id, "ERROR", timeout=WAIT)
    assert failed.fault is not None and "stopped building it" in failed.fault.message
    await harness.assert_nothing_leaked(server_id)
    await harness.assert_audit_clean()


async def test_a_build_nobody_placed_ends_in_error(memory_clouds: CloudFactory) -> None:
    """Recorded but never sent to be placed (its request lost): ERROR with a fault."""
    harness, reconciler = await _harness(memory_clouds)
    ctx = await harness.admin.context()
    flavor = await harness.cloud.api.conductor.flavor_get(ctx, "m1.tiny")
    orphan = objects.Instance(
        uuid="00000000-0000-4000-8000-00000000000a",
        display_name="orphan",
        project_id=ctx.project_id or "",
        user_id=ctx.user_id or "",
        flavor=flavor,
        image_ref=None,
        vm_state=vm_states.BUILDING,
        task_state=task_states.SCHEDULING,
    )
    await harness.cloud.api.conductor.create_instances(ctx, [orphan])

    assert await reconciler.reconcile(RequestContext.admin()) == 0

    failed = await harness.admin.servers.wait_for(orphan.uuid, "ERROR", timeout=WAIT)
    assert failed.fault is not None and "before it was placed" in failed.fault.message
    await harness.assert_audit_clean()


async def test_a_build_its_host_works_on_is_left_to_it(memory_clouds: CloudFactory) -> None:
    """Held in spawn (the host's lock taken): untouched by a pass, then ACTIVE."""
    harness, reconciler = await _harness(memory_clouds)
    with harness.faults().hold("spawn") as spawning:
        server_id = await _create(harness)
        await spawning.wait_reached()

        assert await reconciler.reconcile(harness.ctx) == 1

        assert (await harness.instance(server_id)).task_state == task_states.SPAWNING
    await harness.wait(server_id, "ACTIVE")
    await harness.assert_audit_clean()


async def test_a_power_action_nothing_works_on_has_its_task_cleared(
    memory_clouds: CloudFactory,
) -> None:
    """A reboot whose cast was lost (task set, host idle): the task is cleared, ACTIVE again."""
    harness, reconciler = await _harness(memory_clouds)
    server_id = await harness.boot()
    conductor = harness.cloud.api.conductor
    await conductor.instance_update(
        harness.ctx, server_id, {"task_state": task_states.REBOOTING}, expected_task_state=[None]
    )

    assert await reconciler.reconcile(harness.ctx) == 0

    await harness.wait(server_id, "ACTIVE")
    await harness.assert_audit_clean()


async def test_a_delete_nothing_works_on_is_sent_again(memory_clouds: CloudFactory) -> None:
    """A delete whose cast was lost (task deleting, host idle): sent again, nothing left."""
    harness, reconciler = await _harness(memory_clouds)
    server_id = await harness.boot()
    conductor = harness.cloud.api.conductor
    await conductor.instance_update(
        harness.ctx, server_id, {"task_state": task_states.DELETING}, expected_task_state=[None]
    )

    assert await reconciler.reconcile(harness.ctx) == 1  # sent again, and watched

    await harness.admin.servers.wait_for(server_id, "DELETED", timeout=WAIT)
    assert await reconciler.reconcile(harness.ctx) == 0
    await harness.assert_nothing_leaked(server_id)
    await harness.assert_audit_clean()
