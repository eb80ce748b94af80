"""Which hosts a request may go to, best first: the filters and weighers over a sample.

Nova's FilterScheduler filters every host and weighs every survivor, so a decision
costs in proportion to the cloud. Here it costs in proportion to the sample:

1. **Pool.** A filter may name the hosts outside which it passes none
   (`filters.narrow`); the smallest such pool is where the search starts, every host
   otherwise. With the ResourceFilter on, the pool holds at most the hosts with
   enough free of the request's scarcest resource (a bisection in `HostIndex`).
2. **Sample.** The pool's ends come first (for the hosts that fit by resources, the
   hosts with the most and with the least free of each resource: what a spreading
   and a packing weigher would pick), then the pool is read in blocks at a
   golden-ratio stride from a random start, so the first blocks lie evenly across
   it. Hosts are filtered until `hosts_to_score` have passed (kube-scheduler's
   percentageOfNodesToScore, with its minimum), or the pool is spent.
3. **Weigh.** The hosts that passed are weighed as Nova does, each weigher's values
   normalised across them, and the best come first.

The ends and the stride cover every host of the pool, so a request finds no host
only after every host of the pool failed a filter: sampling never refuses a request
that some host can take (`tests/test_scheduler_sampling.py` checks it against every
filter's verdict on every host).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import attrs

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.scheduler.explain import FilterTally
from nova_lite.scheduler.filters import HostFilter, filter_hosts, narrow
from nova_lite.scheduler.host_index import HostPool
from nova_lite.scheduler.host_manager import HostManager, HostState
from nova_lite.scheduler.weights import Weigher, weigh_hosts

__all__ = ["BLOCKS", "FilterScheduler", "HostSearch", "Ranking", "SamplingRule", "block_starts"]

# Blocks a sample is read in: enough strata across the pool, few slices to read.
BLOCKS = 16
GOLDEN = (math.sqrt(5) - 1) / 2


@attrs.frozen(kw_only=True)
class SamplingRule:
    """How many hosts that pass the filters to weigh: a percentage, with a minimum."""

    percentage: float = 100.0
    minimum: int = 1

    @classmethod
    def from_config(cls, config: Config) -> SamplingRule:
        scheduler = config.scheduler
        return cls(
            percentage=scheduler.percentage_of_hosts_to_score,
            minimum=scheduler.min_hosts_to_score,
        )

    def hosts_to_score(self, hosts: int) -> int:
        """How many passing hosts to weigh in a cloud of `hosts` hosts."""
        if self.percentage >= 100:
            return hosts
        return max(self.minimum, math.ceil(hosts * self.percentage / 100))


@attrs.frozen
class Ranking:
    """The result of one search: hosts best first, and how the search went."""

    hosts: list[HostState]
    passed: int  # hosts that passed every filter (all weighed)
    pool: int  # hosts in the pool the search started from
    complete: bool  # every host of the pool was filtered: no other host can pass
    refused_by: str | None = None  # the filter that refused the last hosts, if none passed


class HostSearch(Protocol):
    """What the SchedulerManager asks of its driver (the FilterScheduler, or a stand-in)."""

    def rank(
        self,
        spec: objects.RequestSpec,
        *,
        limit: int | None = None,
        tally: FilterTally | None = None,
    ) -> Ranking: ...

    def rank_all(self, spec: objects.RequestSpec) -> Ranking: ...


class FilterScheduler:
    """Filters and weighs a bounded sample of the hosts that may fit a request."""

    def __init__(
        self,
        hosts: HostManager,
        filters: Sequence[HostFilter],
        weighers: Sequence[Weigher],
        rule: SamplingRule,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.hosts = hosts
        self.filters = list(filters)
        self.weighers = list(weighers)
        self.rule = rule
        # The sample's start is drawn from the `random` module unless `rng` is given:
        # a private `random.Random()` seeds itself from os.urandom, so a simulation
        # (which seeds `random`) sampled differently in each process once a request's
        # pool outgrew the hosts to weigh (min_hosts_to_score, 100): the same totals,
        # different hosts. The manager's host_subset_size choice draws from it too.
        self._randrange = rng.randrange if rng is not None else random.randrange
        self._refused_by: str | None = None

    def __repr__(self) -> str:
        return f"<FilterScheduler {self.rule} over {len(self.hosts.hosts)} hosts>"

    def pool(self, spec: objects.RequestSpec) -> HostPool:
        """The smallest pool a filter names for this request, or every host."""
        return self._narrowest(spec)[0]

    def _narrowest(self, spec: objects.RequestSpec) -> tuple[HostPool, str | None]:
        """`pool`, with the name of the filter whose index gave it (None: every host)."""
        index = self.hosts.index
        best: HostPool | None = None
        best_size, by = len(index), None
        for host_filter in self.filters:
            narrowed = narrow(host_filter, spec)
            if narrowed is not None and (size := len(narrowed)) < best_size:
                best, best_size, by = narrowed, size, type(host_filter).__name__
        return (index.all() if best is None else best), by

    def _tallied_pool(self, spec: objects.RequestSpec, tally: FilterTally | None) -> HostPool:
        """The pool; the hosts its filter's index left out count as that filter's removals
        (so "No valid host" names the filter, not an empty cloud)."""
        pool, by = self._narrowest(spec)
        if tally is not None and by is not None:
            left_out = len(self.hosts.index) - len(pool)
            tally.began(left_out)
            tally.record(by, left_out, 0)
        return pool

    def rank(
        self,
        spec: objects.RequestSpec,
        *,
        limit: int | None = None,
        tally: FilterTally | None = None,
    ) -> Ranking:
        """The best (up to `limit`) of a sample of the hosts that pass every filter.

        `tally`, if given, counts each filter's hosts in and out over every batch
        filtered (what "No valid host" explains).
        """
        pool = self._tallied_pool(spec, tally)
        want = self.rule.hosts_to_score(len(self.hosts.hosts))
        self._refused_by = None
        if want >= len(pool):
            passed, complete = self.passing(pool.slice(0, len(pool)), spec, tally), True
        else:
            passed, complete = self._sample(pool, spec, want, tally)
        ranked = [host for _, host in weigh_hosts(passed, spec, self.weighers, limit=limit)]
        refused_by = None if passed else self._refused_by
        return Ranking(ranked, len(passed), len(pool), complete, refused_by)

    def rank_all(self, spec: objects.RequestSpec) -> Ranking:
        """Every host of the pool that passes every filter, best first (no sample)."""
        pool = self.pool(spec)
        self._refused_by = None
        passed = self.passing(pool.slice(0, len(pool)), spec)
        ranked = [host for _, host in weigh_hosts(passed, spec, self.weighers)]
        return Ranking(ranked, len(passed), len(pool), True, None if passed else self._refused_by)

    def passing(
        self,
        hosts: list[HostState],
        spec: objects.RequestSpec,
        tally: FilterTally | None = None,
    ) -> list[HostState]:
        """The hosts of `hosts` that every filter passes (and the request does not ignore)."""
        if spec.ignore_hosts:
            ignored = set(spec.ignore_hosts)
            hosts = [host for host in hosts if host.host not in ignored]
        if tally is not None:
            tally.began(len(hosts))
        for host_filter in self.filters:
            if not hosts:
                break
            given = len(hosts)
            hosts = filter_hosts(host_filter, hosts, spec)
            if tally is not None:
                tally.record(type(host_filter).__name__, given, len(hosts))
            if not hosts:
                self._refused_by = type(host_filter).__name__
        return hosts

    def _sample(
        self, pool: HostPool, spec: objects.RequestSpec, want: int, tally: FilterTally | None
    ) -> tuple[list[HostState], bool]:
        """Hosts that pass, read block by block until `want` have passed or the pool ends.

        The pool's ends come first; then blocks are gathered until they hold as many
        candidates as should yield the hosts still wanted, at the share that passed
        so far, and are filtered together.
        """
        size = max(1, math.ceil(want / BLOCKS))
        ends = pool.ends(size)
        batch, seen = list(ends), set(ends)
        passed: list[HostState] = []
        read, enough = 0, want + len(ends)  # the ends on top: one round where most pass
        for start in block_starts(len(pool), size, self._randrange):
            batch += pool.slice(start, start + size)
            if len(batch) >= enough:
                # A block may hold an end: the first round drops it as a repeat, later
                # rounds as already read.
                batch = [h for h in batch if h not in seen] if read else list(dict.fromkeys(batch))
                read += len(batch)
                passed += self.passing(batch, spec, tally)
                batch = []
                if len(passed) >= want:
                    return passed, False
                enough = math.ceil((want - len(passed)) * read / max(len(passed), 1))
        if batch:
            batch = [h for h in batch if h not in seen] if read else list(dict.fromkeys(batch))
            passed += self.passing(batch, spec, tally)
        return passed, True


def block_starts(length: int, size: int, randrange: Callable[[int], int]) -> Iterator[int]:
    """Where each block of `size` hosts of a pool of `length` starts, but the first and
    the last block (the pool's ends, read before).

    The blocks come at a stride of about 0.618 of the block count (coprime with it,
    so each comes exactly once) from a random one: the first few lie evenly across
    the pool.
    """
    count = math.ceil(length / size)
    if count <= 2:
        return
    step = _coprime_step(count)
    block = randrange(count)
    for _ in range(count):
        if block not in (0, count - 1):
            yield block * size
        block += step
        if block >= count:
            block -= count


def _coprime_step(count: int) -> int:
    step = max(1, round(count * GOLDEN))
    while math.gcd(step, count) != 1:
        step += 1
    return step
