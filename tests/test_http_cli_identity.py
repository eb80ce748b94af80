"""The ``openstack`` identity commands, unchanged, against the front end.

A new administrator's first steps: ``role list``, ``project create``, ``user create
--project --password``, ``role add --project --user member``, then the new user's
``token issue`` and ``project list`` of their own, and ``role assignment list``,
``user set --disable`` (their token stops working) and ``project delete``. The
``openstack`` command runs as a subprocess configured only by ``OS_*`` variables.
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
from tests.http_fixtures import FrontEnd, auth_body

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

OPENSTACK = Path(sys.executable).with_name("openstack")


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud on the in-memory broker behind the HTTP front end (tokens cached:
    a change made through the front end takes effect there at once all the same)."""
    front = await FrontEnd.start(await clouds.start(computes=1, api={"token_cache_ttl": 60}))
    try:
        yield front
    finally:
        await front.aclose()


async def openstack(
    front: FrontEnd,
    home: Path,
    *args: str,
    user: str = "admin",
    password: str = PASSWORD,
    project: str = "admin",
) -> Any:
    """Run ``openstack ARGS`` as `user`; its JSON output, if any."""
    env = {
        "PATH": str(OPENSTACK.parent),
        "HOME": str(home),
        "OS_AUTH_URL": front.url + "/v3",
        "OS_USERNAME": user,
        "OS_PASSWORD": password,
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
    assert process.returncode == 0, err.decode()
    return json.loads(out) if out.strip() else None


async def test_an_administrator_makes_a_project_and_a_member_with_the_cli(
    front: FrontEnd, tmp_path: Path
) -> None:
    """role list, project create, user create, role add, then the new user's token issue."""

    async def cli(*args: str) -> Any:
        return await openstack(front, tmp_path, *args)

    roles, project = await asyncio.gather(
        cli("role", "list", "-f", "json"),
        cli("project", "create", "--description", "Our team", "-f", "json", "team"),
    )
    user = await cli(
        "user", "create", "--project", "team", "--password", "s3cret-Pass", "-f", "json", "ann"
    )
    await cli("role", "add", "--project", "team", "--user", "ann", "member")
    token = await openstack(
        front, tmp_path, "token", "issue", "-f", "json", user="ann", password="s3cret-Pass",
        project="team",
    )  # fmt: skip
    assignments = await cli("role", "assignment", "list", "--user", "ann", "--names", "-f", "json")

    assert {r["Name"] for r in roles} >= {"admin", "manager", "member", "reader"}
    assert (project["name"], project["domain_id"], project["enabled"]) == ("team", "default", True)
    assert (user["name"], user["default_project_id"]) == ("ann", project["id"])
    assert (token["project_id"], token["user_id"]) == (project["id"], user["id"])
    assert [(a["Role"], a["Project"]) for a in assignments] == [("member", "team@Default")]


async def test_a_disabled_user_loses_their_token_and_a_deleted_project_its_tokens(
    front: FrontEnd, tmp_path: Path
) -> None:
    """user set --disable stops the user's token; project delete stops tokens scoped to it."""

    async def cli(*args: str) -> Any:
        return await openstack(front, tmp_path, *args)

    await cli("project", "create", "-f", "json", "gone")
    for name in ("bea", "cid"):
        await cli("user", "create", "--password", "pw-" + name, "-f", "json", name)
        await cli("role", "add", "--project", "gone", "--user", name, "member")
    tokens = {}
    for name in ("bea", "cid"):
        reply = await front.call(
            "POST", "/v3/auth/tokens", json=auth_body(name, "pw-" + name, "gone")
        )
        tokens[name] = reply.headers["X-Subject-Token"]
    admin = await front.token()
    before = await front.call("GET", "/compute/v2.1/servers", token=tokens["bea"])

    await cli("user", "set", "--disable", "bea")
    disabled = await front.call("GET", "/compute/v2.1/servers", token=tokens["bea"])
    still = await front.call("GET", "/compute/v2.1/servers", token=tokens["cid"])
    await cli("project", "delete", "gone")
    deleted = await front.call(
        "GET", "/v3/auth/tokens", token=admin, headers={"X-Subject-Token": tokens["cid"]}
    )

    assert (before.status, disabled.status, still.status) == (200, 401, 200)
    assert deleted.status == 404 and deleted.body["error"]["code"] == 404
