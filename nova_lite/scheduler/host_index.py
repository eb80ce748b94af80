"""Hosts indexed by what they have free, so a request starts from the hosts that fit it.

Every host sits in three sorted lists, by free vCPUs, by free RAM and by free disk
(after allocation ratios), updated whenever a claim, a release or a report changes
the host. The hosts with at least a request's amount of one resource are then a
suffix of that resource's list, found by bisection; the shortest of the three
suffixes holds every host the ResourceFilter can pass, and often few others. The
scheduler samples and filters that suffix instead of every host of the cloud.

`HostList` is the other kind of pool: hosts of an availability zone, or hosts that
hold members of a server group, in an unordered set with O(1) changes and slices.
"""

from __future__ import annotations

import itertools
import operator
from typing import TYPE_CHECKING, Protocol, cast

import attrs
from sortedcontainers import SortedList

if TYPE_CHECKING:
    from collections.abc import Iterator

    from nova_lite.scheduler.host_manager import HostState

__all__ = ["FeasibleHosts", "HostIndex", "HostList", "HostPool", "SortedRange"]

# (free amount, serial of the host, host): serials are unique, so ties never compare hosts.
Entry = tuple[float, int, "HostState"]
_HOST = operator.itemgetter(2)


class HostPool(Protocol):
    """Hosts a request may go to, in a fixed order, read in slices."""

    def __len__(self) -> int: ...

    def slice(self, start: int, stop: int) -> list[HostState]:
        """The hosts at positions `start` to `stop` (exclusive)."""
        ...

    def ends(self, size: int) -> list[HostState]:
        """Hosts worth weighing whatever the sample, each once: the first and the last
        `size` (in a pool sorted by a free resource, those with the least and the most).
        """
        ...


@attrs.frozen
class SortedRange:
    """The hosts of one sorted list from position `start` on (a HostPool)."""

    entries: SortedList[Entry]
    start: int

    def __len__(self) -> int:
        return len(self.entries) - self.start

    def slice(self, start: int, stop: int) -> list[HostState]:
        # Indexing, not `islice`: a slice within one of the list's sublists (every
        # block of a sample, in a list of up to a few thousand hosts) is one C-level
        # list slice, where `islice` makes an iterator chain over two bisections.
        return list(map(_HOST, self.entries[self.start + start : self.start + stop]))

    def ends(self, size: int) -> list[HostState]:
        return _ends(self, size)


@attrs.frozen
class FeasibleHosts:
    """The hosts with enough free of each resource: read from the shortest of the three
    suffixes (a HostPool), with the ends of all three.
    """

    shortest: SortedRange
    ranges: tuple[SortedRange, SortedRange, SortedRange]

    def __len__(self) -> int:
        return len(self.shortest)

    def slice(self, start: int, stop: int) -> list[HostState]:
        return self.shortest.slice(start, stop)

    def ends(self, size: int) -> list[HostState]:
        """The most and the least free of every resource: the spreading and the packing
        choice of each resource weigher are always weighed.
        """
        ram, vcpus, disk = self.ranges
        return list(dict.fromkeys(ram.ends(size) + vcpus.ends(size) + disk.ends(size)))


class HostList:
    """A set of hosts with O(1) add and discard, read in slices (a HostPool)."""

    def __init__(self) -> None:
        self._hosts: list[HostState] = []
        self._where: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<HostList of {len(self._hosts)}>"

    def __len__(self) -> int:
        return len(self._hosts)

    def __iter__(self) -> Iterator[HostState]:
        return iter(self._hosts)

    def slice(self, start: int, stop: int) -> list[HostState]:
        return self._hosts[start:stop]

    def ends(self, size: int) -> list[HostState]:
        return _ends(self, size)

    def add(self, state: HostState) -> None:
        if state.host not in self._where:
            self._where[state.host] = len(self._hosts)
            self._hosts.append(state)

    def discard(self, state: HostState) -> None:
        """Remove the host by moving the last one into its place."""
        where = self._where.pop(state.host, None)
        if where is None:
            return
        last = self._hosts.pop()
        if last is not state:
            self._hosts[where] = last
            self._where[last.host] = where


class HostIndex:
    """Every host in three lists sorted by free vCPUs, free RAM and free disk."""

    def __init__(self) -> None:
        self._by_vcpus: SortedList[Entry] = SortedList()
        self._by_ram: SortedList[Entry] = SortedList()
        self._by_disk: SortedList[Entry] = SortedList()
        self._entries: dict[str, tuple[Entry, Entry, Entry]] = {}
        self._serials = itertools.count()

    def __repr__(self) -> str:
        return f"<HostIndex of {len(self._entries)} hosts>"

    def __len__(self) -> int:
        return len(self._entries)

    def update(self, state: HostState) -> None:
        """Put the host where its free amounts now sort (adding it if new)."""
        old = self._entries.get(state.host)
        if old is None:
            serial = next(self._serials)
        else:
            serial = old[0][1]
            if (old[0][0], old[1][0], old[2][0]) == (
                state.free_vcpus,
                state.free_ram_mb,
                state.free_disk_gb,
            ):
                return
        new = (
            (state.free_vcpus, serial, state),
            (state.free_ram_mb, serial, state),
            (state.free_disk_gb, serial, state),
        )
        lists = (self._by_vcpus, self._by_ram, self._by_disk)
        for position, entries in enumerate(lists):
            if old is not None:
                if old[position][0] == new[position][0]:
                    continue
                entries.remove(old[position])
            entries.add(new[position])
        self._entries[state.host] = new

    def indexed(self, host: str) -> tuple[float, float, float] | None:
        """The free vCPUs, RAM and disk the host is sorted by (None if not indexed)."""
        entries = self._entries.get(host)
        return None if entries is None else (entries[0][0], entries[1][0], entries[2][0])

    def all(self) -> SortedRange:
        """Every host, by free RAM."""
        return SortedRange(self._by_ram, 0)

    def feasible(self, vcpus: float, ram_mb: float, disk_gb: float) -> FeasibleHosts:
        """Every host with at least these amounts free, read from the shortest suffix.

        Each list's suffix starts at the first host with enough of its resource; a
        host lacking another resource may be in it (the filters drop it), but no
        host with enough of all three is outside any of the suffixes.
        """
        ranges = (
            SortedRange(self._by_ram, self._by_ram.bisect_left(_least(ram_mb))),
            SortedRange(self._by_vcpus, self._by_vcpus.bisect_left(_least(vcpus))),
            SortedRange(self._by_disk, self._by_disk.bisect_left(_least(disk_gb))),
        )
        return FeasibleHosts(min(ranges, key=len), ranges)


def _ends(pool: HostPool, size: int) -> list[HostState]:
    length = len(pool)
    if length <= 2 * size:
        return pool.slice(0, length)
    return pool.slice(0, size) + pool.slice(length - size, length)


def _least(amount: float) -> Entry:
    """A key below every entry with `amount` free (serials start at 0); never stored."""
    return (amount, -1, cast("HostState", None))
