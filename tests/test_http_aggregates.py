"""Host aggregates and availability zones over HTTP, and servers placed in a zone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from nova_lite.testing import WAIT, CloudFactory, add_user
from tests.http_fixtures import FrontEnd, Reply

COMPUTE = "/compute/v2.1"
V241 = {"OpenStack-API-Version": "compute 2.41"}


@attrs.frozen
class Admin:
    """The front end of a two-host cloud, the admin's token and a member's (``demo``)."""

    front: FrontEnd
    admin: str
    member: str

    async def call(self, method: str, rest: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.front.call(method, f"{COMPUTE}{rest}", token=token or self.admin, **kw)

    async def aggregate(self, name: str, zone: str | None = None, *hosts: str) -> int:
        body = {"aggregate": {"name": name, "availability_zone": zone}}
        created = await self.call("POST", "/os-aggregates", json=body)
        assert created.status == 200, created.body
        aggregate_id: int = created.body["aggregate"]["id"]
        for host in hosts:
            added = await self.act(aggregate_id, {"add_host": {"host": host}})
            assert added.status == 200, added.body
        return aggregate_id

    async def act(self, aggregate_id: int, body: Any, token: str | None = None) -> Reply:
        return await self.call("POST", f"/os-aggregates/{aggregate_id}/action", token, json=body)

    async def zones(self, token: str, detail: bool = False) -> list[dict[str, Any]]:
        reply = await self.call(
            "GET", "/os-availability-zone" + ("/detail" if detail else ""), token
        )
        assert reply.status == 200, reply.body
        zones: list[dict[str, Any]] = reply.body["availabilityZoneInfo"]
        return zones

    async def boot(self, zone: str | None) -> Reply:
        server: dict[str, Any] = {
            "name": "web",
            "imageRef": await self.front.image_id(),
            "flavorRef": "1",
        }
        if zone is not None:
            server["availability_zone"] = zone
        return await self.call("POST", "/servers", self.member, json={"server": server})


@pytest.fixture
async def admin(clouds: CloudFactory) -> AsyncIterator[Admin]:
    cloud = await clouds.start(computes=2)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "alice", project="demo")
        yield Admin(front, await front.token(), await front.token("alice", "demo"))
    finally:
        await front.aclose()


async def test_aggregates_are_created_shown_changed_and_deleted(admin: Admin) -> None:
    """Nova's shapes and codes: a taken name is 409 in any case, a non-empty one stays."""
    a = admin
    created = await a.call(
        "POST", "/os-aggregates", json={"aggregate": {"name": "rack1"}}, headers=V241
    )
    agg = created.body["aggregate"]
    path = f"/os-aggregates/{agg['id']}"

    taken = await a.call("POST", "/os-aggregates", json={"aggregate": {"name": "RACK1"}})
    too_long = await a.call("POST", "/os-aggregates", json={"aggregate": {"name": "x" * 256}})
    by_member = await a.call("GET", "/os-aggregates", a.member)
    renamed = await a.call(
        "PUT", path, json={"aggregate": {"name": "rack2", "availability_zone": "az9"}}
    )
    with_host = await a.act(agg["id"], {"add_host": {"host": "compute1"}})
    not_empty = await a.call("DELETE", path)
    await a.act(agg["id"], {"remove_host": {"host": "compute1"}})
    deleted = await a.call("DELETE", path)
    gone = await a.call("GET", path)
    bad_id = await a.call("GET", "/os-aggregates/not-a-number")

    assert created.status == 200 and "hosts" not in agg and agg["uuid"]
    assert (agg["name"], agg["availability_zone"], agg["deleted"]) == ("rack1", None, False)
    assert (taken.status, too_long.status, by_member.status) == (409, 400, 403)
    assert renamed.body["aggregate"]["metadata"] == {"availability_zone": "az9"}
    assert renamed.body["aggregate"]["name"] == "rack2"
    assert with_host.body["aggregate"]["hosts"] == ["compute1"]
    assert (not_empty.status, deleted.status, gone.status, bad_id.status) == (400, 200, 404, 404)


async def test_hosts_and_metadata_of_an_aggregate(admin: Admin) -> None:
    """Unknown hosts are 404, a host twice is 409, a host in two zones is 400, null unsets."""
    a = admin
    first, second = await a.aggregate("a1", "az1", "compute1"), await a.aggregate("a2", "az2")

    unknown = await a.act(first, {"add_host": {"host": "no-such-host"}})
    twice = await a.act(first, {"add_host": {"host": "compute1"}})
    two_zones = await a.act(second, {"add_host": {"host": "compute1"}})
    not_member = await a.act(second, {"remove_host": {"host": "compute1"}})
    by_member = await a.act(second, {"add_host": {"host": "compute2"}}, a.member)
    meta = await a.act(first, {"set_metadata": {"metadata": {"ssd": "true", "rack": "r1"}}})
    unset = await a.act(first, {"set_metadata": {"metadata": {"rack": None}}})

    assert (unknown.status, twice.status, two_zones.status, not_member.status) == (
        404,
        409,
        400,
        404,
    )
    assert by_member.status == 403
    assert meta.body["aggregate"]["metadata"]["rack"] == "r1"
    assert unset.body["aggregate"]["metadata"] == {"availability_zone": "az1", "ssd": "true"}


async def test_zones_come_from_aggregates_and_are_listed_for_everyone(admin: Admin) -> None:
    """A zone aggregate makes its hosts that zone; the rest stay in nova; detail is admins'."""
    a = admin
    assert [z["zoneName"] for z in await a.zones(a.member)] == ["nova"]
    await a.aggregate("a1", "az1", "compute1")

    listed = await a.zones(a.member)
    detail = await a.zones(a.admin, detail=True)
    refused = await a.call("GET", "/os-availability-zone/detail", a.member)
    services = await a.call("GET", "/os-services")

    assert listed == [
        {"zoneName": "az1", "zoneState": {"available": True}, "hosts": None},
        {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None},
    ]
    by_zone = {z["zoneName"]: z["hosts"] for z in detail}
    assert set(by_zone["internal"][a.front.cloud.api.config.host]) == {
        "nova-conductor",
        "nova-scheduler",
    }
    assert by_zone["az1"] == {
        "compute1": {"nova-compute": {"available": True, "active": True, "updated_at": None}}
    }
    assert list(by_zone["nova"]) == ["compute2"]
    assert refused.status == 403
    assert {s["host"]: s["zone"] for s in services.body["services"]} == {
        "compute1": "az1",
        "compute2": "nova",
    }


async def test_servers_go_to_the_zone_they_ask_for(admin: Admin) -> None:
    """az1 is compute1, nova is compute2; an unknown zone is a 400; the server shows its zone."""
    a = admin
    await a.aggregate("a1", "az1", "compute1")

    in_az1 = [await a.boot("az1") for _ in range(3)]
    in_nova = await a.boot("nova")
    unknown = await a.boot("az-none")
    session = a.front.cloud.api.session(a.admin)
    ids = [r.body["server"]["id"] for r in (*in_az1, in_nova)]
    placed = await asyncio.gather(
        *(session.servers.wait_for(i, "ACTIVE", timeout=WAIT) for i in ids)
    )
    shown = await a.call("GET", f"/servers/{ids[0]}", a.member)

    assert [s.host for s in placed] == ["compute1"] * 3 + ["compute2"]
    assert unknown.status == 400 and "availability zone" in unknown.body["badRequest"]["message"]
    assert shown.body["server"]["OS-EXT-AZ:availability_zone"] == "az1"


async def test_a_zone_does_not_move_under_running_servers(admin: Admin) -> None:
    """An aggregate whose hosts run servers keeps its zone; a server that asked for no zone
    shows its host's."""
    a = admin
    aggregate = await a.aggregate("a1", "az1", "compute1", "compute2")
    created = await a.boot(None)
    server = created.body["server"]["id"]
    session = a.front.cloud.api.session(a.admin)
    await session.servers.wait_for(server, "ACTIVE", timeout=WAIT)

    moved = await a.call(
        "PUT", f"/os-aggregates/{aggregate}", json={"aggregate": {"availability_zone": "az2"}}
    )
    shown = await a.call("GET", f"/servers/{server}", a.member)

    assert moved.status == 400 and "instances" in moved.body["badRequest"]["message"]
    assert shown.body["server"]["OS-EXT-AZ:availability_zone"] == "az1"
