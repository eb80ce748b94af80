"""The async lifecycle every long-lived nova_lite object shares.

Workers, services, clouds, HTTP servers and clients, and transports are all used
the same way: ``async with thing:`` starts it and stops it, and `start()`/`stop()`
are there for code that cannot nest (a launcher, a signal handler). `stop()` is the
graceful path (it drains); cancelling it is the urgent one. Writing the context
manager protocol once keeps that contract in one place.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

__all__ = ["AsyncLifecycle"]


class AsyncLifecycle(abc.ABC):
    """An object with `start()` and `stop()`, usable as ``async with``."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Acquire resources and begin work; no I/O may happen before this."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Finish in-flight work and release resources; cancelling it is the urgent path."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
