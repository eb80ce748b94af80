"""The everyday admin ``openstack`` commands, unchanged, against the front end.

Server groups, quotas, usage, availability zones, aggregates and cold migration,
each as a getting-started guide runs it (python-openstackclient as a subprocess,
configured by ``OS_*`` variables, the cloud serving in this process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nova_lite.testing import CloudFactory, assert_audit_clean
from tests.http_fixtures import FrontEnd
from tests.test_http_cli import openstack

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A two-host cloud on the in-memory broker behind the HTTP front end."""
    front = await FrontEnd.start(await clouds.start(computes=2))
    try:
        yield front
    finally:
        await front.aclose()


async def test_server_groups_quotas_usage_and_zones_from_the_cli(
    front: FrontEnd, tmp_path: Path
) -> None:
    """``server group create``, ``server create --hint group=``, ``quota show``, ``usage
    list``, ``aggregate create`` and ``availability zone list`` work."""

    async def cli(*args: str) -> Any:
        return await openstack(front, tmp_path, *args)

    group = await cli("server", "group", "create", "--policy", "anti-affinity", "web", "-f", "json")
    for name in ("a", "b"):
        await cli(
            "server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--network", "private",
            "--hint", f"group={group['id']}", "--wait", "-f", "json", name,
        )  # fmt: skip
    shown = await cli("server", "group", "show", "web", "-f", "json")
    hosts = {(await cli("server", "show", n, "-f", "json"))["OS-EXT-SRV-ATTR:host"] for n in "ab"}
    quota = await cli("quota", "show", "--compute", "-f", "json")
    usage = await cli("usage", "list", "-f", "json")
    aggregate = await cli("aggregate", "create", "--zone", "az1", "rack1", "-f", "json")
    await cli("aggregate", "add", "host", "rack1", "compute2", "-f", "json")
    zones = await cli("availability", "zone", "list", "--compute", "-f", "json")

    assert group["policy"] == "anti-affinity" and len(shown["members"]) == 2
    assert hosts == {"compute1", "compute2"}
    limits = {row["Resource"]: row["Limit"] for row in quota}
    assert limits["instances"] == 10 and limits["server-groups"] == 10
    assert [len(u["Servers"]) for u in usage] == [2]
    assert aggregate["availability_zone"] == "az1"
    assert sorted(z["Zone Name"] for z in zones) == ["az1", "internal", "nova"]  # as admin


async def test_server_migrate_and_confirm_from_the_cli(front: FrontEnd, tmp_path: Path) -> None:
    """``server migrate`` moves a server to the other host, ``server migrate confirm``
    keeps it there, ``server migration list`` shows the migration."""

    async def cli(*args: str) -> Any:
        return await openstack(front, tmp_path, *args)

    created = await cli(
        "server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--network", "private",
        "--wait", "-f", "json", "vm1",
    )  # fmt: skip
    source = created["OS-EXT-SRV-ATTR:host"]
    token = await front.token()
    await cli("server", "migrate", "vm1")
    await front.wait(token, created["id"], "VERIFY_RESIZE")
    moved = await cli("server", "show", "vm1", "-f", "json")
    await cli("server", "migrate", "confirm", "vm1")
    final = await front.wait(token, created["id"], "ACTIVE")
    migrations = await cli("server", "migration", "list", "-f", "json")

    assert moved["status"] == "VERIFY_RESIZE" and moved["OS-EXT-SRV-ATTR:host"] != source
    assert final.host == moved["OS-EXT-SRV-ATTR:host"]
    assert [m["Server UUID"] for m in migrations] == [created["id"]]
    await assert_audit_clean(front.cloud)
