"""Server groups over HTTP: their API in each microversion, and where members are placed.

The placement tests boot real (fake-driver) servers on a few hosts and read which
host each landed on; the scheduler's group filters and weighers decide it from the
group's policy, which the API puts into every member's request spec.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from nova_lite.testing import WAIT, CloudFactory, add_user
from tests.http_fixtures import FrontEnd, Reply

COMPUTE = "/compute/v2.1"
V213 = {"OpenStack-API-Version": "compute 2.13"}
V264 = {"OpenStack-API-Version": "compute 2.64"}
V271 = {"OpenStack-API-Version": "compute 2.71"}


@attrs.frozen
class Groups:
    """The front end, an admin's token, a member's (project ``demo``) and another's."""

    front: FrontEnd
    admin: str
    member: str
    stranger: str

    async def call(self, method: str, rest: str, token: str, **kw: Any) -> Reply:
        return await self.front.call(method, f"{COMPUTE}{rest}", token=token, **kw)

    async def group(self, policy: str, **fields: Any) -> dict[str, Any]:
        body = {"server_group": {"name": "g", "policy": policy, **fields}}
        reply = await self.call("POST", "/os-server-groups", self.member, json=body, headers=V264)
        assert reply.status == 200, reply.body
        group: dict[str, Any] = reply.body["server_group"]
        return group

    async def boot(self, group: str | None, name: str, flavor: str = "1") -> str:
        server = {"name": name, "imageRef": await self.front.image_id(), "flavorRef": flavor}
        body: dict[str, Any] = {"server": server}
        if group is not None:
            body["os:scheduler_hints"] = {"group": group}
        reply = await self.call("POST", "/servers", self.member, json=body)
        assert reply.status == 202, reply.body
        server_id: str = reply.body["server"]["id"]
        return server_id

    async def hosts(self, servers: list[str], status: str = "ACTIVE") -> list[str | None]:
        """Each server's host once it shows `status`."""
        session = self.front.cloud.api.session(self.admin)
        waits = [session.servers.wait_for(s, status, timeout=WAIT) for s in servers]
        return [s.host for s in await asyncio.gather(*waits)]


async def _groups(clouds: CloudFactory, computes: int) -> AsyncIterator[Groups]:
    cloud = await clouds.start(computes=computes)
    front = await FrontEnd.start(cloud)
    try:
        admin = await cloud.login_admin()
        await add_user(cloud, admin, "alice", project="demo")
        await add_user(cloud, admin, "sam", project="beta")
        yield Groups(
            front,
            await front.token(),
            await front.token("alice", "demo"),
            await front.token("sam", "beta"),
        )
    finally:
        await front.aclose()


@pytest.fixture
async def groups(clouds: CloudFactory) -> AsyncIterator[Groups]:
    async for made in _groups(clouds, 1):
        yield made


@pytest.fixture
async def placing(memory_clouds: CloudFactory) -> AsyncIterator[Groups]:
    """Three fake hosts (the placement tests need a choice of hosts)."""
    async for made in _groups(memory_clouds, 3):
        yield made


async def test_a_group_in_each_microversions_shape(groups: Groups) -> None:
    """policies (2.1), project and user (2.13), policy and rules (2.64); soft ones from 2.15."""
    g = groups
    old = {"server_group": {"name": "web", "policies": ["anti-affinity"]}}

    v21 = await g.call("POST", "/os-server-groups", g.member, json=old)
    v213 = await g.call(
        "GET", f"/os-server-groups/{v21.body['server_group']['id']}", g.member, headers=V213
    )
    soft_early = await g.call(
        "POST",
        "/os-server-groups",
        g.member,
        json={"server_group": {"name": "s", "policies": ["soft-affinity"]}},
    )
    v264 = await g.group("anti-affinity", rules={"max_server_per_host": 2})
    rules_on_affinity = await g.call(
        "POST",
        "/os-server-groups",
        g.member,
        json={
            "server_group": {"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}
        },
        headers=V264,
    )

    assert v21.status == 200
    assert v21.body["server_group"] == {
        "id": v21.body["server_group"]["id"],
        "name": "web",
        "policies": ["anti-affinity"],
        "metadata": {},
        "members": [],
    }
    assert {"project_id", "user_id"} <= set(v213.body["server_group"])
    assert soft_early.status == 400
    assert (v264["policy"], v264["rules"]) == ("anti-affinity", {"max_server_per_host": 2})
    assert "policies" not in v264 and "metadata" not in v264
    assert rules_on_affinity.status == 400


async def test_groups_are_listed_shown_and_deleted_by_their_project(groups: Groups) -> None:
    """Two groups may share a name; another project may neither see nor delete them."""
    g = groups
    first, second = await g.group("affinity"), await g.group("affinity")
    path = f"/os-server-groups/{first['id']}"

    listed = await g.call("GET", "/os-server-groups", g.member, headers=V264)
    others_list = await g.call("GET", "/os-server-groups", g.stranger)
    everyone = await g.call("GET", "/os-server-groups?all_projects=True", g.admin)
    hidden = await g.call("GET", path, g.stranger)
    not_theirs = await g.call("DELETE", path, g.stranger)
    deleted = await g.call("DELETE", path, g.member)
    gone = await g.call("GET", path, g.member)

    assert first["id"] != second["id"] and first["name"] == second["name"]
    assert [s["id"] for s in listed.body["server_groups"]] == [first["id"], second["id"]]
    assert others_list.body["server_groups"] == []
    assert {first["id"], second["id"]} <= {s["id"] for s in everyone.body["server_groups"]}
    assert (hidden.status, not_theirs.status) == (403, 403)
    assert (deleted.status, gone.status) == (204, 404)


async def test_a_hint_to_no_group_is_refused(groups: Groups) -> None:
    """A create hinting at a group that does not exist (or is not a uuid) is a 400."""
    g = groups
    image = await g.front.image_id()
    for hint in ("8b3b6a5e-5a0d-4c4c-9d4a-2b7a1f1e9c11", "not-a-uuid"):
        body = {
            "server": {"name": "x", "imageRef": image, "flavorRef": "1"},
            "os:scheduler_hints": {"group": hint},
        }
        reply = await g.call("POST", "/servers", g.member, json=body)
        assert reply.status == 400, reply.body


async def test_anti_affinity_puts_members_on_different_hosts(placing: Groups) -> None:
    """Three members take the three hosts; a fourth finds no valid host; all are members."""
    g = placing
    group = await g.group("anti-affinity")
    members = [await g.boot(group["id"], f"a{i}") for i in range(3)]

    hosts = await g.hosts(members)
    extra = await g.boot(group["id"], "a3")
    await g.hosts([extra], "ERROR")
    shown = await g.call("GET", f"/os-server-groups/{group['id']}", g.member)
    server = await g.call("GET", f"/servers/{members[0]}", g.member, headers=V271)

    assert len(set(hosts)) == 3
    assert shown.body["server_group"]["members"] == [*members, extra]
    assert server.body["server"]["server_groups"] == [group["id"]]


async def test_max_server_per_host_lets_that_many_share_a_host(placing: Groups) -> None:
    """With max_server_per_host 2, six members fill three hosts two by two."""
    g = placing
    group = await g.group("anti-affinity", rules={"max_server_per_host": 2})
    members = [await g.boot(group["id"], f"m{i}") for i in range(6)]

    hosts = await g.hosts(members)

    assert sorted(hosts.count(h) for h in set(hosts)) == [2, 2, 2]


async def test_affinity_and_soft_affinity_keep_members_together(placing: Groups) -> None:
    """Hard and soft affinity each put their members on one host."""
    g = placing
    for policy in ("affinity", "soft-affinity"):
        group = await g.group(policy)
        members = [await g.boot(group["id"], f"{policy}-{i}") for i in range(3)]
        assert len(set(await g.hosts(members))) == 1, policy


async def test_soft_anti_affinity_outweighs_free_memory(placing: Groups) -> None:
    """Two hosts hold big servers: the emptiest third takes the first member, yet the
    second goes beside a big server rather than beside its fellow member."""
    g = placing
    big = [await g.boot(None, f"big{i}", flavor="4") for i in range(2)]
    big_hosts = set(await g.hosts(big))
    group = await g.group("soft-anti-affinity")
    first = await g.boot(group["id"], "s0")
    [first_host] = await g.hosts([first])
    second = await g.boot(group["id"], "s1")

    [second_host] = await g.hosts([second])

    assert len(big_hosts) == 2 and first_host not in big_hosts
    assert second_host in big_hosts


async def test_a_full_group_refuses_another_member(groups: Groups) -> None:
    """Past the server_group_members quota, a create in the group is a 403 and makes nothing."""
    g = groups
    project = (await g.front.cloud.api.context_for(g.member)).project_id
    limit = {"quota_set": {"server_group_members": 1}}
    await g.call("PUT", f"/os-quota-sets/{project}", g.admin, json=limit)
    group = await g.group("affinity")
    first = await g.boot(group["id"], "first")
    body = {
        "server": {"name": "second", "imageRef": await g.front.image_id(), "flavorRef": "1"},
        "os:scheduler_hints": {"group": group["id"]},
    }

    refused = await g.call("POST", "/servers", g.member, json=body)
    servers = await g.call("GET", "/servers", g.member)
    shown = await g.call("GET", f"/os-server-groups/{group['id']}", g.member)

    assert refused.status == 403 and "server_group_members" in refused.body["forbidden"]["message"]
    assert [s["id"] for s in servers.body["servers"]] == [first]
    assert shown.body["server_group"]["members"] == [first]


async def test_one_create_of_several_servers_shares_a_reservation_id(placing: Groups) -> None:
    """min_count 2 in a group: both members, listed together by their reservation_id."""
    g = placing
    group = await g.group("anti-affinity")
    server = {"name": "pair", "imageRef": await g.front.image_id(), "flavorRef": "1"}
    body = {
        "server": {**server, "min_count": 2, "return_reservation_id": True},
        "os:scheduler_hints": {"group": group["id"]},
    }
    await g.boot(None, "other")

    created = await g.call("POST", "/servers", g.member, json=body)
    reservation = created.body["reservation_id"]
    listed = await g.call("GET", f"/servers/detail?reservation_id={reservation}", g.member)
    ids = [s["id"] for s in listed.body["servers"]]
    hosts = await g.hosts(ids)
    every = await g.call("GET", "/servers/detail?all_tenants=1", g.admin, headers=V264)

    assert len(ids) == 2 and len(set(hosts)) == 2
    reservations = {s["id"]: s["OS-EXT-SRV-ATTR:reservation_id"] for s in every.body["servers"]}
    assert [reservations[i] for i in ids] == [reservation, reservation]
    assert len(set(reservations.values())) == 2  # the other server's create had its own
