"""A server's delete: what its host is sent, what it reads, and what is left after.

The API marks the server ``deleting`` and casts the record it has just saved to
the host (compute 1.1, as Nova's ``terminate_instance`` carries the instance), so
the host does not read it again; the host's teardown asks the volume service only
for the server's own volumes (volume 1.1, ``list(attached_to=...)``). These tests
hold each of those shortcuts to the books: no guest, port, claim or attachment
left, the audit clean, one ``instance.delete.end`` however often a delete is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.compute import task_states
from nova_lite.compute.build import InstanceBuilder
from nova_lite.testing import CloudFactory, CloudHarness

QUIET = 0.2  # seconds for a notification that should not come (in-memory broker)


@pytest.fixture
async def world(clouds: CloudFactory) -> CloudHarness:
    """Two fake hosts on the parametrized broker."""
    return await CloudHarness.start(clouds)


@pytest.fixture
async def memory_world(memory_clouds: CloudFactory) -> CloudHarness:
    """`world` on the in-memory broker only (the tests that drive a host's endpoint)."""
    return await CloudHarness.start(memory_clouds)


@contextmanager
def reads_of(builder: InstanceBuilder, uuid: str) -> Iterator[list[str]]:
    """The host's conductor reads of instance `uuid` while the block runs."""
    conductor = builder.conductor
    original = conductor.instance_get
    reads: list[str] = []

    async def counted(ctx: Any, instance_uuid: str, **kwargs: Any) -> objects.Instance:
        if instance_uuid == uuid:
            reads.append(instance_uuid)
        return await original(ctx, instance_uuid, **kwargs)

    conductor.instance_get = counted  # type: ignore[method-assign]
    try:
        yield reads
    finally:
        del conductor.instance_get  # the class's method again


def builder_of(world: CloudHarness, instance: objects.Instance) -> InstanceBuilder:
    return world.compute(instance.host).builder


async def test_a_delete_casts_its_record_and_the_host_reads_it_not_again(
    world: CloudHarness,
) -> None:
    """A server with a volume: its host tears it down from the cast's record (no read),
    the volume is detached and kept, and nothing of the server is left."""
    sid = await world.boot()
    volume = await world.new_volume()
    instance = await world.attach(sid, volume)
    with reads_of(builder_of(world, instance), sid) as reads:
        await world.delete(sid)  # checks guests, ports, claims, usage and the audit
    assert reads == []
    kept = await world.cloud.api.volume.get(world.ctx, volume)
    assert (kept.status, kept.attached_to) == ("available", None)
    assert await world.cloud.api.volume.list(world.ctx, attached_to=sid) == []
    assert world.tap.event_types(sid).count("instance.delete.end") == 1


async def test_a_terminate_without_the_record_reads_it(memory_world: CloudHarness) -> None:
    """A 1.0 terminate (the uuid alone: the conductor's resend after an outage) reads
    the record on the host and tears the server down all the same."""
    world = memory_world
    sid = await world.boot()
    instance = await world.force(sid, task_state=task_states.DELETING)
    with reads_of(builder_of(world, instance), sid) as reads:
        await world.cloud.api.compute.terminate_instance(world.ctx, instance.host or "", sid)
        await world.wait(sid, "DELETED")
    assert reads == [sid]
    await world.assert_nothing_leaked(sid)
    await world.assert_audit_clean()


async def test_a_terminate_sent_twice_with_its_record_ends_once(
    memory_world: CloudHarness,
) -> None:
    """The second terminate of a server (its record now stale) finds it gone at the
    destroy and stops: one ``instance.delete.end``, nothing left, no error."""
    world = memory_world
    sid = await world.boot()
    instance = await world.force(sid, task_state=task_states.DELETING)
    builder = builder_of(world, instance)
    await builder.terminate_instance(world.ctx, sid, instance)
    await builder.terminate_instance(world.ctx, sid, instance)  # as stale as can be
    await world.tap.wait_count(sid, "instance.delete.start", 2)
    await asyncio.sleep(QUIET)
    assert world.tap.event_types(sid).count("instance.delete.end") == 1
    assert (await world.instance(sid)).vm_state == "deleted"
    await world.assert_nothing_leaked(sid)
    await world.assert_audit_clean()


async def test_a_terminate_queued_behind_another_holder_reads_the_record_again(
    memory_world: CloudHarness,
) -> None:
    """While another operation holds the instance on its host, the cast's record may
    be overtaken: the terminate reads the record under the lock instead."""
    world = memory_world
    sid = await world.boot()
    instance = await world.force(sid, task_state=task_states.DELETING)
    builder = builder_of(world, instance)
    with reads_of(builder, sid) as reads:
        async with builder.locks.hold(sid):
            terminate = asyncio.create_task(builder.terminate_instance(world.ctx, sid, instance))
            await asyncio.sleep(0)
            assert not terminate.done()
        await asyncio.wait_for(terminate, 30)
    assert reads == [sid]
    assert (await world.instance(sid)).vm_state == "deleted"
    await world.assert_nothing_leaked(sid)


async def test_a_record_of_another_server_is_not_taken(memory_world: CloudHarness) -> None:
    """A cast whose record is of another uuid is not trusted: the host reads its own."""
    world = memory_world
    first, second = await world.boot(name="a"), await world.boot(name="b")
    other = await world.instance(second)
    instance = await world.force(first, task_state=task_states.DELETING)
    builder = builder_of(world, instance)
    with reads_of(builder, first) as reads:
        await builder.terminate_instance(world.ctx, first, other)
    assert reads == [first]
    assert (await world.instance(first)).vm_state == "deleted"
    assert (await world.instance(second)).vm_state == "active"
    await world.assert_nothing_leaked(first)
