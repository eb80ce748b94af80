"""Serving and using the HTTP API from the command line: ``--listen`` and ``--api-url``.

``nova-lite service api --listen`` and ``nova-lite all --listen`` serve the HTTP API
through `launcher.serve_http`; ``nova-lite server ...`` with an API URL goes over
HTTP and needs no broker at all.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from nova_lite.cli import main
from nova_lite.config import Config
from nova_lite.launcher import LaunchError, serve_http
from nova_lite.testing import PASSWORD, WAIT, CloudFactory
from tests.http_fixtures import FrontEnd

NOVA_LITE = Path(sys.executable).with_name("nova-lite")
memory_only = pytest.mark.parametrize("broker", ["memory"], indirect=True)


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end."""
    front = await FrontEnd.start(await clouds.start(computes=1))
    try:
        yield front
    finally:
        await front.aclose()


async def nova_lite(front: FrontEnd, home: Path, *args: str) -> Any:
    """Run ``nova-lite ARGS --format json`` over HTTP, with an unreachable broker configured."""
    env = {
        "PATH": str(NOVA_LITE.parent),
        "HOME": str(home),
        "NOVA_LITE_API_URL": front.url,
        "NOVA_LITE_USERNAME": "admin",
        "NOVA_LITE_PASSWORD": PASSWORD,
        "NOVA_LITE_PROJECT": "admin",
        # Were the command to use the bus, it would fail: nothing listens there.
        "NOVA_LITE_TRANSPORT_URL": "amqp://nobody:nothing@127.0.0.1:9/",
    }
    process = await asyncio.create_subprocess_exec(
        str(NOVA_LITE),
        *args,
        "--format",
        "json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # One command: its start-up takes seconds on a busy machine, and --wait polls every 5 s.
    out, err = await asyncio.wait_for(process.communicate(), 3 * WAIT)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


@memory_only
async def test_server_commands_go_over_http_without_a_broker(
    front: FrontEnd, tmp_path: Path
) -> None:
    """``nova-lite server create/list/show/delete`` with an API URL work with no broker."""
    [created] = await nova_lite(
        front,
        tmp_path,
        "server",
        "create",
        "web",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--wait",
    )
    listed = await nova_lite(front, tmp_path, "server", "list")
    shown = await nova_lite(front, tmp_path, "server", "show", created["id"])
    gone = await nova_lite(front, tmp_path, "server", "delete", created["id"], "--wait")

    assert created["status"] == "ACTIVE" and created["host"] == "compute1"
    assert created["flavor"] == "m1.tiny" and created["addresses"][0]["network"] == "private"
    assert [s["id"] for s in listed] == [created["id"]]
    assert shown["name"] == "web"
    assert gone == f"Server {created['id']} deleted."


@memory_only
async def test_serve_http_serves_the_api_on_the_configured_address(
    clouds: CloudFactory,
) -> None:
    """With ``[api] listen`` set, serve_http answers HTTP there until the block ends."""
    cloud = await clouds.start(computes=1, api={"listen": "127.0.0.1:0"})

    async with serve_http(cloud.config, cloud.api) as server, aiohttp.ClientSession() as http:
        assert server is not None
        async with http.get(server.url + "/v3") as response:
            status = response.status

    assert status == 200


async def test_serve_http_does_nothing_without_a_listen_address() -> None:
    """An empty ``[api] listen`` serves no HTTP."""
    async with serve_http(Config.load(environ={}), None) as server:
        assert server is None


@pytest.mark.parametrize(
    ("listen", "status", "message"),
    [("nonsense", 2, "give HOST:PORT"), ("127.0.0.1:{busy}", 5, "Cannot listen on")],
)
@memory_only
async def test_serve_http_reports_unusable_addresses(
    clouds: CloudFactory, listen: str, status: int, message: str
) -> None:
    """A malformed or busy listen address is a LaunchError with its exit status."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = listen.format(busy=busy.getsockname()[1])
        cloud = await clouds.start(computes=1, api={"listen": address})

        with pytest.raises(LaunchError, match=message) as raised:
            async with serve_http(cloud.config, cloud.api):
                pass

    assert raised.value.status == status


def test_all_passes_listen_to_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """``nova-lite all --listen HOST:PORT`` runs every service with ``[api] listen`` set."""
    seen: list[Config] = []

    async def run_all(config: Config, computes: int, stop: asyncio.Event) -> None:
        seen.append(config)

    monkeypatch.setattr("nova_lite.cli.services.run_all", run_all)

    result = CliRunner().invoke(
        main, ["all", "--computes", "1", "--listen", "0.0.0.0:8774"], env={"NOVA_LITE_CONFIG": None}
    )

    assert result.exit_code == 0, result.output
    assert seen[0].api.listen == "0.0.0.0:8774"


def test_listen_is_for_the_api_service_only() -> None:
    """``nova-lite service compute --listen`` is refused with status 2."""
    result = CliRunner().invoke(main, ["service", "compute", "--listen", "0.0.0.0:8774"])

    assert result.exit_code == 2 and "--listen is for the api service only" in result.output
