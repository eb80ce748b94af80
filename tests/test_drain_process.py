"""A compute service process stopped with SIGTERM finishes the builds it is running.

The control plane runs in this process (a `Cloud` with no compute host) over
RabbitMQ; one compute host runs as its own process (``python -m nova_lite service
compute``) with the fake driver's spawn held for a few seconds. Once every server
has reached task_state ``spawning`` on that host (seen in its notifications: the
control plane announces every save, ``notify_on_state_change = "vm_and_task_state"``,
where by default a build's steps are not announced), the process gets SIGTERM: it
must stop consuming, let the builds finish, and exit 0, with every server ACTIVE.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from nova_lite import objects
from nova_lite.cloud import Cloud
from nova_lite.config import Config
from nova_lite.identity import manager as identity_manager_module
from nova_lite.loader import get_transport
from nova_lite.testing import (
    FAST_HASHES,
    PASSWORD,
    Notification,
    NotificationTap,
    TransportFactory,
    scheduler_of,
)
from tests.test_deployment import Process

SERVERS = 3
SPAWN_DELAY = 3.0  # the fake hypervisor's hold on each spawn; SIGTERM comes inside it
WAIT = 60.0


@pytest.fixture
async def control_plane(
    rabbitmq_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Path, Cloud, TransportFactory]]:
    """A config file on a unique exchange, and every service but compute, started."""
    monkeypatch.setattr(identity_manager_module, "DEFAULT_PARAMS", FAST_HASHES)
    names = TransportFactory("rabbitmq", rabbitmq_url)
    config_path = tmp_path / "nova-lite.toml"
    config_path.write_text(
        f'transport_url = "{rabbitmq_url}"\n'
        f'state_path = "{tmp_path / "state"}"\n'
        f'[rpc]\nexchange = "{names.name("drain")}"\nqueue_prefix = "{names.name("q")}."\n'
        "timeout = 30\n"
        '[logging]\nformat = "json"\n'
        f'[identity]\nbootstrap_password = "{PASSWORD}"\n'
        f"[fake_driver]\nspawn_delay = {SPAWN_DELAY}\n"
        '[notifications]\nnotify_on_state_change = "vm_and_task_state"\n'
    )
    config = Config.load(str(config_path), environ={})
    cloud = Cloud(config, computes=0, transport=await names.connect())
    await cloud.start()
    try:
        yield config_path, cloud, names
    finally:
        await cloud.stop()
        await names.aclose()
        await _delete_compute_queues(rabbitmq_url, cloud.config)


async def _delete_compute_queues(url: str, config: Config) -> None:
    """The compute process's topic queues outlive it; leave the shared broker tidy."""
    prefix = config.rpc.queue_prefix
    async with get_transport(url) as transport:
        for name in (f"{prefix}compute", f"{prefix}compute.c1"):
            await transport.delete_queue(name)


async def _start_compute(config_path: Path, cloud: Cloud) -> Process:
    """The compute process for host c1, once the scheduler has heard its report."""
    hosts = scheduler_of(cloud).hosts
    reported = asyncio.Event()
    update_node = hosts.update_node

    async def update_and_tell(node: objects.ComputeNode) -> None:
        await update_node(node)
        if node.host == "c1":
            reported.set()

    hosts.update_node = update_and_tell  # type: ignore[method-assign]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nova_lite", "service", "compute",
        "--host", "c1", "--config", str(config_path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    compute = Process("c1", proc)
    await compute.wait_for_event("launcher.ready")
    await asyncio.wait_for(reported.wait(), WAIT)
    return compute


async def test_sigterm_lets_builds_in_flight_finish(
    control_plane: tuple[Path, Cloud, TransportFactory],
) -> None:
    """SIGTERM during spawns: the compute process drains, exits 0, servers are ACTIVE."""
    config_path, cloud, _ = control_plane
    compute = await _start_compute(config_path, cloud)
    try:
        tap = await NotificationTap.attach(cloud)
        session = await cloud.login_admin()
        servers = await session.servers.create(
            "drain", flavor="m1.tiny", image="cirros", count=SERVERS
        )
        for server in servers:
            await tap.wait_for(_spawning(server.id))
        compute.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(compute.finish(), WAIT) == 0, "\n".join(compute.raw[-30:])
    finally:
        if compute.proc.returncode is None:
            compute.proc.kill()
            await compute.finish()
    for server in servers:
        assert (await session.servers.get(server.id)).status == "ACTIVE", server.id
    events = [line.get("event") for line in compute.lines]
    assert "launcher.stopping" in events and "service.stopped" in events
    assert events.index("launcher.stopping") < events.index("service.stopped")
    assert not any(line.get("level") in ("error", "critical") for line in compute.lines)


def _spawning(uuid: str) -> Callable[[Notification], bool]:
    """Matches a notification that the server `uuid` is spawning."""
    return lambda n: n.payload.get("uuid") == uuid and n.payload.get("task_state") == "spawning"
