"""The conductor's admin records over RPC: server groups and their quotas, user quotas, zones.

The quota tests race many requests for the last places: the checks run inside the
write that takes the place, so exactly the limit's worth succeed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.conductor.manager import ConductorManager
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound, QuotaExceeded
from nova_lite.service import Service
from nova_lite.testing import TransportFactory

ADMIN = RequestContext.admin(user_id="admin", project_id="admin")
ALICE = RequestContext(user_id="alice", project_id="p-alice", roles=("member",))
TINY = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)


@pytest.fixture
async def api(broker: TransportFactory, tmp_path: Path) -> AsyncIterator[ConductorAPI]:
    """A conductor whose projects may have 2 server groups of 2 members each."""
    transport = await broker.connect()
    config = Config.load(
        environ={},
        state_path=str(tmp_path),
        rpc={**broker.rpc_options(), "timeout": 15},
        quota={"instances": 50, "cores": 50, "server_groups": 2, "server_group_members": 2},
    )
    async with Service(ConductorManager(config, transport, "c1"), serializer=objects.serializer()):
        yield ConductorAPI(transport, config)


def group(policy: str = "anti-affinity") -> objects.ServerGroup:
    return objects.ServerGroup(
        uuid=str(uuid.uuid4()), name="g", project_id="p-alice", user_id="alice", policy=policy
    )


def instance(group_uuid: str | None = None, **values: Any) -> objects.Instance:
    """A new instance of alice's, in `group_uuid` if given."""
    hints = {"group": group_uuid} if group_uuid else {}
    defaults: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "display_name": "web",
        "project_id": "p-alice",
        "user_id": "alice",
        "flavor": TINY,
        "image_ref": None,
        "vm_state": vm_states.BUILDING,
        "task_state": task_states.SCHEDULING,
        "scheduler_hints": hints,
    }
    return objects.Instance(**{**defaults, **values})


async def test_racing_group_creates_take_exactly_the_quota(api: ConductorAPI) -> None:
    """Ten group creates racing for a quota of two: two groups, eight QuotaExceeded."""
    results = await asyncio.gather(
        *(api.server_group_create(ALICE, group()) for _ in range(10)), return_exceptions=True
    )

    assert sum(isinstance(r, objects.ServerGroup) for r in results) == 2
    assert all(isinstance(r, objects.ServerGroup | QuotaExceeded) for r in results)
    assert len(await api.server_group_list(ALICE)) == 2


async def test_racing_members_take_exactly_the_groups_places(api: ConductorAPI) -> None:
    """Ten creates racing into a group of two places: two instances, none of the others."""
    made = await api.server_group_create(ALICE, group())

    results = await asyncio.gather(
        *(api.create_instances(ALICE, [instance(made.uuid)]) for _ in range(10)),
        return_exceptions=True,
    )

    assert sum(isinstance(r, list) for r in results) == 2
    assert all(isinstance(r, list | QuotaExceeded) for r in results)
    members = (await api.server_group_get(ALICE, made.uuid)).members
    assert sorted(members) == sorted(
        i.uuid for i in await api.instance_get_all(ALICE, project_id="p-alice")
    )


async def test_a_deleted_member_frees_its_place_and_a_group_goes_alone(api: ConductorAPI) -> None:
    """A destroyed instance leaves its group; deleting the group keeps its instances."""
    made = await api.server_group_create(ALICE, group())
    first, second = instance(made.uuid), instance(made.uuid)
    await api.create_instances(ALICE, [first, second])
    with pytest.raises(QuotaExceeded, match="server_group_members"):
        await api.create_instances(ALICE, [instance(made.uuid)])

    await api.instance_destroy(ADMIN, first.uuid)
    third = instance(made.uuid)
    await api.create_instances(ALICE, [third])
    assert (await api.server_group_get(ALICE, made.uuid)).members == (second.uuid, third.uuid)
    await api.server_group_delete(ALICE, made.uuid)

    with pytest.raises(NotFound):
        await api.server_group_get(ALICE, made.uuid)
    assert (await api.instance_get(ALICE, second.uuid)).uuid == second.uuid


async def test_a_group_of_another_project_takes_no_member(api: ConductorAPI) -> None:
    """An instance hinting at another project's group is Invalid and not recorded."""
    theirs = objects.ServerGroup(
        uuid=str(uuid.uuid4()), name="g", project_id="p-bob", user_id="bob", policy="affinity"
    )
    await api.server_group_create(ADMIN, theirs)
    stray = instance(theirs.uuid)

    with pytest.raises(Invalid, match="server group"):
        await api.create_instances(ALICE, [stray])
    assert await api.instance_get_all(ALICE, project_id="p-alice") == []


async def test_a_users_own_limit_holds_within_the_project(api: ConductorAPI) -> None:
    """A user limited to one instance gets one; another user of the project still may."""
    await api.quota_update(ADMIN, "p-alice", {"instances": 1}, user_id="alice")

    await api.create_instances(ALICE, [instance()])
    with pytest.raises(QuotaExceeded, match="instances"):
        await api.create_instances(ALICE, [instance()])
    await api.create_instances(ALICE, [instance(user_id="carol")])

    usage = (await api.quota_get(ALICE, "p-alice", user_id="alice"))["usage"]
    assert usage["instances"] == 1
    assert (await api.quota_get(ALICE, "p-alice"))["usage"]["instances"] == 2


async def test_zones_come_from_aggregates_and_a_host_has_one(api: ConductorAPI) -> None:
    """host_zones maps aggregated hosts; a second zone for a host, or a taken name, is refused."""
    east = await api.aggregate_create(ADMIN, "east", availability_zone="az-east")
    west = await api.aggregate_create(ADMIN, "west", availability_zone="az-west")
    plain = await api.aggregate_create(ADMIN, "ssd")
    await api.aggregate_add_host(ADMIN, east.id, "h1")
    await api.aggregate_add_host(ADMIN, plain.id, "h1")
    await api.aggregate_add_host(ADMIN, west.id, "h2")

    with pytest.raises(Invalid, match="availability zone"):
        await api.aggregate_add_host(ADMIN, west.id, "h1")
    with pytest.raises(Conflict):
        await api.aggregate_create(ADMIN, "EAST")
    with pytest.raises(Invalid, match="availability zone"):
        await api.aggregate_update(ADMIN, plain.id, metadata={"availability_zone": "az-west"})
    assert await api.host_zones(ALICE) == {"h1": "az-east", "h2": "az-west"}
