"""Key pairs over HTTP (``/os-keypairs``) and ``key_name`` on servers, as Nova answers them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from nova_lite.testing import CloudFactory, add_user, capture_logs, fake_driver
from tests.http_fixtures import FrontEnd, Reply

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)
KEYPAIRS = "/compute/v2.1/os-keypairs"
PUBLIC_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCsNe3/1ILNCqFyfYWDeTKLD6jEXC2OQHLmietMWW+/vd"
    "aZq7KZEwO0jhglaFjU1mpqq4Gz5RX156sCTNM9vRbwKAxfsdF9laBYVsex3m3Wmui3uYrKyumsoJn2g9GNnG1P"
    "I1mrVjZ61i0GY3khna+wzlTpCCmy5HNlrmbj3XLqBUpipTOXmsnr4sChzC53KCd8LXuwc1i/CZPvF+3XipvAgFSE"
    "53pCtLOeB1kYMOBaiUPLQTWXR3JpckqFIQwhIH0zoHlJvZE8hh90XcPojYN56tI0OlrGqojbediJYD0rUsJu4we"
    "Zpbn8vilb3JuDY+jwssnSA8wzBx3A/8y9Pp1B nova@ubuntu"
)
FINGERPRINT = "61:5f:fe:c7:e0:fd:d7:4a:2b:52:6e:a6:f5:bf:da:27"


def version(microversion: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {microversion}"}


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud whose users may have three key pairs each."""
    cloud = await clouds.start(computes=1, quota={"key_pairs": 3})
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


async def _user(front: FrontEnd, name: str, project: str = "demo") -> str:
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, name, project=project)
    return await front.token(name, project)


async def _create(front: FrontEnd, token: str, microversion: str = "2.1", **fields: Any) -> Reply:
    return await front.call(
        "POST", KEYPAIRS, token=token, json={"keypair": fields}, headers=version(microversion)
    )


async def test_a_generated_key_pair_answers_its_private_key_once(front: FrontEnd) -> None:
    """A create without a public key returns a working RSA pair; show never has the secret."""
    token = await _user(front, "mia")

    made = await _create(front, token, name="gen")
    shown = await front.call("GET", f"{KEYPAIRS}/gen", token=token)

    assert made.status == 200, made.body
    keypair = made.body["keypair"]
    private = serialization.load_pem_private_key(keypair["private_key"].encode(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert keypair["public_key"].startswith(public.decode())
    assert set(keypair) == {"name", "public_key", "fingerprint", "user_id", "private_key"}
    assert shown.status == 200 and "private_key" not in shown.body["keypair"]
    assert shown.body["keypair"]["fingerprint"] == keypair["fingerprint"]
    assert shown.body["keypair"]["deleted"] is False and shown.body["keypair"]["id"] >= 1


async def test_an_imported_key_keeps_the_given_public_key_and_its_fingerprint(
    front: FrontEnd,
) -> None:
    """Importing keeps the key as given, with Nova's MD5 fingerprint; from 2.2 a type, 201."""
    token = await _user(front, "mia")

    made = await _create(front, token, "2.2", name="mine", public_key=PUBLIC_KEY)
    listed = await front.call("GET", KEYPAIRS, token=token, headers=version("2.2"))

    assert made.status == 201, made.body
    assert made.body["keypair"]["fingerprint"] == FINGERPRINT
    assert made.body["keypair"]["type"] == "ssh" and "private_key" not in made.body["keypair"]
    assert listed.body["keypairs"] == [
        {"keypair": {"name": "mine", "public_key": PUBLIC_KEY, "fingerprint": FINGERPRINT,
                     "type": "ssh"}}
    ]  # fmt: skip


async def test_an_x509_key_pair_is_a_client_certificate(front: FrontEnd) -> None:
    """Type x509 (2.2) makes a PEM certificate whose fingerprint the list repeats."""
    token = await _user(front, "mia")

    made = await _create(front, token, "2.2", name="win", type="x509")
    listed = await front.call("GET", KEYPAIRS, token=token, headers=version("2.2"))

    assert made.status == 201, made.body
    assert made.body["keypair"]["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    (entry,) = listed.body["keypairs"]
    assert entry["keypair"]["type"] == "x509"
    assert entry["keypair"]["fingerprint"] == made.body["keypair"]["fingerprint"]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"name": "k", "public_key": "ssh-rsa JUNK nova@ubuntu"}, 400),
        ({"name": "k", "public_key": " "}, 400),
        ({"name": "k", "public_key": "ssh-rsa " + "A" * 2048 + " openstack@ubuntu"}, 400),
        ({"name": ""}, 400),
        ({"name": "keypair-".ljust(260, "0")}, 400),
        ({"name": r"key_/.\@:"}, 400),
        ({"name": "k", "type": "ssh"}, 400),  # a type needs 2.2
    ],
)  # fmt: skip
async def test_bad_key_pairs_are_refused_and_nothing_is_kept(
    front: FrontEnd, fields: dict[str, Any], status: int
) -> None:
    """Bad names, keys or fields are a 400 naming the problem; the list stays empty."""
    token = await _user(front, "mia")

    reply = await _create(front, token, **fields)

    assert reply.status == status, reply.body
    assert reply.body["badRequest"]["message"]
    listed = await front.call("GET", KEYPAIRS, token=token)
    assert listed.body["keypairs"] == []


async def test_a_duplicate_name_is_a_conflict_and_a_missing_one_is_not_found(
    front: FrontEnd,
) -> None:
    """The second key pair of one name is 409; another user may use the name; 404 after delete."""
    mia, sam = await _user(front, "mia"), await _user(front, "sam")

    first = await _create(front, mia, name="k", public_key=PUBLIC_KEY)
    again = await _create(front, mia, name="k", public_key=PUBLIC_KEY)
    other = await _create(front, sam, name="k", public_key=PUBLIC_KEY)
    deleted = await front.call("DELETE", f"{KEYPAIRS}/k", token=mia)
    deleted_22 = await front.call("DELETE", f"{KEYPAIRS}/k", token=sam, headers=version("2.2"))
    gone = await front.call("DELETE", f"{KEYPAIRS}/k", token=mia)

    assert (first.status, again.status, other.status) == (200, 409, 200)
    assert (deleted.status, deleted_22.status, gone.status) == (202, 204, 404)


async def test_a_user_has_at_most_key_pairs_quota(front: FrontEnd) -> None:
    """The fourth key pair of a user ([quota] key_pairs = 3) is a 403; another user is free."""
    mia, sam = await _user(front, "mia"), await _user(front, "sam")

    made = [await _create(front, mia, name=f"k{i}", public_key=PUBLIC_KEY) for i in range(4)]
    other = await _create(front, sam, name="k0", public_key=PUBLIC_KEY)

    assert [r.status for r in made] == [200, 200, 200, 403]
    assert "key pairs" in made[3].body["forbidden"]["message"]
    assert other.status == 200


async def test_key_pairs_are_paged_by_name_from_2_35(front: FrontEnd) -> None:
    """limit and marker (a name) page the list from 2.35, with a next link; before, all."""
    token = await _user(front, "mia")
    for name in ("c", "a", "b"):
        await _create(front, token, name=name, public_key=PUBLIC_KEY)

    first = await front.call("GET", f"{KEYPAIRS}?limit=2", token=token, headers=version("2.35"))
    rest = await front.call("GET", f"{KEYPAIRS}?marker=b", token=token, headers=version("2.35"))
    old = await front.call("GET", f"{KEYPAIRS}?limit=2", token=token)
    bad = await front.call("GET", f"{KEYPAIRS}?marker=zz", token=token, headers=version("2.35"))

    assert [k["keypair"]["name"] for k in first.body["keypairs"]] == ["a", "b"]
    assert "marker=b" in first.body["keypairs_links"][0]["href"]
    assert [k["keypair"]["name"] for k in rest.body["keypairs"]] == ["c"]
    assert len(old.body["keypairs"]) == 3 and "keypairs_links" not in old.body
    assert bad.status == 400


async def test_an_admin_manages_another_users_key_pairs_from_2_10(front: FrontEnd) -> None:
    """From 2.10 an admin names a user_id; a member naming another user is refused (403)."""
    mia = await _user(front, "mia")
    sam = await _user(front, "sam")
    admin = await front.token()
    mia_id = (await front.cloud.api.context_for(mia)).user_id
    v210 = version("2.10")

    made = await _create(front, admin, "2.10", name="for-mia", user_id=mia_id)
    mine = await front.call("GET", KEYPAIRS, token=mia)
    shown = await front.call(
        "GET", f"{KEYPAIRS}/for-mia?user_id={mia_id}", token=admin, headers=v210
    )
    meddling = await front.call("GET", f"{KEYPAIRS}?user_id={mia_id}", token=sam, headers=v210)
    admins_own = await front.call("GET", KEYPAIRS, token=admin, headers=v210)

    assert made.status == 201 and made.body["keypair"]["user_id"] == mia_id
    assert [k["keypair"]["name"] for k in mine.body["keypairs"]] == ["for-mia"]
    assert shown.status == 200 and shown.body["keypair"]["user_id"] == mia_id
    assert meddling.status == 403
    assert admins_own.body["keypairs"] == []


async def test_a_server_booted_with_a_key_shows_it_and_its_guest_has_the_public_key(
    front: FrontEnd,
) -> None:
    """key_name on create is shown on the server; the fake hypervisor's guest got the key."""
    token = await _user(front, "mia")
    await _create(front, token, name="mine", public_key=PUBLIC_KEY)

    server_id = await front.boot(token, "keyed", key_name="mine")
    shown = await front.call("GET", f"/compute/v2.1/servers/{server_id}", token=token)
    await front.call("DELETE", f"{KEYPAIRS}/mine", token=token)
    still = await front.call("GET", f"/compute/v2.1/servers/{server_id}", token=token)

    assert shown.body["server"]["key_name"] == "mine"
    guest = fake_driver(front.cloud.compute("compute1")).guests[server_id]
    assert (guest.key_name, guest.key_data) == ("mine", PUBLIC_KEY)
    assert still.body["server"]["key_name"] == "mine"  # the server keeps its copy


async def test_an_unknown_key_name_is_a_400_and_records_no_server(front: FrontEnd) -> None:
    """A key_name the user does not have is 400 (Nova's "Invalid key_name"); nothing is made."""
    token = await _user(front, "mia")
    body = {"server": {"name": "s", "imageRef": "cirros", "flavorRef": "1", "key_name": "none"}}

    reply = await front.call("POST", "/compute/v2.1/servers", token=token, json=body)
    listed = await front.call("GET", "/compute/v2.1/servers", token=token)

    assert reply.status == 400 and "key_name" in reply.body["badRequest"]["message"]
    assert listed.body["servers"] == []


async def test_a_generated_private_key_is_never_stored_or_logged(front: FrontEnd) -> None:
    """The private half of a generated key pair is in the answer only: not in the
    conductor's database files, not in any log line."""
    token = await _user(front, "mia")

    with capture_logs() as events:
        made = await _create(front, token, name="gen")
    private = made.body["keypair"]["private_key"]
    secret = "".join(private.splitlines()[1:-1])[:64]  # a stretch of the key's base64

    state = Path(front.cloud.config.database_path("conductor")).parent
    stored = b"".join(p.read_bytes() for p in state.glob("conductor.sqlite*"))
    assert stored and secret.encode() not in stored
    assert secret not in repr(events)
