"""A build whose saves' replies the broker lost: ERROR, and nothing of it left anywhere.

A call whose connection drops while it waits for its reply raises `ConnectionLost`
although the request may have been carried out, now or later (a durable queue
delivers it after the broker restarts). A compute host whose build step failed so
gives the build up: it destroys the guest, gives back ports, tracker entry and
claim, and records ERROR. The chaos test found two ways this left the books
disagreeing (both reproduced here on purpose, on the in-memory broker):

- the last save (ACTIVE) landed late, while the conductor handled the host's ERROR
  save, and won: an ACTIVE server with no guest, no ports and no claim;
- the ERROR save's own reply was lost: the host never cleared itself from the
  record, leaving an ERROR server on a host that held nothing for it (or, when the
  save was lost before it was made, a build in ``spawning`` that nothing works on).

A reschedule's hand-back and a delete's last save are sent once more the same way.

Each test checks the server ends in ERROR on no host, with no guest, port, tracker
entry or claim left, and a clean audit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.build import BUILD_EVENT
from nova_lite.conductor.actions import ActionStore
from nova_lite.context import RequestContext
from nova_lite.exceptions import ConnectionLost, HypervisorError, UnexpectedTaskStateError
from nova_lite.testing import CloudFactory, CloudHarness

LOST = "The connection to the broker was lost while waiting for the reply (test)."


def _lose_the_active_save(
    harness: CloudHarness, monkeypatch: pytest.MonkeyPatch
) -> list[Callable[[], Awaitable[objects.Instance]]]:
    """Make compute1's ACTIVE save raise `ConnectionLost` without being sent; the
    returned list gets the save, to send late (or never)."""
    conductor = harness.compute("compute1").builder.conductor
    save = conductor.instance_save
    held: list[Callable[[], Awaitable[objects.Instance]]] = []

    async def reply_lost(
        ctx: RequestContext, instance: objects.Instance, values: dict[str, Any], **kw: Any
    ) -> objects.Instance:
        if values.get("vm_state") == vm_states.ACTIVE and not held:
            held.append(lambda: save(ctx, instance, values, **kw))
            raise ConnectionLost(LOST)
        return await save(ctx, instance, values, **kw)

    monkeypatch.setattr(conductor, "instance_save", reply_lost)
    return held


async def _ends_in_error_with_nothing_left(harness: CloudHarness, server_id: str) -> None:
    server = await harness.admin.servers.wait_for(server_id, "ERROR", timeout=30)
    assert server.status == "ERROR" and server.fault is not None
    assert server.fault.message.startswith("The build was interrupted"), server.fault
    assert "ConnectionLost" in server.fault.message
    instance = await harness.instance(server_id)
    assert (instance.vm_state, instance.task_state, instance.host) == (vm_states.ERROR, None, None)
    await harness.assert_nothing_leaked(server_id)
    await harness.assert_audit_clean()


async def test_a_last_save_landing_while_the_host_gives_the_build_up_loses_to_the_error(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ACTIVE save's reply is lost; the save lands late, while the conductor records
    the build's failure (its event is being written): ERROR wins, nothing is left."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    held = _lose_the_active_save(harness, monkeypatch)
    late: list[asyncio.Future[objects.Instance]] = []
    record = ActionStore.record

    async def landing_meanwhile(
        self: ActionStore, ctx: RequestContext, uuid: str, step: Any
    ) -> None:
        if held and not late and step.get("event") == BUILD_EVENT and "result" in step:
            late.append(asyncio.ensure_future(held[0]()))
            await asyncio.wait(late, timeout=0.5)  # landed, or waiting for this save's write
        await record(self, ctx, uuid, step)

    monkeypatch.setattr(ActionStore, "record", landing_meanwhile)
    [server] = await harness.admin.servers.create("late", flavor="m1.tiny", image="cirros")
    await _ends_in_error_with_nothing_left(harness, server.id)
    [landed] = late
    await asyncio.wait([landed])
    if landed.exception() is None:  # it landed first: the ERROR overruled it
        assert landed.result().vm_state == vm_states.ACTIVE
    else:  # it landed after: its compare-and-swap found the ERROR
        assert isinstance(landed.exception(), UnexpectedTaskStateError)


@pytest.mark.parametrize("carried_out", [True, False], ids=["made", "not-made"])
async def test_a_build_failure_whose_error_save_reply_was_lost_is_recorded_once_more(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch, carried_out: bool
) -> None:
    """The build fails (its ACTIVE save's reply lost), then the ERROR save's reply is
    lost too, the save made or not: the host sends it once more, and the record ends
    in ERROR on no host, as the host's books (nothing held) say."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    _lose_the_active_save(harness, monkeypatch)
    conductor = harness.compute("compute1").builder.conductor
    set_error = conductor.instance_set_error
    calls: list[str] = []

    async def first_reply_lost(ctx: RequestContext, *args: Any, **kw: Any) -> objects.Instance:
        calls.append(args[0])
        if len(calls) == 1:
            if carried_out:
                await set_error(ctx, *args, **kw)
            raise ConnectionLost(LOST)
        return await set_error(ctx, *args, **kw)

    monkeypatch.setattr(conductor, "instance_set_error", first_reply_lost)
    [server] = await harness.admin.servers.create("lost", flavor="m1.tiny", image="cirros")
    await _ends_in_error_with_nothing_left(harness, server.id)
    assert calls == [server.id, server.id]


async def test_a_reschedule_whose_hand_back_reply_was_lost_is_sent_once_more(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first host's spawn fails (a hypervisor error: reschedule), and the save that
    hands the build back (``scheduling``, no host) loses its reply before it is made:
    the host sends it once more, and the other host builds the server."""
    harness = await CloudHarness.start(memory_clouds, computes=2)
    failed: list[str] = []
    lost: list[str] = []
    for compute in harness.computes:
        spawn = compute.driver.spawn

        async def first_fails(*args: Any, _spawn: Any = spawn, _host: str = compute.host) -> None:
            if not failed:
                failed.append(_host)
                raise HypervisorError("The first spawn fails (test).")
            await _spawn(*args)

        monkeypatch.setattr(compute.driver, "spawn", first_fails)
        update = compute.builder.conductor.instance_update

        async def hand_back_lost(
            ctx: RequestContext, uuid: str, values: dict[str, Any], _update: Any = update, **kw: Any
        ) -> objects.Instance:
            if values.get("task_state") == task_states.SCHEDULING and not lost:
                lost.append(uuid)
                raise ConnectionLost(LOST)
            result: objects.Instance = await _update(ctx, uuid, values, **kw)
            return result

        monkeypatch.setattr(compute.builder.conductor, "instance_update", hand_back_lost)

    [server] = await harness.admin.servers.create("again", flavor="m1.tiny", image="cirros")
    instance = await harness.wait(server.id, "ACTIVE")
    assert lost == [server.id] and instance.host not in failed
    assert list(harness.guests(server.id)) == [instance.host]
    await harness.assert_audit_clean()


@pytest.mark.parametrize("carried_out", [True, False], ids=["made", "not-made"])
async def test_a_delete_whose_destroy_reply_was_lost_ends_deleted(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch, carried_out: bool
) -> None:
    """The host tore the server down and its save marking it deleted lost its reply,
    made or not: the host sends it once more, and the server is gone, nothing left."""
    harness = await CloudHarness.start(memory_clouds, computes=1)
    server_id = await harness.boot()
    conductor = harness.compute("compute1").builder.conductor
    destroy = conductor.instance_destroy
    calls: list[str] = []

    async def first_reply_lost(ctx: RequestContext, uuid: str) -> objects.Instance:
        calls.append(uuid)
        if len(calls) == 1:
            if carried_out:
                await destroy(ctx, uuid)
            raise ConnectionLost(LOST)
        return await destroy(ctx, uuid)

    monkeypatch.setattr(conductor, "instance_destroy", first_reply_lost)
    await harness.delete(server_id)  # DELETED, nothing leaked, nothing claimed, audit clean
    assert calls == [server_id, server_id]
