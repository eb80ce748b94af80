"""The scheduler's view of every compute host: capacity, claims, liveness.

Compute hosts report their capacity (`ComputeNode`) when it changes or every
``resource_report_interval``, and send a heartbeat (their name) every other
``report_interval``; the scheduler records when it last heard from each. Usage is
the sum of the allocations the scheduler itself claimed (as Nova's placement
service does), so two requests placed back to back see each other's claims even
before the hosts report again.
Everything is kept in memory for speed and written through to the scheduler's own
database, from which a restarted scheduler recovers.

The state is kept incrementally: a claim, a release or a report changes the one host
it concerns, and that host's place in the indexes (`HostIndex` by free resources,
the hosts of each availability zone, the hosts holding each server group's members).
Nothing is rebuilt per decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from nova_lite import clock as wallclock
from nova_lite import objects
from nova_lite.db import Database
from nova_lite.scheduler.host_index import HostIndex, HostList
from nova_lite.scheduler.statements import Statements

__all__ = ["Allocation", "HostManager", "HostState"]

MIGRATIONS: list[str] = [
    """
    CREATE TABLE compute_nodes (
        host TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    CREATE TABLE allocations (
        instance_uuid TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        vcpus INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        disk_gb INTEGER NOT NULL,
        instance_group TEXT
    );
    CREATE INDEX allocations_by_host ON allocations (host);
    """,
]


_INSERT = (
    "INSERT OR REPLACE INTO allocations (instance_uuid, host, vcpus, memory_mb, disk_gb, "
    "instance_group) VALUES (?, ?, ?, ?, ?, ?)"
)
# The host's usage by every other consumer, summed in one pass over its allocations
# (an aggregate gives one row even over none), then the claim if it fits all three.
_INSERT_IF_IT_FITS = (
    "INSERT OR REPLACE INTO allocations (instance_uuid, host, vcpus, memory_mb, disk_gb, "
    "instance_group) SELECT ?, ?, ?, ?, ?, ? FROM (SELECT COALESCE(SUM(vcpus), 0) AS vcpus, "
    "COALESCE(SUM(memory_mb), 0) AS memory_mb, COALESCE(SUM(disk_gb), 0) AS disk_gb "
    "FROM allocations WHERE host = ? AND instance_uuid != ?) AS used "
    "WHERE used.vcpus + ? <= ? AND used.memory_mb + ? <= ? AND used.disk_gb + ? <= ?"
)


@attrs.frozen
class Allocation:
    """Resources claimed on a host for one instance."""

    instance_uuid: str
    host: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    instance_group: str | None = None


def _row(a: Allocation) -> tuple[str, str, int, int, int, str | None]:
    return (a.instance_uuid, a.host, a.vcpus, a.memory_mb, a.disk_gb, a.instance_group)


@attrs.define(eq=False)
class HostState:
    """One host as filters and weighers see it: capacity, claimed usage, liveness.

    The free amounts (after allocation ratios), and the report's fields filters and
    weighers read (`disabled`, `io_ops`, `failed_builds`), are plain attributes,
    recomputed on every change: they are read for every host a search sees, and one
    object per host is fewer memory reads than two.
    `on_change`, set by the HostManager, hears every recomputation, so the index of
    free resources cannot miss a change made through these methods.
    """

    node: objects.ComputeNode
    last_seen: float
    vcpus_used: int = 0
    memory_mb_used: int = 0
    disk_gb_used: int = 0
    instances: set[str] = attrs.field(factory=set)
    groups: dict[str, int] = attrs.field(factory=dict)
    in_progress: int = 0
    host: str = attrs.field(init=False, default="")
    free_vcpus: float = attrs.field(init=False, default=0.0)
    free_ram_mb: float = attrs.field(init=False, default=0.0)
    free_disk_gb: float = attrs.field(init=False, default=0.0)
    disabled: bool = attrs.field(init=False, default=False)
    io_ops: int = attrs.field(init=False, default=0)
    failed_builds: int = attrs.field(init=False, default=0)
    on_change: Callable[[HostState], None] | None = attrs.field(
        default=None, kw_only=True, repr=False
    )

    def __attrs_post_init__(self) -> None:
        self._recompute()

    def _recompute(self) -> None:
        node = self.node
        self.host = node.host
        self.free_vcpus = node.vcpus * node.cpu_allocation_ratio - self.vcpus_used
        self.free_ram_mb = node.memory_mb * node.ram_allocation_ratio - self.memory_mb_used
        self.free_disk_gb = node.local_gb * node.disk_allocation_ratio - self.disk_gb_used
        self.disabled, self.io_ops, self.failed_builds = (
            node.disabled,
            node.io_ops,
            node.failed_builds,
        )
        if self.on_change is not None:
            self.on_change(self)

    def set_node(self, node: objects.ComputeNode, last_seen: float) -> None:
        """Take a new report from the host."""
        self.node, self.last_seen, self.in_progress = node, last_seen, 0
        self._recompute()

    def set_usage(self, vcpus: int, memory_mb: int, disk_gb: int) -> None:
        """Take usage recounted from the allocations table."""
        self.vcpus_used, self.memory_mb_used, self.disk_gb_used = vcpus, memory_mb, disk_gb
        self._recompute()

    def add(self, allocation: Allocation, sign: int = 1) -> None:
        self.vcpus_used += sign * allocation.vcpus
        self.memory_mb_used += sign * allocation.memory_mb
        self.disk_gb_used += sign * allocation.disk_gb
        self._recompute()
        if sign > 0:
            self.instances.add(allocation.instance_uuid)
        else:
            self.instances.discard(allocation.instance_uuid)
        if allocation.instance_group:
            count = self.groups.get(allocation.instance_group, 0) + sign
            if count > 0:
                self.groups[allocation.instance_group] = count
            else:
                self.groups.pop(allocation.instance_group, None)


class HostManager:
    """Holds every HostState and every Allocation, and keeps them in the database.

    Beside the hosts by name it keeps `index` (every host by free vCPUs, RAM and
    disk), the hosts of each availability zone and the hosts holding each server
    group's members, each updated by the change that concerns it.
    """

    def __init__(self, db: Database, *, clock: Callable[[], float] = wallclock.time) -> None:
        self.db = db
        self.sql = Statements(db)
        self.clock = clock
        self.hosts: dict[str, HostState] = {}
        self.allocations: dict[str, Allocation] = {}
        self.index = HostIndex()
        self._zones: dict[str, HostList] = {}
        self._groups: dict[str, HostList] = {}
        self._on_change: Callable[[HostState], None] = self.index.update

    def __repr__(self) -> str:
        return f"<HostManager {len(self.hosts)} hosts, {len(self.allocations)} allocations>"

    async def load(self) -> None:
        """Recover host reports and allocations after a restart."""
        self.sql.open()
        for row in await self.sql.fetchall("SELECT data FROM compute_nodes"):
            node = objects.load(objects.ComputeNode, row["data"])
            self._add_host(node, last_seen=node.updated_at.timestamp())
        for row in await self.sql.fetchall("SELECT * FROM allocations"):
            allocation = Allocation(**dict(row))
            self._apply(allocation, +1)

    def close(self) -> None:
        """Close the inline connection (the Database is closed by its owner)."""
        self.sql.close()

    def watch(self, listener: Callable[[HostState], None]) -> None:
        """Have `listener` hear every host as it is added and after each change to its
        capacity or usage (as the index does), starting with every host known now.

        For a reader that keeps figures over all hosts (a simulation's samples)
        without a scan of them all each time.
        """
        previous = self._on_change  # the index's update, and earlier listeners

        def changed(state: HostState) -> None:
            previous(state)
            listener(state)

        self._on_change = changed
        for state in self.hosts.values():
            state.on_change = changed
            listener(state)

    def _add_host(self, node: objects.ComputeNode, last_seen: float) -> HostState:
        state = self.hosts[node.host] = HostState(node, last_seen, on_change=self._on_change)
        self._on_change(state)
        self._zone(node.availability_zone).add(state)
        return state

    async def update_node(self, node: objects.ComputeNode) -> None:
        """Record a host's report and that it is alive now."""
        now = self.clock()
        state = self.hosts.get(node.host)
        if state is None:
            self._add_host(node, now)
        else:
            zone = state.node.availability_zone
            state.set_node(node, now)
            if zone != node.availability_zone:
                self._zone(zone).discard(state)
                self._zone(node.availability_zone).add(state)
        if self.db.path == ":memory:":
            # A private in-memory database: only `load()` reads reports back, at the
            # start of a database that is new then, and no other scheduler claims in
            # it. The write and the re-read were three quarters of a report's intake
            # (a simulated day of 10,000 hosts is 240,000 reports).
            return
        await self.sql.execute(
            "INSERT OR REPLACE INTO compute_nodes (host, data) VALUES (?, ?)",
            (node.host, objects.dump(node)),
        )
        await self._reload_allocations(node.host)

    async def heartbeat(self, host: str) -> bool:
        """Take a host's heartbeat: its last report still holds, and it is alive now.

        The same as that report received again (the claims it had not counted yet
        are in its builds under way, which did not change: else the host would have
        sent a full report). In memory, a timestamp; with a database of its own, the
        report is written again with its new time and the host's allocations re-read,
        as a full report's intake does (other schedulers may claim there). False for
        a host this scheduler has no report of.
        """
        state = self.hosts.get(host)
        if state is None:
            return False
        if self.db.path != ":memory:":
            await self.update_node(attrs.evolve(state.node, updated_at=objects.utcnow()))
            return True
        state.last_seen, state.in_progress = self.clock(), 0
        return True

    async def _reload_allocations(self, host: str) -> None:
        """Re-read a host's allocations, taking in claims other schedulers made there."""
        rows = await self.sql.fetchall("SELECT * FROM allocations WHERE host = ?", (host,))
        stored = {row["instance_uuid"]: Allocation(**dict(row)) for row in rows}
        state = self.hosts.get(host)
        mine = state.instances if state is not None else set()
        for uuid in [u for u in mine if u not in stored]:
            gone = self.allocations.get(uuid)
            if gone is not None:
                self._apply(gone, -1)
        for uuid, allocation in stored.items():
            current = self.allocations.get(uuid)
            if current == allocation and uuid in mine:
                continue
            if current is not None:
                self._apply(current, -1)
            self._apply(allocation, +1)

    def is_up(self, state: HostState, service_down_time: float) -> bool:
        """Whether the host reported within `service_down_time` seconds."""
        return self.clock() - state.last_seen <= service_down_time

    async def claim(self, allocation: Allocation, *, verify: bool = False) -> bool:
        """Record resources as used on the allocation's host.

        With `verify`, the claim is one conditional INSERT that counts the host's
        usage in the database as it writes, and is refused (False) if the host no
        longer fits it: schedulers in other processes sharing this database may have
        claimed there since this one last looked (Nova's placement does the same with
        resource-provider generations). A refusal reloads the host's usage.
        """
        if not verify:
            await self.sql.execute(_INSERT, _row(allocation))
            self._record(allocation)
            return True
        state = self.hosts.get(allocation.host)
        if state is None:
            return False
        node, a = state.node, allocation
        params = (
            *_row(a),
            a.host,
            a.instance_uuid,
            a.vcpus,
            node.vcpus * node.cpu_allocation_ratio,
            a.memory_mb,
            node.memory_mb * node.ram_allocation_ratio,
            a.disk_gb,
            node.local_gb * node.disk_allocation_ratio,
        )
        if await self.sql.execute(_INSERT_IF_IT_FITS, params) == 0:
            await self._reload_usage(state, allocation)
            return False
        self._record(allocation)
        return True

    async def _reload_usage(self, state: HostState, allocation: Allocation) -> None:
        row = await self.sql.fetchone(
            "SELECT COALESCE(SUM(vcpus), 0), COALESCE(SUM(memory_mb), 0), "
            "COALESCE(SUM(disk_gb), 0) FROM allocations WHERE host = ?",
            (allocation.host,),
        )
        if row is not None:
            state.set_usage(int(row[0]), int(row[1]), int(row[2]))

    def _record(self, allocation: Allocation) -> None:
        previous = self.allocations.get(allocation.instance_uuid)
        if previous is not None:
            self._apply(previous, -1)
        self._apply(allocation, +1)
        state = self.hosts.get(allocation.host)
        if state is not None:
            state.in_progress += 1

    async def release(self, instance_uuid: str) -> Allocation | None:
        """Give back what an instance had claimed (no error if nothing was)."""
        allocation = self.allocations.get(instance_uuid)
        if allocation is None:
            return None
        await self.sql.execute("DELETE FROM allocations WHERE instance_uuid = ?", (instance_uuid,))
        self._apply(allocation, -1)
        return allocation

    async def move(self, from_consumer: str, to_consumer: str) -> None:
        """Give `from_consumer`'s allocation to `to_consumer` (no error if it has none)."""
        allocation = self.allocations.get(from_consumer)
        if allocation is None:
            return
        await self.release(from_consumer)
        await self.claim(attrs.evolve(allocation, instance_uuid=to_consumer))

    def _apply(self, allocation: Allocation, sign: int) -> None:
        """Count (+1) or uncount (-1) an allocation, on its host if that host counts it."""
        uuid = allocation.instance_uuid
        if sign > 0:
            self.allocations[uuid] = allocation
        else:
            self.allocations.pop(uuid, None)
        state = self.hosts.get(allocation.host)
        if state is None or (uuid in state.instances) != (sign < 0):
            return
        state.add(allocation, sign)
        group = allocation.instance_group
        if group:
            members = self._groups.setdefault(group, HostList())
            if group in state.groups:
                members.add(state)
            else:
                members.discard(state)
                if not members:
                    del self._groups[group]

    def _zone(self, zone: str) -> HostList:
        return self._zones.setdefault(zone, HostList())

    def zone_hosts(self, zone: str) -> HostList:
        """The hosts of availability zone `zone` (an empty list for an unknown zone)."""
        return self._zones.get(zone) or HostList()

    def group_hosts(self, group: str) -> HostList | None:
        """The hosts holding members of server group `group`, or None if it has none."""
        return self._groups.get(group)

    def group_has_members(self, group: str) -> bool:
        """Whether any allocation belongs to server group `group`."""
        return group in self._groups

    def candidates(self, ignore_hosts: Iterable[str] = ()) -> list[HostState]:
        """Every known host, less the ones to ignore (a full list: not for each decision)."""
        ignored = set(ignore_hosts)
        return [s for h, s in self.hosts.items() if h not in ignored]
