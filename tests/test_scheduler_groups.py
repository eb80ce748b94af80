"""The scheduler's server-group filters and weighers on their own (both of their paths)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.db import Database
from nova_lite.scheduler.filters import ServerGroupAffinityFilter, ServerGroupAntiAffinityFilter
from nova_lite.scheduler.host_manager import MIGRATIONS, Allocation, HostManager
from nova_lite.scheduler.weights import (
    ServerGroupSoftAffinityWeigher,
    ServerGroupSoftAntiAffinityWeigher,
    weigh_hosts,
)

TINY = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)
CONFIG = Config.load(environ={}, state_path=":memory:")


def _node(host: str) -> objects.ComputeNode:
    return objects.ComputeNode(
        host=host,
        hypervisor_hostname=host,
        hypervisor_type="fake",
        vcpus=8,
        memory_mb=8192,
        local_gb=80,
    )


def _spec(policy: str | None, **values: Any) -> objects.RequestSpec:
    values.setdefault("instance_group", "g")
    return objects.RequestSpec(
        instance_uuid="new",
        project_id="p",
        flavor=TINY,
        group_policy=policy,
        **values,
    )


@pytest.fixture
async def hosts() -> AsyncIterator[HostManager]:
    """Hosts a, b, c; a holds two members of group g, b one, c none."""
    db = Database(":memory:", MIGRATIONS, name="scheduler")
    await db.open()
    manager = HostManager(db)
    for name in "abc":
        await manager.update_node(_node(name))
    for uuid, host in (("m1", "a"), ("m2", "a"), ("m3", "b")):
        await manager.claim(Allocation(uuid, host, 1, 512, 1, "g"))
    yield manager
    await db.close()


def _names(states: list[Any]) -> list[str]:
    return [s.host for s in states]


async def test_anti_affinity_allows_max_server_per_host_members(hosts: HostManager) -> None:
    """One member per host by default; with max_server_per_host 2, hosts with fewer than 2."""
    anti = ServerGroupAntiAffinityFilter(CONFIG, hosts)
    candidates = hosts.candidates()
    two = _spec("anti-affinity", group_rules={"max_server_per_host": 2})

    assert _names(anti.filter_all(candidates, _spec("anti-affinity"))) == ["c"]
    assert _names(anti.filter_all(candidates, two)) == ["b", "c"]
    assert [anti.host_passes(h, two) for h in candidates] == [False, True, True]
    assert _names(anti.filter_all(candidates, _spec("soft-anti-affinity"))) == ["a", "b", "c"]


async def test_affinity_passes_only_the_hosts_holding_members(hosts: HostManager) -> None:
    """An affinity group with members passes only their hosts, on both paths."""
    affinity = ServerGroupAffinityFilter(CONFIG, hosts)
    candidates = hosts.candidates()

    assert _names(affinity.filter_all(candidates, _spec("affinity"))) == ["a", "b"]
    assert [affinity.host_passes(h, _spec("affinity")) for h in candidates] == [True, True, False]
    empty = _spec("affinity", instance_group="new-group")
    assert _names(affinity.filter_all(candidates, empty)) == ["a", "b", "c"]


async def test_soft_weighers_rank_by_members_on_each_host(hosts: HostManager) -> None:
    """Soft affinity prefers the host with the most members, soft anti-affinity the fewest."""
    together, apart = (
        ServerGroupSoftAffinityWeigher(CONFIG),
        ServerGroupSoftAntiAffinityWeigher(CONFIG),
    )
    candidates = hosts.candidates()

    assert together.weigh_all(candidates, _spec("soft-affinity")) == [2, 1, 0]
    assert apart.weigh_all(candidates, _spec("soft-anti-affinity")) == [-2, -1, 0]
    assert together.weigh_all(candidates, _spec("soft-anti-affinity")) == [0, 0, 0]
    assert together.weigh(candidates[0], _spec("soft-affinity")) == 2
    best_together = weigh_hosts(candidates, _spec("soft-affinity"), [together])[0][1]
    best_apart = weigh_hosts(candidates, _spec("soft-anti-affinity"), [apart])[0][1]
    assert (best_together.host, best_apart.host) == ("a", "c")
