"""The ``openstack image`` commands, unchanged, against the front end.

``image create`` (with a file, properties, a tag, protected), ``set`` (name,
properties, ``--tag``, ``--unprotected``, ``--accept`` by the member project),
``show``, ``list`` (``--tag``), ``add project`` (sharing), ``member list`` and
``delete`` (refused while protected), as a user runs them. Commands that do not
depend on each other run at once, to keep the test short.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud_fixtures import PASSWORD, WAIT, CloudFactory, add_user
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

OPENSTACK = Path(sys.executable).with_name("openstack")


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud on the in-memory broker behind the HTTP front end, and bob (beta)."""
    front = await FrontEnd.start(await clouds.start(computes=1))
    await add_user(front.cloud, await front.cloud.login_admin(), "bob", project="beta")
    try:
        yield front
    finally:
        await front.aclose()


async def run(
    front: FrontEnd, home: Path, *args: str, user: str = "admin", project: str = "admin"
) -> tuple[int, Any, str]:
    """``openstack ARGS`` as `user`: its exit status, JSON output (if any) and stderr."""
    env = {
        "PATH": str(OPENSTACK.parent),
        "HOME": str(home),
        "OS_AUTH_URL": front.url + "/v3",
        "OS_USERNAME": user,
        "OS_PASSWORD": PASSWORD,
        "OS_PROJECT_NAME": project,
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
    body = json.loads(out) if out.strip() else None
    return process.returncode or 0, body, err.decode()


async def ok(front: FrontEnd, home: Path, *args: str, **who: str) -> Any:
    """``openstack ARGS``, which must succeed; its JSON output."""
    status, body, err = await run(front, home, *args, **who)
    assert status == 0, err
    return body


async def test_the_openstack_image_commands(front: FrontEnd, tmp_path: Path) -> None:
    """create, set (--tag, --property, --accept), show, list, add project, member list, delete."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\x01" * 5000)
    bob = {"user": "bob", "project": "beta"}
    created = await ok(
        front, tmp_path, "image", "create", "--file", str(disk), "--disk-format", "qcow2",
        "--property", "os_distro=cirros", "--tag", "gold", "--protected", "-f", "json", "img1",
    )  # fmt: skip
    image = created["id"]
    await ok(
        front, tmp_path, "image", "set", "--tag", "silver", "--property", "hw_disk_bus=virtio",
        "--name", "img2", "--min-ram", "64", image,
    )  # fmt: skip
    shown, tagged, member = await asyncio.gather(
        ok(front, tmp_path, "image", "show", "img2", "-f", "json"),
        ok(front, tmp_path, "image", "list", "--tag", "silver", "-f", "json"),
        ok(front, tmp_path, "image", "add", "project", image, "beta", "-f", "json"),
    )
    pending = await ok(front, tmp_path, "image", "list", "-f", "json", **bob)
    await ok(front, tmp_path, "image", "set", "--accept", image, **bob)
    accepted, members, (refused, _, protected_err) = await asyncio.gather(
        ok(front, tmp_path, "image", "list", "-f", "json", **bob),
        ok(front, tmp_path, "image", "member", "list", image, "-f", "json"),
        run(front, tmp_path, "image", "delete", image),
    )
    await ok(front, tmp_path, "image", "set", "--unprotected", image)
    await ok(front, tmp_path, "image", "delete", image)
    remaining = await ok(front, tmp_path, "image", "list", "-f", "json")

    assert created["status"] == "active" and created["protected"] is True
    assert created["tags"] == ["gold"] and created["size"] == 5000
    assert shown["name"] == "img2" and shown["min_ram"] == 64
    assert sorted(shown["tags"]) == ["gold", "silver"]
    assert shown["properties"]["hw_disk_bus"] == "virtio"
    assert shown["properties"]["os_distro"] == "cirros"
    assert [i["ID"] for i in tagged] == [image]
    assert member["status"] == "pending"
    assert image not in [i["ID"] for i in pending]
    assert image in [i["ID"] for i in accepted]
    assert [m["Status"] for m in members] == ["accepted"]
    assert refused != 0 and "protected" in protected_err
    assert image not in [i["ID"] for i in remaining]
