"""The everyday ``openstack`` commands of a getting-started guide: a key pair, a server with it,
its properties (metadata), and the server shown with both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from nova_lite.testing import CloudFactory, fake_driver
from tests.http_fixtures import FrontEnd
from tests.test_http_cli import openstack

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud on the in-memory broker behind the HTTP front end."""
    front = await FrontEnd.start(await clouds.start(computes=1))
    try:
        yield front
    finally:
        await front.aclose()


async def test_a_key_pair_a_server_with_it_and_its_properties(
    front: FrontEnd, tmp_path: Path
) -> None:
    """``keypair create``, ``server create --key-name``, ``server set --property`` and
    ``server show`` work, and the guest was given the key pair's public key."""

    async def cli(*args: str) -> Any:
        return await openstack(front, tmp_path, *args)

    private = tmp_path / "mine.pem"
    keypair = await cli("keypair", "create", "--private-key", str(private), "mine", "-f", "json")
    listed = await cli("keypair", "list", "-f", "json")
    created = await cli(
        "server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--network", "private",
        "--key-name", "mine", "--wait", "-f", "json", "web",
    )  # fmt: skip
    await cli("server", "set", "--property", "role=web", "--property", "tier=1", "web")
    shown = await cli("server", "show", "web", "-f", "json")
    key = await cli("keypair", "show", "mine", "-f", "json")

    assert keypair["name"] == "mine" and keypair["fingerprint"] == key["fingerprint"]
    # The client makes an Ed25519 key itself and imports its public half.
    mine = serialization.load_ssh_private_key(private.read_bytes(), password=None)
    public = mine.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert [k["Name"] for k in listed] == ["mine"]
    assert created["status"] == "ACTIVE" and shown["key_name"] == "mine"
    assert shown["properties"] == {"role": "web", "tier": "1"}
    guest = fake_driver(front.cloud.compute("compute1")).guests[created["id"]]
    assert guest.key_name == "mine" and (guest.key_data or "").startswith(public.decode())
