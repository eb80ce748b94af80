"""The conductor's build admission on its own: slots, order, withdrawal, sweep and lease."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest

from nova_lite import objects
from nova_lite.compute import vm_states
from nova_lite.conductor.admission import BuildAdmission

FLAVOR = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)


def _instance(uuid: str, vm_state: str = vm_states.BUILDING, **values: Any) -> objects.Instance:
    base = objects.Instance(
        uuid=uuid, display_name=uuid, project_id="p", user_id="u", flavor=FLAVOR,
        image_ref=None, vm_state=vm_state,
    )  # fmt: skip
    return attrs.evolve(base, **values)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _settled(*tasks: asyncio.Task[bool]) -> list[bool | None]:
    for _ in range(3):  # let every waiter see what was decided for it (through a shield)
        await asyncio.sleep(0)
    return [task.result() if task.done() else None for task in tasks]


async def test_at_most_limit_builds_run_and_the_rest_wait_in_order() -> None:
    """Past the limit a build waits; each build that ends admits the longest waiting."""
    admission = BuildAdmission(2, lease=600)
    assert await admission.admit("a") and await admission.admit("b")
    c, d = (asyncio.create_task(admission.admit(u)) for u in "cd")
    assert await _settled(c, d) == [None, None]
    assert (admission.running, admission.waiting) == (2, 2)
    admission.saw(_instance("b", vm_states.ACTIVE))
    assert await _settled(c, d) == [True, None]
    admission.saw(_instance("a", vm_states.ERROR))
    assert await _settled(d) == [True]
    assert (admission.running, admission.waiting) == (2, 0)


async def test_a_build_still_building_keeps_its_slot() -> None:
    """A save that leaves the instance BUILDING (a task_state step) frees nothing."""
    admission = BuildAdmission(1, lease=600)
    assert await admission.admit("a")
    waiting = asyncio.create_task(admission.admit("b"))
    admission.saw(_instance("a", task_state="spawning", host="h1"))
    assert await _settled(waiting) == [None]
    admission.saw(_instance("a", vm_states.DELETED, deleted=True))
    assert await _settled(waiting) == [True]


async def test_a_build_deleted_while_it_waits_is_withdrawn() -> None:
    """A waiting build whose instance is deleted is told no, and gives up its place."""
    admission = BuildAdmission(1, lease=600)
    assert await admission.admit("a")
    b, c = (asyncio.create_task(admission.admit(u)) for u in "bc")
    await asyncio.sleep(0)
    admission.saw(_instance("b", vm_states.DELETED, deleted=True))
    assert await _settled(b, c) == [False, None]
    admission.finished("a")
    assert await _settled(c) == [True]


async def test_closing_withdraws_every_waiting_build_and_admits_nothing_more() -> None:
    """At a stop, waiting builds are withdrawn (and named); new ones are refused."""
    admission = BuildAdmission(1, lease=600)
    assert await admission.admit("a")
    b, c = (asyncio.create_task(admission.admit(u)) for u in "bc")
    await asyncio.sleep(0)
    assert admission.close() == ["b", "c"]
    assert await _settled(b, c) == [False, False]
    assert not await admission.admit("d")


async def test_a_second_cast_for_an_admitted_build_has_its_slot_at_once() -> None:
    """The same instance admitted twice holds one slot."""
    admission = BuildAdmission(1, lease=600)
    assert await admission.admit("a") and await admission.admit("a")
    assert admission.running == 1


async def test_no_limit_admits_everything_at_once() -> None:
    """A limit of 0 is no limit."""
    admission = BuildAdmission(0, lease=600)
    assert all([await admission.admit(str(n)) for n in range(1000)])


async def test_waiting_builds_are_admitted_a_chunk_at_a_time() -> None:
    """With a chunk of 2, one freed slot admits nobody, the second admits two together;
    fewer waiting than a chunk go in as soon as there is room for them all."""
    admission = BuildAdmission(4, lease=600, chunk=2)
    assert all([await admission.admit(n) for n in "abcd"])
    e, f, g = (asyncio.create_task(admission.admit(n)) for n in "efg")
    assert await _settled(e, f, g) == [None, None, None]
    admission.finished("a")
    assert await _settled(e, f, g) == [None, None, None]
    admission.finished("b")
    assert await _settled(e, f, g) == [True, True, None]
    assert (admission.running, admission.waiting) == (4, 1)
    admission.finished("c")
    assert await _settled(g) == [True]  # one waits: one free slot is its chunk
    late = BuildAdmission(2, lease=600, chunk=2)
    assert await late.admit("x") and await late.admit("y")
    z = asyncio.create_task(late.admit("z"))
    late.finished("x")
    assert await _settled(z) == [True]  # fewer wait than a chunk: no holding back


async def test_a_cancelled_wait_gives_up_its_place() -> None:
    """A waiter cancelled (its conductor stopping hard) leaves the line."""
    admission = BuildAdmission(1, lease=600)
    assert await admission.admit("a")
    waiting = asyncio.create_task(admission.admit("b"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert admission.waiting == 0


async def test_the_sweep_frees_builds_that_ended_elsewhere_and_expired_slots() -> None:
    """Slots held a while are checked against the records; none outlives its lease."""
    clock = Clock()
    admission = BuildAdmission(3, lease=600, clock=clock)
    for uuid in "abc":
        assert await admission.admit(uuid)
    records = {
        "a": _instance("a", vm_states.ACTIVE),  # ended through another conductor
        "b": _instance("b", task_state="spawning"),  # still building
    }  # "c": no record at all
    read_uuids: list[str] = []

    async def read(uuid: str) -> objects.Instance | None:
        read_uuids.append(uuid)
        return records.get(uuid)

    await admission.sweep(read, older_than=10)
    assert admission.running == 3 and read_uuids == []  # none held 10 s yet
    clock.now = 11
    await admission.sweep(read, older_than=10)
    assert admission.running == 1 and read_uuids == ["a", "b", "c"]
    clock.now = 601
    await admission.sweep(read, older_than=10)
    assert admission.running == 0  # b's slot outlived its lease


def test_a_negative_limit_is_refused() -> None:
    """The limit is 0 (none) or a count of builds."""
    with pytest.raises(ValueError, match="limit"):
        BuildAdmission(-1, lease=600)
