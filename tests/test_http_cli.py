"""The ``openstack`` command line (python-openstackclient), unchanged, against the front end.

The cloud runs in this process on the in-memory broker; the ``openstack`` command
runs as a subprocess configured only by the usual ``OS_*`` environment variables,
while the test's event loop keeps serving. ``server create --wait`` polls at the
client's own pace (every 5 s); the test itself never sleeps.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nova_lite.testing import PASSWORD, WAIT, CloudFactory
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

OPENSTACK = Path(sys.executable).with_name("openstack")


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud on the in-memory broker behind the HTTP front end."""
    front = await FrontEnd.start(await clouds.start(computes=1))
    try:
        yield front
    finally:
        await front.aclose()


async def openstack(front: FrontEnd, home: Path, *args: str) -> Any:
    """Run ``openstack ARGS`` with OS_* variables for the admin; its JSON output, if any."""
    env = {
        "PATH": str(OPENSTACK.parent),
        "HOME": str(home),
        "OS_AUTH_URL": front.url + "/v3",
        "OS_USERNAME": "admin",
        "OS_PASSWORD": PASSWORD,
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_REGION_NAME": "RegionOne",
    }
    process = await asyncio.create_subprocess_exec(
        str(OPENSTACK),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # One command: its start-up takes seconds on a busy machine, and --wait polls every 5 s.
    out, err = await asyncio.wait_for(process.communicate(), 3 * WAIT)
    assert process.returncode == 0, err.decode()
    return json.loads(out) if out.strip() else None


async def test_the_openstack_cli_creates_lists_shows_stops_and_deletes_a_server(
    front: FrontEnd, tmp_path: Path
) -> None:
    """``openstack server create --wait``, ``list``, ``show``, ``stop`` and ``delete`` work."""
    created = await openstack(
        front,
        tmp_path,
        "server",
        "create",
        "--image",
        "cirros",
        "--flavor",
        "m1.tiny",
        "--network",
        "private",
        "--wait",
        "-f",
        "json",
        "vm1",
    )
    listed, shown = await asyncio.gather(
        openstack(front, tmp_path, "server", "list", "-f", "json"),
        openstack(front, tmp_path, "server", "show", "vm1", "-f", "json"),
    )
    await openstack(front, tmp_path, "server", "stop", "vm1")
    token = await front.token()
    await front.wait(token, created["id"], "SHUTOFF")
    await openstack(front, tmp_path, "server", "delete", "vm1")
    await front.wait(token, created["id"], "DELETED")

    assert created["status"] == "ACTIVE" and created["name"] == "vm1"
    assert [(s["Name"], s["Status"], s["Flavor"]) for s in listed] == [("vm1", "ACTIVE", "m1.tiny")]
    assert shown["id"] == created["id"] and shown["OS-EXT-SRV-ATTR:host"] == "compute1"
    assert list(shown["addresses"]) == ["private"]


async def test_the_openstack_cli_manages_volumes_snapshots_and_types(
    front: FrontEnd, tmp_path: Path
) -> None:
    """``volume create/list/show/set/delete``, ``volume snapshot create/list/delete`` and
    ``volume type create/list`` work against the block storage API."""

    async def cli(*args: str) -> Any:
        return await openstack(front, tmp_path, *args)

    kind = await cli("volume", "type", "create", "fast", "--property", "tier=1", "-f", "json")
    types = await cli("volume", "type", "list", "-f", "json")
    created = await cli(
        "volume",
        "create",
        "--size",
        "2",
        "--type",
        "fast",
        "--property",
        "a=b",
        "-f",
        "json",
        "data",
    )
    await cli(
        "volume", "set", "--name", "renamed", "--description", "about", "--property", "c=d", "data"
    )
    shown = await cli("volume", "show", "renamed", "-f", "json")
    snapshot = await cli(
        "volume", "snapshot", "create", "--volume", "renamed", "-f", "json", "snap"
    )
    snapshots = await cli("volume", "snapshot", "list", "-f", "json")
    await cli("volume", "snapshot", "delete", "snap")
    listed = await cli("volume", "list", "-f", "json")
    await cli("volume", "delete", "renamed")
    after = await cli("volume", "list", "-f", "json")

    assert kind["name"] == "fast" and [t["Name"] for t in types] == ["__DEFAULT__", "fast"]
    assert (created["size"], created["type"], created["status"]) == (2, "fast", "available")
    assert (shown["name"], shown["description"]) == ("renamed", "about")
    assert shown["properties"] == {"a": "b", "c": "d"}
    assert snapshot["name"] == "snap" and [s["Name"] for s in snapshots] == ["snap"]
    assert [(v["Name"], v["Size"]) for v in listed] == [("renamed", 2)]
    assert after == []
