"""os-simple-tenant-usage: hours counted inside the period, and the API's shapes and codes."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import attrs
import pytest

from nova_lite import objects
from nova_lite.api.http.usage import Period, server_usage, tenant_usage
from nova_lite.testing import CloudFactory, add_user
from tests.http_fixtures import FrontEnd

COMPUTE = "/compute/v2.1"
DAY = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
FLAVOR = objects.Flavor(flavorid="2", name="m1.small", vcpus=2, memory_mb=2048, root_gb=20)


def _instance(launched_hour: int, deleted_hour: int | None = None) -> objects.Instance:
    deleted = deleted_hour is not None
    ended = None if deleted_hour is None else DAY + datetime.timedelta(hours=deleted_hour)
    return objects.Instance(
        uuid=f"i-{launched_hour}-{deleted_hour}",
        display_name="web",
        project_id="p",
        user_id="u",
        flavor=FLAVOR,
        image_ref=None,
        vm_state="deleted" if deleted else "active",
        launched_at=DAY + datetime.timedelta(hours=launched_hour),
        created_at=DAY + datetime.timedelta(hours=launched_hour),
        updated_at=ended,
        deleted=deleted,
    )


def test_hours_are_counted_inside_the_period_only() -> None:
    """A server counts from its launch (or the start) to its deletion (or the end)."""
    period = Period(
        DAY + datetime.timedelta(hours=2),
        DAY + datetime.timedelta(hours=10),
        DAY + datetime.timedelta(hours=12),
    )

    before = server_usage(_instance(0), period)
    inside = server_usage(_instance(4, 6), period)
    gone_before = server_usage(_instance(0, 1), period)
    after = server_usage(_instance(11), period)

    assert before is not None and before["hours"] == 8 and before["uptime"] == 12 * 3600
    assert inside is not None and inside["hours"] == 2 and inside["state"] == "terminated"
    assert inside["ended_at"] == "2026-12-01T06:00:00.000000"
    assert (gone_before, after) == (None, None)
    totals = tenant_usage("p", [before, inside], period, detailed=False)
    assert (totals["total_hours"], totals["total_vcpus_usage"]) == (10, 20)
    assert (totals["total_memory_mb_usage"], totals["total_local_gb_usage"]) == (20480, 200)


@attrs.frozen
class Usage:
    front: FrontEnd
    admin: str
    member: str
    project: str


@pytest.fixture
async def usage(clouds: CloudFactory) -> AsyncIterator[Usage]:
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "alice", project="demo")
        member = await front.token("alice", "demo")
        project = (await cloud.api.context_for(member)).project_id or ""
        yield Usage(front, await front.token(), member, project)
    finally:
        await front.aclose()


async def test_usage_lists_for_admins_and_shows_for_the_project(usage: Usage) -> None:
    """Admins list every project (8 keys with ``detailed``), members see their own; bad
    dates are 400s."""
    u = usage
    server = await u.front.boot(u.member)
    await u.front.call("DELETE", f"{COMPUTE}/servers/{server}", token=u.member)
    await u.front.wait(u.member, server, "DELETED")
    await u.front.boot(u.member, name="kept")
    period = "start=2000-01-01T00:00:00&end=2100-01-01T00:00:00.000000"

    listed = await u.front.call(
        "GET", f"{COMPUTE}/os-simple-tenant-usage?{period}&detailed=1", token=u.admin
    )
    shown = await u.front.call(
        "GET", f"{COMPUTE}/os-simple-tenant-usage/{u.project}?{period}", token=u.member
    )
    refused = await u.front.call(
        "GET", f"{COMPUTE}/os-simple-tenant-usage?{period}", token=u.member
    )
    bad = await u.front.call(
        "GET", f"{COMPUTE}/os-simple-tenant-usage/{u.project}?start=yesterday", token=u.member
    )
    backwards = await u.front.call(
        "GET",
        f"{COMPUTE}/os-simple-tenant-usage/{u.project}?start=2100-01-01T00:00:00",
        token=u.member,
    )
    empty = await u.front.call(
        "GET", f"{COMPUTE}/os-simple-tenant-usage/another?{period}", token=u.admin
    )

    [mine] = [t for t in listed.body["tenant_usages"] if t["tenant_id"] == u.project]
    assert len(mine) == 8
    assert {s["name"]: s["state"] for s in mine["server_usages"]} == {
        "web": "terminated",
        "kept": "active",
    }
    assert shown.body["tenant_usage"]["total_hours"] > 0 and len(shown.body["tenant_usage"]) == 8
    assert (refused.status, bad.status, backwards.status) == (403, 400, 400)
    assert empty.body == {"tenant_usage": {}}


async def test_the_usage_audit_log_says_no_host_ran_it(usage: Usage) -> None:
    """The last completed month's audit: every host not run; a bad time is 400, members 403."""
    u = usage
    path = f"{COMPUTE}/os-instance_usage_audit_log"

    listed = await u.front.call("GET", path, token=u.admin)
    before = await u.front.call("GET", f"{path}/2026-12-15%2010:00:00", token=u.admin)
    bad = await u.front.call("GET", f"{path}/not-a-time", token=u.admin)
    refused = await u.front.call("GET", path, token=u.member)

    log = listed.body["instance_usage_audit_logs"]
    assert (log["num_hosts"], log["num_hosts_not_run"], log["hosts_not_run"]) == (
        1,
        1,
        ["compute1"],
    )
    period = before.body["instance_usage_audit_log"]
    assert (period["period_beginning"], period["period_ending"]) == (
        "2026-11-01 00:00:00",
        "2026-12-01 00:00:00",
    )
    assert (bad.status, refused.status) == (400, 403)
