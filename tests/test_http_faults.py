"""HTTP API faults: bad tokens, bodies, actions and microversions get OpenStack's errors.

These pin the front end's own checks, so they run on the in-memory broker only (the
flows on every broker are in ``test_http_api``). Every fault is the called API's
fault body with a message that names the problem.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nova_lite.testing import PASSWORD, CloudFactory
from tests.http_fixtures import FrontEnd, auth_body

COMPUTE = "/compute/v2.1"

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


async def test_requests_without_or_with_a_bad_token_are_401(front: FrontEnd) -> None:
    """A missing or unknown token gets 401 with the compute fault body."""
    missing = await front.call("GET", COMPUTE + "/servers")
    unknown = await front.call("GET", COMPUTE + "/servers", token="not-a-token")

    assert missing.status == unknown.status == 401
    assert missing.body["unauthorized"]["code"] == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Malformed request body"),
        (
            b'{"server": {"name": "x", "flavorRef": "1", "colour": "red"}}',
            "'colour' was unexpected",
        ),
        (b'{"server": {"flavorRef": "1"}}', "'name' is a required property"),
        (b'{"server": {"name": "x", "flavorRef": "1", "min_count": 0}}', "min_count"),
    ],
)
async def test_malformed_bodies_are_400_naming_the_problem(
    front: FrontEnd, body: bytes, message: str
) -> None:
    """Malformed JSON, unknown or missing fields and bad values are 400 badRequest."""
    token = await front.token()

    reply = await front.call(
        "POST",
        COMPUTE + "/servers",
        token=token,
        data=body,
        headers={"Content-Type": "application/json"},
    )

    assert reply.status == 400 and message in reply.body["badRequest"]["message"]


async def test_an_unknown_action_is_400(front: FrontEnd) -> None:
    """An action body naming no known action is 400 "There is no such action"."""
    token = await front.token()
    server_id = await front.boot(token)

    reply = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/action", token=token, json={"os-fly": None}
    )

    assert reply.status == 400 and "no such action: os-fly" in reply.body["badRequest"]["message"]


@pytest.mark.parametrize(
    ("header", "status", "message"),
    [
        ("compute 2.200", 406, "Version 2.200 is not supported by the API"),
        ("compute 1.5", 406, "Minimum is 2.1 and maximum is 2.79"),
        ("compute two", 400, "not in the format"),
    ],
)
async def test_unserved_microversions_are_refused(
    front: FrontEnd, header: str, status: int, message: str
) -> None:
    """A microversion outside 2.1-2.79 is 406, a malformed one 400, each explained."""
    token = await front.token()

    reply = await front.call(
        "GET", COMPUTE + "/servers", token=token, headers={"OpenStack-API-Version": header}
    )

    assert reply.status == status
    assert message in next(iter(reply.body.values()))["message"]


async def test_a_reboot_needs_a_valid_type(front: FrontEnd) -> None:
    """reboot without a type, or with another than SOFT/HARD, is 400."""
    token = await front.token()
    server_id = await front.boot(token)
    path = f"{COMPUTE}/servers/{server_id}/action"

    missing = await front.call("POST", path, token=token, json={"reboot": {}})
    wrong = await front.call("POST", path, token=token, json={"reboot": {"type": "GENTLE"}})

    assert missing.status == wrong.status == 400
    assert "'type' is a required property" in missing.body["badRequest"]["message"]


async def test_a_token_scopes_by_a_project_id_or_is_reissued(front: FrontEnd) -> None:
    """A project can be scoped to by id, and the token method issues a new token for the
    same project, expiring with the first (Keystone's re-scoping); an unknown project id
    is 401.
    """
    token = await front.token()
    project_id = (await front.cloud.api.context_for(token)).project_id
    by_id = auth_body("admin", PASSWORD, "admin")
    by_id["auth"]["scope"] = {"project": {"id": project_id}}
    unknown = auth_body("admin", PASSWORD, "admin")
    unknown["auth"]["scope"] = {"project": {"id": "0" * 32}}
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}

    scoped = await front.call("POST", "/v3/auth/tokens", json=by_id)
    refused = await front.call("POST", "/v3/auth/tokens", json=unknown)
    reissued = await front.call("POST", "/v3/auth/tokens", json=rescope)

    assert scoped.status == 201 and scoped.body["token"]["project"]["id"] == project_id
    assert refused.status == 401
    assert reissued.status == 201 and reissued.headers["X-Subject-Token"] != token
    assert reissued.body["token"]["project"]["id"] == project_id
    assert reissued.body["token"]["methods"] == ["password", "token"]
