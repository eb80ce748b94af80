"""Compute API flavors and limits: ``/flavors`` (list, detail, show, create, update,
delete) and ``/limits``. A flavor's extra specs and access list are in `flavor_extras`."""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from nova_lite import objects, validators
from nova_lite.api.http.common import (
    API,
    base_url,
    body_of,
    check_fields,
    context_of,
    json,
    microversion_of,
    query_int,
)
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.http.views import flavor_brief, flavor_detail
from nova_lite.api.servers import MAX_SERVER_META
from nova_lite.exceptions import Invalid, MarkerNotFound, NotFound
from nova_lite.image.checks import MAX_PROPERTIES as MAX_IMAGE_META

__all__ = ["routes"]

routes = web.RouteTableDef()

FLAVOR_FIELDS = (
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "OS-FLV-EXT-DATA:ephemeral",
    "swap",
    "rxtx_factor",
    "os-flavor-access:is_public",
    "description",
)
FLAVOR_ID = re.compile(r"(?! )[a-zA-Z0-9. _-]+(?<! )")  # Nova's flavor id pattern


def _is_public(request: web.Request) -> bool | None:
    """The ``is_public`` filter an administrator asked for (Nova's: default True, "none": all)."""
    raw = request.query.get("is_public")
    if raw is None or not context_of(request).is_admin:
        return True
    if raw.strip().lower() == "none":
        return None
    return validators.loose_boolean("is_public", raw)


async def _flavors(request: web.Request) -> list[objects.Flavor]:
    conductor = request.app[API].conductor
    flavors = await conductor.flavor_list(context_of(request), is_public=_is_public(request))
    min_ram = query_int(request, "minRam") or 0
    min_disk = query_int(request, "minDisk") or 0
    found = [f for f in flavors if f.memory_mb >= min_ram and f.root_gb >= min_disk]
    marker = request.query.get("marker")
    if marker is not None:
        ids = [f.flavorid for f in found]
        if marker not in ids:
            raise MarkerNotFound(f"marker [{marker}] not found", marker=marker)
        found = found[ids.index(marker) + 1 :]
    limit = query_int(request, "limit")
    return found if limit is None else found[:limit]


@routes.get(PREFIX + "/flavors")
async def list_flavors(request: web.Request) -> web.Response:
    """The flavors (id, name, links); ``minRam``, ``minDisk``, ``is_public`` (admins), paging."""
    base, version = base_url(request), microversion_of(request)
    flavors = await _flavors(request)
    return json({"flavors": [flavor_brief(base, f, version) for f in flavors]})


@routes.get(PREFIX + "/flavors/detail")
async def list_flavors_detail(request: web.Request) -> web.Response:
    """The flavors in full."""
    base, version = base_url(request), microversion_of(request)
    flavors = await _flavors(request)
    return json({"flavors": [flavor_detail(base, f, version) for f in flavors]})


@routes.get(PREFIX + "/flavors/{flavor_id}")
async def show_flavor(request: web.Request) -> web.Response:
    """One flavor, by id (or by name); a private one only to projects that may use it."""
    flavor = await request.app[API].conductor.flavor_get(
        context_of(request), request.match_info["flavor_id"]
    )
    return json({"flavor": flavor_detail(base_url(request), flavor, microversion_of(request))})


def _size(body: dict[str, Any], field: str, *, minimum: int, default: int | None = None) -> int:
    value = body.get(field, default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise Invalid(f"Invalid input for field/attribute {field}. Value: {value!r}.")
    return value


def _flavor_id(value: object) -> str:
    """The new flavor's id: the one given (an integer becomes its digits), or a new UUID."""
    if value is None:
        return str(uuid.uuid4())
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid(f"Invalid input for field/attribute id. Value: {value!r}.")
    flavorid = str(value)
    if not FLAVOR_ID.fullmatch(flavorid):
        raise Invalid(
            f"Invalid input for field/attribute id. Value: {flavorid!r:.80}. A flavor id is "
            "letters, digits, '.', '_', '-' and inner spaces."
        )
    return flavorid


def _rxtx_factor(body: dict[str, Any]) -> float:
    value = body.get("rxtx_factor", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise Invalid(f"Invalid input for field/attribute rxtx_factor. Value: {value!r}.")
    return float(value)


def _description(body: dict[str, Any], request: web.Request) -> str | None:
    if "description" in body and not microversion_of(request).at_least("2.55"):
        raise Invalid("Additional properties are not allowed ('description' was unexpected).")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise Invalid(f"Invalid input for field/attribute description. Value: {description!r}.")
    return description


@routes.post(PREFIX + "/flavors")
async def create_flavor(request: web.Request) -> web.Response:
    """Create a flavor (administrators only); 200 with the flavor."""
    ctx = context_of(request)
    request.app[API].authorize(ctx, "os_compute_api:os-flavor-manage:create", None)
    body = await body_of(request, "flavor")
    check_fields(
        body, allowed=FLAVOR_FIELDS, required=("name", "ram", "vcpus", "disk"), where="flavor"
    )
    name = body["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise Invalid(f"Invalid input for field/attribute name. Value: {name!r}.")
    public = validators.loose_boolean("is_public", body.get("os-flavor-access:is_public", True))
    flavor = objects.Flavor(
        flavorid=_flavor_id(body.get("id")),
        name=name.strip(),
        vcpus=_size(body, "vcpus", minimum=1),
        memory_mb=_size(body, "ram", minimum=1),
        root_gb=_size(body, "disk", minimum=0),
        ephemeral_gb=_size(body, "OS-FLV-EXT-DATA:ephemeral", minimum=0, default=0),
        swap=_size(body, "swap", minimum=0, default=0) if body.get("swap") != "" else 0,
        is_public=public,
        description=_description(body, request),
        rxtx_factor=_rxtx_factor(body),
    )
    created = await request.app[API].conductor.flavor_create(ctx, flavor)
    return json({"flavor": flavor_detail(base_url(request), created, microversion_of(request))})


# The limits each quota is shown as (Nova's limits view builder), and the usage Nova
# shows beside them; the network proxy's only below 2.36, the personality's below 2.57.
QUOTA_LIMITS = {
    "instances": "maxTotalInstances",
    "cores": "maxTotalCores",
    "ram": "maxTotalRAMSize",
    "key_pairs": "maxTotalKeypairs",
    "server_groups": "maxServerGroups",
    "server_group_members": "maxServerGroupMembers",
}
QUOTA_USAGE = {
    "instances": "totalInstancesUsed",
    "cores": "totalCoresUsed",
    "ram": "totalRAMUsed",
    "server_groups": "totalServerGroupsUsed",
}
# Nova keeps these for Neutron's resources and never counts them: their usage is 0.
NETWORK_LIMITS = {
    "security_groups": "maxSecurityGroups",
    "security_group_rules": "maxSecurityGroupRules",
    "floating_ips": "maxTotalFloatingIps",
}
NETWORK_USAGE = ("totalSecurityGroupsUsed", "totalFloatingIpsUsed")
PERSONALITY_LIMITS = {
    "injected_files": "maxPersonality",
    "injected_file_content_bytes": "maxPersonalitySize",
}


@routes.put(PREFIX + "/flavors/{flavor_id}")
async def update_flavor(request: web.Request) -> web.Response:
    """Change a flavor's description (2.55, administrators only); 200 with the flavor."""
    if not microversion_of(request).at_least("2.55"):
        raise NotFound("Updating a flavor needs compute microversion 2.55 or later.")
    ctx = context_of(request)
    request.app[API].authorize(ctx, "os_compute_api:os-flavor-manage:update", None)
    body = await body_of(request, "flavor")
    check_fields(body, allowed=(), required=("description",), where="flavor")
    description = _description(body, request)
    flavor = await request.app[API].conductor.flavor_update(
        ctx, request.match_info["flavor_id"], description=description or ""
    )
    return json({"flavor": flavor_detail(base_url(request), flavor, microversion_of(request))})


@routes.delete(PREFIX + "/flavors/{flavor_id}")
async def delete_flavor(request: web.Request) -> web.Response:
    """Delete a flavor (administrators only); 202. Servers keep the flavor they have."""
    ctx = context_of(request)
    request.app[API].authorize(ctx, "os_compute_api:os-flavor-manage:delete", None)
    await request.app[API].conductor.flavor_delete(ctx, request.match_info["flavor_id"])
    return web.Response(status=202)


@routes.get(PREFIX + "/limits")
async def limits(request: web.Request) -> web.Response:
    """The project's absolute limits and usage (an admin may ask for ``tenant_id``'s).

    Every key each microversion has, as Nova, each from the project's quotas (key
    pairs and server groups included) and usage: the network proxy's (security groups,
    floating IPs, whose usage Nova does not count) below 2.36, ``maxImageMeta`` below
    2.39, personality below 2.57. ``maxServerMeta`` and ``maxImageMeta`` are the item
    limits the servers and images APIs enforce.
    """
    ctx = context_of(request)
    version = microversion_of(request)
    project = request.query.get("tenant_id") if ctx.is_admin else None
    quota = await request.app[API].conductor.quota_get(ctx, project or ctx.project_id or "")
    limit, usage = quota["limits"], quota["usage"]
    shown = dict(QUOTA_LIMITS)
    if not version.at_least("2.36"):
        shown.update(NETWORK_LIMITS)
    if not version.at_least("2.57"):
        shown.update(PERSONALITY_LIMITS)
    absolute: dict[str, int] = {key: limit[resource] for resource, key in shown.items()}
    absolute.update({key: usage[resource] for resource, key in QUOTA_USAGE.items()})
    absolute["maxServerMeta"] = MAX_SERVER_META
    if not version.at_least("2.36"):
        absolute.update(dict.fromkeys(NETWORK_USAGE, 0))
    if not version.at_least("2.39"):
        absolute["maxImageMeta"] = MAX_IMAGE_META
    return json({"limits": {"rate": [], "absolute": absolute}})
