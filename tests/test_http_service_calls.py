"""Nova's service-to-service routes over HTTP, for Keystone's ``service`` role.

A whole `Cloud` behind the HTTP front end on the in-memory broker, with a service
user ``svc`` (admin and service roles, as Tempest's ``service_user``) beside a
member ``mia``: server external events answer a code per event; the swap of an
attached volume is 404 for an unknown volume and 409 for one Cinder is not
migrating; assisted volume snapshots need an attached volume. Only the service role
reaches them: the member and a plain administrator are refused (403).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cloud_fixtures import CloudFactory, NotificationTap, add_user
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

COMPUTE = "/compute/v2.1"


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud over HTTP with ``mia`` (member of ``demo``) and ``svc`` (admin and
    service of ``services``)."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        admin = await cloud.login_admin()
        ctx = await admin.context()
        await add_user(cloud, admin, "mia", project="demo")
        await cloud.api.identity.entity_create(ctx, "role", {"name": "service"})
        await add_user(cloud, admin, "svc", project="services", role="admin")
        await cloud.api.identity.assign_role(ctx, "svc", "services", "service")
        yield front
    finally:
        await front.aclose()


async def _attached(front: FrontEnd, token: str) -> tuple[str, str]:
    """A server of the token's project with a volume attached: their ids."""
    server = await front.boot(token)
    scope = await front.call(
        "GET", "/v3/auth/tokens", token=token, headers={"X-Subject-Token": token}
    )
    project = scope.body["token"]["project"]["id"]
    made = await front.call(
        "POST", f"/volume/v3/{project}/volumes", token=token, json={"volume": {"size": 1}}
    )
    volume: str = made.body["volume"]["id"]
    tap = await NotificationTap.attach(front.cloud)
    path = f"{COMPUTE}/servers/{server}/os-volume_attachments"
    await front.call("POST", path, token=token, json={"volumeAttachment": {"volumeId": volume}})
    await tap.wait_event(server, "instance.attach_volume.end")
    return server, volume


async def test_external_events_answer_a_code_per_event(front: FrontEnd) -> None:
    """A known server's event is 200; with an unknown server's too, 207 and 404 for it;
    all unknown, 404; an unknown name is 400."""
    mia, svc = await front.token("mia", "demo"), await front.token("svc", "services")
    server = await front.boot(mia)
    path = f"{COMPUTE}/os-server-external-events"

    def events(*servers: str, name: str = "network-changed") -> dict[str, Any]:
        return {"events": [{"name": name, "server_uuid": s} for s in servers]}

    one = await front.call("POST", path, token=svc, json=events(server))
    mixed = await front.call("POST", path, token=svc, json=events(server, str(uuid.uuid4())))
    none = await front.call("POST", path, token=svc, json=events(str(uuid.uuid4())))
    bad = await front.call("POST", path, token=svc, json=events(server, name="volume-reimaged"))
    assert one.status == 200
    assert one.body["events"] == [
        {"name": "network-changed", "server_uuid": server, "status": "completed", "code": 200}
    ]
    assert mixed.status == 207 and [e["code"] for e in mixed.body["events"]] == [200, 404]
    assert mixed.body["events"][1]["status"] == "failed"
    assert none.status == 404
    assert bad.status == 400 and "volume-reimaged" in bad.body["badRequest"]["message"]


async def test_only_the_service_role_reaches_the_service_routes(front: FrontEnd) -> None:
    """The member and the bootstrap admin (no service role) are refused (403)."""
    mia, admin = await front.token("mia", "demo"), await front.token("admin", "admin")
    server = await front.boot(mia)
    body = {"events": [{"name": "network-changed", "server_uuid": server}]}
    for token in (mia, admin):
        reply = await front.call(
            "POST", f"{COMPUTE}/os-server-external-events", token=token, json=body
        )
        assert reply.status == 403


async def test_a_swap_is_404_for_an_unknown_volume_and_409_for_one_not_migrating(
    front: FrontEnd,
) -> None:
    """As Nova: the volume in the path must exist (404), and be migrating, which only
    Cinder starts (409); the volume stays attached."""
    mia, svc = await front.token("mia", "demo"), await front.token("svc", "services")
    server, volume = await _attached(front, mia)
    base = f"{COMPUTE}/servers/{server}/os-volume_attachments"
    body = {"volumeAttachment": {"volumeId": volume}}
    unknown = await front.call("PUT", f"{base}/{uuid.uuid4()}", token=svc, json=body)
    not_migrating = await front.call("PUT", f"{base}/{volume}", token=svc, json=body)
    member = await front.call("PUT", f"{base}/{volume}", token=mia, json=body)
    still = await front.call("GET", f"{base}/{volume}", token=mia)
    assert unknown.status == 404 and not_migrating.status == 409 and member.status == 403
    assert "not migrating" in not_migrating.body["conflictingRequest"]["message"]
    assert still.status == 200


async def test_assisted_snapshots_need_an_attached_volume(front: FrontEnd) -> None:
    """Create answers the snapshot id and volume (200), delete 204; a volume attached to
    nothing, or bad create_info, is 400."""
    mia, svc = await front.token("mia", "demo"), await front.token("svc", "services")
    _, volume = await _attached(front, mia)
    snapshot = str(uuid.uuid4())
    info = {"snapshot_id": snapshot, "type": "qcow2", "new_file": "new.qcow2"}
    path = f"{COMPUTE}/os-assisted-volume-snapshots"
    made = await front.call(
        "POST", path, token=svc, json={"snapshot": {"volume_id": volume, "create_info": info}}
    )
    loose = await front.call(
        "POST",
        path,
        token=svc,
        json={"snapshot": {"volume_id": str(uuid.uuid4()), "create_info": info}},
    )
    wrong = await front.call(
        "POST",
        path,
        token=svc,
        json={"snapshot": {"volume_id": volume, "create_info": {**info, "type": "raw"}}},
    )
    query = json.dumps({"volume_id": volume})
    deleted = await front.call("DELETE", f"{path}/{snapshot}?delete_info={query}", token=svc)
    no_info = await front.call("DELETE", f"{path}/{snapshot}", token=svc)
    assert made.status == 200 and made.body == {"snapshot": {"id": snapshot, "volumeId": volume}}
    assert loose.status == 400 and wrong.status == 400
    assert deleted.status == 204 and no_info.status == 400
