"""``nova-lite all`` serves every topic the separate services serve, and every client
command of ``nova-lite`` works against it over RabbitMQ.

The all-in-one process and each client command run as separate OS processes
(``python -m nova_lite ...``), sharing one configuration file with a unique exchange
and queue prefix on the shared broker, as `tests/test_deployment.py` does for one
process per service. The list of commands driven is checked against the command line
itself, so a new client command must be added here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
import pytest

from nova_lite.cli import main
from nova_lite.cloud import CONTROL_PLANE
from nova_lite.compute.manager import ComputeManager
from nova_lite.launcher import SERVICES
from nova_lite.testing import TransportFactory
from tests.test_deployment import launched

COMPUTES = 2
HOST = "aio"
NOT_CLIENT_COMMANDS = {"demo", "service", "all", "bench", "simulate"}


def test_the_all_in_one_cloud_serves_every_services_topic() -> None:
    """The embedded control plane plus compute is exactly what ``nova-lite service`` runs."""
    embedded = {m.topic for m in CONTROL_PLANE} | {ComputeManager.topic}
    assert embedded == {m.topic for m in SERVICES.values()}


def client_commands() -> set[str]:
    """Every client command of ``nova-lite``, as "group command" (or "command")."""
    found = set()
    for name, command in main.commands.items():
        if name in NOT_CLIENT_COMMANDS:
            continue
        if isinstance(command, click.Group):
            found |= {f"{name} {sub}" for sub in command.commands}
        else:
            found.add(name)
    return found


@pytest.fixture
async def all_in_one(rabbitmq_url: str, tmp_path: Path) -> AsyncIterator[Path]:
    """``nova-lite all`` running in its own process; yields its configuration file."""
    names = TransportFactory("rabbitmq", rabbitmq_url)
    exchange, prefix = names.name("aio"), names.name("q") + "."
    config = tmp_path / "nova-lite.toml"
    config.write_text(
        f'transport_url = "{rabbitmq_url}"\n'
        f'host = "{HOST}"\n'
        f'state_path = "{tmp_path / "state"}"\n'
        f'[rpc]\nexchange = "{exchange}"\nqueue_prefix = "{prefix}"\ntimeout = 30\n'
        '[logging]\nformat = "json"\n'
        '[identity]\nbootstrap_password = "s3cret-admin"\n'
        "[compute]\nshelved_offload_time = -1\n"
        '[tracing]\nexporter = "file"\n'  # read back by "server trace"
        '[client]\nusername = "admin"\npassword = "s3cret-admin"\nproject = "admin"\n'
    )
    try:
        async with launched(config, "all", "--computes", str(COMPUTES)):
            yield config
    finally:
        await _delete_queues(rabbitmq_url, prefix, exchange)


async def _delete_queues(url: str, prefix: str, exchange: str) -> None:
    """Leave the shared broker tidy: the services' queues outlive the process."""
    from nova_lite.loader import get_transport

    topics = {m.topic for m in SERVICES.values()}
    queues = [f"{prefix}{exchange}_dead_letters", *(f"{prefix}{t}" for t in topics)]
    queues += [f"{prefix}{t}.{HOST}" for t in topics]
    queues += [f"{prefix}compute.compute{i}" for i in range(1, COMPUTES + 1)]
    async with get_transport(url) as transport:
        for queue in queues:
            await transport.delete_queue(queue)


class Cli:
    """Runs client commands against one configuration and remembers which it ran."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.ran: set[str] = set()

    async def __call__(self, *args: str, status: int = 0) -> Any:
        """Run ``nova-lite ARGS --format json``; its JSON output (the exit status checked)."""
        self.ran.add(" ".join(a for a in args[:2] if not a.startswith("-")))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nova_lite",
            *args,
            "--format",
            "json",
            "--config",
            str(self.config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NOVA_LITE_LOGGING_LEVEL": "error"},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == status, f"nova-lite {' '.join(args)}: {err.decode()}"
        return json.loads(out) if out.strip() else None


async def test_every_client_command_works_against_the_all_in_one(
    all_in_one: Path, tmp_path: Path
) -> None:
    """Every ``nova-lite`` client command succeeds against ``nova-lite all`` over RabbitMQ."""
    cli = Cli(all_in_one)
    disk = tmp_path / "disk.img"
    disk.write_bytes(os.urandom(4096))

    assert {f["name"] for f in await cli("flavor", "list")} >= {"m1.tiny", "m1.small"}
    await cli(
        "flavor", "create", "m1.test", "--id", "42", "--vcpus", "1", "--ram", "256", "--disk", "1"
    )
    assert len(await cli("host", "list")) == COMPUTES
    await cli("network", "create", "extra", "--cidr", "10.30.0.0/24")
    assert {n["name"] for n in await cli("network", "list")} == {"private", "extra"}
    image = await cli("image", "create", "extra-img", "--file", str(disk), "--public")
    assert image["status"] == "active"
    assert image["id"] in {i["id"] for i in await cli("image", "list")}
    assert (await cli("image", "show", image["id"]))["name"] == "extra-img"
    volume = await cli("volume", "create", "1", "--name", "data")
    assert volume["id"] in {v["id"] for v in await cli("volume", "list")}
    await cli("project", "create", "demo")
    assert "demo" in {p["name"] for p in await cli("project", "list")}
    await cli("user", "create", "alice", "--user-password", "Al1ce-pw", "--user-project", "demo")
    assert "alice" in {u["name"] for u in await cli("user", "list")}

    sid = await _server_walk(cli, volume["id"])

    await cli("image", "delete", image["id"])
    assert await cli("audit") == {"clean": True, "findings": [], "repairs": []}
    healed = await cli("audit", "--heal")
    assert healed["clean"] is True
    assert sid
    assert cli.ran == client_commands(), sorted(client_commands() ^ cli.ran)


async def _server_walk(cli: Cli, volume_id: str) -> str:
    """Every server command on one server (and a second one deleted plainly)."""
    [server] = await cli(
        "server",
        "create",
        "web",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--network",
        "private",
        "--wait",
    )
    sid = server["id"]
    assert server["status"] == "ACTIVE"
    assert sid in {s["id"] for s in await cli("server", "list")}
    assert (await cli("server", "show", sid))["name"] == "web"
    assert "login:" in await cli("server", "console", sid)
    timeline = await cli("server", "trace", sid)
    built = {(s["service"], s["what"]) for s in timeline}
    assert ("api", "action create") in built, sorted(built)
    assert ("scheduler@aio", "scheduler decision (internal)") in built, sorted(built)
    assert any(what == "build spawning (internal)" for _, what in built), sorted(built)
    events = {s["what"]: (s["service"], s["result"]) for s in timeline if s["source"] == "event"}
    assert events["event conductor_schedule_and_build_instances"] == ("conductor@aio", "Success")
    lane, result = events["event compute__do_build_and_run_instance"]
    assert lane.startswith("compute@") and result == "Success"
    for action, extra, status in WALK:
        arguments = [volume_id if a == VOLUME else a for a in extra]
        shown = await cli("server", action, sid, *arguments, "--wait")
        assert shown["status"] == status, (action, shown)
        if action == "attach-volume":
            await _until_volume(cli, volume_id, "in-use")
        if action == "detach-volume":
            await _until_volume(cli, volume_id, "available")
    assert "create" in {a["action"] for a in await cli("server", "actions", sid)}
    [other] = await cli(
        "server",
        "create",
        "web2",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--network",
        "private",
        "--wait",
    )
    await cli("server", "delete", other["id"], "--wait")
    return str(sid)


async def _until_volume(cli: Cli, volume_id: str, status: str) -> None:
    """Wait for a volume's status; over the command line, asking is the only way to know."""
    for _ in range(50):
        found = {v["id"]: v["status"] for v in await cli("volume", "list")}
        if found[volume_id] == status:
            return
    pytest.fail(f"volume {volume_id} never became {status}")


VOLUME = "{volume}"
# (command, arguments, the status it waits for)
WALK: list[tuple[str, tuple[str, ...], str]] = [
    ("pause", (), "PAUSED"),
    ("unpause", (), "ACTIVE"),
    ("suspend", (), "SUSPENDED"),
    ("resume", (), "ACTIVE"),
    ("stop", (), "SHUTOFF"),
    ("start", (), "ACTIVE"),
    ("reboot", (), "ACTIVE"),
    ("reboot", ("--hard",), "ACTIVE"),
    ("rescue", (), "RESCUE"),
    ("unrescue", (), "ACTIVE"),
    ("set-admin-password", ("--admin-password", "n3w-pw"), "ACTIVE"),
    ("rebuild", ("--image", "cirros"), "ACTIVE"),
    ("snapshot", ("--name", "snap"), "ACTIVE"),
    ("backup", ("--name", "bak", "--backup-type", "daily", "--rotation", "1"), "ACTIVE"),
    ("lock", (), "ACTIVE"),
    ("unlock", (), "ACTIVE"),
    ("attach-volume", ("--volume-id", VOLUME), "ACTIVE"),
    ("detach-volume", ("--volume-id", VOLUME), "ACTIVE"),
    ("resize", ("--flavor", "m1.small"), "VERIFY_RESIZE"),
    ("confirm-resize", (), "ACTIVE"),
    ("resize", ("--flavor", "m1.tiny"), "VERIFY_RESIZE"),
    ("revert-resize", (), "ACTIVE"),
    ("shelve", (), "SHELVED"),
    ("shelve-offload", (), "SHELVED_OFFLOADED"),
    ("unshelve", (), "ACTIVE"),
    ("soft-delete", (), "SOFT_DELETED"),
    ("restore", (), "ACTIVE"),
    ("force-delete", (), "DELETED"),
]
