"""Liveness apart from resource reports: heartbeats keep a host up, changes still reach
the scheduler, and a host that stops beating goes down after service_down_time."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from nova_lite import clock, objects
from nova_lite.cloud import Cloud
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.config import ComputeConfig, Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.loader import get_transport
from nova_lite.rpc import Invoker
from nova_lite.scheduler.host_manager import MIGRATIONS, HostManager
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.simulate import VirtualTimeLoop
from nova_lite.virt.driver import HostResources
from tests.test_scheduler import ADMIN, Clock, node

EPOCH = 1_767_225_600.0


def tracker() -> ResourceTracker:
    found = ResourceTracker("h", ComputeConfig())
    found.resources = HostResources(
        hypervisor_hostname="h", hypervisor_type="fake", vcpus=8, memory_mb=8192, local_gb=80
    )
    return found


def test_a_full_report_is_due_first_on_change_and_after_its_interval() -> None:
    """None sent yet: full. Then heartbeats, until something the scheduler reads changes
    (builds under way, failed builds, capacity) or `every` seconds pass; usage alone is
    not a change (the scheduler counts it from its claims)."""
    t = tracker()
    assert t.full_report_due(0.0, 60.0)
    t.reported(t.scheduled_fields(), 0.0)
    assert not t.full_report_due(10.0, 60.0)
    t.instances["i-1"] = objects.Flavor(flavorid="1", name="f", vcpus=2, memory_mb=512, root_gb=1)
    assert not t.full_report_due(20.0, 60.0)
    t.builds_in_progress += 1
    assert t.full_report_due(20.0, 60.0)
    t.reported(t.scheduled_fields(), 20.0)
    t.build_result(failed=True)
    assert t.full_report_due(30.0, 60.0)
    t.reported(t.scheduled_fields(), 30.0)
    assert t.resources is not None
    t.resources = attrs.evolve(t.resources, vcpus=16)
    assert t.full_report_due(40.0, 60.0)
    t.reported(t.scheduled_fields(), 40.0)
    assert not t.full_report_due(99.0, 60.0)
    assert t.full_report_due(100.0, 60.0)


async def test_a_heartbeat_keeps_a_known_host_up_and_is_ignored_for_an_unknown_one() -> None:
    db = Database(":memory:", MIGRATIONS, name="scheduler")
    await db.open()
    now = Clock()
    hosts = HostManager(db, clock=now)
    try:
        await hosts.update_node(node("a", io_ops=2))
        state = hosts.hosts["a"]
        state.in_progress = 3  # claims since the report
        now.value += 50
        assert await hosts.heartbeat("a")
        assert state.last_seen == now.value and state.in_progress == 0
        assert state.node.io_ops == 2 and state.io_ops == 2  # the report still holds
        assert not await hosts.heartbeat("b") and "b" not in hosts.hosts
    finally:
        await db.close()


async def test_a_heartbeat_is_written_where_the_scheduler_keeps_a_database(
    tmp_path: Path,
) -> None:
    """With a database of its own, the host's report is stored again with the
    heartbeat's time: a restarted scheduler recovers it as seen then, not at the
    last full report (which may be older than service_down_time)."""
    path = str(tmp_path / "scheduler.sqlite")
    db = Database(path, MIGRATIONS, name="scheduler")
    await db.open()
    hosts = HostManager(db)
    await hosts.load()
    reported = node("a", updated_at=objects.utcnow().replace(year=2020))
    await hosts.update_node(reported)
    assert await hosts.heartbeat("a")
    hosts.close()
    await db.close()

    db = Database(path, MIGRATIONS, name="scheduler")
    await db.open()
    again = HostManager(db)
    await again.load()
    try:
        assert again.hosts["a"].node.updated_at.year > 2020
        assert again.hosts["a"].node.vcpus == reported.vcpus
    finally:
        again.close()
        await db.close()


async def test_a_capped_client_sends_no_heartbeat() -> None:
    """Under a version cap below 1.4 nothing is sent, and the compute falls back to its
    full report (which every scheduler version takes as the heartbeat)."""
    cfg = Config.load(environ={}, state_path=":memory:", transport_url="memory://")
    transport = get_transport(cfg.transport_url)
    api = SchedulerAPI(transport, cfg)
    api.invoker = Invoker(transport, api.invoker.target, version_cap="1.3")
    assert not await api.service_heartbeat(ADMIN, "a")


def _virtual_cloud(**compute: Any) -> tuple[VirtualTimeLoop, Cloud]:
    config = Config.load(
        environ={}, state_path=":memory:", transport_url="memory://",
        compute=compute, metrics={"enabled": False},
    )  # fmt: skip
    return VirtualTimeLoop(stall_seconds=0.5), Cloud(config, computes=2)


def _count_intake(scheduler: SchedulerManager, seen: Counter[str]) -> None:
    hosts = scheduler.hosts
    update, beat = hosts.update_node, hosts.heartbeat

    async def update_node(reported: objects.ComputeNode) -> None:
        seen[f"full {reported.host}"] += 1
        await update(reported)

    async def heartbeat(host: str) -> bool:
        seen[f"beat {host}"] += 1
        return await beat(host)

    hosts.update_node = update_node  # type: ignore[method-assign,assignment]
    hosts.heartbeat = heartbeat  # type: ignore[method-assign]


def test_hosts_beat_between_full_reports_and_a_change_reaches_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """report_interval 10, resource_report_interval 105, service_down_time 30, in
    virtual time: hosts stay up on heartbeats alone; a changed host's report reaches
    the scheduler at its next tick; a stopped host is down 30 s after its last beat."""
    monkeypatch.chdir(tmp_path)
    loop, cloud = _virtual_cloud(
        report_interval=10.0, resource_report_interval=105.0, service_down_time=30.0
    )

    async def main() -> None:
        seen: Counter[str] = Counter()
        async with cloud:
            (scheduler,) = [
                s.manager for s in cloud.services if isinstance(s.manager, SchedulerManager)
            ]
            _count_intake(scheduler, seen)
            ctx = RequestContext.admin()
            await asyncio.sleep(95)
            # 9 ticks each: heartbeats only (the full reports were at start-up).
            assert seen == {"beat compute1": 9, "beat compute2": 9}
            assert await cloud.api.scheduler.host_is_up(ctx, "compute1")

            cloud.compute("compute2").tracker.build_result(failed=True)
            await asyncio.sleep(10)
            assert seen["full compute2"] == 1 and seen["full compute1"] == 0
            assert scheduler.hosts.hosts["compute2"].failed_builds == 1
            await asyncio.sleep(10)  # 115 s: compute1's full report is due (105 s)
            assert seen["full compute1"] == 1 and seen["full compute2"] == 1

            (service,) = [s for s in cloud.services if s.manager is cloud.compute("compute1")]
            for task in service._periodic:  # the host dies: no more heartbeats
                task.cancel()
            await asyncio.sleep(20)  # 135 s: its last beat was at 110
            assert await cloud.api.scheduler.host_is_up(ctx, "compute1")
            await asyncio.sleep(10)
            assert not await cloud.api.scheduler.host_is_up(ctx, "compute1")
            assert await cloud.api.scheduler.host_is_up(ctx, "compute2")

    try:
        with clock.virtual(loop, EPOCH):
            loop.run_until_complete(main())
    finally:
        loop.close()
