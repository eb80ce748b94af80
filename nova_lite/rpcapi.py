"""The base of every service's client-side RPC API (Nova's ``*/rpcapi.py`` classes).

Each service has an ``rpcapi`` module whose class other services use to reach it,
with one explicit method per remote method, deciding call or cast and the RPC API
version it needs. Nobody calls ``invoker.call("name", ...)`` with a string elsewhere.
"""

from __future__ import annotations

from typing import ClassVar

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.rpc import Invoker, ObjectSerializer, Target
from nova_lite.transport import Transport

__all__ = ["RPCAPI"]


class RPCAPI:
    """Holds the Invoker aimed at one service's topic; subclasses add the methods."""

    topic: ClassVar[str] = ""
    version: ClassVar[str] = "1.0"

    def __init__(
        self,
        transport: Transport,
        config: Config,
        *,
        serializer: ObjectSerializer | None = None,
        timeout: float | None = None,
    ) -> None:
        # Every call is monitored, as Nova's long calls are: it waits up to
        # ``[rpc] long_timeout`` while the service says it is on it, and fails after
        # ``[rpc] timeout`` (or `timeout`) without a word from it.
        self.invoker = Invoker(
            transport,
            Target(topic=self.topic, exchange=config.rpc.exchange, version=self.version),
            timeout=config.rpc.long_timeout,
            call_monitor_timeout=timeout or config.rpc.timeout,
            serializer=serializer or objects.serializer(),
            persistent_casts=config.rpc.durable_queues,
            durable_queues=config.rpc.durable_queues,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.invoker.target}>"
