"""How the policy matrix calls each generic volume group route (tests/test_policy_matrix.py).

Each builder returns the keyword arguments of the matrix's ``Call`` for one caller,
at volume microversion 3.20 (the newest any group route needs). A route that changes
or deletes something acts on a fresh group type, group or group snapshot, made over
RPC (types as the administrator, groups and their snapshots as the owner's member),
so one caller's change never decides another's answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nova_lite.context import RequestContext
from nova_lite.volume.rpcapi import VolumeAPI
from nova_lite.volume.schema import DEFAULT_TYPE_ID

__all__ = ["GROUP_ACTION_BUILDERS", "GROUP_BUILDERS"]

Request = dict[str, Any]
GroupBuilder = Callable[[Any, str], Awaitable[Request]]
GroupActionBuilder = Callable[[Any, str, str], Awaitable[Request]]
V320 = {"OpenStack-API-Version": "volume 3.20"}


def _api(world: Any) -> VolumeAPI:
    api: VolumeAPI = world.cloud.api.volume
    return api


def _admin(world: Any) -> RequestContext:
    ctx: RequestContext = world.contexts["admin"]
    return ctx


def _request(world: Any, rest: str, body: Any = None) -> Request:
    return {"path": f"/volume/v3/{world.owner}{rest}", "json": body, "headers": dict(V320)}


async def _fresh_type(world: Any) -> str:
    created = await _api(world).group_type_create(
        _admin(world), world.unique("group-type"), group_specs={"k": "v"}
    )
    return str(created["id"])


async def _fresh_group(world: Any, *, volumes: int = 0) -> str:
    group_type = await _fresh_type(world)
    group = await _api(world).group_create(world.member, group_type, [DEFAULT_TYPE_ID])
    for _ in range(volumes):
        await _api(world).create(world.member, 1, name="g", group_id=group["id"])
    return str(group["id"])


async def _fresh_group_snapshot(world: Any) -> str:
    group = await _fresh_group(world, volumes=1)
    snapshot = await _api(world).group_snapshot_create(world.member, group, name="gs")
    return str(snapshot["id"])


def _own(make: Callable[[Any], Awaitable[str]] | None, rest: str) -> GroupBuilder:
    """A route without a rule (Cinder's group type reads), in the caller's own project."""

    async def build(world: Any, role: str) -> Request:
        ctx = world.contexts.get(role)
        project = ctx.project_id if ctx is not None else world.owner
        tail = rest if make is None else rest.format(await make(world))
        return {"path": f"/volume/v3/{project}{tail}", "headers": dict(V320)}

    return build


def _fixed(rest: str) -> GroupBuilder:
    async def build(world: Any, role: str) -> Request:
        return _request(world, rest)

    return build


def _on(make: Callable[[Any], Awaitable[str]], rest: str, body: Any = None) -> GroupBuilder:
    async def build(world: Any, role: str) -> Request:
        return _request(world, rest.format(await make(world)), body)

    return build


async def _create_type(world: Any, role: str) -> Request:
    return _request(world, "/group_types", {"group_type": {"name": world.unique("group-type")}})


async def _create_group(world: Any, role: str) -> Request:
    body = {"group": {"group_type": await _fresh_type(world), "volume_types": [DEFAULT_TYPE_ID]}}
    return _request(world, "/groups", body)


async def _from_source(world: Any, role: str) -> Request:
    body = {"create-from-src": {"source_group_id": await _fresh_group(world, volumes=1)}}
    return _request(world, "/groups/action", body)


async def _create_snapshot(world: Any, role: str) -> Request:
    body = {"group_snapshot": {"group_id": await _fresh_group(world, volumes=1)}}
    return _request(world, "/group_snapshots", body)


async def _group_action(world: Any, role: str, action: str) -> Request:
    args = {"delete-volumes": True} if action == "delete" else {"status": "error"}
    group = await _fresh_group(world, volumes=1)
    return _request(world, f"/groups/{group}/action", {action: args})


async def _group_snapshot_action(world: Any, role: str, action: str) -> Request:
    snapshot = await _fresh_group_snapshot(world)
    return _request(world, f"/group_snapshots/{snapshot}/action", {action: {"status": "error"}})


GROUP_BUILDERS: dict[str, GroupBuilder] = {
    "volume_list_group_types": _own(None, "/group_types?is_public=None"),
    "volume_create_group_type": _create_type,
    "volume_show_group_type": _own(_fresh_type, "/group_types/{}"),
    "volume_update_group_type": _on(
        _fresh_type, "/group_types/{}", {"group_type": {"description": "d"}}
    ),
    "volume_delete_group_type": _on(_fresh_type, "/group_types/{}"),
    "volume_list_group_specs": _on(_fresh_type, "/group_types/{}/group_specs"),
    "volume_create_group_specs": _on(
        _fresh_type, "/group_types/{}/group_specs", {"group_specs": {"a": "b"}}
    ),
    "volume_show_group_spec": _on(_fresh_type, "/group_types/{}/group_specs/k"),
    "volume_update_group_spec": _on(_fresh_type, "/group_types/{}/group_specs/k", {"k": "w"}),
    "volume_delete_group_spec": _on(_fresh_type, "/group_types/{}/group_specs/k"),
    "volume_list_groups": _fixed("/groups"),
    "volume_list_groups_detail": _fixed("/groups/detail"),
    "volume_create_group": _create_group,
    "volume_create_group_from_source": _from_source,
    "volume_show_group": _on(_fresh_group, "/groups/{}"),
    "volume_update_group": _on(_fresh_group, "/groups/{}", {"group": {"name": "renamed"}}),
    "volume_list_group_snapshots": _fixed("/group_snapshots"),
    "volume_list_group_snapshots_detail": _fixed("/group_snapshots/detail"),
    "volume_create_group_snapshot": _create_snapshot,
    "volume_show_group_snapshot": _on(_fresh_group_snapshot, "/group_snapshots/{}"),
    "volume_delete_group_snapshot": _on(_fresh_group_snapshot, "/group_snapshots/{}"),
}
GROUP_ACTION_BUILDERS: dict[str, GroupActionBuilder] = {
    "volume_group_action": _group_action,
    "volume_group_snapshot_action": _group_snapshot_action,
}
