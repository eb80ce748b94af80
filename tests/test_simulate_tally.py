"""A simulation's samples from sums kept as hosts change equal a scan of every host."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from nova_lite import objects
from nova_lite.db import Database
from nova_lite.scheduler.host_manager import MIGRATIONS, Allocation, HostManager
from nova_lite.simulate.report import Recorder, counted_percentile, percentile

FLAVORS = [
    objects.Flavor(flavorid=str(n), name=f"f{n}", vcpus=n, memory_mb=1024 * n, root_gb=10)
    for n in (1, 2, 4, 8)
]


@pytest.mark.parametrize("ram_ratio", [1.5, 1.1], ids=["whole", "fractional"])
async def test_a_tally_gives_the_scans_sample_byte_for_byte(ram_ratio: float) -> None:
    """Claims, releases and reports on 10 hosts; after each round the sample from the
    tally equals the one a scan gives (whole figures: summed as they change; a
    fractional allocation ratio: the tally says it is not exact, and the sample scans)."""
    db = Database(":memory:", MIGRATIONS, name="scheduler")
    await db.open()
    hosts = HostManager(db)
    try:
        for n in range(10):
            await hosts.update_node(objects.ComputeNode(
                host=f"h{n}", hypervisor_hostname=f"h{n}", hypervisor_type="fake", vcpus=8,
                memory_mb=16384, local_gb=100, ram_allocation_ratio=ram_ratio,
            ))  # fmt: skip
        scanned, tallied = Recorder(60.0, FLAVORS), Recorder(60.0, FLAVORS)
        tally = tallied.tally()
        hosts.watch(tally.update)
        rng = random.Random(7)
        live: list[str] = []
        for step in range(300):
            if live and rng.random() < 0.4:
                await hosts.release(live.pop(rng.randrange(len(live))))
            else:
                flavor = rng.choice(FLAVORS)
                uuid = f"i-{step}"
                host = f"h{rng.randrange(10)}"
                allocation = Allocation(uuid, host, flavor.vcpus, flavor.memory_mb, 10)
                if await hosts.claim(allocation, verify=True):
                    live.append(uuid)
            if step % 30 == 0:
                scanned.sample(hosts.hosts.values(), float(step))
                tallied.sample(tally, float(step))
        await hosts.update_node(objects.ComputeNode(
            host="h99", hypervisor_hostname="h99", hypervisor_type="fake", vcpus=4,
            memory_mb=8192, local_gb=50,
        ))  # fmt: skip
        scanned.sample(hosts.hosts.values(), 999.0)
        tallied.sample(tally, 999.0)
        assert tally.exact() == (ram_ratio == 1.5)
        assert scanned.samples == tallied.samples
        assert any(s["stranded_vcpus"] for s in scanned.samples)  # full disks strand vCPUs
    finally:
        await db.close()


def test_a_counted_percentile_is_the_nearest_rank_of_the_values() -> None:
    rng = random.Random(3)
    values = [rng.choice([0.0, 0.125, 0.25, 0.5, 1.0]) for _ in range(101)]
    counts = {v: values.count(v) for v in set(values)}
    for q in (1, 50, 90, 99, 100):
        assert counted_percentile(Counter(counts), q) == percentile(values, q)
    assert counted_percentile(Counter(), 50) == 0.0
