"""Block Storage API v3 (Cinder): volume types, extra specs, access and encryption.

Administrators manage types; everyone lists and shows the public types and the
private ones given to their project. ``GET .../types/default`` is the default type.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import PREFIX, accepted, project_context, query_bool
from nova_lite.api.http.volume_views import type_view
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["ACTION_RULES", "routes"]

routes = web.RouteTableDef()
TYPES = PREFIX + "/types"
ACTION_RULES = {
    "addProjectAccess": "volume_extension:volume_type_access:addProjectAccess",
    "removeProjectAccess": "volume_extension:volume_type_access:removeProjectAccess",
}


def _truth(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


@routes.get(TYPES)
async def list_types(request: web.Request) -> web.Response:
    """The volume types the caller may use (admins: ``is_public`` filters, ``none``: all)."""
    none = request.query.get("is_public", "").lower() == "none"
    is_public = None if none else query_bool(request, "is_public")
    found = await request.app[API].volume.type_list(project_context(request), is_public)
    return json({"volume_types": [type_view(t) for t in found]})


@routes.post(TYPES)
async def create_type(request: web.Request) -> web.Response:
    """Create a volume type (admins)."""
    body = await body_of(request, "volume_type")
    public = body.get("os-volume-type-access:is_public", body.get("is_public", True))
    created = await request.app[API].volume.type_create(
        project_context(request),
        body["name"],
        description=body.get("description"),
        is_public=_truth(public),
        extra_specs=body.get("extra_specs"),
    )
    return json({"volume_type": type_view(created, qos=False)})


@routes.get(TYPES + "/{type_id}")
async def show_type(request: web.Request) -> web.Response:
    """One volume type (``default``: the default type)."""
    found = await request.app[API].volume.type_get(
        project_context(request), request.match_info["type_id"]
    )
    return json({"volume_type": type_view(found)})


@routes.put(TYPES + "/{type_id}")
async def update_type(request: web.Request) -> web.Response:
    """Rename a type, change its description or whether it is public (admins)."""
    body = dict(await body_of(request, "volume_type"))
    if "is_public" in body:
        body["is_public"] = _truth(body["is_public"])
    updated = await request.app[API].volume.type_update(
        project_context(request), request.match_info["type_id"], body
    )
    return json({"volume_type": type_view(updated, access=False, qos=False)})


@routes.delete(TYPES + "/{type_id}")
async def delete_type(request: web.Request) -> web.Response:
    """Delete a type no volume has (admins); 202."""
    await request.app[API].volume.type_delete(
        project_context(request), request.match_info["type_id"]
    )
    return accepted()


# -- extra specs ----------------------------------------------------------------------


async def _specs(request: web.Request) -> dict[str, str]:
    found = await request.app[API].volume.type_get(
        project_context(request), request.match_info["type_id"]
    )
    return dict(found.extra_specs)


@routes.get(TYPES + "/{type_id}/extra_specs")
async def list_extra_specs(request: web.Request) -> web.Response:
    """A type's extra specs."""
    return json({"extra_specs": await _specs(request)})


@routes.post(TYPES + "/{type_id}/extra_specs")
async def create_extra_specs(request: web.Request) -> web.Response:
    """Add or change extra specs (admins); those given."""
    body = await body_of(request)
    result = await request.app[API].volume.type_set_extra_specs(
        project_context(request), request.match_info["type_id"], body["extra_specs"]
    )
    return json({"extra_specs": result})


@routes.get(TYPES + "/{type_id}/extra_specs/{key}")
async def show_extra_spec(request: web.Request) -> web.Response:
    """One extra spec."""
    specs = await _specs(request)
    key = request.match_info["key"]
    if key not in specs:
        raise NotFound(f"Volume Type {request.match_info['type_id']} has no extra spec {key}.")
    return json({key: specs[key]})


@routes.put(TYPES + "/{type_id}/extra_specs/{key}")
async def update_extra_spec(request: web.Request) -> web.Response:
    """Set one extra spec (the body holds exactly the key of the URL; admins)."""
    body = await body_of(request)
    result = await request.app[API].volume.type_set_extra_specs(
        project_context(request),
        request.match_info["type_id"],
        body,
        only=request.match_info["key"],
    )
    return json(result)


@routes.delete(TYPES + "/{type_id}/extra_specs/{key}")
async def delete_extra_spec(request: web.Request) -> web.Response:
    """Remove one extra spec (admins); 202."""
    await request.app[API].volume.type_delete_extra_spec(
        project_context(request), request.match_info["type_id"], request.match_info["key"]
    )
    return accepted()


# -- access -------------------------------------------------------------------------


@routes.get(TYPES + "/{type_id}/os-volume-type-access")
async def list_type_access(request: web.Request) -> web.Response:
    """The projects given a private type (admins)."""
    type_id = request.match_info["type_id"]
    projects = await request.app[API].volume.type_access_list(project_context(request), type_id)
    access = [{"volume_type_id": type_id, "project_id": p} for p in projects]
    return json({"volume_type_access": access})


@routes.post(TYPES + "/{type_id}/action")
async def type_action(request: web.Request) -> web.Response:
    """``addProjectAccess`` or ``removeProjectAccess`` (admins); 202."""
    body = await body_of(request)
    name, args = next(iter(body.items()))
    api = request.app[API].volume
    ctx = project_context(request)
    type_id = request.match_info["type_id"]
    if name == "addProjectAccess":
        await api.type_access_add(ctx, type_id, args["project"])
    elif name == "removeProjectAccess":
        await api.type_access_remove(ctx, type_id, args["project"])
    else:
        raise Invalid(f"There is no such action: {name}.")
    return accepted()


# -- encryption -----------------------------------------------------------------------


@routes.get(TYPES + "/{type_id}/encryption")
async def show_encryption(request: web.Request) -> web.Response:
    """A type's encryption (``{}`` when it has none; admins)."""
    found = await request.app[API].volume.type_encryption_get(
        project_context(request), request.match_info["type_id"]
    )
    return json({k: v for k, v in found.items() if k != "updated_at" or v is not None})


@routes.get(TYPES + "/{type_id}/encryption/{key}")
async def show_encryption_item(request: web.Request) -> web.Response:
    """One field of a type's encryption (admins)."""
    found = await request.app[API].volume.type_encryption_get(
        project_context(request), request.match_info["type_id"]
    )
    key = request.match_info["key"]
    if key not in found:
        raise NotFound(f"Volume type encryption has no {key}.")
    return json({key: found[key]})


@routes.post(TYPES + "/{type_id}/encryption")
async def create_encryption(request: web.Request) -> web.Response:
    """Encrypt a type (admins)."""
    body = await body_of(request, "encryption")
    found = await request.app[API].volume.type_encryption_set(
        project_context(request), request.match_info["type_id"], body, create=True
    )
    fields = ("volume_type_id", "encryption_id", "provider", "cipher", "key_size")
    shown = {k: found[k] for k in (*fields, "control_location") if k in found}
    return json({"encryption": shown})


@routes.put(TYPES + "/{type_id}/encryption/{encryption_id}")
async def update_encryption(request: web.Request) -> web.Response:
    """Change a type's encryption (admins)."""
    body = await body_of(request, "encryption")
    await request.app[API].volume.type_encryption_set(
        project_context(request), request.match_info["type_id"], body, create=False
    )
    return json({"encryption": body})


@routes.delete(TYPES + "/{type_id}/encryption/{encryption_id}")
async def delete_encryption(request: web.Request) -> web.Response:
    """Remove a type's encryption (admins); 202."""
    await request.app[API].volume.type_encryption_delete(
        project_context(request), request.match_info["type_id"]
    )
    return accepted()
