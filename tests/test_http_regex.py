"""User regular expressions run on RE2: linear time, so one request cannot freeze the loop.

``GET /servers?name=^(a+)+$`` against a server named ``"a" * 26 + "!"`` took 3.6 s
with Python's backtracking `re`, on the event loop, while every other request (and
in the all-in-one process every service) waited. With RE2 it is answered at once,
and a pattern RE2 cannot match in linear time (a back-reference) is a 400.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite.api.http.filters import regex_filter
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.exceptions import Invalid
from nova_lite.testing import WAIT, CloudFactory, add_user
from tests.http_fixtures import FrontEnd

COMPUTE = "/compute/v2.1"
EVIL_NAME = "a" * 26 + "!"
EVIL_PATTERN = "^(a+)+$"


def test_a_pathological_pattern_is_matched_in_linear_time() -> None:
    """^(a+)+$ on 5,000 a's and a '!' answers (Python's re would take ~2**5000 steps)."""
    matches = regex_filter("name", EVIL_PATTERN)

    assert not matches("a" * 5000 + "!")
    assert matches("aaaa")


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?<=a)b", "x" * 256])
def test_patterns_re2_cannot_match_linearly_are_refused(pattern: str) -> None:
    """Back-references, look-behind and over-long patterns are Invalid (400), named."""
    with pytest.raises(Invalid, match="name filter"):
        regex_filter("name", pattern)


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


@pytest.mark.parametrize("broker", ["memory"], indirect=True)
async def test_another_request_is_served_while_a_pathological_filter_is_in_flight(
    front: FrontEnd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second project's GET /flavors is answered while the evil list is in flight, and
    the evil list then answers 200 with no match; a back-reference pattern gets 400."""
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "mia", project="demo")
    await add_user(front.cloud, admin, "sam", project="beta")
    evil_owner, other = await front.token("mia", "demo"), await front.token("sam", "beta")
    await front.boot(evil_owner, EVIL_NAME)
    listed, release = asyncio.Event(), asyncio.Event()
    original = ConductorAPI.newest_instances

    async def held_listing(self: ConductorAPI, ctx: Any, **kwargs: Any) -> Any:
        found = await original(self, ctx, **kwargs)
        if ctx.project_id == (await front.cloud.api.context_for(evil_owner)).project_id:
            listed.set()  # the evil request has its instances; it filters once released
            await release.wait()
        return found

    monkeypatch.setattr(ConductorAPI, "newest_instances", held_listing)
    evil = asyncio.create_task(
        front.call("GET", f"{COMPUTE}/servers?name={EVIL_PATTERN}", token=evil_owner)
    )
    await asyncio.wait_for(listed.wait(), WAIT)
    flavors = await front.call("GET", f"{COMPUTE}/flavors", token=other)
    in_flight = not evil.done()
    release.set()
    reply = await asyncio.wait_for(evil, WAIT)
    refused = await front.call("GET", f"{COMPUTE}/servers?name=(a)\\1", token=evil_owner)

    assert flavors.status == 200 and in_flight
    assert reply.status == 200 and reply.body["servers"] == []
    assert refused.status == 400 and "linear time" in refused.body["badRequest"]["message"]
