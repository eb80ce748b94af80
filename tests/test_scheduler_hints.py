"""The scheduler hints ``same_host`` and ``different_host``: their filters on their own
(every path: host by host, the whole list, the narrowed pool) and in a whole cloud."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.config import Config, SchedulerConfig
from nova_lite.db import Database
from nova_lite.scheduler.filters import DifferentHostFilter, SameHostFilter, build_filters
from nova_lite.scheduler.host_manager import MIGRATIONS, Allocation, HostManager
from nova_lite.testing import CloudFactory, add_user
from tests.http_fixtures import FrontEnd

TINY = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)
CONFIG = Config.load(environ={}, state_path=":memory:")
HINTED = (*SchedulerConfig().enabled_filters, "SameHostFilter", "DifferentHostFilter")


def _node(host: str) -> objects.ComputeNode:
    return objects.ComputeNode(
        host=host, hypervisor_hostname=host, hypervisor_type="fake", vcpus=8, memory_mb=8192,
        local_gb=80,
    )  # fmt: skip


def _spec(**hints: Any) -> objects.RequestSpec:
    return objects.RequestSpec(
        instance_uuid="new", project_id="p", flavor=TINY, scheduler_hints=hints
    )


@pytest.fixture
async def hosts() -> AsyncIterator[HostManager]:
    """Hosts a, b, c: a holds servers s1 and s2, b holds s3, c none."""
    db = Database(":memory:", MIGRATIONS, name="scheduler")
    await db.open()
    manager = HostManager(db)
    for name in "abc":
        await manager.update_node(_node(name))
    for uuid, host in (("s1", "a"), ("s2", "a"), ("s3", "b")):
        await manager.claim(Allocation(uuid, host, 1, 512, 1))
    yield manager
    await db.close()


def _names(states: Any) -> list[str]:
    return sorted(s.host for s in states)


async def test_same_host_passes_only_the_hosts_of_the_named_servers(hosts: HostManager) -> None:
    """One uuid or a list; every path agrees; no hint passes all; unknown servers pass none."""
    same = SameHostFilter(CONFIG, hosts)
    candidates = hosts.candidates()
    one, two = _spec(same_host="s1"), _spec(same_host=["s2", "s3"])

    assert _names(same.filter_all(candidates, one)) == ["a"]
    assert _names(h for h in candidates if same.host_passes(h, one)) == ["a"]
    assert _names(same.filter_all(candidates, two)) == ["a", "b"]
    assert _names(same.narrow(two) or []) == ["a", "b"]
    assert _names(same.filter_all(candidates, _spec())) == ["a", "b", "c"]
    assert same.narrow(_spec()) is None
    assert same.filter_all(candidates, _spec(same_host=["gone"])) == []
    pool = same.narrow(_spec(same_host=["gone"]))
    assert pool is not None and len(pool) == 0


async def test_different_host_passes_only_the_hosts_without_the_named_servers(
    hosts: HostManager,
) -> None:
    """One uuid or a list; both paths agree; no hint (or an unknown server) passes all."""
    different = DifferentHostFilter(CONFIG, hosts)
    candidates = hosts.candidates()
    one, two = _spec(different_host="s1"), _spec(different_host=["s1", "s3"])

    assert _names(different.filter_all(candidates, one)) == ["b", "c"]
    assert _names(h for h in candidates if different.host_passes(h, one)) == ["b", "c"]
    assert _names(different.filter_all(candidates, two)) == ["c"]
    assert _names(h for h in candidates if different.host_passes(h, two)) == ["c"]
    assert _names(different.filter_all(candidates, _spec())) == ["a", "b", "c"]
    assert _names(different.filter_all(candidates, _spec(different_host=["gone"]))) == [
        "a", "b", "c"
    ]  # fmt: skip


async def test_a_released_server_no_longer_holds_its_host(hosts: HostManager) -> None:
    """The filters read the allocations as they are now: s3 gone, b is no longer its host."""
    same, different = SameHostFilter(CONFIG, hosts), DifferentHostFilter(CONFIG, hosts)
    await hosts.release("s3")
    candidates = hosts.candidates()

    assert same.filter_all(candidates, _spec(same_host="s3")) == []
    assert _names(different.filter_all(candidates, _spec(different_host="s3"))) == [
        "a", "b", "c"
    ]  # fmt: skip


def test_the_filters_are_known_by_name_and_off_by_default() -> None:
    """Nova's names, enabled by [scheduler] enabled_filters; not in the default list."""
    config = Config.load(environ={}, state_path=":memory:", scheduler={"enabled_filters": HINTED})
    built = [
        type(f).__name__
        for f in build_filters(config, HostManager(Database(":memory:", MIGRATIONS)))
    ]

    assert built[-2:] == ["SameHostFilter", "DifferentHostFilter"]
    assert not {"SameHostFilter", "DifferentHostFilter"} & set(SchedulerConfig().enabled_filters)


STACK = {
    "ram_weight_multiplier": -1.0,
    "cpu_weight_multiplier": -1.0,
    "disk_weight_multiplier": -1.0,
}


@pytest.fixture
async def front(clouds: CloudFactory, request: pytest.FixtureRequest) -> AsyncIterator[FrontEnd]:
    """Three hosts with both hint filters enabled, the weighers spreading servers (or,
    with the parameter ``stack``, stacking them), and a member ``mia`` of ``demo``."""
    weights = STACK if getattr(request, "param", "spread") == "stack" else {}
    cloud = await clouds.start(computes=3, scheduler={"enabled_filters": HINTED, **weights})
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "mia", project="demo")
        yield front
    finally:
        await front.aclose()


async def _host_of(front: FrontEnd, server: str) -> str:
    admin = await front.token()
    shown = await front.call("GET", f"/compute/v2.1/servers/{server}", token=admin)
    host: str = shown.body["server"]["OS-EXT-SRV-ATTR:host"]
    return host


async def _boot(front: FrontEnd, token: str, name: str, hints: dict[str, Any]) -> str:
    body = {
        "server": {"name": name, "imageRef": await front.image_id(), "flavorRef": "1"},
        "os:scheduler_hints": hints,
    }
    reply = await front.call("POST", "/compute/v2.1/servers", token=token, json=body)
    assert reply.status == 202, reply.body
    server: str = reply.body["server"]["id"]
    await front.wait(token, server, "ACTIVE")
    return server


@pytest.mark.parametrize("broker", ["memory"], indirect=True)
async def test_same_host_stacks_servers_the_weighers_would_spread(front: FrontEnd) -> None:
    """With spreading weighers, servers hinted same_host still land on the named one's
    host; a hint naming no uuid is a 400 naming it."""
    mia = await front.token("mia", "demo")
    first = await front.boot(mia, "first")
    home = await _host_of(front, first)

    together = [await _boot(front, mia, f"with-{i}", {"same_host": first}) for i in range(2)]
    listed = await _boot(front, mia, "with-list", {"same_host": [first, together[0]]})
    bad = await front.call(
        "POST", "/compute/v2.1/servers", token=mia,
        json={"server": {"name": "bad", "imageRef": await front.image_id(), "flavorRef": "1"},
              "os:scheduler_hints": {"same_host": "not-a-uuid"}},
    )  # fmt: skip

    assert [await _host_of(front, s) for s in (*together, listed)] == [home] * 3
    assert bad.status == 400 and "same_host" in bad.body["badRequest"]["message"]


@pytest.mark.parametrize("broker", ["memory"], indirect=True)
@pytest.mark.parametrize("front", ["stack"], indirect=True)
async def test_different_host_spreads_servers_the_weighers_would_stack(front: FrontEnd) -> None:
    """With stacking weighers, servers hinted different_host (a uuid, or a list) still
    avoid the named servers' hosts."""
    mia = await front.token("mia", "demo")
    first = await front.boot(mia, "first")
    stacked = await front.boot(mia, "stacked")
    home = await _host_of(front, first)

    apart = await _boot(front, mia, "apart", {"different_host": first})
    apart_list = await _boot(front, mia, "apart-list", {"different_host": [first, apart]})

    assert await _host_of(front, stacked) == home  # the weighers alone stack them
    assert await _host_of(front, apart) != home
    assert await _host_of(front, apart_list) not in {home, await _host_of(front, apart)}
