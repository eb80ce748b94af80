"""Flavors' administration over HTTP: loose booleans, private flavors, extra specs, delete.

Each test serves a whole `Cloud` through the HTTP front end and checks the codes and
bodies Nova gives (Tempest's ``compute.admin.test_flavors*`` call the same routes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import attrs
import pytest

from nova_lite.testing import CloudFactory, add_user
from tests.http_fixtures import FrontEnd

COMPUTE = "/compute/v2.1"
V255 = {"OpenStack-API-Version": "compute 2.55"}


@attrs.frozen
class Callers:
    """The front end, an administrator's token and a member's (project ``demo``)."""

    front: FrontEnd
    admin: str
    member: str


@pytest.fixture
async def callers(clouds: CloudFactory) -> AsyncIterator[Callers]:
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "alice", project="demo")
        yield Callers(front, await front.token(), await front.token("alice", "demo"))
    finally:
        await front.aclose()


async def _create(c: Callers, **fields: object) -> dict[str, object]:
    body = {"flavor": {"name": f"f-{uuid.uuid4().hex[:8]}", "ram": 64, "vcpus": 1, "disk": 1}}
    body["flavor"].update(fields)
    reply = await c.front.call("POST", COMPUTE + "/flavors", token=c.admin, json=body)
    assert reply.status == 200, reply.body
    flavor: dict[str, object] = reply.body["flavor"]
    return flavor


async def _names(c: Callers, token: str, query: str = "") -> set[str]:
    reply = await c.front.call("GET", f"{COMPUTE}/flavors/detail{query}", token=token)
    assert reply.status == 200, reply.body
    return {f["name"] for f in reply.body["flavors"]}


async def test_is_public_takes_nova_spellings_and_a_flavor_gets_a_uuid(callers: Callers) -> None:
    """``"False"``/``"True"`` are booleans, an id left out is a new UUID, 'maybe' is a 400."""
    private = await _create(callers, **{"os-flavor-access:is_public": "False", "id": None})
    public = await _create(callers, **{"os-flavor-access:is_public": "yes", "id": 4242})
    bad = await callers.front.call(
        "POST",
        COMPUTE + "/flavors",
        token=callers.admin,
        json={"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 0, "swap": "maybe"}},
    )

    assert private["os-flavor-access:is_public"] is False
    assert str(uuid.UUID(str(private["id"]))) == private["id"]
    assert (public["os-flavor-access:is_public"], public["id"]) == (True, "4242")
    assert bad.status == 400


async def test_a_private_flavor_is_seen_only_where_it_is_shared(callers: Callers) -> None:
    """Members see a private flavor (and may boot it) once their project has access."""
    c = callers
    flavor = await _create(c, **{"os-flavor-access:is_public": False})
    name, flavor_id = str(flavor["name"]), str(flavor["id"])
    demo = (await c.front.cloud.api.context_for(c.member)).project_id
    action = f"{COMPUTE}/flavors/{flavor_id}/action"

    hidden = await c.front.call("GET", f"{COMPUTE}/flavors/{flavor_id}", token=c.member)
    unseen = name not in await _names(c, c.member)
    refused = await c.front.call(
        "POST", action, token=c.member, json={"addTenantAccess": {"tenant": demo}}
    )
    added = await c.front.call(
        "POST", action, token=c.admin, json={"addTenantAccess": {"tenant": demo}}
    )
    twice = await c.front.call(
        "POST", action, token=c.admin, json={"addTenantAccess": {"tenant": demo}}
    )
    shown = await c.front.call("GET", f"{COMPUTE}/flavors/{flavor_id}", token=c.member)
    listed = name in await _names(c, c.member)
    access = await c.front.call(
        "GET", f"{COMPUTE}/flavors/{flavor_id}/os-flavor-access", token=c.admin
    )
    removed = await c.front.call(
        "POST", action, token=c.admin, json={"removeTenantAccess": {"tenant": demo}}
    )
    gone = await c.front.call(
        "POST", action, token=c.admin, json={"removeTenantAccess": {"tenant": demo}}
    )

    assert hidden.status == 404 and unseen
    assert refused.status == 403
    assert added.status == 200
    assert added.body["flavor_access"] == [{"flavor_id": flavor_id, "tenant_id": demo}]
    assert twice.status == 409
    assert shown.status == 200 and listed
    assert access.body == added.body
    assert (removed.status, removed.body["flavor_access"]) == (200, [])
    assert gone.status == 404


async def test_admins_filter_flavors_by_is_public(callers: Callers) -> None:
    """``is_public`` (any spelling) picks public or private flavors; ``none`` lists both."""
    c = callers
    private = str((await _create(c, **{"os-flavor-access:is_public": "False"}))["name"])
    public = str((await _create(c, **{"os-flavor-access:is_public": "True"}))["name"])
    public_list = await c.front.call(
        "GET", f"{COMPUTE}/flavors/{(await _create(c))['id']}/os-flavor-access", token=c.admin
    )

    for spelling in ("f", "false", "no", "0"):
        found = await _names(c, c.admin, f"?is_public={spelling}")
        assert private in found and public not in found
    for spelling in ("t", "true", "yes", "1"):
        assert public in await _names(c, c.admin, f"?is_public={spelling}")
    assert {private, public} <= await _names(c, c.admin, "?is_public=none")
    assert private not in await _names(c, c.member, "?is_public=false")
    assert public_list.status == 404


async def test_extra_specs_are_set_read_changed_and_removed(callers: Callers) -> None:
    """Admins write extra specs, anyone who sees the flavor reads them; mismatches are 400s."""
    c = callers
    specs = f"{COMPUTE}/flavors/{(await _create(c))['id']}/os-extra_specs"

    created = await c.front.call(
        "POST", specs, token=c.admin, json={"extra_specs": {"hw:cpu": "2", "quota:x": 1}}
    )
    by_member = await c.front.call("POST", specs, token=c.member, json={"extra_specs": {"a": "b"}})
    listed = await c.front.call("GET", specs, token=c.member)
    shown = await c.front.call("GET", specs + "/hw:cpu", token=c.member)
    updated = await c.front.call("PUT", specs + "/hw:cpu", token=c.admin, json={"hw:cpu": "4"})
    mismatch = await c.front.call("PUT", specs + "/hw:cpu", token=c.admin, json={"other": "4"})
    too_many = await c.front.call(
        "PUT", specs + "/hw:cpu", token=c.admin, json={"hw:cpu": "4", "x": "y"}
    )
    deleted = await c.front.call("DELETE", specs + "/quota:x", token=c.admin)
    missing = await c.front.call("GET", specs + "/quota:x", token=c.admin)
    after = await c.front.call("GET", specs, token=c.admin)

    assert created.status == 200 and created.body == {
        "extra_specs": {"hw:cpu": "2", "quota:x": "1"}
    }
    assert by_member.status == 403
    assert listed.body == {"extra_specs": {"hw:cpu": "2", "quota:x": "1"}}
    assert shown.body == {"hw:cpu": "2"}
    assert (updated.status, updated.body) == (200, {"hw:cpu": "4"})
    assert mismatch.status == 400 and "mismatch" in mismatch.body["badRequest"]["message"]
    assert too_many.status == 400 and "too many" in too_many.body["badRequest"]["message"]
    assert (deleted.status, missing.status) == (200, 404)
    assert after.body == {"extra_specs": {"hw:cpu": "4"}}


async def test_a_flavor_is_described_and_deleted(callers: Callers) -> None:
    """PUT sets the description (2.55); DELETE answers 202 and the flavor is gone."""
    c = callers
    flavor = await _create(c)
    path = f"{COMPUTE}/flavors/{flavor['id']}"

    old = await c.front.call("PUT", path, token=c.admin, json={"flavor": {"description": "x"}})
    described = await c.front.call(
        "PUT", path, token=c.admin, json={"flavor": {"description": "small"}}, headers=V255
    )
    by_member = await c.front.call("DELETE", path, token=c.member)
    deleted = await c.front.call("DELETE", path, token=c.admin)
    shown = await c.front.call("GET", path, token=c.admin)
    again = await _create(c, name=flavor["name"])

    assert old.status == 404
    assert described.status == 200 and described.body["flavor"]["description"] == "small"
    assert by_member.status == 403
    assert (deleted.status, shown.status) == (202, 404)
    assert again["name"] == flavor["name"]
