"""Block Storage API v3 (Cinder): group types and their group specs (3.11).

Below microversion 3.11 these routes are not found, as in Cinder. Only
administrators see a type's ``group_specs`` (``group:access_group_types_specs``).
Cinder answers a create, a delete and a specs create with 202.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import PREFIX, accepted, project_context, query_bool
from nova_lite.api.http.volume_version import version_of
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["ACCESS_SPECS", "routes", "since"]

routes = web.RouteTableDef()
TYPES = PREFIX + "/group_types"
SPECS = TYPES + "/{type_id}/group_specs"
ACCESS_SPECS = "group:access_group_types_specs"


def since(request: web.Request, version: str, what: str) -> None:
    """`NotFound` unless the request asked for `version` or later (Cinder's 404)."""
    asked = version_of(request)
    if not asked.at_least(version):
        raise NotFound(f"{what} need(s) volume microversion {version} or later, not {asked}.")


def _view(request: web.Request, group_type: dict[str, Any]) -> dict[str, Any]:
    view = {k: group_type[k] for k in ("id", "name", "description", "is_public")}
    ctx = project_context(request)
    if request.app[API].policy.check(ctx, ACCESS_SPECS, {"project_id": ctx.project_id}):
        view["group_specs"] = group_type["group_specs"]
    return view


def _is_public(request: web.Request) -> bool | None:
    """Cinder's ``is_public`` filter: absent is True; ``None`` (any case) is both."""
    raw = request.query.get("is_public")
    if raw is not None and raw.strip().lower() == "none":
        return None
    found = query_bool(request, "is_public")
    return True if found is None else found


@routes.get(TYPES)
async def list_group_types(request: web.Request) -> web.Response:
    """The group types the caller may see (``is_public``, ``sort`` as Cinder's)."""
    since(request, "3.11", "Group types")
    found = await request.app[API].volume.group_type_list(
        project_context(request), is_public=_is_public(request), sort=request.query.get("sort")
    )
    return json({"group_types": [_view(request, t) for t in found]})


@routes.post(TYPES)
async def create_group_type(request: web.Request) -> web.Response:
    """A new group type (admins); 202."""
    since(request, "3.11", "Group types")
    body = await body_of(request, "group_type")
    created = await request.app[API].volume.group_type_create(
        project_context(request),
        body.get("name"),
        description=body.get("description"),
        is_public=query_bool_value(body.get("is_public", True)),
        group_specs=body.get("group_specs"),
    )
    return json({"group_type": _view(request, created)}, status=202)


def query_bool_value(value: Any) -> bool:
    """A body's boolean in Cinder's spellings (``true``, ``"True"``, ``"1"`` ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "t", "yes", "y", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "f", "no", "n", "off"):
        return False
    raise Invalid(f"Invalid value {value!r} for is_public: it must be a boolean.")


@routes.get(TYPES + "/{type_id}")
async def show_group_type(request: web.Request) -> web.Response:
    """One group type."""
    since(request, "3.11", "Group types")
    found = await request.app[API].volume.group_type_get(
        project_context(request), request.match_info["type_id"]
    )
    return json({"group_type": _view(request, found)})


@routes.put(TYPES + "/{type_id}")
async def update_group_type(request: web.Request) -> web.Response:
    """Change a group type's name, description or publicity (admins)."""
    since(request, "3.11", "Group types")
    body = dict(await body_of(request, "group_type"))
    if "is_public" in body and body["is_public"] is not None:
        body["is_public"] = query_bool_value(body["is_public"])
    updated = await request.app[API].volume.group_type_update(
        project_context(request), request.match_info["type_id"], body
    )
    return json({"group_type": _view(request, updated)})


@routes.delete(TYPES + "/{type_id}")
async def delete_group_type(request: web.Request) -> web.Response:
    """Delete a group type no group has (admins); 202."""
    since(request, "3.11", "Group types")
    await request.app[API].volume.group_type_delete(
        project_context(request), request.match_info["type_id"]
    )
    return accepted()


@routes.get(SPECS)
async def list_group_specs(request: web.Request) -> web.Response:
    """A group type's specs (admins)."""
    since(request, "3.11", "Group specs")
    specs = await request.app[API].volume.group_specs_get(
        project_context(request), request.match_info["type_id"]
    )
    return json({"group_specs": specs})


@routes.post(SPECS)
async def create_group_specs(request: web.Request) -> web.Response:
    """Add or change group specs (admins); those given, 202."""
    since(request, "3.11", "Group specs")
    body = await body_of(request, "group_specs")
    given = await request.app[API].volume.group_specs_set(
        project_context(request), request.match_info["type_id"], dict(body)
    )
    return json({"group_specs": given}, status=202)


@routes.get(SPECS + "/{key}")
async def show_group_spec(request: web.Request) -> web.Response:
    """One group spec (admins), as ``{key: value}``."""
    since(request, "3.11", "Group specs")
    key = request.match_info["key"]
    specs = await request.app[API].volume.group_specs_get(
        project_context(request), request.match_info["type_id"]
    )
    if key not in specs:
        raise NotFound(f"Group Type {request.match_info['type_id']} has no specs with key {key}.")
    return json({key: specs[key]})


@routes.put(SPECS + "/{key}")
async def update_group_spec(request: web.Request) -> web.Response:
    """Set one group spec (admins): the body is ``{key: value}`` for that key alone."""
    since(request, "3.11", "Group specs")
    key = request.match_info["key"]
    body = await body_of(request)
    if not isinstance(body, dict) or set(body) != {key}:
        raise Invalid(f"The request body must be {{{key!r}: value}}, naming the URL's key only.")
    given = await request.app[API].volume.group_specs_set(
        project_context(request), request.match_info["type_id"], dict(body)
    )
    return json(given)


@routes.delete(SPECS + "/{key}")
async def delete_group_spec(request: web.Request) -> web.Response:
    """Remove one group spec (admins); 202."""
    since(request, "3.11", "Group specs")
    await request.app[API].volume.group_specs_delete(
        project_context(request), request.match_info["type_id"], request.match_info["key"]
    )
    return accepted()
