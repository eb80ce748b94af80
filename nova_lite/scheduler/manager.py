"""The scheduler: picks hosts for instances and keeps every host's claims.

`select_destinations` asks the `FilterScheduler` for the best hosts of a sample of
those that pass the filters, picks one of the best `host_subset_size` at random,
claims the flavor's resources there and returns it with alternates (claimed only if
a reschedule needs them). If every claim of the sample loses a race with another
scheduler, every passing host is ranked and tried. Choosing and claiming happen
under one lock, so concurrent requests never oversubscribe a host.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import random
from typing import Any, ClassVar

import attrs
import structlog

from nova_lite import objects, paging
from nova_lite.admin import require_admin
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import NoValidHost, NovaLiteError
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.scheduler.driver import FilterScheduler, HostSearch, SamplingRule
from nova_lite.scheduler.explain import FilterTally, decided, refuse
from nova_lite.scheduler.filters import build_filters
from nova_lite.scheduler.host_manager import MIGRATIONS, Allocation, HostManager, HostState
from nova_lite.scheduler.weights import build_weighers
from nova_lite.service import Manager
from nova_lite.transport import Transport

__all__ = ["SchedulerManager"]

log = structlog.get_logger(__name__)

# Hosts ranked beyond the subset and the alternates, for claims that lose a race.
_SPARE = 8


class SchedulerManager(Manager):
    """Chooses hosts with filters and weighers and tracks resource claims."""

    topic: ClassVar[str] = "scheduler"
    target: ClassVar[Target] = Target(
        version="1.4"
    )  # 1.1: select_destinations_batch; 1.2: list_hosts pages; 1.3: list_allocations pages;
    # 1.4: service_heartbeat

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("scheduler"), MIGRATIONS, name="scheduler")
        self.hosts = HostManager(self.db)
        self.filters = build_filters(config, self.hosts)
        self.weighers = build_weighers(config)
        self.driver: HostSearch = FilterScheduler(
            self.hosts, self.filters, self.weighers, SamplingRule.from_config(config)
        )
        self._lock = asyncio.Lock()

    async def init_host(self) -> None:
        await self.db.open()
        await self.hosts.load()

    async def cleanup_host(self) -> None:
        self.hosts.close()
        await self.db.close()

    @endpoint
    async def update_compute_node(self, ctx: RequestContext, node: objects.ComputeNode) -> None:
        """A compute host's periodic report: its capacity, and that it is alive."""
        await self.hosts.update_node(node)

    @endpoint
    async def service_heartbeat(self, ctx: RequestContext, host: str) -> None:
        """A compute host is alive and its last full report still holds (1.4)."""
        if not await self.hosts.heartbeat(host):
            # Not reported here yet (this scheduler started after the host's last
            # full report): its next one, within resource_report_interval, adds it.
            log.debug("scheduler.heartbeat_of_unknown_host", host=host)

    @endpoint
    async def select_destinations(
        self, ctx: RequestContext, spec: objects.RequestSpec, num_alternates: int = 0
    ) -> list[objects.Selection]:
        """The chosen host (resources claimed) followed by up to `num_alternates` others."""
        tally = FilterTally()
        async with self._lock:
            # The best few are enough unless every one of them fails its claim.
            limit = self.config.scheduler.host_subset_size + num_alternates + _SPARE
            ranking = self.driver.rank(spec, limit=limit, tally=tally)
            if not ranking.hosts:
                raise refuse(self.transport, spec, tally)
            ranked = ranking.hosts
            tally.passed = ranking.passed
            chosen = await self._claim_best(spec, ranked, tally)
            if chosen is None and not (ranking.complete and len(ranked) == ranking.passed):
                ranking = self.driver.rank_all(spec)
                ranked = ranking.hosts
                tally.passed = max(tally.passed, ranking.passed)
                chosen = await self._claim_best(spec, ranked, tally)
            if chosen is None:
                raise refuse(self.transport, spec, tally)
        others = [h for h in ranked if h is not chosen][:num_alternates]
        decided(self.transport, spec, tally, host=chosen.host)
        log.info(
            "scheduler.selected",
            instance_uuid=spec.instance_uuid,
            host=chosen.host,
            candidates=ranking.passed,
            pool=ranking.pool,
        )
        return [_selection(spec, h.host) for h in (chosen, *others)]

    @endpoint
    async def select_destinations_batch(
        self, ctx: RequestContext, specs: list[objects.RequestSpec], num_alternates: int = 0
    ) -> list[objects.Destinations]:
        """Place several instances of one request in one call (version 1.1).

        Each is decided as `select_destinations` decides one, in order, under the same
        lock per decision, so the claims, alternates and "No valid host" explanation
        are each instance's own: one instance refused does not refuse the others. An
        error placing one instance is its outcome (`fault`), not the batch's.
        """
        outcomes = []
        for spec in specs:
            try:
                selections = await self.select_destinations(ctx, spec, num_alternates)
            except Exception as exc:
                if not isinstance(exc, NoValidHost):
                    log.exception("scheduler.select_failed", instance_uuid=spec.instance_uuid)
                outcomes.append(_refused(spec, exc))
            else:
                outcomes.append(
                    objects.Destinations(
                        instance_uuid=spec.instance_uuid, selections=tuple(selections)
                    )
                )
        return outcomes

    async def _claim_best(
        self, spec: objects.RequestSpec, ranked: list[HostState], tally: FilterTally
    ) -> HostState | None:
        """Claim on one of the best `host_subset_size` hosts, or the next that still fits.

        The claim is verified against the database, so another scheduler process
        that claimed there meanwhile makes this one move on rather than overbook;
        each such refusal is counted in `tally`, so that a "No valid host" after them
        says that the hosts were lost to a race, not filtered out. None: every claim
        was refused.
        """
        candidates = list(ranked)
        size = self.config.scheduler.host_subset_size
        while candidates:
            subset = candidates[:size]
            chosen = subset[0] if len(subset) == 1 else random.choice(subset)
            if await self.hosts.claim(_allocation(spec, chosen.host), verify=True):
                return chosen
            tally.claims_lost += 1
            candidates.remove(chosen)
        return None

    @endpoint
    async def claim(self, ctx: RequestContext, selection: objects.Selection) -> bool:
        """Claim an alternate's resources, if its host still fits them."""
        async with self._lock:
            state = self.hosts.hosts.get(selection.host)
            if state is None:
                return False
            allocation = Allocation(
                selection.instance_uuid,
                selection.host,
                selection.vcpus,
                selection.memory_mb,
                selection.disk_gb,
                selection.instance_group,
            )
            return await self.hosts.claim(allocation, verify=True)

    @endpoint
    async def release(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Give back an instance's claim (build failed, or instance deleted)."""
        async with self._lock:
            await self.hosts.release(instance_uuid)

    @endpoint
    async def move_allocation(
        self, ctx: RequestContext, from_consumer: str, to_consumer: str
    ) -> None:
        """Hand a claim to another consumer (an instance's to its migration, and back)."""
        async with self._lock:
            await self.hosts.move(from_consumer, to_consumer)

    @endpoint
    async def list_allocations(
        self, ctx: RequestContext, marker: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every claim this scheduler holds (admins only: the audit reads it); or, with
        `limit` or `marker` (1.3), a page by consumer: at most `limit`, those whose
        consumer sorts after `marker` (it need not hold a claim any more, as for
        `list_hosts`). 100,000 claims in one reply are over the 4 MiB message limit.
        """
        require_admin(ctx, "list the scheduler's allocations")
        limit = paging.check_limit(limit, what="allocations", marker=marker)
        claims = self.hosts.allocations
        if limit is None:
            return [attrs.asdict(a) for a in claims.values()]
        after = marker or ""
        # One pass over the claims (no sort of them all): a page costs O(claims).
        page = heapq.nsmallest(limit, (c for c in claims if c > after))
        return [attrs.asdict(claims[c]) for c in page]

    @endpoint
    async def put_allocation(
        self,
        ctx: RequestContext,
        consumer: str,
        host: str,
        vcpus: int,
        memory_mb: int,
        disk_gb: int,
    ) -> None:
        """Record a consumer's allocation as given, replacing any it had (admins only).

        Not a claim: nothing is checked against the host's capacity. It is how the
        books are made to agree with what runs (an audit repair, or a preempted
        action giving back what it took), so the instance is already there.
        """
        require_admin(ctx, "write allocations")
        async with self._lock:
            previous = self.hosts.allocations.get(consumer)
            group = previous.instance_group if previous is not None else None
            wanted = Allocation(consumer, host, vcpus, memory_mb, disk_gb, group)
            if previous != wanted:
                await self.hosts.claim(wanted)

    @endpoint
    async def host_is_up(self, ctx: RequestContext, host: str) -> bool:
        """Whether `host` reported within ``service_down_time`` (False if unknown)."""
        state = self.hosts.hosts.get(host)
        return state is not None and self.hosts.is_up(state, self.config.compute.service_down_time)

    @endpoint
    async def list_hosts(
        self, ctx: RequestContext, marker: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every compute host with up/down state, capacity and claimed usage, by name.

        A page of them with `limit` (at most that many) and `marker` (the hosts whose
        names sort after it; it need not be a host any more): at 10,000 hosts the whole
        list is a reply over the 4 MiB message limit. Without either, every host.
        """
        limit = paging.check_limit(limit, what="hosts")
        down_after = self.config.compute.service_down_time
        states = sorted(self.hosts.hosts.values(), key=lambda s: s.host)
        if marker is not None:
            states = states[bisect.bisect_right([s.host for s in states], marker) :]
        if limit is not None:
            states = states[:limit]
        return [
            {
                **attrs.asdict(state.node, recurse=False, filter=_plain),
                "state": "up" if self.hosts.is_up(state, down_after) else "down",
                "status": "disabled" if state.node.disabled else "enabled",
                "vcpus_used": state.vcpus_used,
                "memory_mb_used": state.memory_mb_used,
                "local_gb_used": state.disk_gb_used,
                "running_vms": len(state.instances),
            }
            for state in states
        ]


def _refused(spec: objects.RequestSpec, exc: Exception) -> objects.Destinations:
    """A batched placement's outcome for an instance that could not be placed."""
    kwargs = exc.kwargs if isinstance(exc, NovaLiteError) else {}
    return objects.Destinations(
        instance_uuid=spec.instance_uuid,
        fault=type(exc).__name__,
        message=str(exc),
        filter_results=tuple(str(r) for r in kwargs.get("filter_results", ())),
        needs=str(kwargs.get("needs", "")),
    )


def _plain(attribute: attrs.Attribute[Any], value: Any) -> bool:
    return attribute.name not in ("updated_at", "supported_instances")


def _allocation(spec: objects.RequestSpec, host: str) -> Allocation:
    flavor = spec.flavor
    return Allocation(
        spec.instance_uuid,
        host,
        flavor.vcpus,
        flavor.memory_mb,
        flavor.disk_gb,
        spec.instance_group,
    )


def _selection(spec: objects.RequestSpec, host: str) -> objects.Selection:
    flavor = spec.flavor
    return objects.Selection(
        host=host,
        nodename=host,
        instance_uuid=spec.instance_uuid,
        vcpus=flavor.vcpus,
        memory_mb=flavor.memory_mb,
        disk_gb=flavor.disk_gb,
        instance_group=spec.instance_group,
    )
