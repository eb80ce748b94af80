"""The audit of the cloud's books: each kind of disagreement is found, healed, and gone.

Each test makes one disagreement on purpose, by writing one service's books behind
the others' backs (the scheduler's allocations, a host's tracker or hypervisor, the
conductor's migrations, the network's ports), then checks that the audit reports it
naming what disagrees, that a heal repairs it and says so, and that the next audit is
clean. The clouds run on the in-memory broker; the audit itself goes over RPC only.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import attrs
import pytest

from nova_lite import audit as kinds
from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.audit import Audit, AuditReport
from nova_lite.cloud import Cloud
from nova_lite.compute import migration_states, task_states
from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden
from nova_lite.scheduler.host_manager import Allocation
from nova_lite.testing import (
    WAIT,
    CloudFactory,
    add_user,
    assert_audit_clean,
    audit,
    conductor_of,
    fake_driver,
    scheduler_of,
)

ADMIN = RequestContext.admin()


@pytest.fixture
async def cloud(memory_clouds: CloudFactory) -> Cloud:
    """Two fake hosts on the in-memory broker."""
    return await memory_clouds.start(computes=2)


async def _boot(cloud: Cloud, name: str = "srv") -> objects.Instance:
    admin = await cloud.login_admin()
    [server] = await admin.servers.create(name, flavor="m1.tiny", image="cirros")
    found = await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    assert found.status == "ACTIVE"
    return await cloud.api.conductor.instance_get(ADMIN, server.id)


def _other_host(instance: objects.Instance) -> str:
    return "compute2" if instance.host == "compute1" else "compute1"


async def _heal(cloud: Cloud) -> AuditReport:
    return await Audit(cloud.transport, cloud.config, stuck_after=0).heal(ADMIN)


async def _found_healed_and_clean(cloud: Cloud, kind: str, subject: str) -> AuditReport:
    """The audit finds `kind` about `subject`; a heal repairs it; the next audit is clean."""
    report = await audit(cloud)
    assert [(f.kind, f.subject) for f in report.findings] == [(kind, subject)], report.findings
    healed = await _heal(cloud)
    assert [(r.finding.kind, r.done) for r in healed.repairs] == [(kind, True)], healed.repairs
    await assert_audit_clean(cloud)
    return healed


async def test_a_busy_cloud_with_every_kind_of_server_is_clean(cloud: Cloud) -> None:
    """Servers active, stopped, resized, shelved and soft-deleted: the books agree."""
    admin = await cloud.login_admin()
    ids = [(await _boot(cloud, f"s{i}")).uuid for i in range(5)]
    await admin.servers.stop(ids[1])
    await admin.servers.resize(ids[2], "m1.small")
    await admin.servers.shelve(ids[3])
    await admin.servers.soft_delete(ids[4])
    for sid, status in zip(
        ids[1:], ("SHUTOFF", "VERIFY_RESIZE", "SHELVED_OFFLOADED", "SOFT_DELETED"), strict=True
    ):
        assert (await admin.servers.wait_for(sid, status, timeout=WAIT)).status == status

    await assert_audit_clean(cloud)


async def test_an_orphaned_allocation_is_found_and_released(cloud: Cloud) -> None:
    """A claim whose consumer no instance or migration owns is reported, then released."""
    ghost = str(uuid.uuid4())
    await scheduler_of(cloud).hosts.claim(Allocation(ghost, "compute1", 1, 512, 1))

    healed = await _found_healed_and_clean(cloud, kinds.ORPHANED_ALLOCATION, ghost)

    assert "1 vCPU/512 MiB/1 GiB on compute1" in healed.findings[0].detail
    assert ghost not in scheduler_of(cloud).hosts.allocations


async def test_an_allocation_of_a_deleted_server_is_orphaned(cloud: Cloud) -> None:
    """A deleted server's claim put back behind its delete's back is reported and released."""
    admin = await cloud.login_admin()
    instance = await _boot(cloud)
    kept = scheduler_of(cloud).hosts.allocations[instance.uuid]
    await admin.servers.delete(instance.uuid)
    await admin.servers.wait_for(instance.uuid, "DELETED", timeout=WAIT)
    await scheduler_of(cloud).hosts.claim(kept)

    await _found_healed_and_clean(cloud, kinds.ORPHANED_ALLOCATION, instance.uuid)


async def test_an_allocation_of_the_wrong_size_is_corrected(cloud: Cloud) -> None:
    """A claim that disagrees with the server's flavor is set to the flavor on its host."""
    instance = await _boot(cloud)
    hosts = scheduler_of(cloud).hosts
    await hosts.claim(Allocation(instance.uuid, _other_host(instance), 2, 4096, 40))

    healed = await _found_healed_and_clean(cloud, kinds.ALLOCATION_MISMATCH, instance.uuid)

    assert "its flavor m1.tiny (1 vCPU/512 MiB/1 GiB)" in healed.findings[0].detail
    allocation = hosts.allocations[instance.uuid]
    assert (allocation.host, allocation.vcpus, allocation.memory_mb) == (instance.host, 1, 512)


async def test_a_missing_allocation_is_put_back(cloud: Cloud) -> None:
    """A running server the scheduler holds nothing for is reported, then claimed again."""
    instance = await _boot(cloud)
    await scheduler_of(cloud).hosts.release(instance.uuid)

    await _found_healed_and_clean(cloud, kinds.MISSING_ALLOCATION, instance.uuid)

    assert scheduler_of(cloud).hosts.allocations[instance.uuid].host == instance.host


async def test_a_phantom_guest_of_a_deleted_server_is_destroyed(cloud: Cloud) -> None:
    """A guest left on a hypervisor after its server was deleted is found and destroyed."""
    admin = await cloud.login_admin()
    instance = await _boot(cloud)
    driver = fake_driver(cloud.compute(instance.host or ""))
    guest = driver.guests[instance.uuid]
    await admin.servers.delete(instance.uuid)
    await admin.servers.wait_for(instance.uuid, "DELETED", timeout=WAIT)
    driver.guests[instance.uuid] = guest

    healed = await _found_healed_and_clean(cloud, kinds.PHANTOM_GUEST, instance.uuid)

    assert "destroyed the guest" in healed.repairs[0].detail.lower()
    assert instance.uuid not in driver.guests


async def test_a_guest_on_the_wrong_host_is_destroyed_there_only(cloud: Cloud) -> None:
    """A second guest of a server on another host goes; the one on its own host stays."""
    instance = await _boot(cloud)
    home = fake_driver(cloud.compute(instance.host or ""))
    stray = fake_driver(cloud.compute(_other_host(instance)))
    stray.guests[instance.uuid] = home.guests[instance.uuid]

    await _found_healed_and_clean(cloud, kinds.PHANTOM_GUEST, instance.uuid)

    assert instance.uuid in home.guests
    assert instance.uuid not in stray.guests


async def test_a_guest_that_is_not_this_clouds_is_reported_and_left_alone(cloud: Cloud) -> None:
    """A guest no instance of this cloud ever had is reported, and no heal destroys it."""
    instance = await _boot(cloud)
    driver = fake_driver(cloud.compute(instance.host or ""))
    foreign = str(uuid.uuid4())
    driver.guests[foreign] = attrs.evolve(driver.guests[instance.uuid], uuid=foreign)

    report = await audit(cloud)
    assert [(f.kind, f.subject) for f in report.findings] == [(kinds.PHANTOM_GUEST, foreign)]
    healed = await _heal(cloud)

    assert [r.done for r in healed.repairs] == [False]
    assert foreign in driver.guests


async def test_a_missing_guest_is_reported_but_not_healed(cloud: Cloud) -> None:
    """An ACTIVE server whose guest vanished is reported; a heal says an operator must act."""
    admin = await cloud.login_admin()
    instance = await _boot(cloud)
    del fake_driver(cloud.compute(instance.host or "")).guests[instance.uuid]

    report = await audit(cloud)
    assert [(f.kind, f.subject, f.host) for f in report.findings] == [
        (kinds.MISSING_GUEST, instance.uuid, instance.host)
    ]
    healed = await _heal(cloud)
    assert [(r.done, "rebuild" in r.detail) for r in healed.repairs] == [(False, True)]

    await admin.servers.rebuild(instance.uuid, "cirros")
    assert (await admin.servers.wait_for(instance.uuid, "ACTIVE", timeout=WAIT)).status == "ACTIVE"
    await assert_audit_clean(cloud)


async def test_a_tracker_entry_for_an_instance_elsewhere_is_dropped(cloud: Cloud) -> None:
    """A host's tracker counting a server that runs on another host is reported and fixed."""
    instance = await _boot(cloud)
    stray = cloud.compute(_other_host(instance))
    stray.tracker.instances[instance.uuid] = instance.flavor

    await _found_healed_and_clean(cloud, kinds.TRACKER_ORPHAN, instance.uuid)

    assert instance.uuid not in stray.tracker.instances


async def test_a_tracker_entry_for_a_deleted_instance_is_dropped(cloud: Cloud) -> None:
    """A tracker entry outliving its server's delete is reported and dropped."""
    admin = await cloud.login_admin()
    instance = await _boot(cloud)
    compute = cloud.compute(instance.host or "")
    await admin.servers.delete(instance.uuid)
    await admin.servers.wait_for(instance.uuid, "DELETED", timeout=WAIT)
    compute.tracker.instances[instance.uuid] = instance.flavor

    await _found_healed_and_clean(cloud, kinds.TRACKER_ORPHAN, instance.uuid)


@pytest.mark.parametrize("wrong", ["untracked", "other flavor"])
async def test_a_tracker_that_miscounts_its_instance_is_corrected(cloud: Cloud, wrong: str) -> None:
    """A host not counting its server, or counting another flavor, counts the flavor again."""
    instance = await _boot(cloud)
    tracker = cloud.compute(instance.host or "").tracker
    if wrong == "untracked":
        tracker.drop(instance.uuid)
    else:
        tracker.instances[instance.uuid] = attrs.evolve(instance.flavor, vcpus=8)

    await _found_healed_and_clean(cloud, kinds.TRACKER_MISMATCH, instance.uuid)

    assert tracker.instances[instance.uuid] == instance.flavor


async def test_a_migration_left_in_progress_is_ended(cloud: Cloud) -> None:
    """A migration still 'migrating' though its server has no resize task is ended."""
    instance = await _boot(cloud)
    small = await cloud.api.conductor.flavor_get(ADMIN, "m1.small")
    migration = await conductor_of(cloud).actions.migration_create(
        ADMIN, instance.uuid, instance.host or "", instance.flavor, small, instance.vm_state
    )
    await cloud.api.conductor.migration_update(
        ADMIN, migration.uuid, status=migration_states.MIGRATING
    )

    await _found_healed_and_clean(cloud, kinds.STUCK_MIGRATION, migration.uuid)

    ended = await cloud.api.conductor.migration_get(ADMIN, migration.uuid)
    assert ended.status == migration_states.ERROR


async def test_a_stuck_migrations_claim_is_released_with_it(cloud: Cloud) -> None:
    """A stuck migration holding the source claim is ended, and its claim released."""
    instance = await _boot(cloud)
    small = await cloud.api.conductor.flavor_get(ADMIN, "m1.small")
    migration = await conductor_of(cloud).actions.migration_create(
        ADMIN, instance.uuid, instance.host or "", instance.flavor, small, instance.vm_state
    )
    await scheduler_of(cloud).hosts.claim(
        Allocation(migration.uuid, instance.host or "", 1, 512, 1)
    )

    report = await audit(cloud)
    assert {(f.kind, f.subject) for f in report.findings} == {
        (kinds.STUCK_MIGRATION, migration.uuid),
        (kinds.ORPHANED_ALLOCATION, migration.uuid),
    }
    healed = await _heal(cloud)

    assert [r.finding.kind for r in healed.repairs] == [
        kinds.STUCK_MIGRATION,
        kinds.ORPHANED_ALLOCATION,
    ]
    assert all(r.done for r in healed.repairs)
    await assert_audit_clean(cloud)


async def test_a_port_of_a_deleted_instance_is_released(cloud: Cloud) -> None:
    """Ports whose instance is gone are reported one by one and released."""
    ghost = str(uuid.uuid4())
    [network] = await cloud.api.network.list_networks(ADMIN)
    [port] = await cloud.api.network.allocate_for_instance(ADMIN, ghost, [network.id], "p1")

    await _found_healed_and_clean(cloud, kinds.ORPHANED_PORT, port.id)

    assert await cloud.api.network.list_ports(ADMIN, device_id=ghost) == []


async def test_a_task_nothing_works_on_is_stuck_but_not_healed(cloud: Cloud) -> None:
    """A task_state nobody works on is reported once older than stuck_after, never healed."""
    instance = await _boot(cloud)
    await cloud.api.conductor.instance_update(
        ADMIN, instance.uuid, {"task_state": task_states.PAUSING}
    )
    patient = Audit(cloud.transport, cloud.config, stuck_after=3600)

    assert (await patient.run(ADMIN)).clean
    report = await audit(cloud)
    assert [(f.kind, f.subject) for f in report.findings] == [(kinds.STUCK_INSTANCE, instance.uuid)]
    assert "task_state pausing" in report.findings[0].detail
    healed = await _heal(cloud)
    assert [r.done for r in healed.repairs] == [False]
    assert (await cloud.api.conductor.instance_get(ADMIN, instance.uuid)).task_state == "pausing"


async def test_a_host_that_is_down_is_reported_unaudited(cloud: Cloud) -> None:
    """A compute host the scheduler sees down cannot show its books: the audit says so."""
    await _boot(cloud)
    hosts = scheduler_of(cloud).hosts
    later = time.time() + 10 * cloud.config.compute.service_down_time
    hosts.clock = lambda: later
    await hosts.update_node(cloud.compute("compute1").tracker.compute_node())

    report = await audit(cloud)

    assert [(f.kind, f.subject) for f in report.findings] == [(kinds.UNAUDITED_HOST, "compute2")]


async def test_a_repair_leaves_an_instance_alone_once_it_is_busy(cloud: Cloud) -> None:
    """A finding whose instance took a task before the repair ran is left alone."""
    instance = await _boot(cloud)
    hosts = scheduler_of(cloud).hosts
    await hosts.claim(Allocation(instance.uuid, instance.host or "", 4, 512, 1))
    auditor = Audit(cloud.transport, cloud.config, stuck_after=0)
    [finding] = (await auditor.run(ADMIN)).findings
    await cloud.api.conductor.instance_update(
        ADMIN, instance.uuid, {"task_state": task_states.REBOOTING}
    )

    repair = await auditor._repair(ADMIN, finding, {})

    assert (repair.done, "under way" in repair.detail or "busy" in repair.detail) == (False, True)
    assert hosts.allocations[instance.uuid].vcpus == 4


async def test_only_admins_may_audit(cloud: Cloud) -> None:
    """A member's session is refused the audit; the books' endpoints refuse non-admins."""
    admin = await cloud.login_admin()
    member: Session = await add_user(cloud, admin, "m", project="demo")
    with pytest.raises(Forbidden):
        await member.audit()
    user = RequestContext(user_id="u", project_id="demo", roles=("member",))
    with pytest.raises(Forbidden):
        await cloud.api.scheduler.list_allocations(user)
    with pytest.raises(Forbidden):
        await cloud.api.compute.host_ledger(user, "compute1")
    report: dict[str, Any] = await admin.audit()
    assert report["clean"] is True


async def test_the_host_list_pages_by_name_and_the_audit_reads_every_page(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`list_hosts` gives a page with `limit` and `marker` (hosts after it by name, the
    marker need not be a host), every host without either; the audit, reading a page at
    a time, reads every host's books however the pages fall."""
    cloud = await memory_clouds.start(computes=5)
    api = cloud.api.scheduler
    every = [h["host"] for h in await api.list_hosts(ADMIN)]
    assert every == sorted(f"compute{i}" for i in range(1, 6))
    assert [h["host"] for h in await api.list_hosts(ADMIN, limit=2)] == every[:2]
    assert [h["host"] for h in await api.list_hosts(ADMIN, marker=every[1], limit=2)] == every[2:4]
    assert [h["host"] for h in await api.list_hosts(ADMIN, marker="compute3a")] == every[3:]
    assert await api.list_hosts(ADMIN, marker=every[-1]) == []
    instance = await _boot(cloud)
    monkeypatch.setattr("nova_lite.paging.PAGE_SIZE", 2)
    books = await Audit(cloud.transport, cloud.config).read_books(ADMIN)
    assert books.hosts == tuple(every)
    assert sorted(books.ledgers) == every and not books.unaudited
    assert instance.host is not None
    await scheduler_of(cloud).hosts.release(instance.uuid)  # one page's host disagrees
    report = await audit(cloud)
    assert [(f.kind, f.subject) for f in report.findings] == [
        (kinds.MISSING_ALLOCATION, instance.uuid)
    ]
