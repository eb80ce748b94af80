"""The image API over HTTP as Glance answers it: versions, schemas, discovery, create, PATCH,
tags, protected and deactivated images, members, list filters and pages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from nova_lite.api.http.image_metadef_schemas import METADEF_SCHEMAS
from tests.cloud_fixtures import CloudFactory, add_user
from tests.http_fixtures import FrontEnd, Reply

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)
IMAGES = "/image/v2/images"
PATCH_21 = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
PATCH_20 = {"Content-Type": "application/openstack-images-v2.0-json-patch"}


@attrs.frozen
class Glance:
    """The front end and tokens: an admin, mia and rex (member, reader of demo), sam (beta)."""

    front: FrontEnd
    admin: str
    mia: str
    rex: str
    sam: str
    beta: str  # sam's project id

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.front.call(method, path, token=token or self.mia, **kw)

    async def create(self, token: str | None = None, **body: Any) -> dict[str, Any]:
        reply = await self.call("POST", IMAGES, token, json={"name": "img", **body})
        assert reply.status == 201, reply.body
        image: dict[str, Any] = reply.body
        return image

    async def patch(self, image_id: str, ops: list[Any], headers: Any = None, **kw: Any) -> Reply:
        data = json.dumps(ops).encode()
        return await self.call(
            "PATCH", f"{IMAGES}/{image_id}", data=data, headers=headers or PATCH_21, **kw
        )


@pytest.fixture
async def glance(clouds: CloudFactory) -> AsyncIterator[Glance]:
    """A cloud served over HTTP with users in two projects."""
    cloud = await clouds.start(computes=1, image={"image_count_total": -1})
    front = await FrontEnd.start(cloud)
    try:
        admin = await cloud.login_admin()
        for name, project, role in (
            ("mia", "demo", "member"),
            ("rex", "demo", "reader"),
            ("sam", "beta", "member"),
        ):
            await add_user(cloud, admin, name, project=project, role=role)
        sam = await front.token("sam", "beta")
        beta = (await cloud.api.context_for(sam)).project_id or ""
        yield Glance(
            front,
            await front.token(),
            await front.token("mia", "demo"),
            await front.token("rex", "demo"),
            sam,
            beta,
        )
    finally:
        await front.aclose()


async def test_the_version_document_is_glances(glance: Glance) -> None:
    """/image and /image/ answer 300 Multiple Choices, /image/versions 200, v2.17 current."""
    replies = [await glance.front.call("GET", p) for p in ("/image", "/image/", "/image/versions")]

    assert [r.status for r in replies] == [300, 300, 200]
    versions = replies[0].body["versions"]
    assert {v["id"]: v["status"] for v in versions}["v2.17"] == "CURRENT"
    assert {"v2.0", "v2.12", "v2.15"} <= {v["id"] for v in versions}
    assert versions[0]["links"][0]["href"] == glance.front.url + "/image/v2/"


async def test_the_schemas_and_discovery_documents(glance: Glance) -> None:
    """Every schema Glance serves answers with its name; one store; glance-direct import."""
    names = {}
    for schema in ("image", "images", "member", "members"):
        reply = await glance.call("GET", f"/image/v2/schemas/{schema}", glance.rex)
        names[schema] = reply.body["name"]
    for schema in METADEF_SCHEMAS:
        reply = await glance.call("GET", f"/image/v2/schemas/metadefs/{schema}", glance.rex)
        names[f"metadefs/{schema}"] = reply.body["name"]
    missing = await glance.call("GET", "/image/v2/schemas/nothing")
    stores = await glance.call("GET", "/image/v2/info/stores")
    methods = await glance.call("GET", "/image/v2/info/import")

    assert names["image"] == "image" and names["members"] == "members"
    assert names["metadefs/resource_types"] == "resource_type_associations"
    assert missing.status == 404 and missing.body["error"]["code"] == 404
    assert stores.body == {
        "stores": [{"id": "file", "description": stores.body["stores"][0]["description"],
                    "default": True}]
    }  # fmt: skip
    assert methods.body["import-methods"]["value"] == ["glance-direct"]


async def test_create_takes_glances_body(glance: Glance) -> None:
    """Fields, tags, protected, os_hidden and string extras are kept; default visibility shared."""
    image = await glance.create(
        tags=["a", "b"], protected=True, os_hidden=True, ramdisk_id=None, os_distro="cirros"
    )

    shown = (await glance.call("GET", f"{IMAGES}/{image['id']}")).body
    assert shown == image
    assert (image["visibility"], image["tags"], image["protected"], image["os_hidden"]) == (
        "shared",
        ["a", "b"],
        True,
        True,
    )
    assert image["os_distro"] == "cirros" and "ramdisk_id" not in image and "stores" not in image


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "active"}, 403),
        ({"size": 5}, 403),
        ({"self": "/x"}, 403),
        ({"os_glance_foo": "bar"}, 403),
        ({"location": "http://x"}, 403),
        ({"disk_format": "exe"}, 400),
        ({"container_format": "wrong", "disk_format": "vhd"}, 400),
        ({"visibility": "secret"}, 400),
        ({"hw_cpu_cores": 5}, 400),
        ({"tags": "a"}, 400),
        ({"protected": "yes"}, 400),
        ({"kernel_id": "not-a-uuid"}, 400),
        ({"x" * 256: "v"}, 400),
        ({"visibility": "public"}, 403),
        ({"owner": "someone-else"}, 403),
        ({f"k{n}": "v" for n in range(129)}, 413),
    ],
)
async def test_create_refuses_what_glance_refuses(
    glance: Glance, body: dict[str, Any], status: int
) -> None:
    """Computed and reserved fields 403, bad values 400, too many properties 413."""
    reply = await glance.call("POST", IMAGES, json={"name": "bad", **body})

    assert reply.status == status, reply.body
    assert reply.body["error"]["code"] == status


async def test_patch_in_both_dialects(glance: Glance) -> None:
    """v2.1 ops (op/path) and v2.0 ops (op as key) change the image; the reply shows it."""
    image = await glance.create()
    new = await glance.patch(
        image["id"],
        [
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/os_distro", "value": "fedora"},
            {"op": "add", "path": "/tags", "value": ["t"]},
        ],
    )
    old = await glance.patch(
        image["id"],
        [{"replace": "/min_ram", "value": 512}, {"remove": "/os_distro"}],
        headers=PATCH_20,
    )

    assert new.status == 200 and new.body["name"] == "renamed" and new.body["tags"] == ["t"]
    assert old.status == 200 and old.body["min_ram"] == 512 and "os_distro" not in old.body
    shown = (await glance.call("GET", f"{IMAGES}/{image['id']}")).body
    assert shown == old.body


@pytest.mark.parametrize(
    ("ops", "headers", "status"),
    [
        (
            [{"op": "replace", "path": "/name", "value": "x"}],
            {"Content-Type": "application/json"},
            415,
        ),
        ({"op": "replace"}, None, 400),
        (["replace"], None, 400),
        ([{"op": "move", "path": "/name", "value": "x"}], None, 400),
        ([{"op": "replace", "value": "x"}], None, 400),
        ([{"op": "replace", "path": "name", "value": "x"}], None, 400),
        ([{"op": "replace", "path": "/a//b", "value": "x"}], None, 400),
        ([{"op": "replace", "path": "/name/x", "value": "x"}], None, 400),
        ([{"op": "replace", "path": "/name"}], None, 400),
        ([{"op": "replace", "path": "/min_ram", "value": "lots"}], None, 400),
        ([{"replace": "/name", "remove": "/x", "value": "y"}], PATCH_20, 400),
        ([{"op": "replace", "path": "/status", "value": "active"}], None, 403),
        ([{"op": "add", "path": "/os_glance_x", "value": "y"}], None, 403),
        ([{"op": "remove", "path": "/name"}], None, 403),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], None, 403),
        ([{"op": "replace", "path": "/owner", "value": "other"}], None, 403),
        ([{"op": "replace", "path": "/arch", "value": "x86_64"}], None, 409),
        ([{"op": "remove", "path": "/arch"}], None, 409),
        ([{"add": "/name", "value": "x"}], PATCH_20, 409),
    ],
)
async def test_patch_errors_are_glances(
    glance: Glance, ops: Any, headers: Any, status: int
) -> None:
    """415 (with Accept-Patch) for another media type; 400, 403, 409 as Glance answers."""
    image = await glance.create()
    reply = await glance.patch(image["id"], ops, headers)

    assert reply.status == status, reply.body
    if status == 415:
        assert "openstack-images-v2.1-json-patch" in reply.headers["Accept-Patch"]
    assert (await glance.call("GET", f"{IMAGES}/{image['id']}")).body["name"] == "img"


async def test_tags_are_put_and_deleted(glance: Glance) -> None:
    """PUT and DELETE .../tags/{tag} answer 204; deleting an absent tag 404; no image 404."""
    image = await glance.create()
    path = f"{IMAGES}/{image['id']}/tags"
    put = await glance.call("PUT", f"{path}/blue")
    again = await glance.call("PUT", f"{path}/blue")
    tags = (await glance.call("GET", f"{IMAGES}/{image['id']}")).body["tags"]
    deleted = await glance.call("DELETE", f"{path}/blue")
    absent = await glance.call("DELETE", f"{path}/blue")
    nowhere = await glance.call("PUT", f"{IMAGES}/6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d/tags/x")
    reader = await glance.call("PUT", f"{path}/red", glance.rex)

    assert [put.status, again.status, deleted.status] == [204, 204, 204]
    assert tags == ["blue"]
    assert [absent.status, nowhere.status, reader.status] == [404, 404, 403]


async def test_a_protected_image_answers_403_to_delete(glance: Glance) -> None:
    """DELETE of a protected image is 403 and the image stays; unprotected, it is deleted."""
    image = await glance.create(protected=True)
    refused = await glance.call("DELETE", f"{IMAGES}/{image['id']}")
    still = await glance.call("GET", f"{IMAGES}/{image['id']}")
    await glance.patch(image["id"], [{"op": "replace", "path": "/protected", "value": False}])
    deleted = await glance.call("DELETE", f"{IMAGES}/{image['id']}")

    assert refused.status == 403 and "protected" in refused.body["error"]["message"]
    assert still.status == 200 and deleted.status == 204


async def test_a_deactivated_image_serves_its_data_to_admins_only(glance: Glance) -> None:
    """After deactivate, the owner's download is 403, an admin's 200; reactivate restores it."""
    image = await glance.create(visibility="private")
    path = f"{IMAGES}/{image['id']}"
    empty = await glance.call("GET", f"{path}/file")
    early = await glance.call("POST", f"{path}/actions/deactivate")
    await glance.call("PUT", f"{path}/file", data=b"image bytes")
    deactivated = await glance.call("POST", f"{path}/actions/deactivate")
    status = (await glance.call("GET", path)).body["status"]
    refused = await glance.call("GET", f"{path}/file")
    by_admin = await glance.call("GET", f"{path}/file", glance.admin)
    reactivated = await glance.call("POST", f"{path}/actions/reactivate")
    again = await glance.call("GET", f"{path}/file")

    assert (empty.status, early.status) == (204, 403)
    assert (deactivated.status, status, refused.status) == (204, "deactivated", 403)
    assert by_admin.status == 200 and by_admin.raw == b"image bytes"
    assert reactivated.status == 204 and again.raw == b"image bytes"
    assert (await glance.call("GET", path)).body["stores"] == "file"


async def test_sharing_over_http(glance: Glance) -> None:
    """The owner shares, the member accepts (the owner may not), lists it, is removed."""
    image = await glance.create()
    members = f"{IMAGES}/{image['id']}/members"
    added = await glance.call("POST", members, json={"member": glance.beta})
    twice = await glance.call("POST", members, json={"member": glance.beta})
    by_owner = await glance.call("PUT", f"{members}/{glance.beta}", json={"status": "accepted"})
    pending = await glance.call("GET", IMAGES, glance.sam)
    accepted = await glance.call(
        "PUT", f"{members}/{glance.beta}", glance.sam, json={"status": "accepted"}
    )
    invalid = await glance.call(
        "PUT", f"{members}/{glance.beta}", glance.sam, json={"status": "sure"}
    )
    listed = await glance.call("GET", IMAGES, glance.sam)
    shown = await glance.call("GET", f"{members}/{glance.beta}", glance.rex)
    listing = await glance.call("GET", members)
    removed = await glance.call("DELETE", f"{members}/{glance.beta}")
    gone = await glance.call("GET", f"{IMAGES}/{image['id']}", glance.sam)

    assert added.status == 200 and added.body["status"] == "pending"
    assert added.body["schema"] == "/v2/schemas/member" and twice.status == 409
    assert by_owner.status == 403 and image["id"] not in [i["id"] for i in pending.body["images"]]
    assert accepted.status == 200 and invalid.status == 400
    assert image["id"] in [i["id"] for i in listed.body["images"]]
    assert shown.body["status"] == "accepted"
    assert [m["member_id"] for m in listing.body["members"]] == [glance.beta]
    assert listing.body["schema"] == "/v2/schemas/members"
    assert removed.status == 204 and gone.status == 404


async def test_list_filters_sorts_and_pages(glance: Glance) -> None:
    """Filters and sort parameters reach the image service; pages link to the next one."""
    made = [await glance.create(name=f"p{n}", tags=["page"], min_ram=n) for n in range(5)]
    by_name = await glance.call("GET", f"{IMAGES}?name=p3")
    by_tag = await glance.call("GET", f"{IMAGES}?tag=page&sort=name:asc")
    old_sort = await glance.call("GET", f"{IMAGES}?tag=page&sort_key=name&sort_dir=desc")
    hidden = await glance.call("GET", f"{IMAGES}?os_hidden=true")

    pages, url = [], f"{IMAGES}?tag=page&limit=2&sort=name:asc"
    while True:
        reply = await glance.call("GET", url)
        pages.append([i["name"] for i in reply.body["images"]])
        if "next" not in reply.body:
            break
        url = "/image" + reply.body["next"]

    assert [i["name"] for i in by_name.body["images"]] == ["p3"]
    assert [i["name"] for i in by_tag.body["images"]] == [f"p{n}" for n in range(5)]
    assert [i["name"] for i in old_sort.body["images"]] == [f"p{n}" for n in range(4, -1, -1)]
    assert hidden.body["images"] == [] and len(made) == 5
    assert pages == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    assert reply.body["first"].startswith("/v2/images?") and "marker" not in reply.body["first"]


@pytest.mark.parametrize(
    "query",
    ["limit=abc", "limit=-1", "sort_key=owner", "sort=name&sort_key=name", "visibility=x",
     "member_status=maybe", "size_min=big", "created_at=gte:never", "marker=nope"],
)  # fmt: skip
async def test_bad_list_parameters_are_400(glance: Glance, query: str) -> None:
    """Each list parameter Glance refuses is a 400 with its reason."""
    reply = await glance.call("GET", f"{IMAGES}?{query}")

    assert reply.status == 400, reply.body


async def test_glance_direct_import(glance: Glance) -> None:
    """Stage (uploading), import (202, active, checksums), and the import's task."""
    image = await glance.create(disk_format="raw")
    path = f"{IMAGES}/{image['id']}"
    early = await glance.call("POST", f"{path}/import", json={"method": {"name": "glance-direct"}})
    staged = await glance.call("PUT", f"{path}/stage", data=b"staged bits")
    uploading = (await glance.call("GET", path)).body["status"]
    web = await glance.call("POST", f"{path}/import", json={"method": {"name": "web-download"}})
    imported = await glance.call(
        "POST", f"{path}/import", json={"method": {"name": "glance-direct"}}
    )
    shown = (await glance.call("GET", path)).body
    tasks = (await glance.call("GET", f"{path}/tasks", glance.rex)).body["tasks"]
    data = await glance.call("GET", f"{path}/file")

    assert early.status == 409 and staged.status == 204 and uploading == "uploading"
    assert web.status == 400 and "Unknown import method" in web.body["error"]["message"]
    assert imported.status == 202
    assert (shown["status"], shown["size"], shown["stores"]) == ("active", 11, "file")
    assert data.raw == b"staged bits"
    (task,) = tasks
    assert (task["status"], task["type"]) == ("success", "api_image_import")
    assert task["request_id"] == imported.headers["X-Openstack-Request-Id"]
    assert task["input"]["import_req"]["method"]["name"] == "glance-direct"
