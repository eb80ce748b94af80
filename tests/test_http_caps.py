"""Caps and quotas on user input: every one a clear 400 or 403 naming the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite.exceptions import QuotaExceeded
from nova_lite.testing import CloudFactory, add_user
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)
COMPUTE = "/compute/v2.1"


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A cloud with small image and port quotas behind the HTTP front end."""
    cloud = await clouds.start(
        computes=1, image={"image_count_total": 2}, network={"quota_port": 1}
    )
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


def _server(**fields: Any) -> dict[str, Any]:
    return {"server": {"name": "s", "imageRef": "cirros", "flavorRef": "1", **fields}}


def _blank(**fields: Any) -> dict[str, Any]:
    return {"source_type": "blank", **fields}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"block_device_mapping_v2": [_blank(volume_size="abc")]}, "volume_size"),
        ({"block_device_mapping_v2": [_blank(volume_size=10**20)]}, "volume_size"),
        ({"block_device_mapping_v2": [_blank(device_name=5)]}, "device_name"),
        ({"block_device_mapping_v2": [_blank(delete_on_termination="nope")]}, "delete_on_term"),
        ({"metadata": {"": "v"}}, "metadata"),
        ({"metadata": {"k" * 1000: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 256}}, "metadata/k"),
        ({"networks": [{"uuid": f"n{i}"} for i in range(17)]}, "networks"),
    ],
)  # fmt: skip
async def test_bad_server_fields_are_400_naming_the_field(
    front: FrontEnd, fields: dict[str, Any], named: str
) -> None:
    """Each bad create field is a 400 whose message names it; no server is recorded."""
    token = await front.token()
    reply = await front.call("POST", f"{COMPUTE}/servers", token=token, json=_server(**fields))

    assert reply.status == 400, reply.body
    assert named in reply.body["badRequest"]["message"]
    listed = await front.call("GET", f"{COMPUTE}/servers", token=token)
    assert listed.body["servers"] == []


async def test_more_metadata_items_than_max_server_meta_is_a_403(front: FrontEnd) -> None:
    """129 metadata items (maxServerMeta is 128) are refused as the metadata_items quota."""
    token = await front.token()
    metadata = {f"k{i}": "v" for i in range(129)}

    reply = await front.call(
        "POST", f"{COMPUTE}/servers", token=token, json=_server(metadata=metadata)
    )
    limits = await front.call("GET", f"{COMPUTE}/limits", token=token)

    assert reply.status == 403 and "metadata_items" in reply.body["forbidden"]["message"]
    assert limits.body["limits"]["absolute"]["maxServerMeta"] == 128


@pytest.mark.parametrize("cidr", ["fd00::/64", "0.0.0.0/0", "10.0.0.0/7"])
async def test_subnets_are_ipv4_and_no_wider_than_a_slash_8(front: FrontEnd, cidr: str) -> None:
    """IPv6 CIDRs and CIDRs wider than /8 are 400 on the IPv4 subnet route."""
    token = await front.token()
    net = await front.call("POST", "/network/v2.0/networks", token=token, json={"network": {}})
    body = {"subnet": {"network_id": net.body["network"]["id"], "cidr": cidr, "ip_version": 4}}

    reply = await front.call("POST", "/network/v2.0/subnets", token=token, json=body)

    assert reply.status == 400 and "cidr" in reply.body["NeutronError"]["message"]


async def test_a_project_owns_at_most_image_count_total_images(front: FrontEnd) -> None:
    """The third image of a project (image_count_total 2) is a 403 naming the limit."""
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "mia", project="demo")
    token = await front.token("mia", "demo")
    made = [
        await front.call("POST", "/image/v2/images", token=token, json={"name": f"i{n}"})
        for n in range(3)
    ]

    assert [r.status for r in made] == [201, 201, 403]
    assert "image_count_total" in made[2].body["error"]["message"]


async def test_a_project_has_at_most_quota_port_ports(front: FrontEnd) -> None:
    """Past [network] quota_port, allocating ports is QuotaExceeded naming the limit."""
    cloud = front.cloud
    admin = await cloud.login_admin()
    member = await add_user(cloud, admin, "mia", project="demo")
    ctx = await member.context()
    (network,) = await cloud.api.network.list_networks(ctx)
    project = ctx.project_id or ""
    await cloud.api.network.allocate_for_instance(ctx, "i-1", [network.id], project)

    with pytest.raises(QuotaExceeded, match="quota_port"):
        await cloud.api.network.allocate_for_instance(ctx, "i-2", [network.id], project)
    assert len(await cloud.api.network.list_ports(ctx)) == 1
