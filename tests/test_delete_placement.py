"""A delete racing the placement of its server: the host that got the build undoes it.

The API reads a server, then marks it ``deleting``. A conductor may place the
server on a host in between: the read saw no host, the mark finds one, and that
host's build is already under way. The delete must then go through that host (which
undoes its build, claim included) rather than be done without it: a server reported
DELETED while a host still holds its claim is the leak
``test_a_delete_during_the_build_wins[scheduling]`` caught once in a while.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nova_lite.compute import task_states
from nova_lite.testing import (
    WAIT,
    CloudFactory,
    assert_audit_clean,
    assert_nothing_leaked,
    conductor_of,
    hold,
)

HOSTS = ("compute1", "compute2", "compute3")


def _marking(state: str) -> Any:
    """A `hold` match: an instance_update that sets task_state to `state`."""

    def match(ctx: Any, uuid: str, values: dict[str, Any], **kwargs: Any) -> bool:
        return values.get("task_state") == state

    return match


def _placing(ctx: Any, uuid: str, values: dict[str, Any], **kwargs: Any) -> bool:
    return "host" in values


async def test_a_delete_whose_server_is_placed_meanwhile_goes_through_its_host(
    memory_clouds: CloudFactory,
) -> None:
    """Read with no host, marked once placed: the server stays until its host has undone it."""
    cloud = await memory_clouds.start()
    admin = await cloud.login_admin()
    computes = [cloud.compute(h).conductor for h in HOSTS]
    records = conductor_of(cloud).builds.records
    with (
        hold([records], "instance_update", match=_placing) as placing,
        hold([cloud.api.conductor], "instance_update", match=_marking("deleting")) as marking,
        hold(computes, "instance_update", match=_marking(task_states.NETWORKING)) as building,
    ):
        [server] = await admin.servers.create("web", flavor="m1.tiny", image="cirros")
        await placing.wait_reached()
        delete = asyncio.create_task(admin.servers.delete(server.id))
        await marking.wait_reached()  # the delete read the server with no host
        placing.release()
        await building.wait_reached()  # placed: its host claimed and goes on building
        marking.release()
        await asyncio.wait_for(delete, WAIT)

        # The host's build is still held: the server is not gone yet.
        assert (await admin.servers.get(server.id)).task_state == task_states.DELETING
        building.release()
        deleted = await admin.servers.wait_for(server.id, "DELETED", timeout=WAIT)

    assert deleted.status == "DELETED"
    await assert_nothing_leaked(cloud, admin, [server.id])
    await assert_audit_clean(cloud)
