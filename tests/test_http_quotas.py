"""Compute quotas over HTTP: os-quota-sets (project and user) and os-quota-class-sets.

Each test serves a whole `Cloud` through the HTTP front end; limits changed here are
enforced by the next server create, not only shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from nova_lite.testing import CloudFactory, add_user
from tests.http_fixtures import FrontEnd, Reply

COMPUTE = "/compute/v2.1"
V257 = {"OpenStack-API-Version": "compute 2.57"}
SHOWN_AT_21 = {
    "id",
    "instances",
    "cores",
    "ram",
    "metadata_items",
    "key_pairs",
    "server_groups",
    "server_group_members",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
    "floating_ips",
    "fixed_ips",
    "security_groups",
    "security_group_rules",
}
NETWORK_AND_INJECTION = {
    "floating_ips",
    "fixed_ips",
    "security_groups",
    "security_group_rules",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
}


@attrs.frozen
class Project:
    """The front end, the admin's token, a member of ``demo`` and the project's id."""

    front: FrontEnd
    admin: str
    member: str
    project: str
    user: str

    async def call(self, method: str, rest: str, token: str, **kw: Any) -> Reply:
        return await self.front.call(method, f"{COMPUTE}{rest}", token=token, **kw)

    async def create(self, name: str) -> int:
        body = {"server": {"name": name, "imageRef": await self.front.image_id(), "flavorRef": "1"}}
        return (await self.call("POST", "/servers", self.member, json=body)).status


@pytest.fixture
async def project(clouds: CloudFactory) -> AsyncIterator[Project]:
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "alice", project="demo")
        member = await front.token("alice", "demo")
        ctx = await cloud.api.context_for(member)
        yield Project(front, await front.token(), member, ctx.project_id or "", ctx.user_id or "")
    finally:
        await front.aclose()


async def test_members_read_their_quotas_in_each_microversions_shape(project: Project) -> None:
    """2.1 shows every resource, 2.57 drops Neutron's and injection's; others' are 403."""
    p = project
    shown = await p.call("GET", f"/os-quota-sets/{p.project}", p.member)
    latest = await p.call("GET", f"/os-quota-sets/{p.project}", p.member, headers=V257)
    defaults = await p.call("GET", f"/os-quota-sets/{p.project}/defaults", p.member)
    by_user = await p.call("GET", f"/os-quota-sets/{p.project}?user_id={p.user}", p.member)
    others = await p.call("GET", "/os-quota-sets/some-other-project", p.member)

    assert set(shown.body["quota_set"]) == SHOWN_AT_21
    assert shown.body["quota_set"]["id"] == p.project
    assert set(latest.body["quota_set"]) == SHOWN_AT_21 - NETWORK_AND_INJECTION
    assert defaults.body == shown.body == by_user.body
    assert shown.body["quota_set"]["instances"] == 10
    assert others.status == 403


async def test_an_admin_changes_limits_that_the_next_create_obeys(project: Project) -> None:
    """A lowered limit refuses the next create; below what is used needs ``force``."""
    p = project
    path = f"/os-quota-sets/{p.project}"
    assert await p.create("one") == 202

    below = await p.call("PUT", path, p.admin, json={"quota_set": {"instances": 0}})
    forced = await p.call(
        "PUT", path, p.admin, json={"quota_set": {"instances": 0, "force": "True"}}
    )
    refused = await p.create("two")
    by_member = await p.call("PUT", path, p.member, json={"quota_set": {"instances": 5}})
    detail = await p.call("GET", path + "/detail", p.member)
    deleted = await p.call("DELETE", path, p.admin)
    after = await p.call("GET", path, p.member)

    assert below.status == 400 and "already used" in below.body["badRequest"]["message"]
    assert forced.status == 200 and forced.body["quota_set"]["instances"] == 0
    assert "id" not in forced.body["quota_set"]
    assert refused == 403
    assert by_member.status == 403
    assert detail.body["quota_set"]["instances"] == {"limit": 0, "in_use": 1, "reserved": 0}
    assert detail.body["quota_set"]["ram"]["in_use"] == 512
    assert deleted.status == 202 and after.body["quota_set"]["instances"] == 10


async def test_a_users_limit_is_kept_apart_and_enforced(project: Project) -> None:
    """A user's own limit is shown with ``user_id``, may not pass the project's, and holds."""
    p = project
    path = f"/os-quota-sets/{p.project}?user_id={p.user}"

    set_user = await p.call("PUT", path, p.admin, json={"quota_set": {"instances": 1}})
    too_high = await p.call("PUT", path, p.admin, json={"quota_set": {"instances": 11}})
    user_view = await p.call("GET", path, p.member)
    project_view = await p.call("GET", f"/os-quota-sets/{p.project}", p.member)
    first, second = await p.create("one"), await p.create("two")

    assert set_user.status == 200 and user_view.body["quota_set"]["instances"] == 1
    assert too_high.status == 400
    assert project_view.body["quota_set"]["instances"] == 10
    assert (first, second) == (202, 403)


async def test_the_default_class_sets_every_projects_defaults(project: Project) -> None:
    """os-quota-class-sets/default changes the defaults a project without limits has."""
    p = project
    path = "/os-quota-class-sets/default"

    shown = await p.call("GET", path, p.admin)
    by_member = await p.call("GET", path, p.member)
    updated = await p.call("PUT", path, p.admin, json={"quota_class_set": {"instances": 1}})
    unknown = await p.call("PUT", path, p.admin, json={"quota_class_set": {"disks": 1}})
    defaults = await p.call("GET", f"/os-quota-sets/{p.project}/defaults", p.member)
    first, second = await p.create("one"), await p.create("two")

    assert shown.body["quota_class_set"]["id"] == "default"
    assert "server_groups" not in shown.body["quota_class_set"]  # shown from 2.50
    assert by_member.status == 403
    assert updated.status == 200 and updated.body["quota_class_set"]["instances"] == 1
    assert unknown.status == 400
    assert defaults.body["quota_set"]["instances"] == 1
    assert (first, second) == (202, 403)


async def test_a_resize_past_the_ram_quota_is_refused(project: Project) -> None:
    """Growing a server beyond the project's RAM quota is a 403; the server stays as it was."""
    p = project
    big = {"flavor": {"name": "big", "id": "big", "ram": 4096, "vcpus": 1, "disk": 1}}
    await p.call("POST", "/flavors", p.admin, json=big)
    server = await p.front.boot(p.member)
    await p.call("PUT", f"/os-quota-sets/{p.project}", p.admin, json={"quota_set": {"ram": 2048}})

    path = f"/servers/{server}/action"
    refused = await p.call("POST", path, p.member, json={"resize": {"flavorRef": "big"}})
    shown = await p.call("GET", f"/servers/{server}", p.member)

    assert refused.status == 403 and "ram" in refused.body["forbidden"]["message"]
    assert shown.body["server"]["status"] == "ACTIVE"
    assert shown.body["server"]["flavor"]["id"] == "1"


async def test_limits_show_the_key_pair_and_server_group_quotas_that_are_enforced(
    project: Project,
) -> None:
    """/limits reads key pairs and server groups from the quotas, with the groups' usage;
    a lowered key_pairs quota is what the next key pair create obeys."""
    p = project
    quotas = {"key_pairs": 1, "server_groups": 3, "server_group_members": 4, "cores": 7}
    await p.call("PUT", f"/os-quota-sets/{p.project}", p.admin, json={"quota_set": quotas})
    group = {"server_group": {"name": "g", "policies": ["affinity"]}}
    assert (await p.call("POST", "/os-server-groups", p.member, json=group)).status == 200

    limits = (await p.call("GET", "/limits", p.member)).body["limits"]["absolute"]
    first = await p.call("POST", "/os-keypairs", p.member, json={"keypair": {"name": "k1"}})
    second = await p.call("POST", "/os-keypairs", p.member, json={"keypair": {"name": "k2"}})
    modern = (await p.call("GET", "/limits", p.member, headers=V257)).body["limits"]["absolute"]

    assert (limits["maxTotalKeypairs"], limits["maxServerGroups"]) == (1, 3)
    assert (limits["maxServerGroupMembers"], limits["totalServerGroupsUsed"]) == (4, 1)
    assert limits["maxTotalCores"] == 7 and limits["totalCoresUsed"] == 0
    assert (limits["maxSecurityGroups"], limits["maxTotalFloatingIps"]) == (10, 10)
    assert (limits["maxPersonality"], limits["maxPersonalitySize"]) == (5, 10240)
    assert first.status == 200 and second.status == 403, second.body
    assert "key_pairs" in second.body["forbidden"]["message"]
    assert "maxSecurityGroups" not in modern and "maxPersonality" not in modern
