"""Image API v2 (Glance): the version document and images (list, show, create, delete).

Images are shown as Glance shows them: extra properties as top-level fields, tags,
``protected`` and ``os_hidden``, and ``stores`` (the one store, ``file``) once the
image has data. ``GET /v2/images`` passes its filters, sorting and paging to the image
service as an `ImageQuery` (Glance's rules are in `nova_lite.image.query`), 25 images
a page unless ``limit`` says otherwise (at most 1,000), with a ``next`` link when the
page is full. Creating an image takes Glance's body: its fields, ``tags``, an ``id``
of the caller's choosing, and extra properties (strings); fields Glance computes are
refused with 403. The rest of the image API is in `image_update` (PATCH, tags,
deactivate/reactivate), `image_data` (the data), `image_members` (sharing) and
`image_discovery` (schemas, import methods, stores).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from nova_lite.api.http.common import (
    API,
    base_url,
    body_of,
    context_of,
    json,
    public,
)
from nova_lite.api.http.views import isotime
from nova_lite.exceptions import Forbidden, Invalid
from nova_lite.image import checks
from nova_lite.image.imports import IMPORT_METHODS
from nova_lite.objects import Image, ImageQuery

__all__ = ["PREFIX", "STORE_ID", "image_view", "routes"]

routes = web.RouteTableDef()
PREFIX = "/image/v2"
STORE_ID = "file"
DEFAULT_LIMIT = 25  # Glance's limit_param_default
MAX_LIMIT = 1000  # Glance's api_limit_max
_WITH_DATA = ("active", "deactivated")
# Glance's list with one store configured (enabled_backends) and no image cache.
_VERSIONS = (
    ("2.15", "SUPPORTED"),
    ("2.13", "SUPPORTED"),
    ("2.12", "SUPPORTED"),
    ("2.11", "SUPPORTED"),
    ("2.10", "SUPPORTED"),
    ("2.9", "SUPPORTED"),
    ("2.8", "SUPPORTED"),
    ("2.17", "CURRENT"),
    *((f"2.{n}", "SUPPORTED") for n in range(7, -1, -1)),
)
_CREATE_FIELDS = (
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "min_disk",
    "min_ram",
    "protected",
    "os_hidden",
    "owner",
    "tags",
    "id",
)


def _versions(request: web.Request, status: int) -> web.Response:
    href = f"{base_url(request)}/image/v2/"
    values = [
        {"id": f"v{version}", "status": state, "links": [{"rel": "self", "href": href}]}
        for version, state in _VERSIONS
    ]
    return json({"versions": values}, status=status)


@routes.get("/image")
@routes.get("/image/")
@public
async def versions(request: web.Request) -> web.Response:
    """The image API versions served, as Glance's root answers: 300 Multiple Choices."""
    return _versions(request, 300)


@routes.get("/image/versions")
@public
async def versions_explicit(request: web.Request) -> web.Response:
    """The image API versions served (asked for by name, so 200, as Glance)."""
    return _versions(request, 200)


def image_view(image: Image) -> dict[str, Any]:
    """An image as Glance shows it (extra properties as top-level fields)."""
    view: dict[str, Any] = {
        **image.properties,
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "size": image.size,
        "virtual_size": None,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "owner": image.owner,
        "tags": list(image.tags),
        "created_at": isotime(image.created_at),
        "updated_at": isotime(image.updated_at or image.created_at),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    if image.status in _WITH_DATA:
        view["stores"] = STORE_ID
    return view


# -- list --------------------------------------------------------------------------


def _int_param(raw: str, name: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} param must be an integer") from None
    if value < 0:
        raise Invalid(f"{name} param must be positive")
    return value


def _sorting(params: list[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Glance's two sort syntaxes: ``sort=name:asc,size`` or ``sort_key``/``sort_dir``."""
    sort = [v for k, v in params if k == "sort"]
    keys = [v.strip() for k, v in params if k == "sort_key"]
    dirs = [v.strip() for k, v in params if k == "sort_dir"]
    if not sort:
        return tuple(keys), tuple(dirs)
    if keys or dirs:
        raise Invalid("Old and new sorting syntax cannot be combined")
    for item in sort[-1].strip().split(","):
        key, _, direction = item.partition(":")
        keys.append(key.strip())
        dirs.append(direction.strip() or "desc")
    return tuple(keys), tuple(dirs)


_PAGING = ("limit", "marker", "member_status", "tag", "sort", "sort_key", "sort_dir")


def image_query(request: web.Request) -> ImageQuery:
    """The `ImageQuery` a ``GET /v2/images`` request's parameters make."""
    params = list(request.query.items())
    limit = request.query.get("limit")
    keys, dirs = _sorting(params)
    return ImageQuery(
        filters={k: v for k, v in params if k not in _PAGING},
        tags=tuple(v.strip() for k, v in params if k == "tag"),
        member_status=request.query.get("member_status", "accepted"),
        sort_keys=keys,
        sort_dirs=dirs,
        marker=request.query.get("marker"),
        limit=min(MAX_LIMIT, DEFAULT_LIMIT if limit is None else _int_param(limit, "limit")),
    )


@routes.get(PREFIX + "/images")
async def list_images(request: web.Request) -> web.Response:
    """The images the caller can see: Glance's filters, sorting, ``limit`` and ``marker``."""
    query = image_query(request)
    page = await request.app[API].image.list(context_of(request), query)
    params = [(k, v) for k, v in request.query.items() if k != "marker"]
    body: dict[str, Any] = {
        "images": [image_view(i) for i in page],
        "first": "/v2/images" + (f"?{urlencode(params)}" if params else ""),
        "schema": "/v2/schemas/images",
    }
    if page and len(page) == query.limit:
        body["next"] = "/v2/images?" + urlencode([*params, ("marker", page[-1].id)])
    return json(body)


@routes.get(PREFIX + "/images/{image_id}")
async def show_image(request: web.Request) -> web.Response:
    """One image."""
    image = await request.app[API].image.get(context_of(request), request.match_info["image_id"])
    return json(image_view(image))


# -- create, delete ----------------------------------------------------------------


def _properties(body: dict[str, Any]) -> dict[str, str]:
    """The extra properties of a create body (a null shipped property is left out)."""
    extra = {k: v for k, v in body.items() if k not in _CREATE_FIELDS}
    checks.check_extra_names(extra)
    return {k: v for k, v in extra.items() if v is not None}


@routes.post(PREFIX + "/images")
async def create_image(request: web.Request) -> web.Response:
    """Create a ``queued`` image (upload its data with ``PUT .../file``); 201."""
    body = await body_of(request)
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    for field in checks.READ_ONLY:
        if field in body and field != "id":
            raise Forbidden(f"Attribute '{field}' is read-only.")
    name: Any = body.get("name")  # as sent: the image service applies Glance's name rule
    image = await request.app[API].image.create(
        context_of(request),
        name,
        disk_format=body.get("disk_format") or "raw",
        container_format=body.get("container_format") or "bare",
        visibility=body.get("visibility", "shared"),
        min_disk=body.get("min_disk", 0),
        min_ram=body.get("min_ram", 0),
        properties=_properties(body),
        protected=body.get("protected", False),
        os_hidden=body.get("os_hidden", False),
        tags=list(body.get("tags") or []),
        owner=body.get("owner"),
        image_id=body.get("id"),
    )
    headers = {
        "Location": f"{base_url(request)}{PREFIX}/images/{image.id}",
        "OpenStack-image-store-ids": STORE_ID,
        "OpenStack-image-import-methods": ",".join(IMPORT_METHODS),
    }
    return json(image_view(image), status=201, headers=headers)


@routes.delete(PREFIX + "/images/{image_id}")
async def delete_image(request: web.Request) -> web.Response:
    """Delete an image and its data; 204 (403 while it is protected)."""
    await request.app[API].image.delete(context_of(request), request.match_info["image_id"])
    return web.Response(status=204)
