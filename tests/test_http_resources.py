"""The HTTP API beyond servers: flavors, limits, images, networks, volumes, hosts, on every broker.

Each test serves a whole `Cloud` through the HTTP front end and uses only HTTP
requests, checking the shapes and status codes the OpenStack APIs use.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from nova_lite.testing import CloudFactory, NotificationTap, add_user
from tests.http_fixtures import FrontEnd

COMPUTE = "/compute/v2.1"
LATEST = {"OpenStack-API-Version": "compute latest"}


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end; images move in 1000-byte chunks."""
    cloud = await clouds.start(computes=1, image={"chunk_bytes": 1000})
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


async def test_flavors_list_show_and_admins_create(front: FrontEnd) -> None:
    """Flavors are listed, shown and (by admins only) created in Nova's shape."""
    admin = await front.token()
    admin_session = await front.cloud.login_admin()
    await add_user(front.cloud, admin_session, "alice", project="demo")
    member = await front.token("alice", "demo")
    new = {"flavor": {"name": "m1.huge", "id": "42", "ram": 65536, "vcpus": 32, "disk": 10}}

    brief = await front.call("GET", COMPUTE + "/flavors", token=member)
    detail = await front.call("GET", COMPUTE + "/flavors/detail", token=member, headers=LATEST)
    created = await front.call("POST", COMPUTE + "/flavors", token=admin, json=new)
    shown = await front.call("GET", COMPUTE + "/flavors/42", token=member)
    refused = await front.call("POST", COMPUTE + "/flavors", token=member, json=new)

    assert [f["name"] for f in brief.body["flavors"]][:2] == ["m1.tiny", "m1.small"]
    tiny = detail.body["flavors"][0]
    assert (tiny["ram"], tiny["vcpus"], tiny["disk"], tiny["extra_specs"]) == (512, 1, 1, {})
    assert created.status == 200 and created.body["flavor"]["ram"] == 65536
    assert shown.body["flavor"]["name"] == "m1.huge"
    assert refused.status == 403 and "forbidden" in refused.body


async def test_limits_show_quota_and_usage(front: FrontEnd) -> None:
    """GET /limits shows the project's absolute limits and what its servers use."""
    token = await front.token()
    await front.boot(token)

    reply = await front.call("GET", COMPUTE + "/limits", token=token)

    absolute = reply.body["limits"]["absolute"]
    assert (absolute["maxTotalInstances"], absolute["maxTotalCores"]) == (10, 20)
    assert absolute["maxTotalRAMSize"] == 51200
    used = (absolute["totalInstancesUsed"], absolute["totalCoresUsed"], absolute["totalRAMUsed"])
    assert used == (1, 1, 512)


async def test_an_image_uploads_and_downloads_in_chunks(front: FrontEnd) -> None:
    """An image created over HTTP takes a streamed upload and gives the same bytes back."""
    token = await front.token()
    data = os.urandom(4500)  # five chunks of at most 1000 bytes
    create = {"name": "blob", "disk_format": "raw", "container_format": "bare", "os_distro": "x"}

    created = await front.call("POST", "/image/v2/images", token=token, json=create)
    image_id = created.body["id"]
    uploaded = await front.call(
        "PUT",
        f"/image/v2/images/{image_id}/file",
        token=token,
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    shown = await front.call("GET", f"/image/v2/images/{image_id}", token=token)
    downloaded = await front.call("GET", f"/image/v2/images/{image_id}/file", token=token)
    listed = await front.call("GET", "/image/v2/images?name=blob", token=token)
    deleted = await front.call("DELETE", f"/image/v2/images/{image_id}", token=token)
    gone = await front.call("GET", f"/image/v2/images/{image_id}", token=token)

    assert created.status == 201 and created.body["status"] == "queued"
    assert created.body["os_distro"] == "x"
    assert uploaded.status == 204
    assert shown.body["status"] == "active" and shown.body["size"] == len(data)
    assert shown.body["checksum"] == hashlib.md5(data).hexdigest()
    assert downloaded.status == 200 and downloaded.raw == data
    assert [i["id"] for i in listed.body["images"]] == [image_id]
    assert (deleted.status, gone.status) == (204, 404)


async def test_networks_subnets_and_ports_have_neutrons_shapes(front: FrontEnd) -> None:
    """A network and subnet created over HTTP are listed by name; a server's port shows."""
    token = await front.token()
    server_id = await front.boot(token)

    network = await front.call(
        "POST", "/network/v2.0/networks", token=token, json={"network": {"name": "blue"}}
    )
    network_id = network.body["network"]["id"]
    subnet = await front.call(
        "POST",
        "/network/v2.0/subnets",
        token=token,
        json={"subnet": {"network_id": network_id, "cidr": "10.9.0.0/24", "ip_version": 4}},
    )
    named = await front.call("GET", "/network/v2.0/networks?name=blue", token=token)
    subnets = await front.call("GET", f"/network/v2.0/subnets?network_id={network_id}", token=token)
    ports = await front.call("GET", f"/network/v2.0/ports?device_id={server_id}", token=token)
    deleted = await front.call("DELETE", f"/network/v2.0/networks/{network_id}", token=token)

    assert network.status == 201 and network.body["network"]["shared"] is False
    assert subnet.status == 201 and subnet.body["subnet"]["gateway_ip"] == "10.9.0.1"
    assert [n["id"] for n in named.body["networks"]] == [network_id]
    assert [s["cidr"] for s in subnets.body["subnets"]] == ["10.9.0.0/24"]
    [port] = ports.body["ports"]
    assert port["status"] == "ACTIVE" and port["device_owner"] == "compute:nova"
    assert port["fixed_ips"][0]["ip_address"].startswith("10.0.")
    assert deleted.status == 204


async def test_a_volume_attaches_and_detaches_through_the_server(front: FrontEnd) -> None:
    """A volume created over HTTP attaches through os-volume_attachments and detaches."""
    token = await front.token()
    project_id = (await front.cloud.api.context_for(token)).project_id
    server_id = await front.boot(token)
    tap = await NotificationTap.attach(front.cloud)
    volumes = f"/volume/v3/{project_id}/volumes"
    attachments = f"{COMPUTE}/servers/{server_id}/os-volume_attachments"

    created = await front.call(
        "POST", volumes, token=token, json={"volume": {"size": 1, "name": "data"}}
    )
    volume_id = created.body["volume"]["id"]
    attached = await front.call(
        "POST",
        attachments,
        token=token,
        headers=LATEST,
        json={"volumeAttachment": {"volumeId": volume_id}},
    )
    await tap.wait_event(server_id, "instance.attach_volume.end")
    listed = await front.call("GET", attachments, token=token)
    shown = await front.call("GET", f"{volumes}/{volume_id}", token=token)
    detached = await front.call("DELETE", f"{attachments}/{volume_id}", token=token)
    await tap.wait_event(server_id, "instance.detach_volume.end")
    deleted = await front.call("DELETE", f"{volumes}/{volume_id}", token=token)

    assert created.status == 202 and created.body["volume"]["size"] == 1
    assert attached.status == 200 and attached.body["volumeAttachment"]["device"] == "/dev/vdb"
    assert attached.body["volumeAttachment"]["delete_on_termination"] is False
    assert [a["volumeId"] for a in listed.body["volumeAttachments"]] == [volume_id]
    assert shown.body["volume"]["status"] == "in-use"
    assert shown.body["volume"]["attachments"][0]["server_id"] == server_id
    assert (detached.status, deleted.status) == (202, 202)


async def test_hosts_are_shown_to_admins_only(front: FrontEnd) -> None:
    """os-services and os-hypervisors list the compute hosts for admins; 403 for others."""
    admin = await front.token()
    admin_session = await front.cloud.login_admin()
    await add_user(front.cloud, admin_session, "alice", project="demo")
    member = await front.token("alice", "demo")

    services = await front.call("GET", COMPUTE + "/os-services", token=admin, headers=LATEST)
    hypervisors = await front.call("GET", COMPUTE + "/os-hypervisors/detail", token=admin)
    refused = await front.call("GET", COMPUTE + "/os-hypervisors", token=member)

    [service] = services.body["services"]
    assert (service["host"], service["binary"], service["state"]) == (
        "compute1",
        "nova-compute",
        "up",
    )
    [hypervisor] = hypervisors.body["hypervisors"]
    assert hypervisor["hypervisor_hostname"] == "compute1" and hypervisor["vcpus"] == 16
    assert refused.status == 403


async def test_create_image_answers_as_the_microversion_says(front: FrontEnd) -> None:
    """createImage gives the image id in the body from 2.45 and in Location before."""
    token = await front.token()
    server_id = await front.boot(token)
    action = f"{COMPUTE}/servers/{server_id}/action"

    new = await front.call(
        "POST", action, token=token, headers=LATEST, json={"createImage": {"name": "snap"}}
    )
    await front.wait(token, server_id, "ACTIVE")
    old = await front.call("POST", action, token=token, json={"createImage": {"name": "snap2"}})
    await front.wait(token, server_id, "ACTIVE")
    image = await front.call("GET", f"/image/v2/images/{new.body['image_id']}", token=token)

    assert new.status == 202 and image.body["name"] == "snap"
    assert old.status == 202 and old.headers["Location"].startswith(front.url + "/image/v2/")


async def test_console_output_returns_the_last_lines(front: FrontEnd) -> None:
    """os-getConsoleOutput returns the console text, its last `length` lines if given."""
    token = await front.token()
    server_id = await front.boot(token)
    action = f"{COMPUTE}/servers/{server_id}/action"

    whole = await front.call("POST", action, token=token, json={"os-getConsoleOutput": {}})
    tail = await front.call(
        "POST", action, token=token, json={"os-getConsoleOutput": {"length": 1}}
    )

    assert whole.status == 200 and "login" in whole.body["output"]
    assert tail.body["output"] == whole.body["output"].splitlines()[-1]
