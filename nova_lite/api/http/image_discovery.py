"""Image API v2 (Glance): discovery: the schemas, the import methods and the stores.

``/v2/schemas/{image,images,member,members}`` are the image service's own schemas
(`nova_lite.image.glance_schema`: what it checks images against);
``/v2/schemas/metadefs/*`` are Glance's metadata-definition schemas. nova_lite has
one store, ``file`` (the image service's files), and answers ``/v2/info/stores`` as
Glance does with one store configured. The interoperable import method offered is
``glance-direct`` (stage, then import); ``web-download`` and ``glance-download`` are
not: they would fetch data from URLs or another cloud, which this image service does
not do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import json
from nova_lite.api.http.image_metadef_schemas import METADEF_SCHEMAS
from nova_lite.api.http.images import PREFIX, STORE_ID
from nova_lite.exceptions import NotFound
from nova_lite.image import glance_schema
from nova_lite.image.imports import IMPORT_METHODS

__all__ = ["routes"]

routes = web.RouteTableDef()


def _minimal(schema: dict[str, Any]) -> dict[str, Any]:
    """Glance's "minimal" form of a member schema: no additionalProperties, no links."""
    return {k: v for k, v in schema.items() if k not in ("additionalProperties", "links")}


def _members_minimal() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": _minimal(glance_schema.member_schema())},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }


_SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "image": glance_schema.image_schema,
    "images": glance_schema.images_schema,
    "member": lambda: _minimal(glance_schema.member_schema()),
    "members": _members_minimal,
}


@routes.get(PREFIX + "/schemas/{name}")
async def show_schema(request: web.Request) -> web.Response:
    """The JSON schema of an image, a list of images, a member or a list of members."""
    name = request.match_info["name"]
    if name not in _SCHEMAS:
        raise NotFound(f"No schema named {name!r:.80}.")
    return json(_SCHEMAS[name]())


@routes.get(PREFIX + "/schemas/metadefs/{name}")
async def show_metadef_schema(request: web.Request) -> web.Response:
    """The JSON schema of one of Glance's metadata-definition resources."""
    name = request.match_info["name"]
    if name not in METADEF_SCHEMAS:
        raise NotFound(f"No metadefs schema named {name!r:.80}.")
    return json(METADEF_SCHEMAS[name])


@routes.get(PREFIX + "/info/import")
async def import_info(request: web.Request) -> web.Response:
    """The interoperable import methods offered: ``glance-direct``."""
    methods = {"description": "Import methods available.", "type": "array"}
    return json({"import-methods": {**methods, "value": list(IMPORT_METHODS)}})


@routes.get(PREFIX + "/info/stores")
async def stores_info(request: web.Request) -> web.Response:
    """The stores image data can live in: one, the image service's files."""
    store = {
        "id": STORE_ID,
        "description": "The image service's own files (<state_path>/images).",
        "default": True,
    }
    return json({"stores": [store]})
