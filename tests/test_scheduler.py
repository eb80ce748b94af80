"""The scheduler: each filter and weigher on its own, then placement through the RPC API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import ConfigError, NoValidHost
from nova_lite.scheduler import manager as scheduler_manager
from nova_lite.scheduler.filters import (
    FILTERS,
    AvailabilityZoneFilter,
    ComputeCapabilitiesFilter,
    ComputeFilter,
    ImagePropertiesFilter,
    ResourceFilter,
    ServerGroupAffinityFilter,
    ServerGroupAntiAffinityFilter,
    build_filters,
)
from nova_lite.scheduler.host_manager import MIGRATIONS, Allocation, HostManager, HostState
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.scheduler.weights import (
    WEIGHERS,
    BuildFailureWeigher,
    CPUWeigher,
    DiskWeigher,
    IoOpsWeigher,
    RAMWeigher,
    build_weighers,
    weigh_hosts,
)
from nova_lite.service import Service
from nova_lite.testing import TransportFactory

T = TypeVar("T")
TINY = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)
ADMIN = RequestContext.admin()


def node(host: str, **values: Any) -> objects.ComputeNode:
    """A 4-vCPU, 4 GiB, 40 GiB host with allocation ratios of 1 unless `values` say otherwise."""
    defaults: dict[str, Any] = {
        "hypervisor_hostname": host,
        "hypervisor_type": "fake",
        "vcpus": 4,
        "memory_mb": 4096,
        "local_gb": 40,
        "cpu_allocation_ratio": 1.0,
        "ram_allocation_ratio": 1.0,
        "disk_allocation_ratio": 1.0,
    }
    return objects.ComputeNode(host=host, **{**defaults, **values})


def state(host: str, **values: Any) -> HostState:
    """A HostState for a fresh `node(host, **values)` seen at time 0."""
    return HostState(node(host, **values), last_seen=0.0)


def spec(flavor: objects.Flavor = TINY, uuid: str = "i-1", **values: Any) -> objects.RequestSpec:
    """A RequestSpec for one instance of `flavor`."""
    return objects.RequestSpec(instance_uuid=uuid, project_id="p", flavor=flavor, **values)


def config(**scheduler: Any) -> Config:
    """A config with these ``[scheduler]`` settings."""
    return Config.load(environ={}, state_path=":memory:", scheduler=scheduler)


@pytest.fixture
async def hosts() -> AsyncIterator[HostManager]:
    """A HostManager over an in-memory database whose clock the test sets (`hosts.now`)."""
    db = Database(":memory:", MIGRATIONS, name="scheduler")
    await db.open()
    clock = Clock()
    manager = HostManager(db, clock=clock)
    manager.now = clock  # type: ignore[attr-defined]
    yield manager
    await db.close()


@attrs.define
class Clock:
    """A settable clock for the HostManager."""

    value: float = 1000.0

    def __call__(self) -> float:
        return self.value


def passing(
    host_filter: Any, states: Sequence[HostState], request: objects.RequestSpec
) -> list[str]:
    """The names of the hosts `host_filter` passes."""
    return [s.host for s in states if host_filter.host_passes(s, request)]


def ranking(states: Sequence[HostState], weighers: Sequence[Any]) -> list[str]:
    """The hosts best first."""
    return [s.host for _, s in weigh_hosts(states, spec(), weighers)]


# -- filters -----------------------------------------------------------------------


async def test_compute_filter_passes_a_host_that_reported_recently(hosts: HostManager) -> None:
    """A host is up until service_down_time has passed since its last report, then down."""
    cfg = config()
    down_after = cfg.compute.service_down_time
    await hosts.update_node(node("a"))
    compute_filter = ComputeFilter(cfg, hosts)
    clock: Clock = hosts.now  # type: ignore[attr-defined]

    clock.value += down_after
    assert passing(compute_filter, hosts.candidates(), spec()) == ["a"]
    clock.value += 0.001
    assert passing(compute_filter, hosts.candidates(), spec()) == []
    await hosts.update_node(node("a"))
    assert passing(compute_filter, hosts.candidates(), spec()) == ["a"]


async def test_compute_filter_refuses_a_disabled_host(hosts: HostManager) -> None:
    """A disabled host fails the ComputeFilter even though it reports."""
    await hosts.update_node(node("a", disabled=True))
    await hosts.update_node(node("b"))

    assert passing(ComputeFilter(config(), hosts), hosts.candidates(), spec()) == ["b"]


@pytest.mark.parametrize(
    ("flavor", "fits"),
    [
        ({"vcpus": 4, "memory_mb": 4096, "root_gb": 40}, True),
        ({"vcpus": 5, "memory_mb": 512, "root_gb": 1}, False),
        ({"vcpus": 1, "memory_mb": 4097, "root_gb": 1}, False),
        ({"vcpus": 1, "memory_mb": 512, "root_gb": 41}, False),
        ({"vcpus": 1, "memory_mb": 512, "root_gb": 40, "swap": 1}, False),
    ],
)
def test_resource_filter_passes_a_host_with_room_for_the_flavor(
    flavor: dict[str, Any], fits: bool
) -> None:
    """A host passes only if its free vCPUs, RAM and disk (swap included) all hold the flavor."""
    wanted = objects.Flavor(flavorid="x", name="x", **flavor)

    assert ResourceFilter(config(), None).host_passes(state("a"), spec(wanted)) is fits  # type: ignore[arg-type]


def test_resource_filter_counts_claims_and_allocation_ratios() -> None:
    """Claimed usage is subtracted and allocation ratios multiply the capacity."""
    overcommitted = state("a", cpu_allocation_ratio=2.0)
    overcommitted.add(Allocation("i-0", "a", 7, 512, 1))
    resource_filter = ResourceFilter(config(), None)  # type: ignore[arg-type]

    assert resource_filter.host_passes(overcommitted, spec())
    overcommitted.add(Allocation("i-2", "a", 1, 512, 1))
    assert not resource_filter.host_passes(overcommitted, spec())


def test_availability_zone_filter_matches_the_requested_zone() -> None:
    """No requested zone passes every host; a zone passes only the hosts in it."""
    states = [state("a", availability_zone="nova"), state("b", availability_zone="edge")]
    zone_filter = AvailabilityZoneFilter(config(), None)  # type: ignore[arg-type]

    assert passing(zone_filter, states, spec()) == ["a", "b"]
    assert passing(zone_filter, states, spec(availability_zone="edge")) == ["b"]
    assert passing(zone_filter, states, spec(availability_zone="atlantis")) == []


def test_compute_capabilities_filter_matches_capability_extra_specs() -> None:
    """``capabilities:<key>`` extra specs must equal the host's value; other scopes are ignored."""
    states = [state("a", hypervisor_type="fake"), state("b", hypervisor_type="kvm")]
    capabilities = ComputeCapabilitiesFilter(config(), None)  # type: ignore[arg-type]

    def flavor(**extra: str) -> objects.RequestSpec:
        return spec(attrs.evolve(TINY, extra_specs=extra))

    assert passing(capabilities, states, flavor(**{"capabilities:hypervisor_type": "kvm"})) == ["b"]
    assert passing(capabilities, states, flavor(**{"capabilities:vcpus": "4"})) == ["a", "b"]
    assert passing(capabilities, states, flavor(**{"capabilities:gpu": "yes"})) == []
    assert passing(capabilities, states, flavor(**{"hw:cpu_policy": "dedicated"})) == ["a", "b"]


def test_image_properties_filter_matches_architecture_and_hypervisor() -> None:
    """An image's architecture and hypervisor type must be supported by the host."""
    states = [state("a"), state("b", supported_instances=("aarch64",), hypervisor_type="kvm")]
    images = ImagePropertiesFilter(config(), None)  # type: ignore[arg-type]

    def image(**properties: str) -> objects.RequestSpec:
        return spec(image=objects.Image(id="img", name="img", properties=properties))

    assert passing(images, states, spec()) == ["a", "b"]
    assert passing(images, states, image()) == ["a", "b"]
    assert passing(images, states, image(hw_architecture="aarch64")) == ["b"]
    assert passing(images, states, image(architecture="x86_64")) == ["a"]
    assert passing(images, states, image(img_hv_type="fake")) == ["a"]
    assert passing(images, states, image(hw_architecture="s390x")) == []


async def test_anti_affinity_keeps_group_members_apart(hosts: HostManager) -> None:
    """An anti-affinity group's next member may not go to a host that holds one."""
    for name in ("a", "b"):
        await hosts.update_node(node(name))
    await hosts.claim(Allocation("i-0", "a", 1, 512, 1, "g1"))
    anti = ServerGroupAntiAffinityFilter(config(), hosts)

    assert passing(
        anti, hosts.candidates(), spec(instance_group="g1", group_policy="anti-affinity")
    ) == ["b"]
    assert passing(
        anti, hosts.candidates(), spec(instance_group="g2", group_policy="anti-affinity")
    ) == ["a", "b"]
    assert passing(anti, hosts.candidates(), spec(instance_group="g1")) == ["a", "b"]


async def test_affinity_keeps_group_members_together(hosts: HostManager) -> None:
    """An affinity group's first member may go anywhere, the next ones only where it went."""
    for name in ("a", "b"):
        await hosts.update_node(node(name))
    together = spec(instance_group="g1", group_policy="affinity")
    affinity = ServerGroupAffinityFilter(config(), hosts)

    assert passing(affinity, hosts.candidates(), together) == ["a", "b"]
    await hosts.claim(Allocation("i-0", "b", 1, 512, 1, "g1"))
    assert passing(affinity, hosts.candidates(), together) == ["b"]
    await hosts.release("i-0")
    assert passing(affinity, hosts.candidates(), together) == ["a", "b"]


def test_an_unknown_filter_name_is_a_config_error_listing_the_known_ones() -> None:
    """Naming a filter that does not exist fails with ConfigError listing every known filter."""
    cfg = config(enabled_filters=["ComputeFilter", "RamFilterr"])

    with pytest.raises(ConfigError, match="RamFilterr") as caught:
        build_filters(cfg, None)  # type: ignore[arg-type]

    assert all(name in str(caught.value) for name in FILTERS)


def test_an_unknown_weigher_name_is_a_config_error_listing_the_known_ones() -> None:
    """Naming a weigher that does not exist fails with ConfigError listing every known weigher."""
    with pytest.raises(ConfigError, match="Heavy") as caught:
        build_weighers(config(weighers=["Heavy"]))

    assert all(name in str(caught.value) for name in WEIGHERS)


# -- weighers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weigher", "multiplier", "resource"),
    [
        (RAMWeigher, "ram_weight_multiplier", {"memory_mb": 8192}),
        (CPUWeigher, "cpu_weight_multiplier", {"vcpus": 8}),
        (DiskWeigher, "disk_weight_multiplier", {"local_gb": 80}),
    ],
)
def test_resource_weighers_spread_and_a_negative_multiplier_stacks(
    weigher: type[Any], multiplier: str, resource: dict[str, int]
) -> None:
    """A positive multiplier prefers the host with more free resource, a negative one the fuller
    host.
    """
    states = [state("small"), state("big", **resource)]

    assert ranking(states, [weigher(config(**{multiplier: 1.0}))]) == ["big", "small"]
    assert ranking(states, [weigher(config(**{multiplier: -1.0}))]) == ["small", "big"]


def test_weights_are_normalised_min_max_then_multiplied() -> None:
    """Each weigher's raw values map to 0..1 across the hosts before its multiplier applies."""
    states = [state("a", memory_mb=1024), state("b", memory_mb=2048), state("c", memory_mb=5120)]
    ram = RAMWeigher(config(ram_weight_multiplier=2.0))

    weights = {s.host: w for w, s in weigh_hosts(states, spec(), [ram])}

    assert weights == {"a": 0.0, "b": 0.5, "c": 2.0}


def test_equal_hosts_keep_their_order_and_weigh_nothing() -> None:
    """When a weigher sees no difference it adds nothing, and ties keep the hosts' order."""
    states = [state("a"), state("b"), state("c")]
    weighers = build_weighers(config())

    assert weigh_hosts(states, spec(), weighers) == [(0.0, s) for s in states]


def test_build_failure_weigher_pushes_failing_hosts_away() -> None:
    """A host with recent build failures ranks last even with far more free resources."""
    failing = state("failing", memory_mb=65536, vcpus=64, local_gb=1000, failed_builds=2)
    states = [failing, state("healthy")]

    assert ranking(states, build_weighers(config())) == ["healthy", "failing"]
    assert ranking(states, [BuildFailureWeigher(config())]) == ["healthy", "failing"]


def test_io_ops_weigher_avoids_busy_hosts() -> None:
    """With the default negative multiplier, the host with fewer builds in progress wins."""
    busy, quiet = state("busy", io_ops=3), state("quiet", io_ops=1)
    busy.in_progress = 1

    assert ranking([busy, quiet], [IoOpsWeigher(config())]) == ["quiet", "busy"]
    assert ranking([busy, quiet], [IoOpsWeigher(config(io_ops_weight_multiplier=1.0))]) == [
        "busy",
        "quiet",
    ]


# -- the scheduler service -----------------------------------------------------------


@attrs.define
class Picker:
    """Stands in for `random` in the scheduler: records each subset, picks its last host."""

    subsets: list[list[str]] = attrs.field(factory=list)

    def choice(self, hosts: Sequence[T]) -> T:
        self.subsets.append([h.host for h in hosts])  # type: ignore[attr-defined]
        return hosts[-1]


def service_config(broker: TransportFactory, tmp_path: Path, **scheduler: Any) -> Config:
    """A config isolated on the broker, keeping the scheduler's database under `tmp_path`."""
    return Config.load(
        environ={}, state_path=str(tmp_path), rpc=broker.rpc_options(), scheduler=scheduler
    )


async def test_host_subset_size_picks_among_the_best_hosts(
    broker: TransportFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With host_subset_size 2 the pick is made among the two best hosts only, the rest are
    alternates.
    """
    picker = Picker()
    monkeypatch.setattr(scheduler_manager, "random", picker)
    cfg = service_config(broker, tmp_path, host_subset_size=2)
    transport = await broker.connect()
    manager = SchedulerManager(cfg, transport, "s1")
    async with Service(manager, serializer=objects.serializer()):
        api = SchedulerAPI(transport, cfg)
        nodes = [node(h, memory_mb=m) for h, m in (("a", 2048), ("b", 8192), ("c", 4096))]
        await report(manager, api, *nodes)

        selections = await api.select_destinations(ADMIN, spec(), 2)

    assert picker.subsets == [["b", "c"]]
    assert [s.host for s in selections] == ["c", "b", "a"]


class Heard:
    """Counts the host reports a scheduler has applied, so a test can await them."""

    def __init__(self, manager: SchedulerManager) -> None:
        self.count = 0
        self._changed = asyncio.Condition()
        update = manager.hosts.update_node

        async def counted(reported: objects.ComputeNode) -> None:
            await update(reported)
            async with self._changed:
                self.count += 1
                self._changed.notify_all()

        manager.hosts.update_node = counted  # type: ignore[method-assign,assignment]

    async def reports(self, count: int) -> None:
        """Return once `count` reports have been applied."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.count >= count), 10)


async def report(manager: SchedulerManager, api: SchedulerAPI, *nodes: objects.ComputeNode) -> None:
    """Send host reports the way computes do (a fanout cast) and await their handling."""
    heard = Heard(manager)
    for reported in nodes:
        await api.update_compute_node(ADMIN, reported)
    await heard.reports(len(nodes))


async def test_no_valid_host_is_raised_to_the_caller(
    broker: TransportFactory, tmp_path: Path
) -> None:
    """A request no host can hold raises NoValidHost on the caller's side and claims nothing."""
    cfg = service_config(broker, tmp_path)
    transport = await broker.connect()
    manager = SchedulerManager(cfg, transport, "s1")
    async with Service(manager, serializer=objects.serializer()):
        api = SchedulerAPI(transport, cfg)
        await report(manager, api, node("a"))
        huge = attrs.evolve(TINY, vcpus=64)

        with pytest.raises(NoValidHost, match="No valid host"):
            await api.select_destinations(ADMIN, spec(huge))

        [host] = await api.list_hosts(ADMIN)
    assert host["vcpus_used"] == 0 and host["running_vms"] == 0


async def test_claims_survive_a_scheduler_restart(broker: TransportFactory, tmp_path: Path) -> None:
    """A restarted scheduler reloads hosts and claims from its database and keeps counting them."""
    cfg = service_config(broker, tmp_path)
    transport = await broker.connect()
    api = SchedulerAPI(transport, cfg)
    manager = SchedulerManager(cfg, transport, "s1")
    async with Service(manager, serializer=objects.serializer()):
        await report(manager, api, node("a", vcpus=2))
        first = await api.select_destinations(ADMIN, spec(uuid="i-1"))
        await api.select_destinations(ADMIN, spec(uuid="i-2"))

    async with Service(SchedulerManager(cfg, transport, "s1"), serializer=objects.serializer()):
        [host] = await api.list_hosts(ADMIN)
        assert (host["vcpus_used"], host["memory_mb_used"], host["running_vms"]) == (2, 1024, 2)
        with pytest.raises(NoValidHost):
            await api.select_destinations(ADMIN, spec(uuid="i-3"))
        await api.release(ADMIN, "i-1")
        assert not await api.claim(ADMIN, attrs.evolve(first[0], instance_uuid="i-4", vcpus=2))
        assert await api.claim(ADMIN, attrs.evolve(first[0], instance_uuid="i-4"))
        [host] = await api.list_hosts(ADMIN)
    assert (host["vcpus_used"], host["running_vms"]) == (2, 2)


async def test_host_is_up_follows_the_reports(broker: TransportFactory, tmp_path: Path) -> None:
    """host_is_up is true for a host heard within service_down_time, false when late or unknown."""
    cfg = service_config(broker, tmp_path)
    transport = await broker.connect()
    manager = SchedulerManager(cfg, transport, "s1")
    clock = Clock()
    manager.hosts.clock = clock
    async with Service(manager, serializer=objects.serializer()):
        api = SchedulerAPI(transport, cfg)
        await report(manager, api, node("a"))
        assert await api.host_is_up(ADMIN, "a")
        assert not await api.host_is_up(ADMIN, "nowhere")
        clock.value += cfg.compute.service_down_time + 1
        assert not await api.host_is_up(ADMIN, "a")
