"""Compute API: a flavor's extra specs (``os-extra_specs``) and access list (``os-flavor-access``).

Extra specs are free ``key: value`` strings the scheduler's filters read
(``capabilities:<key>``, ...); administrators set, change and remove them, anyone
who may see the flavor reads them. A private flavor's access list names the
projects that may boot from it, changed with the ``addTenantAccess`` and
``removeTenantAccess`` actions of ``POST /flavors/{id}/action`` (administrators).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, body_of, check_fields, context_of, json
from nova_lite.api.http.compute import PREFIX
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
FLAVOR = PREFIX + "/flavors/{flavor_id}"
EXTRA_SPEC_KEY = re.compile(r"[a-zA-Z0-9-_:. ]{1,255}")  # Nova's extra spec key pattern
MAX_EXTRA_SPECS = 128  # a cap on one flavor's extra specs (each key and value <= 255)


def _rule(name: str) -> str:
    return f"os_compute_api:os-flavor-extra-specs:{name}"


def _authorize(request: web.Request, rule: str) -> None:
    ctx = context_of(request)
    request.app[API].authorize(ctx, rule, ctx.project_id)


async def _flavor(request: web.Request) -> objects.Flavor:
    return await request.app[API].conductor.flavor_get(
        context_of(request), request.match_info["flavor_id"]
    )


def _value(key: str, value: object) -> str:
    """An extra spec's value as Nova stores it: a string (numbers and booleans as text)."""
    if not EXTRA_SPEC_KEY.fullmatch(key):
        raise Invalid(
            f"Invalid input for field/attribute extra_specs. Key {key!r:.80} must be 1-255 "
            "letters, digits, spaces and '-_:.'."
        )
    if isinstance(value, bool | int | float):
        value = str(value)
    if not isinstance(value, str) or len(value) > 255:
        raise Invalid(
            f"Invalid input for field/attribute {key}. Value: {value!r:.80}. An extra spec's "
            "value is a string of at most 255 characters."
        )
    return value


def _specs(body: dict[str, Any]) -> dict[str, str]:
    return {str(key): _value(str(key), value) for key, value in body.items()}


async def _save(request: web.Request, flavor: objects.Flavor, specs: dict[str, str]) -> None:
    if len(specs) > MAX_EXTRA_SPECS:
        raise Invalid(f"A flavor may have at most {MAX_EXTRA_SPECS} extra specs.")
    await request.app[API].conductor.flavor_update(
        context_of(request), flavor.flavorid, extra_specs=specs
    )


@routes.get(FLAVOR + "/os-extra_specs")
async def list_extra_specs(request: web.Request) -> web.Response:
    """The flavor's extra specs."""
    _authorize(request, _rule("index"))
    return json({"extra_specs": dict((await _flavor(request)).extra_specs)})


@routes.post(FLAVOR + "/os-extra_specs")
async def create_extra_specs(request: web.Request) -> web.Response:
    """Add or change extra specs (administrators); 200 with the ones given."""
    _authorize(request, _rule("create"))
    given = _specs(await body_of(request, "extra_specs"))
    flavor = await _flavor(request)
    await _save(request, flavor, {**flavor.extra_specs, **given})
    return json({"extra_specs": given})


def _key(request: web.Request) -> str:
    return request.match_info["key"]


@routes.get(FLAVOR + "/os-extra_specs/{key}")
async def show_extra_spec(request: web.Request) -> web.Response:
    """One extra spec, as ``{key: value}``."""
    _authorize(request, _rule("show"))
    flavor, key = await _flavor(request), _key(request)
    if key not in flavor.extra_specs:
        raise NotFound(f"Flavor {flavor.flavorid} has no extra specs with key {key}.")
    return json({key: flavor.extra_specs[key]})


@routes.put(FLAVOR + "/os-extra_specs/{key}")
async def update_extra_spec(request: web.Request) -> web.Response:
    """Set one extra spec: the body is ``{key: value}`` for the key in the path."""
    _authorize(request, _rule("update"))
    body, key = await body_of(request), _key(request)
    if not isinstance(body, dict) or not body:
        raise Invalid("The request body must be an object of one extra spec, {key: value}.")
    if len(body) > 1:
        raise Invalid("Request body contains too many items.")
    if key not in body:
        raise Invalid("Request body and URI mismatch.")
    value = _value(key, body[key])
    flavor = await _flavor(request)
    await _save(request, flavor, {**flavor.extra_specs, key: value})
    return json({key: value})


@routes.delete(FLAVOR + "/os-extra_specs/{key}")
async def delete_extra_spec(request: web.Request) -> web.Response:
    """Remove one extra spec (administrators); 200 with no body, as Nova."""
    _authorize(request, _rule("delete"))
    flavor, key = await _flavor(request), _key(request)
    if key not in flavor.extra_specs:
        raise NotFound(f"Flavor {flavor.flavorid} has no extra specs with key {key}.")
    await _save(request, flavor, {k: v for k, v in flavor.extra_specs.items() if k != key})
    return web.Response(status=200)


# -- flavor access --------------------------------------------------------------------------


def _access(flavorid: str, projects: list[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavorid, "tenant_id": p} for p in projects]}


@routes.get(FLAVOR + "/os-flavor-access")
async def list_flavor_access(request: web.Request) -> web.Response:
    """The projects that may use a private flavor (404 for a public one, as Nova)."""
    _authorize(request, "os_compute_api:os-flavor-access")
    flavor = await _flavor(request)
    if flavor.is_public:
        raise NotFound("Access list not available for public flavors.")
    ctx = context_of(request)
    projects = await request.app[API].conductor.flavor_access_list(ctx, flavor.flavorid)
    return json(_access(flavor.flavorid, projects))


ACCESS_ACTIONS = {
    "addTenantAccess": "os_compute_api:os-flavor-access:add_tenant_access",
    "removeTenantAccess": "os_compute_api:os-flavor-access:remove_tenant_access",
}


@routes.post(FLAVOR + "/action")
async def flavor_action(request: web.Request) -> web.Response:
    """``addTenantAccess`` / ``removeTenantAccess`` ``{"tenant": project}``; 200 with the list."""
    body = await body_of(request)
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ACCESS_ACTIONS:
        raise Invalid(f"The body must name one action of {sorted(ACCESS_ACTIONS)}.")
    [(name, args)] = body.items()
    _authorize(request, ACCESS_ACTIONS[name])
    if not isinstance(args, dict):
        raise Invalid(f"Invalid input for action {name!r}: an object is required.")
    check_fields(args, allowed=(), required=("tenant",), where=name)
    tenant = args["tenant"]
    if not isinstance(tenant, str) or not tenant.strip() or len(tenant) > 255:
        raise Invalid(f"Invalid input for field/attribute tenant. Value: {tenant!r:.80}.")
    ctx, conductor = context_of(request), request.app[API].conductor
    flavorid = request.match_info["flavor_id"]
    if name == "addTenantAccess":
        projects = await conductor.flavor_access_add(ctx, flavorid, tenant)
    else:
        projects = await conductor.flavor_access_remove(ctx, flavorid, tenant)
    return json(_access(flavorid, projects))
