"""One scheduler call per create request: the conductor's placement batches (issue 16).

The builds of one request admitted together are placed with one
``select_destinations_batch`` call; each instance is still decided on its own (its
claim, its alternates, its "No valid host" explanation). The unit tests drive
`PlacementBatches` with a scheduler stand-in; the cloud tests boot through the
whole flow on both brokers.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from benchmarks.hops import counting
from nova_lite import objects
from nova_lite.conductor.placing import PlacementBatches
from nova_lite.context import RequestContext
from nova_lite.exceptions import NovaError, NoValidHost
from nova_lite.testing import CloudFactory, assert_audit_clean, unlimited_quota, wait_all

FLAVOR = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)


def _spec(uuid: str) -> objects.RequestSpec:
    return objects.RequestSpec(instance_uuid=uuid, project_id="p", flavor=FLAVOR)


def _selection(uuid: str, host: str) -> objects.Selection:
    return objects.Selection(
        host=host, nodename=host, instance_uuid=uuid, vcpus=1, memory_mb=512, disk_gb=1
    )


class FakeScheduler:
    """Answers placements as told, recording each call."""

    def __init__(self, refuse: frozenset[str] = frozenset(), fail: bool = False) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.refuse = refuse
        self.fail = fail

    async def select_destinations(
        self, ctx: RequestContext, spec: objects.RequestSpec, num_alternates: int = 0
    ) -> list[objects.Selection]:
        self.calls.append(("one", [spec.instance_uuid]))
        if spec.instance_uuid in self.refuse:
            raise NoValidHost("No valid host was found.", instance_uuid=spec.instance_uuid)
        return [_selection(spec.instance_uuid, "h1")]

    async def select_destinations_batch(
        self, ctx: RequestContext, specs: list[objects.RequestSpec], num_alternates: int = 0
    ) -> list[objects.Destinations]:
        self.calls.append(("batch", [s.instance_uuid for s in specs]))
        await asyncio.sleep(0)
        if self.fail:
            raise NovaError("scheduler down")
        found = []
        for spec in specs:
            uuid = spec.instance_uuid
            if uuid in self.refuse:
                found.append(
                    objects.Destinations(
                        instance_uuid=uuid,
                        fault="NoValidHost",
                        message=f"No valid host was found. Of 2 hosts ({uuid})",
                        filter_results=("ResourceFilter: (start: 2, end: 0)",),
                        needs="1 vCPU",
                    )
                )
            else:
                alternates = tuple(_selection(uuid, f"h{n}") for n in range(num_alternates + 1))
                found.append(objects.Destinations(instance_uuid=uuid, selections=alternates))
        return found[::-1]  # matched by instance, not by position


async def _place(
    batches: PlacementBatches, ctx: RequestContext, uuids: list[str], drop: frozenset[str]
) -> dict[str, Any]:
    """Each build announced, then asking (or dropping out) after a few loop turns."""

    async def build(uuid: str, turns: int) -> Any:
        ticket = batches.expect(ctx)
        try:
            for _ in range(turns):
                await asyncio.sleep(0)
            if uuid in drop:
                return "dropped"
            return await ticket.select(_spec(uuid), 2)
        except Exception as exc:
            return exc
        finally:
            ticket.close()

    found = await asyncio.gather(*(build(u, i % 3) for i, u in enumerate(uuids)))
    return dict(zip(uuids, found, strict=True))


async def test_a_requests_builds_are_placed_with_one_call_each_with_its_own_outcome() -> None:
    """Five builds asking over several loop turns, one dropping out: one batch call for
    the four, each with its own selections or its own NoValidHost (message, filters)."""
    scheduler = FakeScheduler(refuse=frozenset({"u3"}))
    batches = PlacementBatches(lambda: scheduler)  # type: ignore[arg-type, return-value]
    ctx = RequestContext.admin()
    found = await _place(batches, ctx, ["u0", "u1", "u2", "u3", "u4"], frozenset({"u2"}))
    [(kind, asked)] = scheduler.calls
    assert (kind, sorted(asked)) == ("batch", ["u0", "u1", "u3", "u4"])
    for uuid in ("u0", "u1", "u4"):
        assert [s.host for s in found[uuid]] == ["h0", "h1", "h2"]
        assert {s.instance_uuid for s in found[uuid]} == {uuid}
    assert found["u2"] == "dropped"
    refused = found["u3"]
    assert isinstance(refused, NoValidHost) and "(u3)" in str(refused)
    assert refused.kwargs["filter_results"] == ["ResourceFilter: (start: 2, end: 0)"]
    assert refused.kwargs["instance_uuid"] == "u3"


async def test_a_lone_build_uses_the_plain_call_and_requests_do_not_share_a_batch() -> None:
    """A request of one build asks with ``select_destinations``; two requests at once
    (two contexts) are two batches, each with its own context."""
    scheduler = FakeScheduler(refuse=frozenset({"solo"}))
    batches = PlacementBatches(lambda: scheduler)  # type: ignore[arg-type, return-value]
    first, second = RequestContext.admin(), RequestContext.admin()
    alone, pair = await asyncio.gather(
        _place(batches, first, ["solo"], frozenset()),
        _place(batches, second, ["p0", "p1"], frozenset()),
    )
    assert sorted((kind, sorted(asked)) for kind, asked in scheduler.calls) == [
        ("batch", ["p0", "p1"]),
        ("one", ["solo"]),
    ]
    assert isinstance(alone["solo"], NoValidHost)
    assert all(isinstance(v, list) for v in pair.values())


async def test_a_failed_batch_call_fails_every_build_in_it_and_nothing_is_left_waiting() -> None:
    """The scheduler call itself failing is every asking build's failure; builds that all
    drop out send nothing."""
    scheduler = FakeScheduler(fail=True)
    batches = PlacementBatches(lambda: scheduler)  # type: ignore[arg-type, return-value]
    ctx = RequestContext.admin()
    found = await _place(batches, ctx, ["a", "b", "c"], frozenset())
    assert all(isinstance(v, NovaError) and "scheduler down" in str(v) for v in found.values())
    dropped = await _place(batches, ctx, ["x", "y"], frozenset({"x", "y"}))
    assert dropped == {"x": "dropped", "y": "dropped"}
    assert len(scheduler.calls) == 1
    assert "gathering=0" in repr(batches)


async def test_a_create_of_many_asks_the_scheduler_once_and_refuses_each_on_its_own(
    clouds: CloudFactory,
) -> None:
    """Ten servers on room for eight: one scheduler call for the request; eight ACTIVE,
    two in ERROR each with the scheduler's own explanation; the books agree
    (on both brokers)."""
    cloud = await clouds.start(
        computes=2,
        fake_driver={"vcpus": 4, "memory_mb": 4 * 512 + 512, "local_gb": 4},
        compute={
            "cpu_allocation_ratio": 1.0,
            "ram_allocation_ratio": 1.0,
            "disk_allocation_ratio": 1.0,
            "reserved_host_memory_mb": 512,
        },
    )
    admin = await cloud.login_admin()
    await unlimited_quota(cloud, admin)
    with counting(cloud.transport) as counts:
        servers = await admin.servers.create("many", flavor="m1.tiny", image="cirros", count=10)
        servers = await wait_all(admin, servers, "ACTIVE")
    calls = Counter({m: n for (kind, _, m), n in counts.messages.items() if kind == "call"})
    assert calls["select_destinations_batch"] == 1
    assert calls["select_destinations"] == 0
    assert Counter(s.status for s in servers) == {"ACTIVE": 8, "ERROR": 2}
    for server in servers:
        if server.status == "ERROR":
            assert server.fault is not None
            assert "No valid host was found" in server.fault.message
            assert "ResourceFilter removed 2" in server.fault.message
    assert {s.host for s in servers if s.status == "ACTIVE"} == {"compute1", "compute2"}
    await assert_audit_clean(cloud)
