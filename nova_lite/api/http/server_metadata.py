"""A server's metadata (``/servers/{id}/metadata``) and tags (``/servers/{id}/tags``, 2.26).

Metadata: ``GET`` lists it; ``POST`` merges items in, ``PUT`` replaces it all (both
answer the whole metadata); ``/metadata/{key}``: ``GET`` one item as ``{"meta":
{key: value}}``, ``PUT`` sets it (the body holds exactly that key: another is
"Request body and URI mismatch", more than one "too many items", 400), ``DELETE``
removes it (204). Keys are 1-255 letters, digits, ``-_:.`` or spaces, values up to
255 characters (400); more than 128 items is the ``metadata_items`` quota (403).

Tags, from 2.26: ``GET`` lists them, ``PUT`` replaces them, ``DELETE`` removes them
all; ``/tags/{tag}``: ``GET`` is 204 if the server has it (404 if not), ``PUT`` adds
it (201, or 204 if it was there, with its ``Location``), ``DELETE`` removes it. A tag
is 1-60 characters without ``/`` or ``,``; a server has at most 50 (400).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import base_url, body_of, json, microversion_of, session_of
from nova_lite.api.http.compute import PREFIX
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
METADATA = PREFIX + "/servers/{server_id}/metadata"
TAGS = PREFIX + "/servers/{server_id}/tags"


def _server(request: web.Request) -> str:
    return request.match_info["server_id"]


async def _items(request: web.Request, wrapper: str) -> dict[str, Any]:
    body = await body_of(request)
    if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
        raise Invalid(f"Malformed request body: it must be an object with an object {wrapper!r}.")
    items: dict[str, Any] = body[wrapper]
    return items


# -- metadata ---------------------------------------------------------------------------


@routes.get(METADATA)
async def list_metadata(request: web.Request) -> web.Response:
    """The server's metadata."""
    metadata = await session_of(request).servers.metadata(_server(request))
    return json({"metadata": metadata})


@routes.post(METADATA)
async def create_metadata(request: web.Request) -> web.Response:
    """Add or change metadata items; 200 with all of the metadata."""
    items = await _items(request, "metadata")
    metadata = await session_of(request).servers.set_metadata(_server(request), items)
    return json({"metadata": metadata})


@routes.put(METADATA)
async def replace_metadata(request: web.Request) -> web.Response:
    """Replace the metadata with the body's; 200 with it."""
    items = await _items(request, "metadata")
    servers = session_of(request).servers
    metadata = await servers.set_metadata(_server(request), items, replace=True)
    return json({"metadata": metadata})


@routes.get(METADATA + "/{key}")
async def show_metadata_item(request: web.Request) -> web.Response:
    """One metadata item."""
    key = request.match_info["key"]
    value = await session_of(request).servers.metadata_item(_server(request), key)
    return json({"meta": {key: value}})


@routes.put(METADATA + "/{key}")
async def set_metadata_item(request: web.Request) -> web.Response:
    """Set one metadata item (the body's only key must be the URL's); 200 with it."""
    key = request.match_info["key"]
    meta = await _items(request, "meta")
    if key not in meta:
        raise Invalid("Request body and URI mismatch")
    if len(meta) > 1:
        raise Invalid("Request body contains too many items")
    await session_of(request).servers.set_metadata(_server(request), meta, one=True)
    return json({"meta": meta})


@routes.delete(METADATA + "/{key}")
async def delete_metadata_item(request: web.Request) -> web.Response:
    """Remove one metadata item; 204."""
    await session_of(request).servers.delete_metadata(_server(request), request.match_info["key"])
    return web.Response(status=204)


# -- tags (2.26) ------------------------------------------------------------------------


def _tags_served(request: web.Request) -> None:
    """Tags are a 2.26 resource: below it, as in Nova, there is nothing here (404)."""
    if not microversion_of(request).at_least("2.26"):
        raise NotFound("The resource could not be found (server tags need microversion 2.26).")


@routes.get(TAGS)
async def list_tags(request: web.Request) -> web.Response:
    """The server's tags."""
    _tags_served(request)
    return json({"tags": await session_of(request).servers.tags(_server(request))})


@routes.put(TAGS)
async def replace_tags(request: web.Request) -> web.Response:
    """Replace the server's tags with the body's; 200 with them."""
    _tags_served(request)
    body = await body_of(request)
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list) or len(body) != 1:
        raise Invalid("Malformed request body: it must be an object with a list 'tags'.")
    tags = await session_of(request).servers.set_tags(_server(request), body["tags"])
    return json({"tags": tags})


@routes.delete(TAGS)
async def delete_tags(request: web.Request) -> web.Response:
    """Remove every tag of the server; 204."""
    _tags_served(request)
    await session_of(request).servers.set_tags(_server(request), [])
    return web.Response(status=204)


@routes.get(TAGS + "/{tag}")
async def check_tag(request: web.Request) -> web.Response:
    """204 if the server has the tag, 404 if not."""
    _tags_served(request)
    tag = request.match_info["tag"]
    if not await session_of(request).servers.has_tag(_server(request), tag):
        raise NotFound(f"Instance {_server(request)} has no tag {tag!r}.")
    return web.Response(status=204)


@routes.put(TAGS + "/{tag}")
async def add_tag(request: web.Request) -> web.Response:
    """Tag the server: 201 (204 if it had the tag), with the tag's ``Location``."""
    _tags_served(request)
    server_id, tag = _server(request), request.match_info["tag"]
    added = await session_of(request).servers.add_tag(server_id, tag)
    location = f"{base_url(request)}{PREFIX}/servers/{server_id}/tags/{tag}"
    return web.Response(status=201 if added else 204, headers={"Location": location})


@routes.delete(TAGS + "/{tag}")
async def delete_tag(request: web.Request) -> web.Response:
    """Remove one tag; 204 (404 if the server does not have it)."""
    _tags_served(request)
    await session_of(request).servers.delete_tag(_server(request), request.match_info["tag"])
    return web.Response(status=204)
