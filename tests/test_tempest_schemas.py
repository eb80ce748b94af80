"""Every server-surface response body fits the JSON schema Tempest ships for its microversion.

Tempest validates each response against ``tempest/lib/api_schema/response/compute/``,
choosing the schema by the client's ``schema_versions_info`` for the microversion
asked. This test calls each route of the server surface (servers shown, listed,
created, updated and rebuilt; key pairs; limits; addresses; metadata; tags; the
password; the image proxy) at every microversion where some schema changes, as an
administrator and as a member, and hands the answers to Tempest's own validator
(its Draft 4 validator and format checker, its schema lookup) in Tempest's virtual
environment, so nothing of Tempest is copied here. Without that environment
(``scripts/tempest --install``) the test skips; with ``CI=true`` it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from nova_lite.testing import CloudFactory, add_user, unlimited_quota
from tests.conftest import IN_CI
from tests.http_fixtures import FrontEnd

REPO = Path(__file__).resolve().parent.parent
TEMPEST_VENV = Path(os.environ.get("TEMPEST_VENV", REPO / ".venv-tempest")).absolute()
COMPUTE = "/compute/v2.1"
# Every microversion (up to nova_lite's 2.79) where a schema of these routes changes.
VERSIONS = ("2.1", "2.2", "2.3", "2.9", "2.16", "2.19", "2.26", "2.35", "2.36", "2.39", "2.45",
            "2.47", "2.48", "2.54", "2.57", "2.63", "2.71", "2.73", "2.75", "2.79")  # fmt: skip
PUBLIC_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCsNe3/1ILNCqFyfYWDeTKLD6jEXC2OQHLmietMWW+/vd"
    "aZq7KZEwO0jhglaFjU1mpqq4Gz5RX156sCTNM9vRbwKAxfsdF9laBYVsex3m3Wmui3uYrKyumsoJn2g9GNnG1P"
    "I1mrVjZ61i0GY3khna+wzlTpCCmy5HNlrmbj3XLqBUpipTOXmsnr4sChzC53KCd8LXuwc1i/CZPvF+3XipvAgFSE"
    "53pCtLOeB1kYMOBaiUPLQTWXR3JpckqFIQwhIH0zoHlJvZE8hh90XcPojYN56tI0OlrGqojbediJYD0rUsJu4we"
    "Zpbn8vilb3JuDY+jwssnSA8wzBx3A/8y9Pp1B nova@ubuntu"
)

pytestmark = [pytest.mark.tempest, pytest.mark.parametrize("broker", ["memory"], indirect=True)]

# Run by Tempest's Python: each case names a client and its schema (looked up for the
# case's microversion as the client does) or a fixed schema module; the answer is
# checked with Tempest's validate_response. Prints the failures as JSON.
CHECKER = r"""
import importlib, json, sys
from tempest.lib.common import rest_client
from tempest.lib.services.compute import base_compute_client

CLIENTS, SCHEMAS = "tempest.lib.services.compute.", "tempest.lib.api_schema.response.compute."

class Response(dict):
    def __init__(self, status, headers):
        super().__init__(headers)
        self.status = status

failures = []
for case in json.load(sys.stdin):
    base_compute_client.COMPUTE_MICROVERSION = case["version"]
    if "client" in case:
        module, name = case["client"].rsplit(".", 1)
        client = getattr(importlib.import_module(CLIENTS + module), name)
        versions = client.schema_versions_info
        schemas = base_compute_client.BaseComputeClient.get_schema(None, versions)
    else:
        schemas = importlib.import_module(SCHEMAS + case["module"])
    schema = getattr(schemas, case["schema"])
    try:
        rest_client.RestClient.validate_response(
            schema, Response(case["status"], case["headers"]), case["body"]
        )
    except Exception as exc:
        label, version = case["label"], case["version"]
        failures.append({"case": label, "version": version, "error": str(exc)[:600]})
print(json.dumps(failures))
"""


@attrs.frozen(kw_only=True)
class Case:
    """One answer to check, and the Tempest schema that checks it."""

    label: str
    version: str
    status: int
    body: Any
    schema: str
    client: str | None = None  # e.g. servers_client.ServersClient: versioned lookup
    module: str | None = None  # e.g. v2_1.servers: a fixed module
    headers: dict[str, str] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        where = {"client": self.client} if self.client else {"module": self.module}
        return {
            "label": self.label,
            "version": self.version,
            "status": self.status,
            "body": self.body,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "schema": self.schema,
            **where,
        }


@pytest.fixture(scope="module")
def tempest_python() -> Path:
    """Tempest's interpreter; skips (in CI, fails) when there is none."""
    python = TEMPEST_VENV / "bin" / "python"
    if not python.exists():
        message = f"No Tempest at {TEMPEST_VENV} (scripts/tempest --install makes it)"
        if IN_CI:
            pytest.fail(message + " (CI=true: a missing Tempest is a failure).")
        pytest.skip(message)
    return python


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


SERVERS = "servers_client.ServersClient"


class Recorder:
    """Calls routes at one microversion and records each answer as a `Case`."""

    def __init__(self, front: FrontEnd, cases: list[Case]) -> None:
        self.front = front
        self.cases = cases

    async def call(
        self,
        token: str,
        version: str,
        method: str,
        path: str,
        *,
        schema: str,
        client: str | None = SERVERS,
        module: str | None = None,
        label: str = "",
        json: Any = None,
    ) -> Any:
        headers = {"OpenStack-API-Version": f"compute {version}"}
        reply = await self.front.call(
            method, COMPUTE + path, token=token, json=json, headers=headers
        )
        assert reply.status < 400, (method, path, version, reply.status, reply.body)
        self.cases.append(
            Case(
                label=label or f"{method} {path}",
                version=version,
                status=reply.status,
                body=reply.body,
                schema=schema,
                client=None if module else client,
                module=module,
                headers=dict(reply.headers),
            )
        )
        return reply.body


async def _server_calls(rec: Recorder, token: str, who: str, version: str, server: str) -> None:
    """The server routes, as `who` (admin or member)."""
    at = version
    await rec.call(token, at, "GET", f"/servers/{server}", schema="get_server", label=f"show {who}")
    await rec.call(token, at, "GET", "/servers", schema="list_servers", label=f"list {who}")
    await rec.call(
        token, at, "GET", "/servers/detail", schema="list_servers_detail", label=f"detail {who}"
    )
    body = {"server": {"name": "renamed", "accessIPv4": "1.1.1.1"}}
    await rec.call(
        token, at, "PUT", f"/servers/{server}", json=body, schema="update_server",
        label=f"update {who}",
    )  # fmt: skip


async def _record_calls(rec: Recorder, token: str, version: str, server: str) -> None:
    """Addresses, metadata, tags and the password of a server."""
    v21 = "v2_1.servers"
    await rec.call(token, version, "GET", f"/servers/{server}/ips", schema="list_addresses",
                   module=v21)  # fmt: skip
    await rec.call(token, version, "GET", f"/servers/{server}/ips/private",
                   schema="list_addresses_by_network", module=v21)  # fmt: skip
    metadata = f"/servers/{server}/metadata"
    await rec.call(token, version, "POST", metadata, json={"metadata": {"a": "1"}},
                   schema="update_server_metadata", module=v21)  # fmt: skip
    await rec.call(token, version, "PUT", metadata, json={"metadata": {"a": "2"}},
                   schema="set_server_metadata", module=v21)  # fmt: skip
    await rec.call(token, version, "GET", metadata, schema="list_server_metadata", module=v21)
    await rec.call(token, version, "PUT", metadata + "/a", json={"meta": {"a": "3"}},
                   schema="set_show_server_metadata_item", module=v21)  # fmt: skip
    await rec.call(token, version, "GET", metadata + "/a", schema="set_show_server_metadata_item",
                   module=v21)  # fmt: skip
    await rec.call(token, version, "GET", f"/servers/{server}/os-server-password",
                   schema="show_password", module=v21)  # fmt: skip
    if _at_least(version, "2.26"):
        tags = f"/servers/{server}/tags"
        await rec.call(token, version, "PUT", tags, json={"tags": ["a", "b"]},
                       schema="update_all_tags")  # fmt: skip
        await rec.call(token, version, "GET", tags, schema="list_tags")


async def _keypair_calls(rec: Recorder, token: str, version: str) -> None:
    keypairs, name = "keypairs_client.KeyPairsClient", f"k-{version.replace('.', '-')}"
    body = {"keypair": {"name": name, "public_key": PUBLIC_KEY}}
    await rec.call(token, version, "POST", "/os-keypairs", json=body, schema="create_keypair",
                   client=keypairs)  # fmt: skip
    await rec.call(token, version, "GET", f"/os-keypairs/{name}", schema="get_keypair",
                   client=keypairs)  # fmt: skip
    await rec.call(token, version, "GET", "/os-keypairs", schema="list_keypairs", client=keypairs)
    await rec.call(token, version, "GET", "/limits", schema="get_limit",
                   client="limits_client.LimitsClient")  # fmt: skip


async def _image_calls(rec: Recorder, token: str, version: str, image: str) -> None:
    if _at_least(version, "2.36"):
        return
    v21 = "v2_1.images"
    await rec.call(token, version, "GET", "/images", schema="list_images", module=v21)
    await rec.call(token, version, "GET", "/images/detail", schema="list_images_details",
                   module=v21)  # fmt: skip
    await rec.call(token, version, "GET", f"/images/{image}", schema="get_image", module=v21)
    await rec.call(token, version, "GET", f"/images/{image}/metadata", schema="image_metadata",
                   module=v21)  # fmt: skip


def _at_least(version: str, other: str) -> bool:
    return tuple(map(int, version.split("."))) >= tuple(map(int, other.split(".")))


async def _rebuild(rec: Recorder, token: str, version: str, server: str, image: str) -> None:
    args: dict[str, Any] = {"imageRef": image, "adminPass": "Secret-1", "accessIPv6": "::1"}
    if _at_least(version, "2.57"):
        args["user_data"] = "ZWNobyBoaQ=="
    await rec.call(token, version, "POST", f"/servers/{server}/action", json={"rebuild": args},
                   schema="rebuild_server_with_admin_pass", label="rebuild")  # fmt: skip
    await rec.front.wait(token, server, "ACTIVE")


async def _create(rec: Recorder, token: str, version: str, image: str) -> None:
    server = {"name": f"new-{version}", "imageRef": image, "flavorRef": "1",
              "networks": "auto", "accessIPv4": "2.2.2.2", "OS-DCF:diskConfig": "AUTO"}  # fmt: skip
    await rec.call(token, version, "POST", "/servers", json={"server": server},
                   schema="create_server_with_admin_pass", module="v2_1.servers")  # fmt: skip


async def test_every_response_fits_tempests_schema_for_its_microversion(
    front: FrontEnd, tempest_python: Path
) -> None:
    """Show, list, detail, update, rebuild, create, key pairs, limits, ips, metadata, tags,
    password and images, at each microversion, fit Tempest's schema (admin and member)."""
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "mia", project="demo")
    member = await front.token("mia", "demo")
    admin_token = await front.token()
    await unlimited_quota(
        front.cloud, admin, (await front.cloud.api.context_for(member)).project_id
    )
    image = await front.image_id()
    server = await front.boot(member, "web", accessIPv6="::babe:202:202")
    cases: list[Case] = []
    rec = Recorder(front, cases)
    for version in VERSIONS:
        for who, token in (("admin", admin_token), ("member", member)):
            await _server_calls(rec, token, who, version, server)
        await _record_calls(rec, member, version, server)
        await _keypair_calls(rec, member, version)
        await _image_calls(rec, member, version, image)
        await _rebuild(rec, member, version, server, image)
        await _create(rec, member, version, image)

    canary = attrs.evolve(cases[0], label="canary: a server without its id", body={"server": {}})
    failures = _check(tempest_python, [*cases, canary])

    assert len(cases) > 20 * len(VERSIONS)
    assert [f["case"] for f in failures if f["case"] == canary.label] == [canary.label]
    failures = [f for f in failures if f["case"] != canary.label]
    assert failures == [], json.dumps(failures, indent=1)


def _check(python: Path, cases: list[Case]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(python), "-c", CHECKER],
        input=json.dumps([c.to_json() for c in cases]),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    failures: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return failures


async def _proxy_calls(rec: Recorder, token: str, version: str) -> None:
    """The volume proxy and the extension list, at one microversion below 2.36."""
    volumes, snapshots = "v2_1.volumes", "v2_1.snapshots"
    body = {"volume": {"size": 1, "display_name": f"v-{version}", "metadata": {"a": "b"}}}
    volume = await rec.call(token, version, "POST", "/os-volumes", json=body,
                            schema="create_get_volume", module=volumes)  # fmt: skip
    path = f"/os-volumes/{volume['volume']['id']}"
    await rec.call(token, version, "GET", path, schema="create_get_volume", module=volumes)
    for listed in ("/os-volumes", "/os-volumes/detail"):
        await rec.call(token, version, "GET", listed, schema="list_volumes", module=volumes)
    body = {"snapshot": {"volume_id": volume["volume"]["id"], "display_name": "s"}}
    snapshot = await rec.call(token, version, "POST", "/os-snapshots", json=body,
                              schema="create_get_snapshot", module=snapshots)  # fmt: skip
    await rec.call(token, version, "GET", f"/os-snapshots/{snapshot['snapshot']['id']}",
                   schema="create_get_snapshot", module=snapshots)  # fmt: skip
    await rec.call(token, version, "GET", "/os-snapshots/detail", schema="list_snapshots",
                   module=snapshots)  # fmt: skip
    await rec.call(token, version, "DELETE", f"/os-snapshots/{snapshot['snapshot']['id']}",
                   schema="delete_snapshot", module=snapshots)  # fmt: skip
    await rec.call(token, version, "DELETE", path, schema="delete_volume", module=volumes)
    await rec.call(token, version, "GET", "/extensions", schema="list_extensions",
                   module="v2_1.extensions")  # fmt: skip


async def test_the_volume_proxy_and_extensions_fit_tempests_schemas(
    front: FrontEnd, tempest_python: Path
) -> None:
    """os-volumes, os-snapshots (create, show, list, delete) and /extensions, at 2.1 and
    2.35, fit the schemas Tempest's volume, snapshot and extension clients check."""
    admin = await front.cloud.login_admin()
    await add_user(front.cloud, admin, "mia", project="demo")
    member = await front.token("mia", "demo")
    cases: list[Case] = []
    rec = Recorder(front, cases)
    for version in ("2.1", "2.35"):
        await _proxy_calls(rec, member, version)

    failures = _check(tempest_python, cases)

    assert len(cases) == 2 * 10
    assert failures == [], json.dumps(failures, indent=1)
