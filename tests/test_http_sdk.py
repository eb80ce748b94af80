"""openstacksdk, unchanged, against the HTTP front end of an in-process cloud.

The cloud runs on the in-memory broker on the test's event loop; openstacksdk is
blocking, so each test runs its client code in a thread (``asyncio.to_thread``)
while the loop keeps serving. The SDK polls for statuses itself (its own
``wait_for_*`` helpers, at a short interval); the test never sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import openstack
import openstack.connection
import openstack.exceptions
import pytest

from nova_lite.testing import PASSWORD, WAIT, CloudFactory, add_user
from tests.http_fixtures import FrontEnd

T = TypeVar("T")

pytestmark = [
    pytest.mark.parametrize("broker", ["memory"], indirect=True),
    # openstacksdk warns about its own internals (metrics settings, resource helpers).
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning"),
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK60Warning"),
]

POLL = {"interval": 0.05, "wait": WAIT}


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A two-host cloud on the in-memory broker behind the HTTP front end."""
    front = await FrontEnd.start(await clouds.start(computes=2))
    try:
        yield front
    finally:
        await front.aclose()


def connect(front: FrontEnd, user: str = "admin", project: str = "admin") -> Any:
    """An openstacksdk connection, configured only by these arguments."""
    return openstack.connect(
        auth_url=front.url + "/v3",
        username=user,
        password=PASSWORD,
        project_name=project,
        user_domain_name="Default",
        project_domain_name="Default",
        load_yaml_config=False,
        load_envvars=False,
    )


async def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking SDK code in a thread while the cloud runs on this loop."""
    return await asyncio.to_thread(fn)


async def test_openstacksdk_boots_acts_on_and_deletes_a_server(front: FrontEnd) -> None:
    """The SDK finds image, flavor and network, boots a server to ACTIVE, stops, starts,
    reboots, pauses and unpauses it, reads its instance actions and deletes it.
    """

    def scenario() -> dict[str, Any]:
        conn = connect(front)
        try:
            image = conn.image.find_image("cirros", ignore_missing=False)
            flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
            network = conn.network.find_network("private", ignore_missing=False)
            server = conn.compute.create_server(
                name="sdk-vm",
                image_id=image.id,
                flavor_id=flavor.id,
                networks=[{"uuid": network.id}],
            )
            server = conn.compute.wait_for_server(server, **POLL)
            booted = (server.status, server.flavor.original_name, dict(server.addresses))
            for act, status in (
                (conn.compute.stop_server, "SHUTOFF"),
                (conn.compute.start_server, "ACTIVE"),
                (lambda s: conn.compute.reboot_server(s, "SOFT"), "ACTIVE"),
                (conn.compute.pause_server, "PAUSED"),
                (conn.compute.unpause_server, "ACTIVE"),
            ):
                act(server)
                # The action set a task before answering: a fresh read shows it.
                server = conn.compute.get_server(server.id)
                server = conn.compute.wait_for_server(server, status=status, **POLL)
            actions = list(conn.compute.server_actions(server))
            stop = next(a for a in actions if a.action == "stop")
            detail = conn.compute.get_server_action(stop.request_id, server)
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, **POLL)
            return {"booted": booted, "actions": actions, "stop": detail}
        finally:
            conn.close()

    result = await in_thread(scenario)

    status, flavor, addresses = result["booted"]
    assert (status, flavor, list(addresses)) == ("ACTIVE", "m1.tiny", ["private"])
    names = [a.action for a in result["actions"]]
    assert names == ["unpause", "pause", "reboot", "start", "stop", "create"]
    assert result["stop"].events and all(e.result == "Success" for e in result["stop"].events)


async def test_openstacksdk_sees_openstack_faults_as_its_exceptions(front: FrontEnd) -> None:
    """Invalid state, missing servers and forbidden creates reach the SDK as its
    ConflictException, NotFoundException and ForbiddenException.
    """
    admin_session = await front.cloud.login_admin()
    await add_user(front.cloud, admin_session, "rita", project="demo", role="reader")
    server_id = await front.boot(await front.token())

    def scenario() -> list[type[BaseException]]:
        raised: list[type[BaseException]] = []
        admin, reader = connect(front), connect(front, "rita", "demo")
        try:
            attempts: list[Callable[[], object]] = [
                lambda: admin.compute.start_server(server_id),
                lambda: reader.compute.get_server(server_id),
                lambda: reader.compute.create_server(
                    name="x", image_id="cirros", flavor_id="1", networks="auto"
                ),
            ]
            for attempt in attempts:
                try:
                    attempt()
                except openstack.exceptions.HttpException as exc:
                    raised.append(type(exc))
            return raised
        finally:
            admin.close()
            reader.close()

    raised = await in_thread(scenario)

    assert raised == [
        openstack.exceptions.ConflictException,
        openstack.exceptions.NotFoundException,
        openstack.exceptions.ForbiddenException,
    ]


# Below microversion 2.57 limits include maxPersonality, which the SDK warns is obsolete.
@pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedFieldWarning")
async def test_openstacksdk_lists_every_service(front: FrontEnd) -> None:
    """Through the catalog the SDK reaches compute, image, network, block storage and
    identity, and reads limits and hypervisors.
    """

    def scenario() -> dict[str, Any]:
        conn = connect(front)
        try:
            return {
                "flavors": [f.name for f in conn.compute.flavors()],
                "images": [i.name for i in conn.image.images()],
                "networks": [n.name for n in conn.network.networks()],
                "subnets": [s.cidr for s in conn.network.subnets()],
                "volumes": list(conn.block_storage.volumes()),
                "projects": [p.name for p in conn.identity.projects()],
                "hypervisors": [h.name for h in conn.compute.hypervisors()],
                "limits": conn.compute.get_limits().absolute.instances,
            }
        finally:
            conn.close()

    seen = await in_thread(scenario)

    assert seen["flavors"][:1] == ["m1.tiny"] and seen["images"] == ["cirros"]
    assert seen["networks"] == ["private"] and seen["subnets"] == ["10.0.0.0/20"]
    assert seen["volumes"] == [] and seen["projects"] == ["admin"]
    assert seen["hypervisors"] == ["compute1", "compute2"] and seen["limits"] == 10
