"""os-hypervisors in each microversion's form, and the deprecated os-hosts, over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from nova_lite.testing import CloudFactory, add_user
from tests.http_fixtures import FrontEnd, Reply

COMPUTE = "/compute/v2.1"


def version(number: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {number}"}


@attrs.frozen
class Hosts:
    """A two-host cloud with one server (on ``host``), the admin's and a member's tokens."""

    front: FrontEnd
    admin: str
    member: str
    server: str
    host: str

    async def get(self, rest: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.front.call("GET", f"{COMPUTE}{rest}", token=token or self.admin, **kw)


@pytest.fixture
async def hosts(clouds: CloudFactory) -> AsyncIterator[Hosts]:
    cloud = await clouds.start(computes=2)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "alice", project="demo")
        member = await front.token("alice", "demo")
        server = await front.boot(member)
        admin = await front.token()
        placed = await cloud.api.session(admin).servers.get(server)
        yield Hosts(front, admin, member, server, placed.host or "")
    finally:
        await front.aclose()


async def test_statistics_cpu_info_and_uptime(hosts: Hosts) -> None:
    """Statistics sum both hosts; cpu_info is a string, then an object from 2.28; uptime."""
    h = hosts
    stats = await h.get("/os-hypervisors/statistics")
    old = await h.get("/os-hypervisors/1")
    new = await h.get("/os-hypervisors/1", headers=version("2.28"))
    uptime = await h.get("/os-hypervisors/1/uptime")
    missing = await h.get("/os-hypervisors/99/uptime")
    refused = await h.get("/os-hypervisors/statistics", h.member)

    totals = stats.body["hypervisor_statistics"]
    assert (totals["count"], totals["vcpus"], totals["running_vms"]) == (2, 32, 1)
    assert totals["memory_mb_used"] == 512
    assert isinstance(old.body["hypervisor"]["cpu_info"], str)
    assert new.body["hypervisor"]["cpu_info"]["topology"]["cores"] == 16
    assert " up " in uptime.body["hypervisor"]["uptime"] and uptime.body["hypervisor"]["id"] == 1
    assert (missing.status, refused.status) == (404, 403)


async def test_search_and_servers_by_hostname_before_2_53(hosts: Hosts) -> None:
    """A hostname fragment finds hypervisors and their servers; none is 404; gone at 2.53."""
    h = hosts
    found = await h.get("/os-hypervisors/compute/search")
    servers = await h.get(f"/os-hypervisors/{h.host}/servers")
    none = await h.get("/os-hypervisors/nothing-like-it/search")
    removed = await h.get("/os-hypervisors/compute/search", headers=version("2.53"))

    assert [v["hypervisor_hostname"] for v in found.body["hypervisors"]] == ["compute1", "compute2"]
    [on_host] = servers.body["hypervisors"]
    assert on_host["servers"] == [{"name": "web", "uuid": h.server}]
    assert (none.status, removed.status) == (404, 404)


async def test_uuids_patterns_servers_and_paging_from_2_53(hosts: Hosts) -> None:
    """2.53 ids are UUIDs, the list filters by pattern and lists servers; 2.33 pages."""
    h = hosts
    listed = await h.get(
        f"/os-hypervisors?hypervisor_hostname_pattern={h.host}&with_servers=true",
        headers=version("2.53"),
    )
    [mine] = listed.body["hypervisors"]
    shown = await h.get(f"/os-hypervisors/{mine['id']}?with_servers=1", headers=version("2.53"))
    no_match = await h.get(
        "/os-hypervisors?hypervisor_hostname_pattern=zzz", headers=version("2.53")
    )
    first = await h.get("/os-hypervisors/detail?limit=1", headers=version("2.33"))
    after = first.body["hypervisors"][0]["id"]
    second = await h.get(f"/os-hypervisors/detail?limit=1&marker={after}", headers=version("2.33"))

    assert str(uuid.UUID(mine["id"])) == mine["id"]
    assert mine["servers"] == [{"name": "web", "uuid": h.server}]
    assert shown.body["hypervisor"]["servers"] == mine["servers"]
    assert no_match.status == 404
    assert (
        len(first.body["hypervisors"]) == 1 and first.body["hypervisors_links"][0]["rel"] == "next"
    )
    assert [v["hypervisor_hostname"] for v in second.body["hypervisors"]] == ["compute2"]


async def test_os_hosts_lists_shows_and_refuses_what_it_cannot_do(hosts: Hosts) -> None:
    """Hosts by zone, a host's resources by project; changes 501; gone from 2.43."""
    h = hosts
    every = await h.get("/os-hosts")
    blank = await h.get("/os-hosts?zone=")
    in_nova = await h.get("/os-hosts?zone=nova")
    nowhere = await h.get("/os-hosts?zone=xxx")
    detail = await h.get(f"/os-hosts/{h.host}")
    unknown = await h.get("/os-hosts/no-such-host")
    removed = await h.get("/os-hosts", headers=version("2.43"))
    by_member = await h.get("/os-hosts", h.member)
    bad = await h.front.call(
        "PUT", f"{COMPUTE}/os-hosts/{h.host}", token=h.admin, json={"status": "on"}
    )
    good = await h.front.call(
        "PUT", f"{COMPUTE}/os-hosts/{h.host}", token=h.admin, json={"status": "disable"}
    )
    reboot = await h.get(f"/os-hosts/{h.host}/reboot")
    reboot_unknown = await h.get("/os-hosts/no-such-host/reboot")

    services = {(e["host_name"], e["service"], e["zone"]) for e in every.body["hosts"]}
    control = h.front.cloud.api.config.host
    assert {("compute1", "compute", "nova"), (control, "scheduler", "internal")} <= services
    assert blank.body == every.body
    assert {e["service"] for e in in_nova.body["hosts"]} == {"compute"}
    assert nowhere.body == {"hosts": []}
    projects = [r["resource"]["project"] for r in detail.body["host"]]
    assert projects[:3] == ["(total)", "(used_now)", "(used_max)"] and len(projects) == 4
    assert detail.body["host"][2]["resource"]["memory_mb"] == 512
    assert (unknown.status, removed.status, by_member.status) == (404, 404, 403)
    assert (bad.status, good.status, reboot.status, reboot_unknown.status) == (400, 501, 501, 404)


async def test_os_networks_proxies_the_network_service_below_2_36(hosts: Hosts) -> None:
    """The shared network is listed and shown by label; 404 for others and from 2.36."""
    h = hosts
    listed = await h.get("/os-networks", h.member)
    [private] = [n for n in listed.body["networks"] if n["label"] == "private"]
    shown = await h.get(f"/os-networks/{private['id']}", h.member)
    missing = await h.get("/os-networks/no-such-network", h.member)
    removed = await h.get("/os-networks", h.member, headers=version("2.36"))

    # Nova with Neutron: the label is the network's name, the cidr its first subnet's.
    assert shown.body["network"]["label"] == "private"
    assert shown.body["network"]["cidr"] == "10.0.0.0/20"
    assert (missing.status, removed.status) == (404, 404)
