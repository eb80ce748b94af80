"""RequestContext.from_token: the one way a validated token becomes a request context,
with its request id and the global request id that OpenStack passes between services."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator

import pytest
import structlog

from nova_lite.api.http.client import token_info_from_keystone
from nova_lite.context import RequestContext, generate_request_id, is_request_id
from nova_lite.objects import TokenInfo
from nova_lite.testing import CloudFactory
from tests.http_fixtures import FrontEnd

EXPIRES = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


def token_info(*roles: str) -> TokenInfo:
    return TokenInfo(
        user_id="u-1",
        user_name="alice",
        project_id="p-1",
        project_name="demo",
        roles=roles,
        expires_at=EXPIRES,
    )


@pytest.mark.parametrize(("roles", "admin"), [(("admin", "member"), True), (("member",), False)])
def test_the_caller_is_who_the_token_says(roles: tuple[str, ...], admin: bool) -> None:
    """User, project and roles come from the token info; admin exactly when a role is admin."""
    ctx = RequestContext.from_token(token_info(*roles), "secret-token")
    assert (ctx.user_id, ctx.user_name, ctx.project_id, ctx.project_name) == (
        "u-1",
        "alice",
        "p-1",
        "demo",
    )
    assert ctx.roles == roles and ctx.is_admin is admin
    assert ctx.auth_token == "secret-token" and "secret-token" not in repr(ctx)


def test_without_a_request_id_each_context_gets_a_new_one() -> None:
    """No request id given: a fresh req-<uuid> for every context, and no global id."""
    first = RequestContext.from_token(token_info(), "t")
    second = RequestContext.from_token(token_info(), "t")
    assert is_request_id(first.request_id) and is_request_id(second.request_id)
    assert first.request_id != second.request_id
    assert first.global_request_id is None


def test_the_given_ids_are_kept_and_travel() -> None:
    """The request id and global request id given are the context's, and survive the wire."""
    request_id, global_id = generate_request_id(), generate_request_id()
    ctx = RequestContext.from_token(
        token_info("reader"), "t", request_id=request_id, global_request_id=global_id
    )
    assert (ctx.request_id, ctx.global_request_id) == (request_id, global_id)
    assert RequestContext.from_dict(ctx.to_dict()) == ctx


UUID = "0b8e4c1e-2f4a-4d6b-9c3e-7a1f5d2e8b90"


@pytest.mark.parametrize("bad", ["", "req-1234", "REQ-" + UUID, "x" * 300])
def test_a_malformed_global_request_id_is_refused(bad: str) -> None:
    """A global request id not in the req-<uuid> format is a ValueError naming it."""
    with pytest.raises(ValueError, match="global_request_id"):
        RequestContext.from_token(token_info(), "t", global_request_id=bad)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("req-" + UUID, True),
        ("req-" + UUID.upper(), False),
        (UUID, False),
        ("req-" + UUID + "\n", False),
        (" req-" + UUID, False),
        ("req-" + UUID.replace("-", ""), False),
        (None, False),
        (42, False),
    ],
)
def test_request_ids_have_openstacks_format(value: object, valid: bool) -> None:
    """is_request_id accepts exactly oslo.middleware's req-<uuid> in lower-case hex."""
    assert is_request_id(value) is valid
    assert is_request_id(generate_request_id())


def test_generated_request_ids_are_version_4_uuids() -> None:
    """The id's uuid reads back as `uuid.uuid4` makes them: version 4, RFC 4122, same text."""
    ids = [generate_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        parsed = uuid.UUID(request_id.removeprefix("req-"))
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert f"req-{parsed}" == request_id


def test_a_keystone_token_body_gives_the_same_context() -> None:
    """The HTTP client reads the same token info from a Keystone v3 token body."""
    body = {
        "user": {"id": "u-1", "name": "alice", "domain": {"id": "default"}},
        "project": {"id": "p-1", "name": "demo", "domain": {"id": "default"}},
        "roles": [{"id": "member", "name": "member"}, {"id": "reader", "name": "reader"}],
        "expires_at": "2030-01-01T00:00:00.000000Z",
    }
    assert token_info_from_keystone(body) == token_info("member", "reader")


# -- the global request id over HTTP and the bus --------------------------------------------


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


async def test_a_callers_request_id_becomes_the_global_request_id(front: FrontEnd) -> None:
    """A well-formed inbound X-OpenStack-Request-ID rides as the global id to every service
    that a boot touches, beside the request's own id."""
    token = await front.token()
    caller_id = generate_request_id()
    body = {"server": {"name": "web", "imageRef": await front.image_id(), "flavorRef": "1"}}
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        reply = await front.call(
            "POST",
            "/compute/v2.1/servers",
            token=token,
            json=body,
            headers={"X-OpenStack-Request-ID": caller_id},
        )
        await front.wait(token, reply.body["server"]["id"], "ACTIVE")
    request_id = reply.headers["X-Openstack-Request-Id"]
    assert request_id != caller_id  # the response carries this request's own id
    served = [e for e in logs if e.get("request_id") == request_id]
    services = {str(e["event"]).split(".")[0] for e in served}
    assert {"http", "conductor", "scheduler", "compute"} <= services, services
    assert all(e.get("global_request_id") == caller_id for e in served), served


async def test_a_malformed_inbound_request_id_is_ignored(front: FrontEnd) -> None:
    """A bogus X-OpenStack-Request-ID is dropped, as oslo.middleware drops it: no global id."""
    token = await front.token()
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        reply = await front.call(
            "GET", "/compute/v2.1/servers", token=token, headers={"X-OpenStack-Request-ID": "evil"}
        )
    assert reply.status == 200
    served = [e for e in logs if e.get("request_id") == reply.headers["X-Openstack-Request-Id"]]
    assert served and all(e.get("global_request_id") is None for e in served)


async def test_a_session_carries_its_ids_into_every_context(front: FrontEnd) -> None:
    """NovaAPI.session(request_id=, global_request_id=) gives contexts with exactly those ids."""
    api = front.cloud.api
    admin = await front.cloud.login_admin()
    request_id, global_id = generate_request_id(), generate_request_id()
    session = api.session(admin.token, request_id=request_id, global_request_id=global_id)
    ctx = await session.context()
    assert (ctx.request_id, ctx.global_request_id) == (request_id, global_id)
    assert ctx.user_name == "admin" and ctx.is_admin and ctx.auth_token == admin.token


def test_a_context_rebuilt_again_is_the_same_and_bad_values_are_still_refused() -> None:
    """`from_dict` of the same wire values gives the same context; a wrong type never
    matches a context rebuilt before (``1 == True``), nor does an unhashable role."""
    wire = RequestContext(user_id="u1", project_id="p1", roles=("admin",), is_admin=True).to_dict()
    first = RequestContext.from_dict(wire)
    assert RequestContext.from_dict(dict(wire)) is first
    assert RequestContext.from_dict({**wire, "roles": ("admin",)}) == first
    with pytest.raises(TypeError, match="is_admin"):
        RequestContext.from_dict({**wire, "is_admin": 1})
    with pytest.raises(TypeError, match="roles"):
        RequestContext.from_dict({**wire, "roles": [{"admin": 1}]})
    other = RequestContext.from_dict({**wire, "project_id": "p2"})
    assert other.project_id == "p2" and first.project_id == "p1"
