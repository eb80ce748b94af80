"""The metadata-definition catalog over HTTP (``/image/v2/metadefs``), as Glance answers it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from tests.cloud_fixtures import CloudFactory, add_user
from tests.http_fixtures import FrontEnd, Reply

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)
NS = "/image/v2/metadefs/namespaces"


@attrs.frozen
class Catalog:
    """The front end, an admin's token, and a reader's and a member's of other projects."""

    front: FrontEnd
    admin: str
    rex: str  # reader of demo
    sam: str  # member of beta

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.front.call(method, path, token=token or self.admin, **kw)


@pytest.fixture
async def catalog(clouds: CloudFactory) -> AsyncIterator[Catalog]:
    """A cloud over HTTP, with a reader of demo and a member of beta."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        admin = await cloud.login_admin()
        await add_user(cloud, admin, "rex", project="demo", role="reader")
        await add_user(cloud, admin, "sam", project="beta")
        admin_token, reader_token = await front.token(), await front.token("rex", "demo")
        yield Catalog(front, admin_token, reader_token, await front.token("sam", "beta"))
    finally:
        await front.aclose()


async def test_namespaces_are_created_shown_updated_and_deleted(catalog: Catalog) -> None:
    """A protected namespace refuses delete (403); once unprotected and private, it goes."""
    body = {
        "namespace": "tempest-ns",
        "display_name": "Tempest",
        "description": "Tempest",
        "visibility": "public",
        "protected": True,
        "resource_type_associations": [{"name": "OS::Glance::Image"}],
    }
    created = await catalog.call("POST", NS, json=body)
    again = await catalog.call("POST", NS, json=body)
    listed = await catalog.call("GET", NS, catalog.sam)
    shown = await catalog.call("GET", f"{NS}/tempest-ns", catalog.sam)
    refused = await catalog.call("DELETE", f"{NS}/tempest-ns")
    by_member = await catalog.call("PUT", f"{NS}/tempest-ns", catalog.sam, json=body)
    updated = await catalog.call(
        "PUT",
        f"{NS}/tempest-ns",
        json={"namespace": "tempest-ns", "visibility": "private", "protected": False},
    )
    hidden = await catalog.call("GET", f"{NS}/tempest-ns", catalog.sam)
    deleted = await catalog.call("DELETE", f"{NS}/tempest-ns")
    gone = await catalog.call("GET", f"{NS}/tempest-ns")

    assert created.status == 201 and created.body["self"] == "/v2/metadefs/namespaces/tempest-ns"
    assert again.status == 409
    assert "tempest-ns" in [n["namespace"] for n in listed.body["namespaces"]]
    assert shown.body["resource_type_associations"][0]["name"] == "OS::Glance::Image"
    assert (refused.status, by_member.status) == (403, 403)
    assert (updated.body["visibility"], updated.body["protected"]) == ("private", False)
    assert hidden.status == 404 and deleted.status == 204 and gone.status == 404


async def test_resource_types_and_associations(catalog: Catalog) -> None:
    """The seeded resource types list; a namespace associates and dissociates one."""
    await catalog.call("POST", NS, json={"namespace": "ns"})
    types = await catalog.call("GET", "/image/v2/metadefs/resource_types", catalog.rex)
    name = types.body["resource_types"][0]["name"]
    added = await catalog.call("POST", f"{NS}/ns/resource_types", json={"name": name})
    listed = await catalog.call("GET", f"{NS}/ns/resource_types")
    by_type = await catalog.call("GET", f"{NS}?resource_types={name}")
    removed = await catalog.call("DELETE", f"{NS}/ns/resource_types/{name}")
    after = await catalog.call("GET", f"{NS}/ns/resource_types")

    assert name == "OS::Glance::Image" and added.status == 201 and added.body["name"] == name
    assert [a["name"] for a in listed.body["resource_type_associations"]] == [name]
    assert [n["namespace"] for n in by_type.body["namespaces"]] == ["ns"]
    assert removed.status == 204 and after.body["resource_type_associations"] == []


async def test_properties_and_objects(catalog: Catalog) -> None:
    """Create, show, rename-by-update and delete a property and an object; 409, 404."""
    await catalog.call("POST", NS, json={"namespace": "ns"})
    prop = {"name": "hypervisor", "title": "T", "type": "string", "enum": ["kvm", "qemu"]}
    created = await catalog.call("POST", f"{NS}/ns/properties", json=prop)
    duplicate = await catalog.call("POST", f"{NS}/ns/properties", json=prop)
    invalid = await catalog.call("POST", f"{NS}/ns/properties", json={"name": "x"})
    shown = await catalog.call("GET", f"{NS}/ns/properties/hypervisor")
    updated = await catalog.call(
        "PUT", f"{NS}/ns/properties/hypervisor", json={**prop, "title": "T2"}
    )
    listed = await catalog.call("GET", f"{NS}/ns/properties")
    await catalog.call("DELETE", f"{NS}/ns/properties/hypervisor")
    missing = await catalog.call("GET", f"{NS}/ns/properties/hypervisor")

    obj = await catalog.call("POST", f"{NS}/ns/objects", json={"name": "o1"})
    renamed = await catalog.call("PUT", f"{NS}/ns/objects/o1", json={"name": "o2"})
    objects = await catalog.call("GET", f"{NS}/ns/objects")
    shown_object = await catalog.call("GET", f"{NS}/ns/objects/o2")
    await catalog.call("DELETE", f"{NS}/ns/objects/o2")
    no_objects = await catalog.call("GET", f"{NS}/ns/objects")

    assert created.status == 201 and created.body["title"] == "T"
    assert (duplicate.status, invalid.status) == (409, 400)
    assert shown.body["name"] == "hypervisor" and updated.body["title"] == "T2"
    assert listed.body["properties"]["hypervisor"]["enum"] == ["kvm", "qemu"]
    assert missing.status == 404
    assert obj.status == 201 and renamed.body["name"] == "o2"
    assert [o["name"] for o in objects.body["objects"]] == ["o2"]
    assert shown_object.body["self"] == "/v2/metadefs/namespaces/ns/objects/o2"
    assert no_objects.body["objects"] == []


async def test_tags_in_bulk_and_one_by_one(catalog: Catalog) -> None:
    """Bulk create replaces (or appends with X-Openstack-Append); single tags; delete all."""
    await catalog.call("POST", NS, json={"namespace": "ns", "visibility": "public"})
    tags = {"tags": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}
    bulk = await catalog.call("POST", f"{NS}/ns/tags", json=tags)
    replaced = await catalog.call("POST", f"{NS}/ns/tags", json={"tags": [{"name": "d"}]})
    appended = await catalog.call(
        "POST",
        f"{NS}/ns/tags",
        json={"tags": [{"name": "e"}]},
        headers={"X-Openstack-Append": "true"},
    )
    single = await catalog.call("POST", f"{NS}/ns/tags/f")
    renamed = await catalog.call("PUT", f"{NS}/ns/tags/f", json={"name": "g"})
    shown = await catalog.call("GET", f"{NS}/ns/tags/g", catalog.rex)
    by_reader = await catalog.call("POST", f"{NS}/ns/tags/h", catalog.rex)
    await catalog.call("DELETE", f"{NS}/ns/tags/g")
    some = await catalog.call("GET", f"{NS}/ns/tags")
    cleared = await catalog.call("DELETE", f"{NS}/ns/tags")
    none = await catalog.call("GET", f"{NS}/ns/tags")

    assert bulk.status == 201 and [t["name"] for t in bulk.body["tags"]] == ["a", "b", "c"]
    assert [t["name"] for t in replaced.body["tags"]] == ["d"]
    assert [t["name"] for t in appended.body["tags"]] == ["d", "e"]
    assert single.status == 201 and renamed.body["name"] == "g" and shown.body["name"] == "g"
    assert by_reader.status == 403
    assert [t["name"] for t in some.body["tags"]] == ["d", "e"]
    assert cleared.status == 204 and none.body["tags"] == []


async def test_private_namespaces_belong_to_their_project(catalog: Catalog) -> None:
    """A private namespace of demo: demo's reader reads it; beta's member gets 404."""
    demo = (await catalog.front.cloud.api.context_for(catalog.rex)).project_id
    await catalog.call("POST", NS, json={"namespace": "demo-ns", "owner": demo})
    by_reader = await catalog.call("GET", f"{NS}/demo-ns/tags", catalog.rex)
    by_other = await catalog.call("GET", f"{NS}/demo-ns/tags", catalog.sam)
    listed = await catalog.call("GET", NS, catalog.sam)

    assert (by_reader.status, by_other.status) == (200, 404)
    assert "demo-ns" not in [n["namespace"] for n in listed.body["namespaces"]]
