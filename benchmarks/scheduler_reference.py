"""The scheduler scenario's same-run reference and quality checks.

`ExhaustivePath` is how the scheduler searched before it sampled (main up to d672fbd):
every known host through every filter, every survivor weighed. It stands in for the
`FilterScheduler` of a SchedulerManager, with that manager's host manager, filters,
weighers, claims and endpoint, so the two contenders of a run differ only in the
search (the reference pays the index upkeep of each claim too, a few microseconds).

`Quality` follows the sampled contender: before a measured decision it finds, the
reference's way and untimed, every host that passes and its weight; after it, where
the sampled pick ranks among them. It also checks every refusal against every host.
`Books` records, decision by decision, the spread the placements made (hosts used,
the fullest host's RAM), so both contenders are compared after as many decisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from nova_lite import objects
from nova_lite.scheduler.driver import Ranking
from nova_lite.scheduler.explain import FilterTally
from nova_lite.scheduler.filters import filter_hosts
from nova_lite.scheduler.host_manager import HostState
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.scheduler.weights import weigh_hosts

__all__ = ["Books", "ExhaustivePath", "Quality"]


class ExhaustivePath:
    """The old search, every host filtered and every survivor weighed (the reference).

    It has the `FilterScheduler`'s `rank` and `rank_all`, so a SchedulerManager whose
    driver it replaces decides through the same endpoint, lock, claims and replies.
    """

    def __init__(self, manager: SchedulerManager) -> None:
        self.manager = manager

    def passing(self, spec: objects.RequestSpec) -> list[HostState]:
        """Every known host that every filter passes."""
        hosts = self.manager.hosts.candidates(spec.ignore_hosts)
        for host_filter in self.manager.filters:
            hosts = filter_hosts(host_filter, hosts, spec)
            if not hosts:
                break
        return hosts

    def rank(
        self,
        spec: objects.RequestSpec,
        *,
        limit: int | None = None,
        tally: FilterTally | None = None,
    ) -> Ranking:
        passing = self.passing(spec)
        ranked = [h for _, h in weigh_hosts(passing, spec, self.manager.weighers, limit=limit)]
        return Ranking(ranked, len(passing), len(self.manager.hosts.hosts), True)

    def rank_all(self, spec: objects.RequestSpec) -> Ranking:
        return self.rank(spec)


@attrs.define
class Quality:
    """How the sampled picks compare with the exhaustive weighing, decision by decision."""

    reference: ExhaustivePath
    measured: int = 0
    above: list[float] = attrs.field(factory=list)  # share of fitting hosts weighed above a pick
    refused_though_fitted: int = 0
    invalid_picks: int = 0  # picks of a host that some filter refuses (must be 0)
    _weights: dict[str, float] = attrs.field(factory=dict)

    def before(self, spec: objects.RequestSpec) -> None:
        """Weigh every host that passes, as the exhaustive path would (untimed)."""
        passing = self.reference.passing(spec)
        weighed = weigh_hosts(passing, spec, self.reference.manager.weighers)
        self._weights = {host.host: weight for weight, host in weighed}

    def after(self, picked: str | None) -> None:
        """Where the sampled pick ranks among the hosts weighed before it."""
        weights, self._weights = self._weights, {}
        self.measured += 1
        if picked is None:
            self.refused_though_fitted += bool(weights)
            return
        if picked not in weights:
            self.invalid_picks += 1
            return
        mine = weights[picked]
        self.above.append(sum(1 for w in weights.values() if w > mine + 1e-9) / len(weights))

    def refused(self, spec: objects.RequestSpec) -> None:
        """A refusal outside the measured decisions: check it against every host too."""
        if self.reference.passing(spec):
            self.refused_though_fitted += 1


@attrs.define
class Books:
    """The spread of the placements after each decision: hosts used, fullest host's RAM."""

    used: set[str] = attrs.field(factory=set)
    fullest: float = 0.0
    hosts_used: list[int] = attrs.field(factory=list)
    fullest_ram: list[float] = attrs.field(factory=list)

    def record(self, manager: SchedulerManager, picked: str | None) -> None:
        if picked is not None:
            self.used.add(picked)
            node = manager.hosts.hosts[picked]
            capacity = node.node.memory_mb * node.node.ram_allocation_ratio
            self.fullest = max(self.fullest, node.memory_mb_used / capacity)
        self.hosts_used.append(len(self.used))
        self.fullest_ram.append(self.fullest)

    def at(self, decisions: int) -> tuple[int, float]:
        """Hosts used and the fullest host's RAM share after `decisions` decisions."""
        if decisions == 0:
            return 0, 0.0
        return self.hosts_used[decisions - 1], self.fullest_ram[decisions - 1]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
