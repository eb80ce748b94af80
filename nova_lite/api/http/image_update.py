"""Image API v2 (Glance): updating images (PATCH), their tags, deactivate/reactivate.

``PATCH /v2/images/{id}`` takes Glance's two JSON-patch media types:
``application/openstack-images-v2.1-json-patch`` (``{"op": "replace", "path":
"/name", "value": ...}``) and the older ``...-v2.0-json-patch`` (``{"replace":
"/name", "value": ...}``, where adding a property that exists is 409). Any other
content type is 415 with ``Accept-Patch``. The body is parsed here (operations,
JSON pointers, values; each error a 400 with Glance's message); what the operations
may change is the image service's (`nova_lite.image.patch`), all or none.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, context_of, json
from nova_lite.api.http.faults import Fault, fault_body
from nova_lite.api.http.images import PREFIX, image_view
from nova_lite.exceptions import Invalid
from nova_lite.image.patch import OPERATIONS
from nova_lite.objects import ImageChange

__all__ = ["MEDIA_TYPES", "parse_changes", "routes"]

routes = web.RouteTableDef()
#: The PATCH media types and whether each is the older (draft 4, strict add) dialect.
MEDIA_TYPES = {
    "application/openstack-images-v2.0-json-patch": True,
    "application/openstack-images-v2.1-json-patch": False,
}
# How many tokens a pointer may have per root and operation (Glance's depth limits).
_DEPTHS = {"locations": {"add": 2, "remove": 2, "replace": 1}}


def _unsupported_media_type() -> web.Response:
    allowed = ", ".join(sorted(MEDIA_TYPES))
    message = f"Image PATCH expects Content-Type one of: {allowed}"
    body = fault_body("image", Fault(415, message, "UnsupportedMediaType"))
    return web.json_response(body, status=415, headers={"Accept-Patch": allowed})


def _operation(raw: dict[str, Any], *, old_dialect: bool) -> tuple[str, Any]:
    """The operation and its JSON pointer, in either dialect."""
    if not old_dialect:
        op = raw.get("op")
        if op not in OPERATIONS:
            raise Invalid(
                f"Invalid operation: `{op}`. It must be one of the following: "
                f"{', '.join(OPERATIONS)}."
                if op is not None
                else "Unable to find `op` in JSON Schema change. It must be one of the "
                f"following: {', '.join(OPERATIONS)}."
            )
        if "path" not in raw:
            raise Invalid("Unable to find 'path' in JSON Schema change")
        return op, raw["path"]
    found = [key for key in OPERATIONS if key in raw]
    if len(found) != 1:
        raise Invalid(
            'Operation objects must contain exactly one member named "add", "remove", or "replace".'
        )
    return found[0], raw[found[0]]


def _pointer(pointer: Any) -> list[str]:
    """The tokens of a JSON pointer, in the limited form Glance accepts."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise Invalid(f'Pointer `{pointer}` does not start with "/".')
    if re.search(r"/\s*?/", pointer[1:]):
        raise Invalid(f'Pointer `{pointer}` contains adjacent "/".')
    if len(pointer) > 1 and pointer.endswith("/"):
        raise Invalid(f'Pointer `{pointer}` end with "/".')
    if pointer[1:].strip() == "/":
        raise Invalid(f"Pointer `{pointer}` does not contains valid token.")
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise Invalid(f'Pointer `{pointer}` contains "~" not part of a recognized escape sequence.')
    return [
        part.replace("~1", "/").replace("~0", "~").strip()
        for part in pointer.lstrip("/").split("/")
    ]


def parse_changes(body: Any, *, old_dialect: bool) -> list[ImageChange]:
    """The `ImageChange`s a PATCH body asks for; `Invalid` (400) naming what is wrong."""
    if not isinstance(body, list):
        raise Invalid("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise Invalid("Operations must be JSON objects.")
        op, pointer = _operation(raw, old_dialect=old_dialect)
        path = _pointer(pointer)
        if len(path) != _DEPTHS.get(path[0], {}).get(op, 1):
            raise Invalid(f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")
        if op != "remove" and "value" not in raw:
            raise Invalid(f'Operation "{op}" requires a member named "value".')
        changes.append(ImageChange(op=op, path=path[0], value=raw.get("value")))
    return changes


@routes.patch(PREFIX + "/images/{image_id}")
async def update_image(request: web.Request) -> web.Response:
    """Change an image with Glance's JSON-patch operations (all or none); 200."""
    if request.content_type not in MEDIA_TYPES:
        return _unsupported_media_type()
    old_dialect = MEDIA_TYPES[request.content_type]
    changes = parse_changes(await body_of(request), old_dialect=old_dialect)
    image = await request.app[API].image.update_image(
        context_of(request), request.match_info["image_id"], changes, strict_add=old_dialect
    )
    return json(image_view(image))


@routes.put(PREFIX + "/images/{image_id}/tags/{tag}")
async def add_tag(request: web.Request) -> web.Response:
    """Tag an image; 204."""
    match = request.match_info
    await request.app[API].image.add_tag(context_of(request), match["image_id"], match["tag"])
    return web.Response(status=204)


@routes.delete(PREFIX + "/images/{image_id}/tags/{tag}")
async def delete_tag(request: web.Request) -> web.Response:
    """Take a tag off an image; 204 (404 if it does not have it)."""
    match = request.match_info
    await request.app[API].image.delete_tag(context_of(request), match["image_id"], match["tag"])
    return web.Response(status=204)


@routes.post(PREFIX + "/images/{image_id}/actions/deactivate")
async def deactivate_image(request: web.Request) -> web.Response:
    """Deactivate an active image (its data is then for administrators only); 204."""
    await request.app[API].image.deactivate(context_of(request), request.match_info["image_id"])
    return web.Response(status=204)


@routes.post(PREFIX + "/images/{image_id}/actions/reactivate")
async def reactivate_image(request: web.Request) -> web.Response:
    """Reactivate a deactivated image; 204."""
    await request.app[API].image.reactivate(context_of(request), request.match_info["image_id"])
    return web.Response(status=204)
