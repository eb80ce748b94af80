"""Running nova_lite services as long-lived processes (``nova-lite service``/``all``).

A process connects to the broker the configuration names, starts its service(s),
and runs until asked to stop (SIGTERM or SIGINT), then stops them gracefully: stop
consuming, let in-flight requests finish, close databases, close the connection.
Start-up failures (broker unreachable, database unusable, bad configuration) are
raised as `LaunchError` with a message for a human and an exit status. Each
process tunes its garbage collector from ``[process]`` (`nova_lite.process`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable

import structlog

from nova_lite import objects
from nova_lite.api.client import NovaAPI
from nova_lite.api.http import HttpServer
from nova_lite.api.manager import ApiManager
from nova_lite.cloud import Cloud
from nova_lite.compute.manager import ComputeManager
from nova_lite.conductor.manager import ConductorManager
from nova_lite.config import Config
from nova_lite.db import DatabaseError
from nova_lite.exceptions import ConfigError, NovaLiteError, TransportError
from nova_lite.identity.manager import IdentityManager
from nova_lite.image.manager import ImageManager
from nova_lite.loader import get_transport
from nova_lite.metrics.exposition import MetricsServer
from nova_lite.network.manager import NetworkManager
from nova_lite.process import freeze_after_start, tune_garbage_collector
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.service import Manager, Service
from nova_lite.telemetry import Telemetry, install
from nova_lite.volume.manager import VolumeManager

__all__ = ["SERVICES", "LaunchError", "run_all", "run_service", "serve_http", "serve_metrics"]

log = structlog.get_logger(__name__)

SERVICES: dict[str, type[Manager]] = {
    "identity": IdentityManager,
    "api": ApiManager,
    "conductor": ConductorManager,
    "scheduler": SchedulerManager,
    "image": ImageManager,
    "network": NetworkManager,
    "volume": VolumeManager,
    "compute": ComputeManager,
}


class LaunchError(NovaLiteError):
    """A service could not start; `status` is the process exit status to use."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    """Set `stop` on SIGTERM or SIGINT; returns a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def remove() -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)

    return remove


async def run_service(config: Config, name: str, host: str, stop: asyncio.Event) -> None:
    """Run service `name` as `host` until `stop` is set, then stop it cleanly."""
    if name not in SERVICES:
        raise LaunchError(
            f"Unknown service {name!r}; choose one of {', '.join(SERVICES)}.", status=2
        )
    if config.transport_url.startswith("memory:"):
        raise LaunchError(
            "A service on its own process needs a shared broker, but transport_url is "
            "'memory://' (in-process only); set it to an amqp:// URL.",
            status=2,
        )
    tune_garbage_collector(config.process)
    transport = get_transport(config.transport_url)
    try:
        await transport.connect()
    except TransportError as exc:
        raise LaunchError(f"Cannot reach the broker: {exc}", status=3) from None
    try:
        observed = Telemetry.from_config(config)
    except ConfigError as exc:
        await transport.close()
        raise LaunchError(str(exc), status=2) from None
    install(transport, observed)
    service = Service(SERVICES[name](config, transport, host), serializer=objects.serializer())
    try:
        await _start(service)
        freeze_after_start(config.process)
        try:
            api = service.manager.api if isinstance(service.manager, ApiManager) else None
            async with serve_http(config, api), serve_metrics(config, observed):
                log.info("launcher.ready", service=name, host=host)
                await stop.wait()
                log.info("launcher.stopping", service=name, host=host)
        finally:
            await service.stop()
    finally:
        observed.close()
        await transport.close()


@contextlib.asynccontextmanager
async def serve_http(config: Config, api: NovaAPI | None) -> AsyncIterator[HttpServer | None]:
    """The HTTP API of `api` on ``[api] listen`` while the block runs (none if unset)."""
    if api is None or not config.api.listen:
        yield None
        return
    try:
        server = HttpServer(api, listen=config.api.listen, public_url=config.api.public_url)
        await server.start()
    except ConfigError as exc:
        raise LaunchError(str(exc), status=2) from None
    except OSError as exc:
        raise LaunchError(f"Cannot listen on {config.api.listen}: {exc}", status=5) from None
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def serve_metrics(config: Config, observed: Telemetry) -> AsyncIterator[MetricsServer | None]:
    """``/metrics`` on ``[metrics] listen`` while the block runs (none if unset or off)."""
    if observed.metrics is None or not config.metrics.listen:
        yield None
        return
    try:
        server = MetricsServer(observed.metrics, listen=config.metrics.listen)
        await server.start()
    except ConfigError as exc:
        raise LaunchError(str(exc), status=2) from None
    except OSError as exc:
        raise LaunchError(f"Cannot listen on {config.metrics.listen}: {exc}", status=5) from None
    try:
        yield server
    finally:
        await server.stop()


async def _start(service: Service) -> None:
    try:
        await service.start()
    except DatabaseError as exc:
        raise LaunchError(f"Cannot open the service's database: {exc}", status=4) from None
    except ConfigError as exc:
        raise LaunchError(str(exc), status=2) from None


async def run_all(config: Config, computes: int, stop: asyncio.Event) -> None:
    """Run every service in this process on the configured transport until `stop`."""
    tune_garbage_collector(config.process)
    cloud = Cloud(config, computes=computes)
    try:
        await cloud.start()
    except TransportError as exc:
        raise LaunchError(f"Cannot reach the broker: {exc}", status=3) from None
    except DatabaseError as exc:
        raise LaunchError(f"Cannot open a service's database: {exc}", status=4) from None
    except ConfigError as exc:
        raise LaunchError(str(exc), status=2) from None
    freeze_after_start(config.process)
    try:
        async with serve_http(config, cloud.api), serve_metrics(config, cloud.telemetry):
            log.info("launcher.ready", service="all", computes=computes)
            await stop.wait()
    finally:
        await cloud.stop()
