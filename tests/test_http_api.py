"""The HTTP API end to end: identity, tokens, servers and their faults, on every broker.

Each test serves a whole `Cloud` (isolated on the parametrized broker) through the
HTTP front end on a free local port and talks to it with plain HTTP requests, as
any OpenStack client would. Waiting for a server uses the library's notification-
driven `wait_for`, never a sleep.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog

from nova_lite.api.http.openapi import document
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.objects import utcnow
from nova_lite.testing import PASSWORD, CloudFactory, add_user, identity_of
from tests.http_fixtures import FrontEnd, auth_body

COMPUTE = "/compute/v2.1"


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A two-host cloud behind the HTTP front end; tokens are re-validated on every request."""
    cloud = await clouds.start(computes=2, api={"token_cache_ttl": 0})
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


async def _member(front: FrontEnd, name: str, project: str, role: str = "member") -> str:
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, name, project=project, role=role)
    return await front.token(name, project)


# -- identity --------------------------------------------------------------------------


async def test_version_documents_need_no_token(front: FrontEnd) -> None:
    """Every API's version document answers without a token, with the microversion range."""
    root = await front.call("GET", "/")
    compute = await front.call("GET", COMPUTE)
    others = [await front.call("GET", p) for p in ("/v3", "/image", "/network", "/volume")]

    assert root.status == 300 and root.body["versions"]["values"][0]["id"].startswith("v3")
    version = compute.body["version"]
    assert (version["min_version"], version["version"]) == ("2.1", "2.79")
    listed = await front.call("GET", "/compute/")
    assert [v["id"] for v in listed.body["versions"]] == ["v2.0", "v2.1"]  # Nova's order
    legacy = await front.call("GET", "/compute/v2/")
    assert legacy.status == 200 and legacy.body["version"]["id"] == "v2.0"
    assert [r.status for r in others] == [200, 300, 200, 300]  # Glance's and Cinder's: 300


async def test_the_openapi_document_is_served(front: FrontEnd) -> None:
    """GET /openapi.json answers, without a token, the package's OpenAPI document."""
    reply = await front.call("GET", "/openapi.json")

    assert reply.status == 200 and reply.body == document()


async def test_a_password_login_returns_a_token_and_the_catalog(front: FrontEnd) -> None:
    """POST /v3/auth/tokens answers 201 with X-Subject-Token and Keystone's token body."""
    reply = await front.call("POST", "/v3/auth/tokens", json=auth_body("admin", PASSWORD, "admin"))

    assert reply.status == 201 and reply.headers["X-Subject-Token"]
    token = reply.body["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "admin" and token["user"]["domain"]["id"] == "default"
    assert token["project"]["name"] == "admin"
    assert {"admin", "member", "reader"} <= {r["name"] for r in token["roles"]}
    assert token["expires_at"].endswith("Z")
    urls = {s["type"]: s["endpoints"][0]["url"] for s in token["catalog"]}
    assert urls["compute"] == f"{front.url}/compute/v2.1"
    assert urls["volumev3"] == f"{front.url}/volume/v3/{token['project']['id']}"
    assert set(urls) == {"identity", "compute", "image", "network", "volumev3"}


async def test_wrong_credentials_are_401_with_www_authenticate(front: FrontEnd) -> None:
    """A wrong password gets 401, Keystone's error body and a WWW-Authenticate header."""
    reply = await front.call("POST", "/v3/auth/tokens", json=auth_body("admin", "nope", "admin"))

    assert reply.status == 401
    assert reply.body["error"]["code"] == 401
    assert reply.headers["WWW-Authenticate"] == f'Keystone uri="{front.url}/v3"'


async def test_a_revoked_token_is_401(front: FrontEnd) -> None:
    """DELETE /v3/auth/tokens revokes the token: its next use gets 401."""
    token = await front.token()
    headers = {"X-Subject-Token": token}

    checked = await front.call("GET", "/v3/auth/tokens", token=token, headers=headers)
    head = await front.call("HEAD", "/v3/auth/tokens", token=token, headers=headers)
    revoked = await front.call("DELETE", "/v3/auth/tokens", token=token, headers=headers)
    after = await front.call("GET", COMPUTE + "/servers", token=token)

    assert checked.status == 200 and checked.body["token"]["user"]["name"] == "admin"
    assert head.status == 200 and head.raw == b""
    assert revoked.status == 204
    assert after.status == 401


async def test_an_expired_token_is_401(front: FrontEnd) -> None:
    """Once identity's clock passes the token's expiry, requests with it get 401."""
    token = await front.token()
    identity_of(front.cloud).now = lambda: utcnow() + datetime.timedelta(days=1)

    reply = await front.call("GET", COMPUTE + "/servers", token=token)

    assert reply.status == 401 and "expired" in reply.body["unauthorized"]["message"]


async def test_projects_and_users_are_for_admins(front: FrontEnd) -> None:
    """GET /v3/projects and /v3/users list for an admin and answer 403 to a member."""
    admin = await front.token()
    member = await _member(front, "alice", "demo")

    projects = await front.call("GET", "/v3/projects", token=admin)
    users = await front.call("GET", "/v3/users", token=admin)
    refused = await front.call("GET", "/v3/users", token=member)

    assert {p["name"] for p in projects.body["projects"]} == {"admin", "demo"}
    assert {u["name"] for u in users.body["users"]} == {"admin", "alice"}
    assert refused.status == 403


# -- servers ---------------------------------------------------------------------------


async def test_a_server_boots_and_shows_novas_fields(front: FrontEnd) -> None:
    """POST /servers answers 202 with id and adminPass; the server shows Nova's fields."""
    token = await front.token()
    server_id = await front.boot(token)

    new = await front.call(
        "GET",
        f"{COMPUTE}/servers/{server_id}",
        token=token,
        headers={"OpenStack-API-Version": "compute latest"},
    )
    old = await front.call("GET", f"{COMPUTE}/servers/{server_id}", token=token)

    server = new.body["server"]
    assert new.headers["OpenStack-API-Version"] == "compute 2.79"
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:vm_state"] == "active"
    assert server["OS-EXT-STS:power_state"] == 1 and server["OS-EXT-STS:task_state"] is None
    assert server["flavor"]["original_name"] == "m1.tiny" and server["locked"] is False
    assert server["OS-EXT-SRV-ATTR:host"] in ("compute1", "compute2")
    [address] = server["addresses"]["private"]
    assert address["OS-EXT-IPS:type"] == "fixed" and address["OS-EXT-IPS-MAC:mac_addr"]
    assert server["image"]["id"] == await front.image_id()
    assert old.body["server"]["flavor"]["id"] == "1" and "locked" not in old.body["server"]


async def test_create_answers_202_with_a_location(front: FrontEnd) -> None:
    """The create response carries the server's links, Location and an admin password."""
    token = await front.token()
    body = {
        "server": {
            "name": "a",
            "imageRef": await front.image_id(),
            "flavorRef": "1",
            "networks": "auto",
        }
    }

    reply = await front.call(
        "POST",
        COMPUTE + "/servers",
        token=token,
        json=body,
        headers={"X-OpenStack-Nova-API-Version": "2.37"},
    )

    server = reply.body["server"]
    assert reply.status == 202 and server["adminPass"]
    assert reply.headers["Location"] == f"{front.url}{COMPUTE}/servers/{server['id']}"
    assert server["links"][0]["href"] == reply.headers["Location"]
    await front.wait(token, server["id"], "ACTIVE")


async def test_the_services_log_a_boot_under_the_responses_request_id(front: FrontEnd) -> None:
    """The request id returned by POST /servers is on the api, conductor, scheduler and
    compute log lines of that boot, and the token is on none.
    """
    token = await front.token()
    body = {"server": {"name": "web", "imageRef": await front.image_id(), "flavorRef": "1"}}

    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        reply = await front.call("POST", COMPUTE + "/servers", token=token, json=body)
        await front.wait(token, reply.body["server"]["id"], "ACTIVE")

    request_id = reply.headers["X-Openstack-Request-Id"]
    mine = {str(e["event"]) for e in logs if e.get("request_id") == request_id}
    for service in ("http", "api", "conductor", "scheduler", "compute"):
        assert any(event.startswith(f"{service}.") for event in mine), (service, mine)
    assert all(token not in repr(entry) for entry in logs)


async def test_server_lists_filter_and_paginate(front: FrontEnd) -> None:
    """GET /servers/detail filters by status and name regex, and pages with limit/marker."""
    token = await front.token()
    ids = [await front.boot(token, name) for name in ("web-1", "web-2", "db-1")]
    path = COMPUTE + "/servers/detail"

    named = await front.call("GET", path + "?name=^web", token=token)
    active = await front.call("GET", path + "?status=ACTIVE", token=token)
    shutoff = await front.call("GET", path + "?status=SHUTOFF", token=token)
    first = await front.call("GET", COMPUTE + "/servers?limit=2", token=token)
    marker = first.body["servers"][-1]["id"]
    rest = await front.call("GET", f"{COMPUTE}/servers?limit=2&marker={marker}", token=token)

    assert {s["name"] for s in named.body["servers"]} == {"web-1", "web-2"}
    assert len(active.body["servers"]) == 3 and shutoff.body["servers"] == []
    assert [s["name"] for s in first.body["servers"]] == ["db-1", "web-2"]
    assert first.body["servers_links"][0]["rel"] == "next"
    assert [s["id"] for s in rest.body["servers"]] == [ids[0]]
    assert "servers_links" not in rest.body


async def test_a_server_list_reads_only_the_pages_it_needs(
    front: FrontEnd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /servers reads the conductor's newest-first pages until `limit` servers
    match (at two a page here): a first page needs one read, a filter matching only
    the oldest server reads every page; either way newest first, as before."""
    token = await front.token()
    ids = [await front.boot(token, f"s{n}") for n in range(5)]
    monkeypatch.setattr("nova_lite.paging.PAGE_SIZE", 2)
    reads: list[int] = []
    original = ConductorAPI.newest_instances

    async def counted(self: ConductorAPI, ctx: Any, **kwargs: Any) -> Any:
        reads.append(kwargs["limit"])
        return await original(self, ctx, **kwargs)

    monkeypatch.setattr(ConductorAPI, "newest_instances", counted)
    first = await front.call("GET", COMPUTE + "/servers?limit=1", token=token)
    assert [s["id"] for s in first.body["servers"]] == [ids[-1]] and reads == [2]
    reads.clear()
    oldest = await front.call("GET", COMPUTE + "/servers?limit=1&name=^s0$", token=token)
    assert [s["id"] for s in oldest.body["servers"]] == [ids[0]] and reads == [2, 2, 2]
    reads.clear()
    every = await front.call("GET", COMPUTE + "/servers", token=token)
    assert [s["id"] for s in every.body["servers"]] == ids[::-1] and len(reads) == 3

    # A server deleted between two of a listing's pages: the next page still starts
    # after it (the marker is looked up deleted or not), no 400 for the listing.
    async def deleting(self: ConductorAPI, ctx: Any, **kwargs: Any) -> Any:
        page = await original(self, ctx, **kwargs)
        if kwargs.get("marker") is None:
            await self.instance_update(ctx, page[-1].uuid, {"deleted": True})
        return page

    monkeypatch.setattr(ConductorAPI, "newest_instances", deleting)
    listed = await front.call("GET", COMPUTE + "/servers?name=^s0$", token=token)
    assert listed.status == 200 and [s["id"] for s in listed.body["servers"]] == [ids[0]]


async def test_a_server_can_be_renamed_and_deleted(front: FrontEnd) -> None:
    """PUT /servers/{id} renames (200) and DELETE answers 204 and deletes."""
    token = await front.token()
    server_id = await front.boot(token)

    renamed = await front.call(
        "PUT", f"{COMPUTE}/servers/{server_id}", token=token, json={"server": {"name": "renamed"}}
    )
    deleted = await front.call("DELETE", f"{COMPUTE}/servers/{server_id}", token=token)
    await front.wait(token, server_id, "DELETED")
    gone = await front.call("GET", f"{COMPUTE}/servers/{server_id}", token=token)

    assert renamed.status == 200 and renamed.body["server"]["name"] == "renamed"
    assert deleted.status == 204
    assert gone.status == 404 and gone.body["itemNotFound"]["code"] == 404


async def test_actions_are_recorded_under_the_responses_request_id(front: FrontEnd) -> None:
    """A stop answers 202; the instance action it records has the response's request id."""
    token = await front.token()
    server_id = await front.boot(token)

    stop = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/action", token=token, json={"os-stop": None}
    )
    await front.wait(token, server_id, "SHUTOFF")
    request_id = stop.headers["X-Openstack-Request-Id"]
    actions = await front.call(
        "GET", f"{COMPUTE}/servers/{server_id}/os-instance-actions", token=token
    )
    action = await front.call(
        "GET",
        f"{COMPUTE}/servers/{server_id}/os-instance-actions/{request_id}",
        token=token,
        headers={"OpenStack-API-Version": "compute 2.62"},
    )

    assert stop.status == 202 and stop.headers["x-compute-request-id"] == request_id
    assert actions.body["instanceActions"][0]["action"] == "stop"
    assert actions.body["instanceActions"][0]["request_id"] == request_id
    events = action.body["instanceAction"]["events"]
    assert events and all(e["result"] == "Success" for e in events)
    assert all("traceback" in e and e["host"] for e in events)


async def test_members_see_action_events_without_tracebacks(front: FrontEnd) -> None:
    """Instance action events shown to a member leave out the traceback and host."""
    token = await _member(front, "alice", "demo")
    server_id = await front.boot(token)
    stop = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/action", token=token, json={"os-stop": None}
    )
    await front.wait(token, server_id, "SHUTOFF")

    detail = await front.call(
        "GET",
        f"{COMPUTE}/servers/{server_id}/os-instance-actions/"
        + stop.headers["X-Openstack-Request-Id"],
        token=token,
        headers={"OpenStack-API-Version": "compute latest"},
    )

    events = detail.body["instanceAction"]["events"]
    assert events and all("traceback" not in e and "host" not in e for e in events)


async def test_an_action_in_the_wrong_state_is_409_naming_it(front: FrontEnd) -> None:
    """Starting an ACTIVE server is 409 conflictingRequest naming the action and state."""
    token = await front.token()
    server_id = await front.boot(token)

    reply = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/action", token=token, json={"os-start": None}
    )

    assert reply.status == 409
    message = reply.body["conflictingRequest"]["message"]
    assert "'start'" in message and "active" in message


async def test_a_reader_cannot_create_servers(front: FrontEnd) -> None:
    """A reader's POST /servers is 403 with Nova's forbidden body."""
    token = await _member(front, "rita", "demo", role="reader")
    body = {"server": {"name": "x", "imageRef": await front.image_id(), "flavorRef": "1"}}

    reply = await front.call("POST", COMPUTE + "/servers", token=token, json=body)

    message = reply.body["forbidden"]["message"]
    assert reply.status == 403 and "os_compute_api:servers:create" in message


async def test_another_projects_server_is_404(front: FrontEnd) -> None:
    """Showing, acting on or deleting another project's server is 404, never 403."""
    owner = await _member(front, "alice", "demo")
    other = await _member(front, "bob", "other")
    server_id = await front.boot(owner)
    path = f"{COMPUTE}/servers/{server_id}"

    replies = [
        await front.call("GET", path, token=other),
        await front.call("POST", path + "/action", token=other, json={"os-stop": None}),
        await front.call("DELETE", path, token=other),
    ]

    assert [r.status for r in replies] == [404, 404, 404]
    assert all("itemNotFound" in r.body for r in replies)


async def test_all_tenants_is_for_admins(front: FrontEnd) -> None:
    """An admin's all_tenants lists every project's servers; a member's gets 403."""
    member = await _member(front, "alice", "demo")
    admin = await front.token()
    server_id = await front.boot(member)

    everyone = await front.call("GET", COMPUTE + "/servers?all_tenants=1", token=admin)
    own = await front.call("GET", COMPUTE + "/servers", token=admin)
    refused = await front.call("GET", COMPUTE + "/servers?all_tenants=1", token=member)

    assert [s["id"] for s in everyone.body["servers"]] == [server_id]
    assert own.body["servers"] == []
    assert refused.status == 403
