"""Block Storage API v3 (Cinder): generic volume groups (3.13) and group snapshots (3.14).

Below each API's microversion its routes are not found, as in Cinder: groups 3.13,
a group from a source and group snapshots 3.14, a group snapshot's reset 3.19, a
group's 3.20. A group shows its source at 3.14, its replication status at 3.38, and
its project to administrators at 3.58; ``list_volume=true`` (3.25) adds its volumes.
Creates, updates, deletes and actions answer 202.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import PREFIX, accepted, iso, project_context, query_bool
from nova_lite.api.http.volume_group_types import since
from nova_lite.api.http.volume_version import version_of
from nova_lite.exceptions import Invalid

__all__ = ["GROUP_ACTIONS", "GROUP_SNAPSHOT_ACTIONS", "routes"]

routes = web.RouteTableDef()
GROUPS = PREFIX + "/groups"
SNAPSHOTS = PREFIX + "/group_snapshots"
#: Each action of ``POST .../groups/{id}/action`` and its rule.
GROUP_ACTIONS = {"delete": "group:delete", "reset_status": "group:reset_status"}
GROUP_SNAPSHOT_ACTIONS = {"reset_status": "group:reset_group_snapshot_status"}


def _time(value: str) -> str | None:
    return iso(datetime.datetime.fromisoformat(value))


def _is_admin(request: web.Request) -> bool:
    return project_context(request).is_admin


def _group_view(request: web.Request, group: dict[str, Any]) -> dict[str, Any]:
    version = version_of(request)
    view = {
        key: group[key]
        for key in ("id", "name", "description", "status", "availability_zone", "group_type")
    }
    view["volume_types"] = group["volume_types"]
    view["created_at"] = _time(group["created_at"])
    if version.at_least("3.14"):
        view["group_snapshot_id"] = group["group_snapshot_id"]
        view["source_group_id"] = group["source_group_id"]
    if version.at_least("3.25") and query_bool(request, "list_volume"):
        view["volumes"] = group["volumes"]
    if version.at_least("3.38"):
        view["replication_status"] = "disabled"
    if version.at_least("3.58") and _is_admin(request):
        view["project_id"] = group["project_id"]
    return view


def _brief(group: dict[str, Any]) -> dict[str, Any]:
    return {"id": group["id"], "name": group["name"]}


def _all_projects(request: web.Request) -> bool:
    return bool(query_bool(request, "all_tenants"))


@routes.get(GROUPS)
async def list_groups(request: web.Request) -> web.Response:
    """The project's groups, ids and names."""
    since(request, "3.13", "Groups")
    found = await request.app[API].volume.group_list(
        project_context(request), all_projects=_all_projects(request)
    )
    return json({"groups": [_brief(g) for g in found]})


@routes.get(GROUPS + "/detail")
async def list_groups_detail(request: web.Request) -> web.Response:
    """The project's groups, in full."""
    since(request, "3.13", "Groups")
    found = await request.app[API].volume.group_list(
        project_context(request), all_projects=_all_projects(request)
    )
    return json({"groups": [_group_view(request, g) for g in found]})


@routes.post(GROUPS)
async def create_group(request: web.Request) -> web.Response:
    """A new group of a group type for volumes of some volume types; 202."""
    since(request, "3.13", "Groups")
    body = await body_of(request, "group")
    created = await request.app[API].volume.group_create(
        project_context(request),
        body.get("group_type"),
        body.get("volume_types"),
        name=body.get("name"),
        description=body.get("description"),
        availability_zone=body.get("availability_zone"),
    )
    return json({"group": _brief(created)}, status=202)


@routes.post(GROUPS + "/action")
async def create_group_from_source(request: web.Request) -> web.Response:
    """A group copied from ``source_group_id`` or ``group_snapshot_id`` (3.14); 202."""
    since(request, "3.14", "Creating a group from a source")
    body = await body_of(request, "create-from-src")
    created = await request.app[API].volume.group_create_from_source(
        project_context(request),
        name=body.get("name"),
        description=body.get("description"),
        group_snapshot_id=body.get("group_snapshot_id"),
        source_group_id=body.get("source_group_id"),
    )
    return json({"group": _brief(created)}, status=202)


@routes.get(GROUPS + "/{group_id}")
async def show_group(request: web.Request) -> web.Response:
    """One group."""
    since(request, "3.13", "Groups")
    found = await request.app[API].volume.group_get(
        project_context(request), request.match_info["group_id"]
    )
    return json({"group": _group_view(request, found)})


def _id_list(value: Any, field: str) -> list[str]:
    """Cinder's comma-separated volume ids (``"a,b"``)."""
    if value is None:
        return []
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string of comma-separated volume ids.")
    return [part.strip() for part in value.split(",") if part.strip()]


@routes.put(GROUPS + "/{group_id}")
async def update_group(request: web.Request) -> web.Response:
    """Rename a group, or add and remove volumes (comma-separated ids); 202."""
    since(request, "3.13", "Groups")
    body = await body_of(request, "group")
    await request.app[API].volume.group_update(
        project_context(request),
        request.match_info["group_id"],
        name=body.get("name"),
        description=body.get("description"),
        add_volumes=_id_list(body.get("add_volumes"), "add_volumes"),
        remove_volumes=_id_list(body.get("remove_volumes"), "remove_volumes"),
    )
    return accepted()


@routes.post(GROUPS + "/{group_id}/action")
async def group_action(request: web.Request) -> web.Response:
    """``delete`` (with ``delete-volumes``) or ``reset_status`` (admins, 3.20); 202."""
    since(request, "3.13", "Groups")
    body = await body_of(request)
    name, args = next(iter(body.items()))
    ctx = project_context(request)
    group_id = request.match_info["group_id"]
    api = request.app[API].volume
    if name == "delete":
        delete_volumes = (args or {}).get("delete-volumes", False)
        await api.group_delete(ctx, group_id, delete_volumes=delete_volumes)
    elif name == "reset_status":
        since(request, "3.20", "Resetting a group's status")
        await api.group_reset_status(ctx, group_id, args["status"])
    else:
        raise Invalid(f"There is no such action: {name}.")
    return accepted()


# -- group snapshots ----------------------------------------------------------------


def _snapshot_view(request: web.Request, snapshot: dict[str, Any]) -> dict[str, Any]:
    view = {
        key: snapshot[key]
        for key in ("id", "name", "description", "status", "group_id", "group_type_id")
    }
    view["created_at"] = _time(snapshot["created_at"])
    if version_of(request).at_least("3.58") and _is_admin(request):
        view["project_id"] = snapshot["project_id"]
    return view


@routes.get(SNAPSHOTS)
async def list_group_snapshots(request: web.Request) -> web.Response:
    """The project's group snapshots, ids and names."""
    since(request, "3.14", "Group snapshots")
    found = await request.app[API].volume.group_snapshot_list(
        project_context(request), all_projects=_all_projects(request)
    )
    return json({"group_snapshots": [_brief(s) for s in found]})


@routes.get(SNAPSHOTS + "/detail")
async def list_group_snapshots_detail(request: web.Request) -> web.Response:
    """The project's group snapshots, in full."""
    since(request, "3.14", "Group snapshots")
    found = await request.app[API].volume.group_snapshot_list(
        project_context(request), all_projects=_all_projects(request)
    )
    return json({"group_snapshots": [_snapshot_view(request, s) for s in found]})


@routes.post(SNAPSHOTS)
async def create_group_snapshot(request: web.Request) -> web.Response:
    """Snapshot every volume of a group; 202."""
    since(request, "3.14", "Group snapshots")
    body = await body_of(request, "group_snapshot")
    created = await request.app[API].volume.group_snapshot_create(
        project_context(request),
        body.get("group_id"),
        name=body.get("name"),
        description=body.get("description"),
    )
    brief = {**_brief(created), "group_type_id": created["group_type_id"]}
    return json({"group_snapshot": brief}, status=202)


@routes.get(SNAPSHOTS + "/{group_snapshot_id}")
async def show_group_snapshot(request: web.Request) -> web.Response:
    """One group snapshot."""
    since(request, "3.14", "Group snapshots")
    found = await request.app[API].volume.group_snapshot_get(
        project_context(request), request.match_info["group_snapshot_id"]
    )
    return json({"group_snapshot": _snapshot_view(request, found)})


@routes.delete(SNAPSHOTS + "/{group_snapshot_id}")
async def delete_group_snapshot(request: web.Request) -> web.Response:
    """Delete a group snapshot and its snapshots; 202."""
    since(request, "3.14", "Group snapshots")
    await request.app[API].volume.group_snapshot_delete(
        project_context(request), request.match_info["group_snapshot_id"]
    )
    return accepted()


@routes.post(SNAPSHOTS + "/{group_snapshot_id}/action")
async def group_snapshot_action(request: web.Request) -> web.Response:
    """``reset_status`` (admins, 3.19); 202."""
    since(request, "3.19", "Resetting a group snapshot's status")
    body = await body_of(request)
    name, args = next(iter(body.items()))
    if name != "reset_status":
        raise Invalid(f"There is no such action: {name}.")
    await request.app[API].volume.group_snapshot_reset_status(
        project_context(request), request.match_info["group_snapshot_id"], args["status"]
    )
    return accepted()
