"""Image API v2 (Glance): the metadata-definition catalog, ``/v2/metadefs``.

Namespaces (list, create, show with their elements, update, delete: 403 while
protected), the resource types, and each namespace's resource type associations,
properties, objects and tags, as Glance shows them. The catalog is the image
service's (`nova_lite.image.metadefs`); this module shapes the documents.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, context_of, json
from nova_lite.api.http.images import PREFIX
from nova_lite.api.http.views import isotime
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()
NAMESPACES = PREFIX + "/metadefs/namespaces"
NAMESPACE = NAMESPACES + "/{namespace}"
_TRUE = ("1", "true", "yes", "on", "y", "t")


def _times(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with its stored times in Glance's format."""
    shown = dict(document)
    for field in ("created_at", "updated_at"):
        if isinstance(shown.get(field), str):
            shown[field] = isotime(datetime.datetime.fromisoformat(shown[field]))
    return shown


def _namespace_view(document: dict[str, Any]) -> dict[str, Any]:
    view = _times(document)
    view["self"] = f"/v2/metadefs/namespaces/{document['namespace']}"
    view["schema"] = "/v2/schemas/metadefs/namespace"
    for key in ("resource_type_associations", "objects", "tags"):
        if key in view:
            view[key] = [_times(item) for item in view[key]]
    if "properties" in view:
        view["properties"] = {k: _bare(v) for k, v in view["properties"].items()}
    return view


def _bare(document: dict[str, Any]) -> dict[str, Any]:
    """A property as a namespace's properties list it: no name, no times."""
    return {k: v for k, v in document.items() if k not in ("name", "created_at", "updated_at")}


def _object_view(namespace: str, document: dict[str, Any]) -> dict[str, Any]:
    view = _times(document)
    view["self"] = f"/v2/metadefs/namespaces/{namespace}/objects/{document['name']}"
    view["schema"] = "/v2/schemas/metadefs/object"
    return view


async def _json_object(request: web.Request) -> dict[str, Any]:
    body = await body_of(request)
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    return body


# -- namespaces ----------------------------------------------------------------------


@routes.get(NAMESPACES)
async def list_namespaces(request: web.Request) -> web.Response:
    """The namespaces the caller may see (``visibility``, ``resource_types`` filters)."""
    types = request.query.get("resource_types")
    found = await request.app[API].image.metadef_list_namespaces(
        context_of(request),
        visibility=request.query.get("visibility"),
        resource_types=types.split(",") if types else None,
    )
    return json(
        {
            "namespaces": [_namespace_view(ns) for ns in found],
            "first": "/v2/metadefs/namespaces",
            "schema": "/v2/schemas/metadefs/namespaces",
        }
    )


@routes.post(NAMESPACES)
async def create_namespace(request: web.Request) -> web.Response:
    """Create a namespace (administrators); 201."""
    values = await _json_object(request)
    found = await request.app[API].image.metadef_create_namespace(context_of(request), values)
    return json(_namespace_view(found), status=201)


@routes.get(NAMESPACE)
async def show_namespace(request: web.Request) -> web.Response:
    """A namespace with its resource type associations, properties, objects and tags."""
    found = await request.app[API].image.metadef_get_namespace(
        context_of(request), request.match_info["namespace"]
    )
    return json(_namespace_view(found))


@routes.put(NAMESPACE)
async def update_namespace(request: web.Request) -> web.Response:
    """Change a namespace (administrators); 200."""
    values = await _json_object(request)
    found = await request.app[API].image.metadef_update_namespace(
        context_of(request), request.match_info["namespace"], values
    )
    return json(_namespace_view(found))


@routes.delete(NAMESPACE)
async def delete_namespace(request: web.Request) -> web.Response:
    """Delete a namespace and its elements; 204 (403 while protected)."""
    await request.app[API].image.metadef_delete_namespace(
        context_of(request), request.match_info["namespace"]
    )
    return web.Response(status=204)


# -- resource types ------------------------------------------------------------------


@routes.get(PREFIX + "/metadefs/resource_types")
async def list_resource_types(request: web.Request) -> web.Response:
    """Every resource type namespaces may be associated with."""
    found = await request.app[API].image.metadef_list_resource_types(context_of(request))
    return json({"resource_types": [_times(t) for t in found]})


@routes.get(NAMESPACE + "/resource_types")
async def list_associations(request: web.Request) -> web.Response:
    """A namespace's resource type associations."""
    found = await _elements(request, "resource_type")
    return json({"resource_type_associations": [_times(a) for a in found]})


@routes.post(NAMESPACE + "/resource_types")
async def create_association(request: web.Request) -> web.Response:
    """Associate a namespace with a resource type; 201."""
    body = await _json_object(request)
    found = await _put(request, "resource_type", str(body.get("name", "")), body, create=True)
    return json(_times(found), status=201)


@routes.delete(NAMESPACE + "/resource_types/{name}")
async def delete_association(request: web.Request) -> web.Response:
    """Remove a resource type association; 204."""
    await _delete(request, "resource_type", request.match_info["name"])
    return web.Response(status=204)


# -- properties and objects ----------------------------------------------------------


@routes.get(NAMESPACE + "/properties")
async def list_properties(request: web.Request) -> web.Response:
    """A namespace's properties, by name."""
    found = await _elements(request, "property")
    return json({"properties": {p["name"]: _bare(p) for p in found}})


@routes.post(NAMESPACE + "/properties")
async def create_property(request: web.Request) -> web.Response:
    """Add a property to a namespace; 201."""
    body = await _json_object(request)
    found = await _put(request, "property", str(body.get("name", "")), body, create=True)
    return json(_shown_property(found), status=201)


def _shown_property(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("created_at", "updated_at")}


@routes.get(NAMESPACE + "/properties/{name}")
async def show_property(request: web.Request) -> web.Response:
    """One property of a namespace."""
    return json(_shown_property(await _element(request, "property")))


@routes.put(NAMESPACE + "/properties/{name}")
async def update_property(request: web.Request) -> web.Response:
    """Replace a property (a new ``name`` renames it); 200."""
    body = await _json_object(request)
    found = await _put(request, "property", request.match_info["name"], body, create=False)
    return json(_shown_property(found))


@routes.delete(NAMESPACE + "/properties/{name}")
async def delete_property(request: web.Request) -> web.Response:
    """Remove a property; 204."""
    await _delete(request, "property", request.match_info["name"])
    return web.Response(status=204)


@routes.get(NAMESPACE + "/objects")
async def list_objects(request: web.Request) -> web.Response:
    """A namespace's objects."""
    namespace = request.match_info["namespace"]
    found = await _elements(request, "object")
    return json(
        {
            "objects": [_object_view(namespace, o) for o in found],
            "schema": "/v2/schemas/metadefs/objects",
        }
    )


@routes.post(NAMESPACE + "/objects")
async def create_object(request: web.Request) -> web.Response:
    """Add an object to a namespace; 201."""
    body = await _json_object(request)
    found = await _put(request, "object", str(body.get("name", "")), body, create=True)
    return json(_object_view(request.match_info["namespace"], found), status=201)


@routes.get(NAMESPACE + "/objects/{name}")
async def show_object(request: web.Request) -> web.Response:
    """One object of a namespace."""
    found = await _element(request, "object")
    return json(_object_view(request.match_info["namespace"], found))


@routes.put(NAMESPACE + "/objects/{name}")
async def update_object(request: web.Request) -> web.Response:
    """Replace an object (a new ``name`` renames it); 200."""
    body = await _json_object(request)
    found = await _put(request, "object", request.match_info["name"], body, create=False)
    return json(_object_view(request.match_info["namespace"], found))


@routes.delete(NAMESPACE + "/objects/{name}")
async def delete_object(request: web.Request) -> web.Response:
    """Remove an object; 204."""
    await _delete(request, "object", request.match_info["name"])
    return web.Response(status=204)


# -- tags ------------------------------------------------------------------------------


@routes.get(NAMESPACE + "/tags")
async def list_tags(request: web.Request) -> web.Response:
    """A namespace's tags."""
    return json({"tags": [_times(t) for t in await _elements(request, "tag")]})


@routes.post(NAMESPACE + "/tags")
async def create_tags(request: web.Request) -> web.Response:
    """Set a namespace's tags (``X-Openstack-Append: true`` adds to them); 201."""
    body = await _json_object(request)
    names = [str(tag.get("name", "")) for tag in body.get("tags", [])]
    append = request.headers.get("X-Openstack-Append", "").lower() in _TRUE
    found = await request.app[API].image.metadef_create_tags(
        context_of(request), request.match_info["namespace"], names, append=append
    )
    return json({"tags": [_times(t) for t in found]}, status=201)


@routes.delete(NAMESPACE + "/tags")
async def delete_tags(request: web.Request) -> web.Response:
    """Remove every tag of a namespace; 204."""
    await _delete(request, "tag", None)
    return web.Response(status=204)


@routes.post(NAMESPACE + "/tags/{name}")
async def create_tag(request: web.Request) -> web.Response:
    """Add one tag; 201."""
    name = request.match_info["name"]
    return json(_times(await _put(request, "tag", name, {}, create=True)), status=201)


@routes.get(NAMESPACE + "/tags/{name}")
async def show_tag(request: web.Request) -> web.Response:
    """One tag of a namespace."""
    return json(_times(await _element(request, "tag")))


@routes.put(NAMESPACE + "/tags/{name}")
async def update_tag(request: web.Request) -> web.Response:
    """Rename a tag; 200."""
    body = await _json_object(request)
    found = await _put(request, "tag", request.match_info["name"], body, create=False)
    return json(_times(found))


@routes.delete(NAMESPACE + "/tags/{name}")
async def delete_tag(request: web.Request) -> web.Response:
    """Remove one tag; 204."""
    await _delete(request, "tag", request.match_info["name"])
    return web.Response(status=204)


# -- the calls ----------------------------------------------------------------------


async def _elements(request: web.Request, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await request.app[API].image.metadef_list_elements(
        context_of(request), request.match_info["namespace"], kind
    )
    return found


async def _element(request: web.Request, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = await request.app[API].image.metadef_get_element(
        context_of(request), request.match_info["namespace"], kind, request.match_info["name"]
    )
    return found


async def _put(
    request: web.Request, kind: str, name: str, body: dict[str, Any], *, create: bool
) -> dict[str, Any]:
    found: dict[str, Any] = await request.app[API].image.metadef_put_element(
        context_of(request), request.match_info["namespace"], kind, name, body, create=create
    )
    return found


async def _delete(request: web.Request, kind: str, name: str | None) -> None:
    await request.app[API].image.metadef_delete_element(
        context_of(request), request.match_info["namespace"], kind, name
    )
