"""Glance's deprecated tasks API over HTTP: ``POST /v2/tasks``, show and list.

A whole `Cloud` behind the HTTP front end on the in-memory broker, as Tempest's
``image.v2.admin.test_image_task`` calls it: an import task from a URI is accepted
(201) and ends in ``failure`` (nothing fetches from a URI); bad input is 400 naming
the field; only administrators reach the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cloud_fixtures import CloudFactory, add_user
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

TASK: dict[str, Any] = {
    "type": "import",
    "input": {
        "import_from": "http://dummy-img-file.invalid/x.qcow2",
        "import_from_format": "qcow2",
        "image_properties": {"name": "t", "disk_format": "qcow2", "container_format": "bare"},
    },
}


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end, with a member ``mia`` of ``demo``."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        await add_user(cloud, await cloud.login_admin(), "mia", project="demo")
        yield front
    finally:
        await front.aclose()


async def test_an_import_task_is_accepted_and_ends_in_failure(front: FrontEnd) -> None:
    """201 with the task; shown, it has failed, saying why, and expires; listed without
    its input and result."""
    token = await front.token("admin", "admin")
    created = await front.call("POST", "/image/v2/tasks", token=token, json=TASK)
    task_id = created.body["id"]
    shown = await front.call("GET", f"/image/v2/tasks/{task_id}", token=token)
    listed = await front.call("GET", "/image/v2/tasks?status=failure", token=token)
    none = await front.call("GET", "/image/v2/tasks?status=success", token=token)
    assert created.status == 201 and created.body["type"] == "import"
    assert created.body["self"] == f"/v2/tasks/{task_id}"
    assert shown.status == 200 and shown.body["status"] == "failure"
    assert "http://dummy-img-file.invalid/x.qcow2" in shown.body["message"]
    assert shown.body["input"] == TASK["input"] and shown.body["result"] is None
    assert shown.body["expires_at"] is not None
    assert [t["id"] for t in listed.body["tasks"]] == [task_id]
    assert "input" not in listed.body["tasks"][0]
    assert none.body["tasks"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**TASK, "type": "export"}, "Invalid type value"),
        ({"type": "import", "input": {"import_from": "http://x/"}}, "import_from_format"),
        ({"type": "import"}, "input"),
        ({**TASK, "extra": 1}, "extra"),
    ],
)
async def test_a_task_with_bad_input_is_refused_naming_it(
    front: FrontEnd, body: dict[str, Any], message: str
) -> None:
    """400 naming the type, the missing input field or the unknown key; nothing recorded."""
    token = await front.token("admin", "admin")
    refused = await front.call("POST", "/image/v2/tasks", token=token, json=body)
    listed = await front.call("GET", "/image/v2/tasks", token=token)
    assert refused.status == 400 and message in str(refused.body)
    assert listed.body["tasks"] == []


async def test_only_administrators_reach_the_tasks_api(front: FrontEnd) -> None:
    """A member is refused every tasks route (403), as Glance's tasks_api_access."""
    token = await front.token("mia", "demo")
    assert (await front.call("POST", "/image/v2/tasks", token=token, json=TASK)).status == 403
    assert (await front.call("GET", "/image/v2/tasks", token=token)).status == 403
    assert (await front.call("GET", "/image/v2/tasks/t", token=token)).status == 403
