"""The conductor's records, driven over RPC: flavors, quotas, and compare-and-swap saves."""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from nova_lite import objects, paging
from nova_lite.compute import task_states, vm_states
from nova_lite.conductor import instance_changes
from nova_lite.conductor.actions import ActionStore
from nova_lite.conductor.manager import ConductorManager
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    Conflict,
    FlavorNotFound,
    Forbidden,
    InstanceNotFound,
    Invalid,
    MarkerNotFound,
    QuotaExceeded,
    UnexpectedDeletingTaskStateError,
    UnexpectedTaskStateError,
    UnsupportedVersion,
)
from nova_lite.rpc import Invoker, Target
from nova_lite.service import Service
from nova_lite.testing import TransportFactory

ADMIN = RequestContext.admin(user_id="admin", project_id="admin")
ALICE = RequestContext(user_id="alice", project_id="p-alice", roles=("member",))
TINY = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)
MEDIUM = objects.Flavor(flavorid="3", name="m1.medium", vcpus=2, memory_mb=4096, root_gb=40)


@pytest.fixture
async def api(broker: TransportFactory, tmp_path: Path) -> AsyncIterator[ConductorAPI]:
    """A conductor on host c1 and the ConductorAPI that reaches it."""
    transport = await broker.connect()
    config = Config.load(
        environ={},
        state_path=str(tmp_path),
        rpc={**broker.rpc_options(), "timeout": 15},
        quota={"instances": 3, "cores": 4, "ram": 8192},
    )
    async with Service(ConductorManager(config, transport, "c1"), serializer=objects.serializer()):
        yield ConductorAPI(transport, config)


def instance(
    flavor: objects.Flavor = TINY, project_id: str = "p-alice", **values: Any
) -> objects.Instance:
    """A new instance record in BUILD/scheduling."""
    defaults: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "display_name": "web",
        "user_id": "alice",
        "image_ref": None,
        "vm_state": vm_states.BUILDING,
        "task_state": task_states.SCHEDULING,
    }
    return objects.Instance(flavor=flavor, project_id=project_id, **{**defaults, **values})


# -- flavors ---------------------------------------------------------------------


async def test_a_flavor_is_found_by_id_or_by_name(api: ConductorAPI) -> None:
    """flavor_get accepts a flavor id or a name, and an id wins over another flavor's equal name."""
    await api.flavor_create(ADMIN, TINY)
    odd = objects.Flavor(flavorid="7", name="1", vcpus=2, memory_mb=1024, root_gb=10)
    await api.flavor_create(ADMIN, odd)

    assert await api.flavor_get(ALICE, "m1.tiny") == TINY
    assert await api.flavor_get(ALICE, "1") == TINY
    assert await api.flavor_get(ALICE, "7") == odd
    assert [f.flavorid for f in await api.flavor_list(ALICE)] == ["1", "7"]
    with pytest.raises(FlavorNotFound):
        await api.flavor_get(ALICE, "m1.huge")


async def test_only_admins_create_flavors_and_names_are_unique(api: ConductorAPI) -> None:
    """A member may not create flavors; a second flavor with a taken id or name is a Conflict
    (409, Nova's FlavorExists)."""
    with pytest.raises(Forbidden):
        await api.flavor_create(ALICE, TINY)
    await api.flavor_create(ADMIN, TINY)

    with pytest.raises(Conflict, match="already exists"):
        await api.flavor_create(
            ADMIN, objects.Flavor(flavorid="9", name="m1.tiny", vcpus=1, memory_mb=1, root_gb=1)
        )
    with pytest.raises(Conflict, match="already exists"):
        await api.flavor_create(
            ADMIN, objects.Flavor(flavorid="1", name="other", vcpus=1, memory_mb=1, root_gb=1)
        )


# -- quotas ----------------------------------------------------------------------


async def test_quota_usage_counts_live_instances(api: ConductorAPI) -> None:
    """Usage sums the instances, cores and RAM of a project's undeleted instances only."""
    first, second = instance(), instance(MEDIUM)
    await api.create_instances(ALICE, [first, second])
    await api.create_instances(ADMIN, [instance(project_id="p-other")])

    quota = await api.quota_get(ALICE, "p-alice")
    assert _counted(quota["usage"]) == {"instances": 2, "cores": 3, "ram": 4608}
    assert _counted(quota["limits"]) == {"instances": 3, "cores": 4, "ram": 8192}

    await api.instance_destroy(ADMIN, first.uuid)
    usage = (await api.quota_get(ALICE, "p-alice"))["usage"]
    assert _counted(usage) == {"instances": 1, "cores": 2, "ram": 4096}


def _counted(values: dict[str, int]) -> dict[str, int]:
    return {k: values[k] for k in ("instances", "cores", "ram")}


async def test_a_batch_over_quota_records_none_of_it(api: ConductorAPI) -> None:
    """A create exceeding any quota raises QuotaExceeded and records none of its instances."""
    await api.create_instances(ALICE, [instance()])

    with pytest.raises(QuotaExceeded, match="instances"):
        await api.create_instances(ALICE, [instance() for _ in range(3)])
    with pytest.raises(QuotaExceeded, match="cores"):
        await api.create_instances(ALICE, [instance(MEDIUM), instance(MEDIUM)])

    assert len(await api.instance_get_all(ALICE, project_id="p-alice")) == 1


async def test_an_instance_uuid_already_taken_or_given_twice_is_a_conflict(
    api: ConductorAPI,
) -> None:
    """A uuid in use (even by a deleted instance) or twice in a batch: Conflict, none recorded."""
    kept, gone = instance(), instance()
    await api.create_instances(ALICE, [kept, gone])
    await api.instance_destroy(ADMIN, gone.uuid)
    fresh = instance()

    for taken in (kept, gone):
        with pytest.raises(Conflict, match=f"uuid '{taken.uuid}' already exists"):
            await api.create_instances(ALICE, [fresh, instance(uuid=taken.uuid)])
    with pytest.raises(Conflict, match=f"uuid '{fresh.uuid}' is given twice"):
        await api.create_instances(ALICE, [fresh, instance(uuid=fresh.uuid)])

    assert [i.uuid for i in await api.instance_get_all(ALICE, project_id="p-alice")] == [kept.uuid]


async def test_the_same_instances_again_are_the_create_they_made(api: ConductorAPI) -> None:
    """A batch recorded already (a retried create) returns its records; nothing is added."""
    first, second = instance(), instance()
    made = await api.create_instances(ALICE, [first, second])
    await api.instance_update(ALICE, first.uuid, {"host": "h1"})

    again = await api.create_instances(ALICE, [instance(uuid=first.uuid), second])

    assert [i.uuid for i in again] == [i.uuid for i in made]
    assert again[0].host == "h1"  # as recorded now, not as asked again
    quota = await api.quota_get(ALICE, "p-alice")
    assert quota["usage"]["instances"] == 2
    await api.instance_destroy(ADMIN, second.uuid)
    with pytest.raises(Conflict, match="already exists") as refused:
        await api.create_instances(ALICE, [first, second])  # deleted since: not a retry
    assert str(refused.value).split("'")[1] in {first.uuid, second.uuid}  # both are taken


async def test_a_quota_set_by_an_admin_replaces_the_default(api: ConductorAPI) -> None:
    """quota_set changes one project's limit (-1 is unlimited); members may neither set
    quotas nor read another project's."""
    await api.quota_set(ADMIN, "p-alice", "instances", -1)
    await api.quota_set(ADMIN, "p-alice", "cores", -1)
    await api.quota_set(ADMIN, "p-alice", "ram", 10**6)

    await api.create_instances(ALICE, [instance() for _ in range(5)])

    assert (await api.quota_get(ALICE, "p-alice"))["limits"]["ram"] == 10**6
    assert (await api.quota_get(ADMIN, "p-other"))["limits"]["instances"] == 3
    with pytest.raises(Forbidden):
        await api.quota_get(ALICE, "p-other")
    with pytest.raises(Forbidden):
        await api.quota_set(ALICE, "p-alice", "instances", 100)


@pytest.mark.parametrize(
    ("resource", "limit"), [("disks", 3), ("instances", "lots"), ("instances", -2), ("cores", 1.5)]
)
async def test_a_bad_quota_is_invalid(api: ConductorAPI, resource: str, limit: Any) -> None:
    """An unknown resource, or a limit that is not an integer of at least -1, is Invalid."""
    with pytest.raises(Invalid, match=resource if resource == "disks" else "limit"):
        await api.quota_set(ADMIN, "p-alice", resource, limit)


async def test_concurrent_creates_never_exceed_the_quota(api: ConductorAPI) -> None:
    """Many creates racing for the last quota slots record exactly the quota's worth."""
    results = await asyncio.gather(
        *(api.create_instances(ALICE, [instance()]) for _ in range(12)), return_exceptions=True
    )

    assert sum(isinstance(r, list) for r in results) == 3
    assert all(isinstance(r, list | QuotaExceeded) for r in results)
    assert len(await api.instance_get_all(ALICE, project_id="p-alice")) == 3


# -- compare-and-swap saves ----------------------------------------------------------


async def test_an_update_applies_when_the_task_state_is_as_expected(api: ConductorAPI) -> None:
    """A save expecting the current task_state applies its values and returns the new record."""
    [record] = await api.create_instances(ALICE, [instance()])

    updated = await api.instance_update(
        ALICE,
        record.uuid,
        {"task_state": task_states.NETWORKING, "host": "compute1"},
        expected_task_state=[task_states.SCHEDULING],
    )

    assert (updated.task_state, updated.host) == (task_states.NETWORKING, "compute1")
    assert await api.instance_get(ALICE, record.uuid) == updated


async def test_an_update_expecting_another_task_state_is_refused(api: ConductorAPI) -> None:
    """A save whose expected task_state or vm_state does not match raises UnexpectedTaskStateError
    and changes nothing.
    """
    [record] = await api.create_instances(ALICE, [instance()])

    with pytest.raises(UnexpectedTaskStateError, match="scheduling") as caught:
        await api.instance_update(
            ALICE,
            record.uuid,
            {"task_state": task_states.BLOCK_DEVICE_MAPPING},
            expected_task_state=[task_states.NETWORKING],
        )
    assert not isinstance(caught.value, UnexpectedDeletingTaskStateError)
    with pytest.raises(UnexpectedTaskStateError):
        await api.instance_update(
            ALICE, record.uuid, {"host": "h"}, expected_vm_state=[vm_states.ACTIVE]
        )

    assert await api.instance_get(ALICE, record.uuid) == record


async def test_an_update_during_a_delete_raises_the_deleting_error(api: ConductorAPI) -> None:
    """Once a delete set task_state deleting, a build's save fails with
    UnexpectedDeletingTaskStateError.
    """
    [record] = await api.create_instances(ALICE, [instance()])
    await api.instance_update(ALICE, record.uuid, {"task_state": task_states.DELETING})

    with pytest.raises(UnexpectedDeletingTaskStateError):
        await api.instance_update(
            ALICE,
            record.uuid,
            {"task_state": task_states.NETWORKING},
            expected_task_state=[task_states.SCHEDULING],
        )

    assert (await api.instance_get(ALICE, record.uuid)).task_state == task_states.DELETING


async def test_an_update_may_expect_no_task_state(api: ConductorAPI) -> None:
    """An expected task_state of None matches an instance with nothing in progress."""
    [record] = await api.create_instances(ALICE, [instance(task_state=None)])

    updated = await api.instance_update(
        ALICE, record.uuid, {"task_state": task_states.REBOOTING}, expected_task_state=[None]
    )

    assert updated.task_state == task_states.REBOOTING


async def test_concurrent_saves_expecting_one_state_let_only_one_win(api: ConductorAPI) -> None:
    """Of many saves racing from the same expected task_state, exactly one applies."""
    [record] = await api.create_instances(ALICE, [instance()])

    results = await asyncio.gather(
        *(
            api.instance_update(
                ALICE,
                record.uuid,
                {"task_state": task_states.NETWORKING, "host": f"h{i}"},
                expected_task_state=[task_states.SCHEDULING],
            )
            for i in range(10)
        ),
        return_exceptions=True,
    )

    winners = [r for r in results if isinstance(r, objects.Instance)]
    assert len(winners) == 1
    assert all(isinstance(r, UnexpectedTaskStateError) for r in results if r not in winners)
    assert (await api.instance_get(ALICE, record.uuid)).host == winners[0].host


async def test_a_save_and_its_event_are_committed_when_it_returns(
    api: ConductorAPI, tmp_path: Path
) -> None:
    """A save carrying an event returns once both are committed (another connection
    sees them); a save refused for a stale task_state records no event and changes
    nothing; the event of a save that ends the build closes it."""
    [record] = await api.create_instances(ALICE, [instance()])
    await api.actions_start(ALICE, [record.uuid], "create")
    event: dict[str, str | None] = {
        "event": "compute__do_build_and_run_instance",
        "host": "compute1",
    }

    await api.instance_update(
        ALICE, record.uuid, {"task_state": task_states.NETWORKING},
        expected_task_state=[task_states.SCHEDULING], event=event,
    )  # fmt: skip
    with sqlite3.connect(tmp_path / "conductor.sqlite") as other:
        assert other.execute(
            "SELECT task_state FROM instances WHERE uuid = ?", (record.uuid,)
        ).fetchall() == [(task_states.NETWORKING,)]
        assert other.execute("SELECT event, host FROM instance_action_events").fetchall() == [
            ("compute__do_build_and_run_instance", "compute1")
        ]
    with pytest.raises(UnexpectedTaskStateError):
        await api.instance_update(
            ALICE, record.uuid, {"task_state": task_states.NETWORKING},
            expected_task_state=[task_states.SCHEDULING], event={**event, "host": "compute2"},
        )  # fmt: skip
    (action,) = await api.actions_list(ALICE, record.uuid)
    assert [(e.host, e.finish_time) for e in action.events] == [("compute1", None)]

    done = await api.instance_update(
        ALICE, record.uuid,
        {"vm_state": vm_states.ACTIVE, "task_state": None, "launched_at": objects.utcnow()},
        expected_task_state=[task_states.NETWORKING],
        event={"event": "compute__do_build_and_run_instance", "result": "Success"},
    )  # fmt: skip
    assert await api.instance_get(ALICE, record.uuid) == done
    (action,) = await api.actions_list(ALICE, record.uuid)
    assert [e.result for e in action.events] == ["Success"]
    assert action.finish_time is not None


async def test_a_save_of_the_record_its_caller_holds_is_answered_without_it(
    api: ConductorAPI,
) -> None:
    """instance_save (1.2): when nobody wrote the record since the caller had it, the
    reply is the new updated_at only, and the record the caller makes from it equals
    the stored one, every field included; when someone did (a metadata edit between
    two build steps), the reply is the whole record, their change in it; a save from
    a stale task_state is still refused."""
    [record] = await api.create_instances(ALICE, [instance()])
    held = await api.instance_update(
        ALICE, record.uuid, {"task_state": task_states.NETWORKING, "host": "h1"},
        expected_task_state=[task_states.SCHEDULING],
    )  # fmt: skip
    addresses = [
        {"network_id": "n1", "port_id": "p1", "mac": "fa:16:3e:00:00:01", "addr": "10.0.0.3"}
    ]
    assert held.updated_at is not None
    reply = await api.invoker.prepare(version="1.2").call(
        ALICE, "instance_save", instance_uuid=record.uuid,
        values={"task_state": task_states.SPAWNING, "addresses": addresses},
        known_updated_at=held.updated_at.isoformat(),
        expected_task_state=[task_states.NETWORKING],
    )  # fmt: skip
    assert set(reply) == {"updated_at"}
    stored = await api.instance_get(ALICE, record.uuid)
    assert stored.updated_at is not None and reply["updated_at"] == stored.updated_at.isoformat()
    assert stored.addresses == tuple(addresses)

    done = await api.instance_save(
        ALICE, stored,
        {"vm_state": vm_states.ACTIVE, "task_state": None, "launched_at": objects.utcnow()},
        expected_task_state=[task_states.SPAWNING],
    )  # fmt: skip
    assert done == await api.instance_get(ALICE, record.uuid)
    assert done.vm_state == vm_states.ACTIVE and done.addresses == tuple(addresses)

    # Another writer between: the caller's copy is stale, so the record comes back.
    await api.instance_edit_metadata(ALICE, record.uuid, {"role": "web"}, [])
    later = await api.instance_save(
        ALICE, done, {"task_state": task_states.REBOOTING}, expected_task_state=[None]
    )
    assert later == await api.instance_get(ALICE, record.uuid)
    assert later.metadata == {"role": "web"} and later.task_state == task_states.REBOOTING
    with pytest.raises(UnexpectedTaskStateError):
        await api.instance_save(
            ALICE, later, {"task_state": task_states.SPAWNING}, expected_task_state=[None]
        )
    assert await api.instance_get(ALICE, record.uuid) == later


async def test_writes_at_one_instant_still_tell_a_held_record_is_stale(
    api: ConductorAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the clock standing still (a simulation's virtual clock while tasks run, or
    a coarse system clock), every write still moves the record's updated_at on: a
    save from a copy held before another writer's edit gets the whole record back,
    that edit in it, not a short reply that would leave the caller's copy stale."""
    instant = objects.utcnow()
    monkeypatch.setattr("nova_lite.clock.now", lambda: instant)
    [record] = await api.create_instances(ALICE, [instance()])
    held = await api.instance_update(
        ALICE, record.uuid, {"task_state": task_states.NETWORKING, "host": "h1"},
        expected_task_state=[task_states.SCHEDULING],
    )  # fmt: skip
    await api.instance_edit_metadata(ALICE, record.uuid, {"role": "web"}, [])
    saved = await api.instance_save(
        ALICE, held, {"task_state": task_states.SPAWNING},
        expected_task_state=[task_states.NETWORKING],
    )  # fmt: skip
    stored = await api.instance_get(ALICE, record.uuid)
    assert saved == stored
    assert saved.metadata == {"role": "web"} and saved.task_state == task_states.SPAWNING
    assert held.updated_at is not None and stored.updated_at is not None
    assert stored.updated_at > held.updated_at >= instant


def _counting(
    api: ConductorAPI, version_cap: str | None, monkeypatch: pytest.MonkeyPatch
) -> tuple[ConductorAPI, list[str]]:
    """A client of `api`'s conductor (capped at `version_cap`), and the methods every
    Invoker calls from now on (a prepared Invoker is another object: the class counts)."""
    client = ConductorAPI.__new__(ConductorAPI)
    client.invoker = Invoker(
        api.invoker.transport, api.invoker.target, version_cap=version_cap,
        serializer=objects.serializer(),
    )  # fmt: skip
    sent: list[str] = []
    call = Invoker.call

    async def counted(self: Invoker, ctx: RequestContext, method: str, **kwargs: Any) -> Any:
        sent.append(method)
        return await call(self, ctx, method, **kwargs)

    monkeypatch.setattr(Invoker, "call", counted)
    return client, sent


async def test_a_save_under_a_version_cap_below_1_2_is_an_instance_update(
    api: ConductorAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller capped below 1.2 (its conductors not yet upgraded) sends no
    instance_save: the save is an instance_update (1.0), answered with the record."""
    [record] = await api.create_instances(ALICE, [instance()])
    capped, sent = _counting(api, "1.1", monkeypatch)
    saved = await capped.instance_save(
        ALICE, record, {"task_state": task_states.NETWORKING},
        expected_task_state=[task_states.SCHEDULING],
    )  # fmt: skip
    assert sent == ["instance_update"]
    assert saved == await api.instance_get(ALICE, record.uuid)
    assert saved.task_state == task_states.NETWORKING


@pytest.mark.parametrize("version_cap", [None, "1.3"])
async def test_an_update_records_the_action_it_starts_only_if_it_is_made(
    api: ConductorAPI, version_cap: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """instance_update's `action` (1.4): the action the request starts is recorded with
    the save, in the one call; a compare-and-swap that fails records none. Capped
    below 1.4 (conductors not yet upgraded) it is the update, then action_start."""
    [record] = await api.create_instances(ALICE, [instance()])
    client, sent = _counting(api, version_cap, monkeypatch)
    ctx = RequestContext(user_id="alice", project_id="p-alice", request_id="req-stop-1")
    with pytest.raises(UnexpectedTaskStateError):
        await client.instance_update(
            ctx, record.uuid, {"task_state": task_states.POWERING_OFF},
            expected_task_state=[None], action="stop",
        )  # fmt: skip
    assert await api.actions_list(ALICE, record.uuid) == []
    saved = await client.instance_update(
        ctx, record.uuid, {"task_state": task_states.DELETING}, action="delete"
    )
    assert saved.task_state == task_states.DELETING
    expected = ["instance_update"] if version_cap is None else ["instance_update", "action_start"]
    assert sent == ["instance_update", "actions_list", *expected]
    (action,) = await api.actions_list(ALICE, record.uuid)
    assert (action.action, action.request_id, action.user_id) == ("delete", "req-stop-1", "alice")


def test_a_save_makes_the_record_evolve_would() -> None:
    """The store's copy of a record with changed fields equals `attrs.evolve`'s, every
    field included, and refuses a field the record does not have."""
    record = instance(addresses=({"addr": "10.0.0.2"},), metadata={"k": "v"})
    changes: dict[str, Any] = {"task_state": None, "launched_at": objects.utcnow(), "host": "h1"}
    made = instance_changes.evolve(record, dict(changes))
    assert made == attrs.evolve(record, **changes)
    assert type(made) is objects.Instance and made.metadata is record.metadata
    with pytest.raises(TypeError, match="nope"):
        instance_changes.evolve(record, {"nope": 1})


async def test_an_update_of_an_unknown_field_or_value_is_invalid(api: ConductorAPI) -> None:
    """Fields that may not change, and values of the wrong type, are Invalid."""
    [record] = await api.create_instances(ALICE, [instance()])

    with pytest.raises(Invalid, match="project_id"):
        await api.instance_update(ALICE, record.uuid, {"project_id": "p-bob"})
    with pytest.raises(Invalid):
        await api.instance_update(ALICE, record.uuid, {"power_state": "on"})

    assert await api.instance_get(ALICE, record.uuid) == record


async def test_a_destroyed_instance_is_gone_but_readable_as_deleted(api: ConductorAPI) -> None:
    """After destroy, reads and saves find no instance unless they ask for deleted ones."""
    [record] = await api.create_instances(ALICE, [instance()])

    await api.instance_destroy(ALICE, record.uuid)

    with pytest.raises(InstanceNotFound):
        await api.instance_get(ALICE, record.uuid)
    with pytest.raises(InstanceNotFound):
        await api.instance_update(ALICE, record.uuid, {"host": "h"})
    deleted = await api.instance_get(ALICE, record.uuid, read_deleted=True)
    assert (deleted.vm_state, deleted.deleted) == (vm_states.DELETED, True)
    assert await api.instance_get_all(ALICE, project_id="p-alice") == []


async def test_the_indexed_columns_follow_every_save_of_the_record(
    api: ConductorAPI, tmp_path: Path
) -> None:
    """A save sets only the columns that changed: each still holds the record's value after it.

    The listings by host, project, state and deletion read the columns, not the data;
    a save that left one stale would hide a server from them or show a deleted one.
    """
    [record] = await api.create_instances(ALICE, [instance()])
    [other] = await api.create_instances(ALICE, [instance()])

    def columns(uuid: str) -> tuple[Any, ...]:
        with sqlite3.connect(tmp_path / "conductor.sqlite") as db:
            row = db.execute(
                "SELECT host, vm_state, task_state, vcpus, memory_mb, deleted FROM instances "
                "WHERE uuid = ?",
                (uuid,),
            ).fetchone()
        assert row is not None
        return tuple(row)

    def of(record: objects.Instance) -> tuple[Any, ...]:
        flavor = record.flavor
        return (
            record.host,
            record.vm_state,
            record.task_state,
            flavor.vcpus,
            flavor.memory_mb,
            int(record.deleted),
        )

    saves: list[dict[str, Any]] = [
        {"task_state": task_states.NETWORKING},
        {"host": "compute1", "task_state": task_states.SPAWNING},
        {"vm_state": vm_states.ACTIVE, "task_state": None},
        {"flavor": MEDIUM},
        {"host": None},
        {"display_name": "renamed"},
    ]
    for values in saves:
        updated = await api.instance_update(ALICE, record.uuid, values)
        assert columns(record.uuid) == of(updated), values
    assert columns(other.uuid) == of(other)  # a save touches its own row only
    deleted = await api.instance_destroy(ALICE, record.uuid)
    assert columns(record.uuid) == of(deleted) == (None, "deleted", None, 2, 4096, 1)
    assert [i.uuid for i in await api.instance_get_all(ALICE, host="compute1")] == []


async def test_set_error_records_a_fault_unless_the_instance_is_being_deleted(
    api: ConductorAPI,
) -> None:
    """instance_set_error puts a building instance in ERROR with its fault, but leaves a deleting
    one alone.
    """
    building, deleting = await api.create_instances(ALICE, [instance(), instance()])
    await api.instance_update(ALICE, deleting.uuid, {"task_state": task_states.DELETING})
    fault = objects.InstanceFault(code=500, message="No valid host was found.")

    failed = await api.instance_set_error(ALICE, building.uuid, fault)
    untouched = await api.instance_set_error(ALICE, deleting.uuid, fault)

    assert (failed.vm_state, failed.task_state, failed.fault) == (vm_states.ERROR, None, fault)
    assert (untouched.vm_state, untouched.task_state) == (vm_states.BUILDING, task_states.DELETING)


@pytest.mark.parametrize("version_cap", [None, "1.4"])
async def test_set_error_clears_the_host_that_released_the_instance_in_the_same_save(
    api: ConductorAPI, version_cap: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """instance_set_error's `released_host` (1.5): the host that gave back everything the
    instance held there comes off the record with the ERROR, in the one call, and only
    if the record still names it. Capped below 1.5 (conductors not yet upgraded) it is
    the set_error, then an update clearing the host."""
    here, elsewhere = await api.create_instances(ALICE, [instance(), instance()])
    for record in (here, elsewhere):
        await api.instance_update(ALICE, record.uuid, {"host": "compute1", "node": "compute1"})
    await api.instance_update(ALICE, elsewhere.uuid, {"host": "compute2", "node": "compute2"})
    client, sent = _counting(api, version_cap, monkeypatch)
    fault = objects.InstanceFault(code=500, message="spawn failed")

    failed = await client.instance_set_error(ALICE, here.uuid, fault, released_host="compute1")
    kept = await client.instance_set_error(ALICE, elsewhere.uuid, fault, released_host="compute1")

    assert (failed.vm_state, failed.task_state, failed.host, failed.node) == (
        vm_states.ERROR, None, None, None,
    )  # fmt: skip
    assert (kept.vm_state, kept.host, kept.node) == (vm_states.ERROR, "compute2", "compute2")
    one = ["instance_set_error"]
    assert sent == (one * 2 if version_cap is None else [*one, "instance_update", *one])
    assert failed == await api.instance_get(ALICE, here.uuid)


async def test_set_error_overrules_a_save_that_lands_while_it_is_handled(
    api: ConductorAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build step's save whose reply the broker lost may land late, while the host's
    ERROR save (it gave the build up) is being handled: the ERROR is saved on the record
    as it is then, never lost because the record was read before the late save.

    The late save is sent while the set_error's event is being recorded (between its
    read and its write, when it had one) and given up to half a second to land there.
    """
    [record] = await api.create_instances(ALICE, [instance()])
    await api.instance_update(ALICE, record.uuid, {"host": "compute1"})
    spawning = await api.instance_update(ALICE, record.uuid, {"task_state": task_states.SPAWNING})
    late: list[asyncio.Task[objects.Instance]] = []
    record_event = ActionStore.record

    async def landing_meanwhile(self: ActionStore, ctx: RequestContext, *args: Any) -> Any:
        values = {"vm_state": vm_states.ACTIVE, "task_state": None}
        saving = api.instance_save(
            ALICE, spawning, values, expected_task_state=[task_states.SPAWNING]
        )
        late.append(asyncio.ensure_future(saving))
        await asyncio.wait(late, timeout=0.5)
        return await record_event(self, ctx, *args)

    monkeypatch.setattr(ActionStore, "record", landing_meanwhile)
    fault = objects.InstanceFault(code=500, message="The reply to the save was lost.")
    failed = await api.instance_set_error(
        ALICE, record.uuid, fault, event={"event": "build", "result": "Error"},
        released_host="compute1",
    )  # fmt: skip
    [landed] = late
    await asyncio.wait([landed])

    assert (failed.vm_state, failed.task_state, failed.host) == (vm_states.ERROR, None, None)
    assert failed == await api.instance_get(ALICE, record.uuid)
    if landed.exception() is None:  # it landed first: the ERROR overruled it
        assert landed.result().vm_state == vm_states.ACTIVE
    else:  # it came after: its compare-and-swap found the ERROR
        assert isinstance(landed.exception(), UnexpectedTaskStateError)


# -- paging the instance list -----------------------------------------------------------


async def _one_in_each_project(api: ConductorAPI, count: int) -> list[objects.Instance]:
    """`count` instances, each in a project of its own (the fixture's quota is 3)."""
    made = []
    for n in range(count):
        made += await api.create_instances(ADMIN, [instance(project_id=f"p{n}")])
    return made


async def test_instances_page_by_uuid_and_every_page_holds_every_instance_once(
    api: ConductorAPI,
) -> None:
    """`instance_get_all(limit=, marker=)` gives instances by uuid after the marker (a
    deleted one still marks its place, as in Nova); reading every page gives each once,
    oldest first as the unpaged list, with creates and deletes between pages."""
    made = await _one_in_each_project(api, 7)
    uuids = sorted(i.uuid for i in made)
    assert [i.uuid for i in await api.instance_get_all(ADMIN, limit=3)] == uuids[:3]
    page = await api.instance_get_all(ADMIN, marker=uuids[2], limit=3)
    assert [i.uuid for i in page] == uuids[3:6]
    assert await api.instance_get_all(ADMIN) == await api.all_instances(ADMIN)
    await api.instance_update(ADMIN, uuids[3], {"deleted": True})
    assert [i.uuid for i in await api.instance_get_all(ADMIN, marker=uuids[3], limit=1)] == [
        uuids[4]
    ]
    assert [i.uuid for i in await api.instance_get_all(ADMIN, limit=2, host="nowhere")] == []

    read, extra = api.instance_get_all, iter(range(100, 103))

    async def changing(ctx: RequestContext, **kwargs: Any) -> list[objects.Instance]:
        found = await read(ctx, **kwargs)
        n = next(extra, None)
        if n is not None:  # between pages: a server made, another deleted
            await api.create_instances(ADMIN, [instance(project_id=f"p{n}")])
            await api.instance_update(ADMIN, uuids[n - 100], {"deleted": True})
        return found

    api.instance_get_all = changing  # type: ignore[method-assign]
    got = [i.uuid for i in await api.all_instances(ADMIN)]
    assert len(got) == len(set(got))
    assert set(uuids[6:]) <= set(got)  # what no change touched


async def test_the_newest_instances_page_by_creation_then_uuid_at_any_version_cap(
    api: ConductorAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """newest_instances (1.3) pages newest first, ties at one instant by uuid
    descending; every page read after the last one's marker gives each instance once,
    a project's only its own, deleted ones only when asked; a marker of another
    project or of no instance is MarkerNotFound, a deleted one still marks its place;
    a caller capped below 1.3 (the whole list read, the page cut on its side) gets the
    very same pages."""
    start = objects.utcnow()
    made = []
    for project, hours in (("p1", 3), ("p2", 2), ("p1", 2), ("p3", 2), ("p2", 1), ("p1", 0)):
        at = start - datetime.timedelta(hours=hours)
        monkeypatch.setattr("nova_lite.clock.now", lambda at=at: at)
        [one] = await api.create_instances(ADMIN, [instance(project_id=project)])
        made.append(one)
    monkeypatch.undo()
    newest = sorted(made, key=lambda i: (i.created_at, i.uuid), reverse=True)
    await api.instance_update(ADMIN, newest[1].uuid, {"deleted": True})
    capped = ConductorAPI.__new__(ConductorAPI)
    capped.invoker = Invoker(
        api.invoker.transport, api.invoker.target, version_cap="1.2",
        serializer=objects.serializer(),
    )  # fmt: skip

    async def read_all(conductor: ConductorAPI, **kwargs: Any) -> list[str]:
        read: list[str] = []
        marker = None
        while True:
            page = await conductor.newest_instances(ADMIN, limit=2, marker=marker, **kwargs)
            assert len(page) <= 2
            read.extend(i.uuid for i in page)
            if len(page) < 2:
                return read
            marker = page[-1].uuid

    every = [i.uuid for i in newest]
    live = [u for u in every if u != newest[1].uuid]
    p1 = [i.uuid for i in newest if i.project_id == "p1" and i.uuid in live]
    p2 = next(i.uuid for i in made if i.project_id == "p2")
    for conductor in (api, capped):
        assert await read_all(conductor) == live
        assert await read_all(conductor, read_deleted=True) == every
        assert await read_all(conductor, project_id="p1") == p1
        with pytest.raises(MarkerNotFound):  # p2's server is no marker of p1's list
            await conductor.newest_instances(ADMIN, limit=2, project_id="p1", marker=p2)
        # A deleted server still marks its place (a page after one deleted since).
        after = await conductor.newest_instances(ADMIN, limit=2, marker=newest[1].uuid)
        assert [i.uuid for i in after] == live[1:3]
        with pytest.raises(MarkerNotFound):
            await conductor.newest_instances(ADMIN, limit=2, marker="no-such-uuid")


async def test_an_unknown_instance_marker_or_a_bad_limit_is_refused(api: ConductorAPI) -> None:
    """A marker that names no instance is `MarkerNotFound`; a limit of 0, over the
    maximum, negative or text is `Invalid`."""
    await _one_in_each_project(api, 2)
    with pytest.raises(MarkerNotFound, match="no-such-uuid"):
        await api.instance_get_all(ADMIN, marker="no-such-uuid", limit=1)
    for limit in (0, -1, paging.MAX_LIMIT + 1):
        with pytest.raises(Invalid, match="limit must be"):
            await api.instance_get_all(ADMIN, limit=limit)
    with pytest.raises(Invalid, match="limit"):
        await api.instance_get_all(ADMIN, limit="3")  # type: ignore[arg-type]


async def test_an_unpaged_list_still_goes_to_a_conductor_of_the_version_before(
    broker: TransportFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conductor at 1.0 (before paging) still lists every instance to a caller that
    does not page; a page asked of it is refused as a version it lacks."""
    transport = await broker.connect()
    config = Config.load(environ={}, state_path=str(tmp_path), rpc=broker.rpc_options())
    manager = ConductorManager(config, transport, "c1")
    for part in {type(manager), *(type(p) for p in manager.endpoints())}:
        monkeypatch.setattr(part, "target", Target(version="1.0"))  # every part, as a 1.0 one
    async with Service(manager, serializer=objects.serializer()):
        api = ConductorAPI(transport, config)
        made = await _one_in_each_project(api, 3)
        assert await api.instance_get_all(ADMIN) == made
        with pytest.raises(UnsupportedVersion):
            await api.instance_get_all(ADMIN, limit=2)
