"""A whole deployment in one process: the embedded default.

`Cloud` starts every service on one transport (by default the in-memory broker)
from one `Config`: identity, api, conductor, scheduler, image, network, volume and
N compute hosts with the configured driver (every topic ``nova-lite service``
serves, so the client commands work against ``nova-lite all`` as against separate
processes), then seeds default flavors, an image and a network, and stops it all in
reverse order. `Cloud.api` is the library's own `NovaAPI`, for callers in this
process. The same services run one per process over RabbitMQ with ``nova-lite
service <name>``; nothing here assumes one process except that they share
`transport`.
"""

from __future__ import annotations

import hashlib

import structlog

from nova_lite import objects
from nova_lite.api.client import NovaAPI, Session
from nova_lite.api.manager import ApiManager
from nova_lite.compute.manager import ComputeManager
from nova_lite.conductor.manager import ConductorManager
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import NovaLiteError
from nova_lite.identity.manager import IdentityManager
from nova_lite.image.manager import ImageManager
from nova_lite.lifecycle import AsyncLifecycle
from nova_lite.loader import get_transport
from nova_lite.log import mask_url
from nova_lite.network.manager import NetworkManager
from nova_lite.scheduler.manager import SchedulerManager
from nova_lite.service import Manager, Service
from nova_lite.telemetry import Telemetry, install, uninstall
from nova_lite.transport import Transport
from nova_lite.volume.manager import VolumeManager

__all__ = ["DEFAULT_FLAVORS", "Cloud", "compute_host_name"]

log = structlog.get_logger(__name__)

DEFAULT_FLAVORS: tuple[objects.Flavor, ...] = (
    objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1),
    objects.Flavor(flavorid="2", name="m1.small", vcpus=1, memory_mb=2048, root_gb=20),
    objects.Flavor(flavorid="3", name="m1.medium", vcpus=2, memory_mb=4096, root_gb=40),
    objects.Flavor(flavorid="4", name="m1.large", vcpus=4, memory_mb=8192, root_gb=80),
    objects.Flavor(flavorid="5", name="m1.xlarge", vcpus=8, memory_mb=16384, root_gb=160),
)
DEFAULT_IMAGE_NAME = "cirros"
DEFAULT_NETWORK_NAME = "private"

CONTROL_PLANE: tuple[type[Manager], ...] = (
    IdentityManager,
    ApiManager,
    ConductorManager,
    SchedulerManager,
    ImageManager,
    NetworkManager,
    VolumeManager,
)


def compute_host_name(index: int) -> str:
    """The host name of the `index`-th (1-based) embedded compute host."""
    return f"compute{index}"


def default_image_bytes() -> bytes:
    """A small deterministic disk image for the default ``cirros`` image."""
    return hashlib.sha256(b"nova-lite").digest() * 2048


class Cloud(AsyncLifecycle):
    """Every nova_lite service, started and stopped together in this process."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        computes: int = 3,
        transport: Transport | None = None,
        seed: bool = True,
        network_cidr: str = "10.0.0.0/20",
    ) -> None:
        self.config = config or Config.load()
        self.computes = computes
        self.seed = seed
        self.network_cidr = network_cidr
        self._own_transport = transport is None
        self.transport = transport or get_transport(self.config.transport_url)
        self.services: list[Service] = []
        self.api = NovaAPI(self.transport, self.config)
        # The cloud's metrics and tracing, made at start ([metrics], [tracing]).
        self.telemetry = Telemetry()

    def __repr__(self) -> str:
        return f"<Cloud {self.config.transport_url} services={len(self.services)}>"

    @property
    def admin_password(self) -> str:
        """The bootstrap admin's password (configured, or generated at first start)."""
        configured = self.config.identity.bootstrap_password
        if configured:
            return configured
        return (self.config.service_dir() / "admin-password").read_text().strip()

    def compute_managers(self) -> list[ComputeManager]:
        """Every embedded compute host's manager, in the order the hosts started (one
        pass over the services: looking each host up with `compute` is a pass each)."""
        return [s.manager for s in self.services if isinstance(s.manager, ComputeManager)]

    def compute(self, host: str) -> ComputeManager:
        """The compute manager of one embedded host."""
        for service in self.services:
            if isinstance(service.manager, ComputeManager) and service.manager.host == host:
                return service.manager
        raise KeyError(f"No compute host {host!r} in this cloud.")

    async def start(self) -> None:
        """Connect, start the control plane, then the compute hosts, then seed."""
        if self._own_transport:
            await self.transport.connect()
        try:
            self.telemetry = Telemetry.from_config(self.config)
            install(self.transport, self.telemetry)
            for manager_cls in CONTROL_PLANE:
                await self._start(manager_cls(self.config, self.transport, self.config.host))
            for index in range(1, self.computes + 1):
                host = compute_host_name(index)
                await self._start(ComputeManager(self.config, self.transport, host))
            if self.seed:
                await self._seed()
        except BaseException:
            await self.stop()
            raise
        transport = mask_url(self.config.transport_url)
        log.info("cloud.started", computes=self.computes, transport=transport)

    async def _start(self, manager: Manager) -> None:
        service = Service(manager, serializer=objects.serializer())
        await service.start()
        self.services.append(service)

    async def stop(self) -> None:
        """Stop every service (compute hosts first), then close the transport."""
        while self.services:
            service = self.services.pop()
            try:
                await service.stop()
            except NovaLiteError as exc:
                log.warning("cloud.stop_failed", service=repr(service), error=str(exc))
        uninstall(self.transport)
        self.telemetry.close()
        if self._own_transport:
            await self.transport.close()

    async def login_admin(self) -> Session:
        """A session for the bootstrap admin."""
        identity = self.config.identity
        return await self.api.login(
            identity.bootstrap_username, self.admin_password, project=identity.bootstrap_project
        )

    async def _seed(self) -> None:
        """Default flavors, image and network, created once (idempotent)."""
        session = await self.login_admin()
        ctx = await session.context()
        existing = {f.name for f in await self.api.conductor.flavor_list(ctx)}
        for flavor in DEFAULT_FLAVORS:
            if flavor.name not in existing:
                await self.api.conductor.flavor_create(ctx, flavor)
        if not any(i.name == DEFAULT_IMAGE_NAME for i in await self.api.image.list(ctx)):
            await self.api.image.create_from_bytes(
                ctx, DEFAULT_IMAGE_NAME, default_image_bytes(), visibility="public"
            )
        if not await self.api.network.list_networks(ctx):
            await self._seed_network(ctx)

    async def _seed_network(self, ctx: RequestContext) -> None:
        network = await self.api.network.create_network(ctx, DEFAULT_NETWORK_NAME, shared=True)
        await self.api.network.create_subnet(ctx, network.id, self.network_cidr)
