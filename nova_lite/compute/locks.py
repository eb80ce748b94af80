"""The per-instance locks of one compute host (Nova's ``synchronized(instance.uuid)``).

Every operation on one instance (a build, an action, a delete, a power-state sync)
runs under that instance's lock, so two of them never interleave on one host. The
locks live in one registry that the compute manager creates and hands to each part
that needs it; a lock nobody holds or awaits is forgotten.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["InstanceLocks"]


class InstanceLocks:
    """One asyncio lock per instance uuid, created on first use."""

    def __init__(self) -> None:
        self._locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )

    def __repr__(self) -> str:
        return f"<InstanceLocks held={len(self._locks)}>"

    def held(self) -> set[str]:
        """The instances some operation is working on now (their lock is held)."""
        return {uuid for uuid, lock in self._locks.items() if lock.locked()}

    @asynccontextmanager
    async def hold(self, instance_uuid: str) -> AsyncIterator[None]:
        """Run the block alone with respect to every other holder of `instance_uuid`."""
        lock = self._locks[instance_uuid]
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(instance_uuid, None)
