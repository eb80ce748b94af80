"""A server's record over HTTP: its fields, metadata, tags, addresses, password and filters.

Nova's answers: access addresses, disk config, description and user data on create,
update and rebuild (each with the body its microversion has); metadata and tags with
their limits; ``/ips``; list filters; the port quota checked before anything is
recorded; console output tails.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite.testing import CloudFactory, add_user
from tests.http_fixtures import FrontEnd

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)
COMPUTE = "/compute/v2.1"


def version(microversion: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {microversion}"}


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud; projects may have three ports."""
    cloud = await clouds.start(computes=1, network={"quota_port": 3})
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


@pytest.fixture
async def member(front: FrontEnd) -> str:
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "mia", project="demo")
    return await front.token("mia", "demo")


async def _server(front: FrontEnd, token: str, server_id: str, at: str = "2.1") -> Any:
    reply = await front.call(
        "GET", f"{COMPUTE}/servers/{server_id}", token=token, headers=version(at)
    )
    return reply.body["server"]


# -- fields --------------------------------------------------------------------------------


async def test_access_addresses_and_disk_config_are_kept_from_create(
    front: FrontEnd, member: str
) -> None:
    """accessIPv4/v6 (IPv6 in its short spelling) and OS-DCF:diskConfig AUTO are shown."""
    server_id = await front.boot(
        member,
        accessIPv4="1.1.1.1",
        accessIPv6="0000:0000:0000:0000:0000:babe:220.12.22.2",
        **{"OS-DCF:diskConfig": "AUTO"},
    )

    server = await _server(front, member, server_id)

    assert (server["accessIPv4"], server["accessIPv6"]) == ("1.1.1.1", "::babe:dc0c:1602")
    assert server["OS-DCF:diskConfig"] == "AUTO"


@pytest.mark.parametrize(
    "fields",
    [
        {"accessIPv4": "1.1.1"},
        {"accessIPv4": "::1"},
        {"accessIPv6": "1.2.3.4"},
        {"OS-DCF:diskConfig": "SOMETIMES"},
        {"user_data": "not base64!"},
        {"description": "a"},  # needs 2.19
        {"tags": ["a"]},  # needs 2.52
        {"flavorRef": "no-such-flavor"},
        {"imageRef": "-1"},
    ],
)
async def test_bad_create_fields_are_400_and_record_nothing(
    front: FrontEnd, member: str, fields: dict[str, Any]
) -> None:
    """A bad address, disk config, user data, a field of a later microversion, an unknown
    flavor or image: 400, and no server is recorded."""
    body = {"server": {"name": "s", "imageRef": "cirros", "flavorRef": "1", **fields}}

    reply = await front.call("POST", f"{COMPUTE}/servers", token=member, json=body)
    listed = await front.call("GET", f"{COMPUTE}/servers", token=member)

    assert reply.status == 400, reply.body
    assert listed.body["servers"] == []


async def test_an_update_answers_the_core_below_2_75_and_everything_from_it(
    front: FrontEnd, member: str
) -> None:
    """PUT changes name, addresses, disk config, description; its body grows at 2.75."""
    server_id = await front.boot(member)
    body = {"server": {"name": "renamed", "accessIPv4": "1.1.1.1", "accessIPv6": "::babe:202:202",
                       "OS-DCF:diskConfig": "AUTO", "description": "mine"}}  # fmt: skip
    path = f"{COMPUTE}/servers/{server_id}"

    old = await front.call("PUT", path, token=member, json=body, headers=version("2.19"))
    new = await front.call("PUT", path, token=member, json=body, headers=version("2.75"))
    early = await front.call("PUT", path, token=member, json=body)

    assert old.status == 200, old.body
    server = old.body["server"]
    assert (server["name"], server["accessIPv4"], server["description"]) == (
        "renamed", "1.1.1.1", "mine",
    )  # fmt: skip
    assert server["OS-DCF:diskConfig"] == "AUTO"
    assert "OS-EXT-STS:vm_state" not in server and "key_name" not in server
    assert "OS-EXT-IPS:type" not in next(iter(server["addresses"].values()))[0]
    assert "OS-EXT-STS:vm_state" in new.body["server"] and "key_name" in new.body["server"]
    assert early.status == 400  # description needs 2.19


async def test_a_rebuild_takes_user_data_and_a_key_and_answers_its_microversions_body(
    front: FrontEnd, member: str
) -> None:
    """Rebuild sets metadata, name, key (2.54) and user data (2.57); its body has them."""
    server_id = await front.boot(member)
    await front.call(
        "POST", f"{COMPUTE}/os-keypairs", token=member,
        json={"keypair": {"name": "k"}},
    )  # fmt: skip
    args = {"imageRef": "cirros", "name": "again", "metadata": {"m": "1"}, "key_name": "k",
            "user_data": "ZWNobyBoaQ==", "OS-DCF:diskConfig": "AUTO"}  # fmt: skip
    action = f"{COMPUTE}/servers/{server_id}/action"

    too_early = await front.call(
        "POST", action, token=member, json={"rebuild": args}, headers=version("2.56")
    )
    reply = await front.call(
        "POST", action, token=member, json={"rebuild": args}, headers=version("2.57")
    )
    await front.wait(member, server_id, "ACTIVE")
    server = await _server(front, member, server_id, "2.57")

    assert too_early.status == 400
    assert reply.status == 202, reply.body
    rebuilt = reply.body["server"]
    assert (rebuilt["user_data"], rebuilt["key_name"], rebuilt["name"]) == (
        "ZWNobyBoaQ==",
        "k",
        "again",
    )
    assert rebuilt["metadata"] == {"m": "1"} and rebuilt["OS-DCF:diskConfig"] == "AUTO"
    assert "OS-EXT-STS:vm_state" not in rebuilt and rebuilt["adminPass"]
    assert (server["key_name"], server["name"]) == ("k", "again")


async def test_a_refused_rebuild_changes_nothing(front: FrontEnd, member: str) -> None:
    """A rebuild the state refuses (409: the server is stopping) leaves the fields as they were."""
    server_id = await front.boot(member, accessIPv4="1.1.1.1")
    instance = await front.cloud.api.conductor.instance_get(
        await front.cloud.api.context_for(member), server_id
    )
    await front.cloud.api.conductor.instance_update(
        await front.cloud.api.context_for(member), instance.uuid, {"task_state": "powering-off"}
    )
    args = {"imageRef": "cirros", "name": "changed", "accessIPv4": "9.9.9.9"}

    reply = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/action", token=member, json={"rebuild": args}
    )
    server = await _server(front, member, server_id)

    assert reply.status == 409, reply.body
    assert (server["name"], server["accessIPv4"]) == ("web", "1.1.1.1")


async def test_a_resize_to_an_unknown_flavor_is_a_400(front: FrontEnd, member: str) -> None:
    """Nova's answer for a flavorRef it cannot find in a resize: 400, not 404."""
    server_id = await front.boot(member)

    reply = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/action", token=member,
        json={"resize": {"flavorRef": "no-such-flavor"}},
    )  # fmt: skip

    assert reply.status == 400 and "flavor" in reply.body["badRequest"]["message"]


# -- metadata ------------------------------------------------------------------------------


async def test_metadata_is_listed_merged_replaced_and_deleted(front: FrontEnd, member: str) -> None:
    """POST merges, PUT replaces, /metadata/{key} shows, sets and deletes one item."""
    server_id = await front.boot(member, metadata={"a": "1"})
    path = f"{COMPUTE}/servers/{server_id}/metadata"

    merged = await front.call("POST", path, token=member, json={"metadata": {"b": "2"}})
    item = await front.call("PUT", f"{path}/c", token=member, json={"meta": {"c": "3"}})
    shown = await front.call("GET", f"{path}/c", token=member)
    deleted = await front.call("DELETE", f"{path}/a", token=member)
    listed = await front.call("GET", path, token=member)
    replaced = await front.call("PUT", path, token=member, json={"metadata": {"z": "9"}})
    missing = await front.call("GET", f"{path}/a", token=member)

    assert merged.body == {"metadata": {"a": "1", "b": "2"}}
    assert item.body == {"meta": {"c": "3"}} and shown.body == {"meta": {"c": "3"}}
    assert deleted.status == 204
    assert listed.body == {"metadata": {"b": "2", "c": "3"}}
    assert replaced.body == {"metadata": {"z": "9"}}
    assert missing.status == 404
    assert (await _server(front, member, server_id))["metadata"] == {"z": "9"}


@pytest.mark.parametrize(
    ("method", "rest", "body"),
    [
        ("POST", "", {"metadata": {"": "v"}}),
        ("PUT", "", {"metadata": {"k" * 256: "v"}}),
        ("POST", "", {"metadata": {"k": "v" * 256}}),
        ("POST", "", {"metadata": {"bad/key": "v"}}),
        ("PUT", "/key", {"meta": {"testkey": "v"}}),
        ("PUT", "/key", {"meta": {"key": "v", "other": "w"}}),
        ("PUT", "", {"meta1": "data1"}),
    ],
)
async def test_bad_metadata_is_a_400(
    front: FrontEnd, member: str, method: str, rest: str, body: dict[str, Any]
) -> None:
    """Blank, long or odd keys, long values, a body key other than the URL's, no wrapper: 400."""
    server_id = await front.boot(member)

    reply = await front.call(
        method, f"{COMPUTE}/servers/{server_id}/metadata{rest}", token=member, json=body
    )

    assert reply.status == 400, reply.body
    assert (await _server(front, member, server_id))["metadata"] == {}


async def test_more_than_128_metadata_items_is_the_metadata_items_quota(
    front: FrontEnd, member: str
) -> None:
    """Merging past 128 items is a 403 (Nova's metadata_items quota) and changes nothing."""
    server_id = await front.boot(member, metadata={f"k{i}": "v" for i in range(100)})
    more = {f"n{i}": "v" for i in range(29)}

    reply = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/metadata", token=member, json={"metadata": more}
    )

    assert reply.status == 403 and "metadata_items" in reply.body["forbidden"]["message"]
    assert len((await _server(front, member, server_id))["metadata"]) == 100


async def test_concurrent_metadata_edits_all_land(front: FrontEnd, member: str) -> None:
    """Twenty items set at once, each by its own request: none is lost to another's write."""
    server_id = await front.boot(member)
    path = f"{COMPUTE}/servers/{server_id}/metadata"

    replies = await asyncio.gather(
        *(front.call("PUT", f"{path}/k{i}", token=member, json={"meta": {f"k{i}": "v"}})
          for i in range(20))
    )  # fmt: skip

    assert {r.status for r in replies} == {200}
    assert set((await _server(front, member, server_id))["metadata"]) == {
        f"k{i}" for i in range(20)
    }


async def test_metadata_of_a_locked_server_is_for_admins_only(front: FrontEnd, member: str) -> None:
    """A server locked by its owner refuses the owner's metadata edits (409), as Nova."""
    server_id = await front.boot(member)
    await front.call("POST", f"{COMPUTE}/servers/{server_id}/action", token=member,
                     json={"lock": None})  # fmt: skip

    reply = await front.call(
        "POST",
        f"{COMPUTE}/servers/{server_id}/metadata",
        token=member,
        json={"metadata": {"a": "b"}},
    )
    admin = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/metadata", token=await front.token(),
        json={"metadata": {"a": "b"}},
    )  # fmt: skip

    assert reply.status == 409 and admin.status == 200


# -- tags ----------------------------------------------------------------------------------


async def test_tags_are_added_checked_replaced_and_deleted_from_2_26(
    front: FrontEnd, member: str
) -> None:
    """PUT /tags/{tag} is 201 then 204; GET is 204 or 404; PUT /tags replaces; 404 below 2.26."""
    server_id = await front.boot(member)
    tags, at = f"{COMPUTE}/servers/{server_id}/tags", version("2.26")

    first = await front.call("PUT", f"{tags}/web", token=member, headers=at)
    again = await front.call("PUT", f"{tags}/web", token=member, headers=at)
    has = await front.call("GET", f"{tags}/web", token=member, headers=at)
    lacks = await front.call("GET", f"{tags}/db", token=member, headers=at)
    replaced = await front.call("PUT", tags, token=member, json={"tags": ["a", "b"]}, headers=at)
    removed = await front.call("DELETE", f"{tags}/a", token=member, headers=at)
    listed = await front.call("GET", tags, token=member, headers=at)
    old = await front.call("GET", tags, token=member)
    cleared = await front.call("DELETE", tags, token=member, headers=at)
    shown = await _server(front, member, server_id, "2.26")

    assert (first.status, again.status) == (201, 204)
    assert first.headers["Location"].endswith(f"/servers/{server_id}/tags/web")
    assert (has.status, lacks.status) == (204, 404)
    assert replaced.body == {"tags": ["a", "b"]} and removed.status == 204
    assert listed.body == {"tags": ["b"]}
    assert old.status == 404 and cleared.status == 204
    assert shown["tags"] == []


async def test_bad_tags_and_a_51st_tag_are_400(front: FrontEnd, member: str) -> None:
    """A tag with '/' or ',' or over 60 characters, and a server's 51st tag, are 400."""
    server_id = await front.boot(member)
    tags, at = f"{COMPUTE}/servers/{server_id}/tags", version("2.26")

    comma = await front.call("PUT", f"{tags}/a,b", token=member, headers=at)
    long = await front.call("PUT", f"{tags}/{'t' * 61}", token=member, headers=at)
    fifty = await front.call(
        "PUT", tags, token=member, json={"tags": [f"t{i}" for i in range(50)]}, headers=at
    )
    fifty_first = await front.call("PUT", f"{tags}/one-more", token=member, headers=at)

    assert (comma.status, long.status) == (400, 400)
    assert fifty.status == 200 and fifty_first.status == 400


async def test_servers_are_filtered_by_tags(front: FrontEnd, member: str) -> None:
    """tags, tags-any, not-tags and not-tags-any (2.26) pick servers by their tags."""
    at = version("2.26")
    ids = {}
    for name, tags in (("ab", ["a", "b"]), ("a", ["a"]), ("none", [])):
        ids[name] = await front.boot(member, name)
        await front.call("PUT", f"{COMPUTE}/servers/{ids[name]}/tags", token=member,
                         json={"tags": tags}, headers=at)  # fmt: skip

    async def names(query: str) -> set[str]:
        reply = await front.call("GET", f"{COMPUTE}/servers?{query}", token=member, headers=at)
        return {s["name"] for s in reply.body["servers"]}

    assert await names("tags=a,b") == {"ab"}
    assert await names("tags-any=b,c") == {"ab"}
    assert await names("not-tags=a,b") == {"a", "none"}
    assert await names("not-tags-any=a") == {"none"}


# -- addresses, password, filters --------------------------------------------------------


async def test_ips_list_the_servers_addresses_by_network(front: FrontEnd, member: str) -> None:
    """/ips lists each network's addresses; /ips/{network} one network's; 404 for another."""
    server_id = await front.boot(member)
    ips = f"{COMPUTE}/servers/{server_id}/ips"

    listed = await front.call("GET", ips, token=member)
    private = await front.call("GET", f"{ips}/private", token=member)
    other = await front.call("GET", f"{ips}/public", token=member)
    server = await _server(front, member, server_id)

    (address,) = server["addresses"]["private"]
    assert listed.body == {"addresses": {"private": [{"version": 4, "addr": address["addr"]}]}}
    assert private.body == {"private": [{"version": 4, "addr": address["addr"]}]}
    assert other.status == 404


async def test_the_server_password_is_empty_and_can_be_cleared(
    front: FrontEnd, member: str
) -> None:
    """os-server-password shows "" (no guest posted one) and DELETE is 204."""
    server_id = await front.boot(member)
    path = f"{COMPUTE}/servers/{server_id}/os-server-password"

    shown = await front.call("GET", path, token=member)
    cleared = await front.call("DELETE", path, token=member)

    assert shown.body == {"password": ""} and cleared.status == 204


async def test_servers_are_filtered_by_ip_and_changes_since(front: FrontEnd, member: str) -> None:
    """ip matches a fixed address (a regex); changes-since lists changes, deleted included."""
    first = await front.boot(member, "first")
    second = await front.boot(member, "second")
    address = (await _server(front, member, first))["addresses"]["private"][0]["addr"]
    await front.call("DELETE", f"{COMPUTE}/servers/{second}", token=member)
    await front.wait(member, second, "DELETED")
    past = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).isoformat()
    future = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat()

    by_ip = await front.call("GET", f"{COMPUTE}/servers?ip={address}$", token=member)
    since = await front.call("GET", f"{COMPUTE}/servers/detail", token=member)
    changed = await front.call(
        "GET", f"{COMPUTE}/servers/detail?changes-since={past.replace('+', '%2B')}", token=member
    )
    later = await front.call(
        "GET", f"{COMPUTE}/servers?changes-since={future.replace('+', '%2B')}", token=member
    )
    bad = await front.call("GET", f"{COMPUTE}/servers?changes-since=yesterday", token=member)

    assert [s["id"] for s in by_ip.body["servers"]] == [first]
    assert [s["id"] for s in since.body["servers"]] == [first]
    statuses = {s["id"]: s["status"] for s in changed.body["servers"]}
    assert statuses == {first: "ACTIVE", second: "DELETED"}
    assert later.body["servers"] == [] and bad.status == 400


async def test_console_output_of_length_n_is_n_lines(front: FrontEnd, member: str) -> None:
    """os-getConsoleOutput with length N answers N lines, as Tempest counts them."""
    server_id = await front.boot(member)
    action = f"{COMPUTE}/servers/{server_id}/action"

    whole = await front.call("POST", action, token=member, json={"os-getConsoleOutput": {}})
    tail = await front.call(
        "POST", action, token=member, json={"os-getConsoleOutput": {"length": 2}}
    )

    assert len(whole.body["output"].split("\n")) > 2
    assert len(tail.body["output"].split("\n")) == 2


async def test_console_output_of_a_shelved_offloaded_server_is_409(
    front: FrontEnd, member: str
) -> None:
    """A server on no host has no console: Nova answers 409 (InstanceNotReady), not 400."""
    server_id = await front.boot(member)
    action = f"{COMPUTE}/servers/{server_id}/action"
    shelved = await front.call("POST", action, token=member, json={"shelve": None})
    assert shelved.status == 202
    await front.wait(member, server_id, "SHELVED_OFFLOADED")

    reply = await front.call("POST", action, token=member, json={"os-getConsoleOutput": {}})

    assert reply.status == 409
    assert "is not ready" in reply.body["conflictingRequest"]["message"]


# -- the port quota, at the API ----------------------------------------------------------


async def test_a_create_past_the_port_quota_is_refused_before_anything_is_recorded(
    front: FrontEnd, member: str
) -> None:
    """With 3 ports allowed and one used, two more servers fit, three are a 403 up front."""
    await front.boot(member, "first")
    body = {"server": {"name": "many", "imageRef": "cirros", "flavorRef": "1", "max_count": 3}}

    refused = await front.call("POST", f"{COMPUTE}/servers", token=member, json=body)
    listed = await front.call("GET", f"{COMPUTE}/servers", token=member)
    body["server"]["max_count"] = 2
    accepted = await front.call("POST", f"{COMPUTE}/servers", token=member, json=body)

    assert refused.status == 403 and "ports" in refused.body["forbidden"]["message"]
    assert [s["name"] for s in listed.body["servers"]] == ["first"]
    assert accepted.status == 202, accepted.body


async def test_a_rebuild_answers_the_new_image(front: FrontEnd, member: str) -> None:
    """The rebuild's answer already names the image it rebuilds from, as Nova's."""
    server_id = await front.boot(member)
    session = await front.cloud.login_admin()
    alt = await front.cloud.api.image.create_from_bytes(
        await session.context(), "alt", b"alt image", visibility="public"
    )

    reply = await front.call(
        "POST", f"{COMPUTE}/servers/{server_id}/action", token=member,
        json={"rebuild": {"imageRef": alt.id}},
    )  # fmt: skip
    await front.wait(member, server_id, "ACTIVE")

    assert reply.body["server"]["image"]["id"] == alt.id
    assert (await _server(front, member, server_id))["image"]["id"] == alt.id


async def test_a_server_cannot_boot_from_a_volume_that_is_not_bootable(
    front: FrontEnd, member: str
) -> None:
    """A blank volume as the boot disk is a 400 naming it, and no server is recorded."""
    ctx = await front.cloud.api.context_for(member)
    volume = await front.cloud.api.volume.create(ctx, 1, name="blank")
    bdm = {"source_type": "volume", "destination_type": "volume", "boot_index": 0,
           "uuid": volume.id}  # fmt: skip
    body = {"server": {"name": "s", "flavorRef": "1", "block_device_mapping_v2": [bdm]}}

    reply = await front.call("POST", f"{COMPUTE}/servers", token=member, json=body)
    listed = await front.call("GET", f"{COMPUTE}/servers", token=member)

    assert reply.status == 400 and "not bootable" in reply.body["badRequest"]["message"]
    assert listed.body["servers"] == []


async def test_attaching_a_volume_in_use_is_a_400(front: FrontEnd, member: str) -> None:
    """A volume another server holds is a bad request for the next attach, as in Nova."""
    first, second = await front.boot(member, "first"), await front.boot(member, "second")
    volume = await front.cloud.api.volume.create(await front.cloud.api.context_for(member), 1)
    body = {"volumeAttachment": {"volumeId": volume.id}}

    attached = await front.call(
        "POST", f"{COMPUTE}/servers/{first}/os-volume_attachments", token=member, json=body
    )
    again = await front.call(
        "POST", f"{COMPUTE}/servers/{second}/os-volume_attachments", token=member, json=body
    )

    assert attached.status == 200, attached.body
    assert again.status == 400 and "Invalid volume" in again.body["badRequest"]["message"]
