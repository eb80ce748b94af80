"""Why "No valid host": the claim race between two schedulers is named as such.

Two scheduler processes share one database (as two ``nova-scheduler`` workers share
placement). Each keeps host state in memory, so the second does not yet know of the
first's claim: its filters pass the host, and the database refuses its claim. The
fault must say that the hosts were lost to other schedulers' claims, not that a
filter removed them, or an operator looks for a capacity problem that is not there.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import NoValidHost
from nova_lite.scheduler.host_manager import Allocation
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.testing import capture_logs, events_named
from transports.memory import MemoryTransport

ADMIN = RequestContext(user_id="admin", project_id="admin", roles=["admin"])
ONE_SLOT = objects.Flavor(flavorid="1", name="half", vcpus=2, memory_mb=2048, root_gb=10)


async def _scheduler(tmp_path: Path, name: str) -> SchedulerManager:
    config = Config.load(environ={}, state_path=str(tmp_path))
    manager = SchedulerManager(config, MemoryTransport(), name)
    await manager.init_host()
    return manager


def _spec(uuid: str) -> objects.RequestSpec:
    return objects.RequestSpec(instance_uuid=uuid, project_id="p", flavor=ONE_SLOT)


@contextlib.asynccontextmanager
async def _two_schedulers(
    tmp_path: Path,
) -> AsyncIterator[tuple[SchedulerManager, SchedulerManager]]:
    """Two schedulers on one database, both told of one host h1 (3 vCPU, 3 GiB, 15 GB)."""
    first = await _scheduler(tmp_path, "s1")
    second = await _scheduler(tmp_path, "s2")
    node = objects.ComputeNode(host="h1", hypervisor_hostname="h1", hypervisor_type="fake",
                               vcpus=3, memory_mb=3072, local_gb=15, cpu_allocation_ratio=1.0,
                               ram_allocation_ratio=1.0, disk_allocation_ratio=1.0)  # fmt: skip
    try:
        for scheduler in (first, second):
            await scheduler.hosts.update_node(node)
        yield first, second
    finally:
        await second.cleanup_host()
        await first.cleanup_host()


async def test_a_claim_lost_to_another_scheduler_is_explained(tmp_path: Path) -> None:
    async with _two_schedulers(tmp_path) as (first, second):
        [won] = await first.select_destinations(ADMIN, _spec("u1"))
        assert won.host == "h1"
        # The second scheduler still sees h1 empty: its filters pass it, its claim is refused.
        assert second.hosts.hosts["h1"].free_ram_mb == 3072
        with capture_logs() as events, pytest.raises(NoValidHost) as refused:
            await second.select_destinations(ADMIN, _spec("u2"))
        assert str(refused.value) == (
            "No valid host was found. There are not enough hosts available. 1 host passed "
            "the filters, but the 1 claim made there lost to other schedulers' claims (the "
            "hosts no longer fit the request when it was written; the request needs 2 vCPU, "
            "2048 MB RAM, 10 GB disk)."
        )
        [logged] = events_named(events, "scheduler.no_valid_host")
        assert logged["claims_lost"] == 1
        assert "claimed by other schedulers first" in logged["detail"]
        # The refusal reloaded what the database holds: the next decision filters h1 out.
        assert second.hosts.hosts["h1"].free_ram_mb == 1024
        with pytest.raises(NoValidHost, match="ResourceFilter removed 1"):
            await second.select_destinations(ADMIN, _spec("u3"))
        # The books: one allocation, the winner's; the loser claimed nothing.
        rows = await second.db.fetchall("SELECT instance_uuid, host FROM allocations")
        assert [tuple(row) for row in rows] == [("u1", "h1")]


@pytest.mark.parametrize(
    ("resource", "claim"),
    [
        ("vcpus", Allocation("u2", "h1", vcpus=2, memory_mb=1, disk_gb=1)),
        ("memory_mb", Allocation("u2", "h1", vcpus=1, memory_mb=2048, disk_gb=1)),
        ("disk_gb", Allocation("u2", "h1", vcpus=1, memory_mb=1, disk_gb=10)),
    ],
)
async def test_a_verified_claim_counts_every_resource_other_claims_hold(
    tmp_path: Path, resource: str, claim: Allocation
) -> None:
    """The database's check of a claim sums each resource over the host's other claims:
    a claim that overflows any one of the three is refused, one that fits all is written,
    and an instance's own earlier claim (a claim made again) is not counted against it."""
    async with _two_schedulers(tmp_path) as (first, second):
        held = Allocation("u1", "h1", vcpus=2, memory_mb=2048, disk_gb=10)
        assert await first.hosts.claim(held, verify=True)
        # `second` has not heard of u1's claim; only the database can refuse it.
        assert not await second.hosts.claim(claim, verify=True), resource
        smaller = attrs.evolve(claim, vcpus=1, memory_mb=1, disk_gb=1)
        assert await second.hosts.claim(smaller, verify=True), resource
        # u1 claims again on the same host, as large as the host less u2's claim.
        again = attrs.evolve(
            held, vcpus=3 - smaller.vcpus, memory_mb=3072 - smaller.memory_mb,
            disk_gb=15 - smaller.disk_gb,
        )  # fmt: skip
        assert await first.hosts.claim(again, verify=True)
        assert not await first.hosts.claim(attrs.evolve(again, vcpus=again.vcpus + 1), verify=True)
        rows = await second.db.fetchall(
            "SELECT instance_uuid, vcpus, memory_mb, disk_gb FROM allocations ORDER BY 1"
        )
        assert [tuple(row) for row in rows] == [
            ("u1", again.vcpus, again.memory_mb, again.disk_gb),
            ("u2", smaller.vcpus, smaller.memory_mb, smaller.disk_gb),
        ]
