"""The administrators' server actions and diagnostics over HTTP, on every broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest

from nova_lite.testing import CloudFactory, add_user
from tests.http_fixtures import FrontEnd

COMPUTE = "/compute/v2.1"
V248 = {"OpenStack-API-Version": "compute 2.48"}


@attrs.frozen
class Booted:
    """The front end, the admin's and a member's tokens, and the member's ACTIVE server."""

    front: FrontEnd
    admin: str
    member: str
    server: str

    async def act(self, token: str, body: object) -> int:
        path = f"{COMPUTE}/servers/{self.server}/action"
        return (await self.front.call("POST", path, token=token, json=body)).status


@pytest.fixture
async def booted(clouds: CloudFactory) -> AsyncIterator[Booted]:
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "alice", project="demo")
        member = await front.token("alice", "demo")
        server = await front.boot(member)
        yield Booted(front, await front.token(), member, server)
    finally:
        await front.aclose()


async def test_reset_state_puts_a_server_in_error_and_back(booted: Booted) -> None:
    """Only admins reset a server's state; ERROR then ACTIVE, with no task left."""
    b = booted
    refused = await b.act(b.member, {"os-resetState": {"state": "error"}})
    wrong = await b.act(b.admin, {"os-resetState": {"state": "paused"}})
    to_error = await b.act(b.admin, {"os-resetState": {"state": "error"}})
    errored = await b.front.wait(b.member, b.server, "ERROR")
    to_active = await b.act(b.admin, {"os-resetState": {"state": "active"}})
    active = await b.front.wait(b.member, b.server, "ACTIVE")

    assert (refused, wrong, to_error, to_active) == (403, 400, 202, 202)
    assert errored.task_state is None and active.task_state is None
    await b.front.call("DELETE", f"{COMPUTE}/servers/{b.server}", token=b.member)
    await b.front.wait(b.member, b.server, "DELETED")


async def test_inject_network_info_is_accepted_for_admins(booted: Booted) -> None:
    """injectNetworkInfo answers 202 to an admin and 403 to the owner's member."""
    assert await booted.act(booted.admin, {"injectNetworkInfo": None}) == 202
    assert await booted.act(booted.member, {"injectNetworkInfo": None}) == 403


async def test_diagnostics_in_the_standard_and_the_old_form(booted: Booted) -> None:
    """2.48 answers Nova's standard diagnostics of the running guest; 2.1 a flat dict."""
    b = booted
    path = f"{COMPUTE}/servers/{b.server}/diagnostics"

    standard = await b.front.call("GET", path, token=b.admin, headers=V248)
    legacy = await b.front.call("GET", path, token=b.admin)
    refused = await b.front.call("GET", path, token=b.member)

    body = standard.body
    assert standard.status == 200
    assert (body["state"], body["driver"], body["num_cpus"], body["num_nics"]) == (
        "running",
        "libvirt",
        1,
        1,
    )
    assert body["memory_details"] == {"maximum": 512, "used": 0}
    assert len(body["nic_details"]) == 1 and body["nic_details"][0]["mac_address"]
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    assert legacy.status == 200 and legacy.body["memory"] == 512 and "cpu0_time" in legacy.body
    assert refused.status == 403
