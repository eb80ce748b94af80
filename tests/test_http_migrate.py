"""Cold migration over HTTP (the ``migrate`` action), and os-migrations listing it.

A cold migration is a resize that keeps the flavor and never stays on its host: the
server shows VERIFY_RESIZE on another host, confirm keeps it there, revert brings it
back; every hop's books are checked after (nothing leaked, the audit clean).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from nova_lite.testing import (
    CloudFactory,
    Gate,
    add_user,
    assert_audit_clean,
    hold,
)
from tests.http_fixtures import FrontEnd, Reply

COMPUTE = "/compute/v2.1"


def version(number: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {number}"}


@attrs.frozen
class Cloud3:
    """Three fake hosts behind the front end; the admin's and a member's tokens."""

    front: FrontEnd
    admin: str
    member: str

    async def act(self, server: str, body: Any, token: str | None = None, **kw: Any) -> Reply:
        path = f"{COMPUTE}/servers/{server}/action"
        return await self.front.call("POST", path, token=token or self.admin, json=body, **kw)

    async def host(self, server: str, status: str) -> str | None:
        return (await self.front.wait(self.admin, server, status)).host

    def confirming(self) -> contextlib.AbstractContextManager[Gate]:
        """A gate reached once a host has recorded a migration ``confirmed``."""
        cloud = self.front.cloud
        senders = [cloud.compute(h).conductor for h in ("compute1", "compute2", "compute3")]
        confirmed: Any = lambda *args, **kwargs: kwargs.get("status") == "confirmed"  # noqa: E731
        return hold(senders, "migration_update", match=confirmed, after=True)

    async def migrations(self, query: str = "", number: str = "2.79") -> list[dict[str, Any]]:
        reply = await self.front.call(
            "GET", f"{COMPUTE}/os-migrations{query}", token=self.admin, headers=version(number)
        )
        assert reply.status == 200, reply.body
        found: list[dict[str, Any]] = reply.body["migrations"]
        return found


@pytest.fixture
async def cloud3(clouds: CloudFactory) -> AsyncIterator[Cloud3]:
    cloud = await clouds.start(computes=3)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "alice", project="demo")
        yield Cloud3(front, await front.token(), await front.token("alice", "demo"))
    finally:
        await front.aclose()


async def test_a_cold_migration_moves_the_server_and_confirm_keeps_it_there(
    cloud3: Cloud3,
) -> None:
    """migrate → VERIFY_RESIZE elsewhere, same flavor; confirmResize → ACTIVE there."""
    c = cloud3
    server = await c.front.boot(c.member)
    source = await c.host(server, "ACTIVE")

    refused = await c.act(server, {"migrate": None}, c.member)
    accepted = await c.act(server, {"migrate": None})
    moved = await c.host(server, "VERIFY_RESIZE")
    with c.confirming() as recorded:  # the source records the migration confirmed last
        confirmed = await c.act(server, {"confirmResize": None}, c.member)
        await recorded.wait_reached()
    final = await c.front.wait(c.admin, server, "ACTIVE")
    [migration] = await c.migrations()

    assert (refused.status, accepted.status, confirmed.status) == (403, 202, 204)
    assert moved is not None and moved != source and final.host == moved
    assert final.flavor == "m1.tiny"
    assert migration["migration_type"] == "migration" and migration["status"] == "confirmed"
    assert (migration["source_compute"], migration["dest_compute"]) == (source, moved)
    assert migration["instance_uuid"] == server
    await assert_audit_clean(c.front.cloud)


async def test_a_reverted_migration_returns_to_its_host(cloud3: Cloud3) -> None:
    """revertResize after a cold migration brings the server back to where it was."""
    c = cloud3
    server = await c.front.boot(c.member)
    source = await c.host(server, "ACTIVE")

    await c.act(server, {"migrate": None})
    await c.host(server, "VERIFY_RESIZE")
    reverted = await c.act(server, {"revertResize": None}, c.member)
    back = await c.host(server, "ACTIVE")

    assert (reverted.status, back) == (202, source)
    await assert_audit_clean(c.front.cloud)


async def test_an_admin_chooses_the_destination_from_2_56(cloud3: Cloud3) -> None:
    """``host`` picks the destination (2.56); its own host, an unknown one, or 2.1 are 400s."""
    c = cloud3
    server = await c.front.boot(c.member)
    source = await c.host(server, "ACTIVE")
    target = next(h for h in ("compute1", "compute2", "compute3") if h != source)

    too_early = await c.act(server, {"migrate": {"host": target}})
    same = await c.act(server, {"migrate": {"host": source}}, headers=version("2.56"))
    unknown = await c.act(server, {"migrate": {"host": "nowhere"}}, headers=version("2.56"))
    chosen = await c.act(server, {"migrate": {"host": target}}, headers=version("2.56"))

    assert (too_early.status, same.status, unknown.status, chosen.status) == (400, 400, 400, 202)
    assert await c.host(server, "VERIFY_RESIZE") == target
    await c.act(server, {"confirmResize": None})
    await c.front.wait(c.admin, server, "ACTIVE")
    await assert_audit_clean(c.front.cloud)


async def test_os_migrations_filters_and_pages(cloud3: Cloud3) -> None:
    """Resizes and migrations by type, instance and page (2.59), newest first; fields by version."""
    c = cloud3
    first, second = await c.front.boot(c.member, "one"), await c.front.boot(c.member, "two")
    await c.act(first, {"migrate": None})
    await c.front.wait(c.admin, first, "VERIFY_RESIZE")
    await c.act(second, {"resize": {"flavorRef": "2"}}, c.member)
    await c.front.wait(c.admin, second, "VERIFY_RESIZE")

    every = await c.migrations()
    resizes = await c.migrations("?migration_type=resize")
    of_first = await c.migrations(f"?instance_uuid={first}")
    page = await c.migrations("?limit=1", "2.59")
    rest = await c.migrations(f"?limit=1&marker={page[0]['uuid']}", "2.59")
    old = await c.migrations("", "2.1")
    live = await c.front.call(
        "GET", f"{COMPUTE}/servers/{first}/migrations", token=c.admin, headers=version("2.23")
    )

    assert [m["instance_uuid"] for m in every] == [second, first]
    assert [m["instance_uuid"] for m in resizes] == [second]
    assert [m["migration_type"] for m in of_first] == ["migration"]
    assert [m["uuid"] for m in page + rest] == [m["uuid"] for m in every]
    assert "migration_type" not in old[0] and "uuid" not in old[0]
    assert old[0]["new_instance_type_id"] == 2 and old[0]["old_instance_type_id"] == 1
    assert live.body == {"migrations": []}
