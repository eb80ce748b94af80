"""Compute API: ``os-quota-sets`` (a project's or user's limits) and ``os-quota-class-sets``.

Every project member reads its own project's quotas (and the defaults), with their
usage in ``/detail``; administrators read and change any project's, or one user's
(``?user_id=``), and change the ``default`` quota class, which is what every project
without limits of its own gets. Which resources a body shows depends on the
microversion, as in Nova: Neutron's (``floating_ips``, ``fixed_ips``,
``security_groups``, ``security_group_rules``) go at 2.36, file injection's at 2.57;
quota classes show server groups from 2.50.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from nova_lite import validators
from nova_lite.api.http.common import API, body_of, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.http.microversion import APIVersion
from nova_lite.conductor.quotas import NETWORK_DEFAULTS, RESOURCES
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()
QUOTA_SET = PREFIX + "/os-quota-sets/{tenant_id}"
QUOTA_CLASS = PREFIX + "/os-quota-class-sets/{class_name}"
INJECTION = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
SERVER_GROUPS = ("server_groups", "server_group_members")


def _rule(name: str) -> str:
    return f"os_compute_api:os-quota-sets:{name}"


def shown(version: APIVersion, *, quota_class: bool = False) -> tuple[str, ...]:
    """The resources a quota body shows at `version`."""
    hidden: set[str] = set()
    if version.at_least("2.36") or (quota_class and version.at_least("2.50")):
        hidden |= set(NETWORK_DEFAULTS)
    if version.at_least("2.57"):
        hidden |= set(INJECTION)
    if quota_class and not version.at_least("2.50"):
        hidden |= set(SERVER_GROUPS)
    return tuple(r for r in RESOURCES if r not in hidden)


def _view(values: Mapping[str, Any], version: APIVersion, **extra: Any) -> dict[str, Any]:
    return {**extra, **{r: values[r] for r in shown(version)}}


def _authorized(request: web.Request, rule: str) -> tuple[str, str | None]:
    """The project (and user) asked about, once `rule` lets the caller read or change them."""
    ctx, project = context_of(request), request.match_info["tenant_id"]
    request.app[API].authorize(ctx, rule, project)
    return project, request.query.get("user_id") or None


@routes.get(QUOTA_SET)
async def show_quota_set(request: web.Request) -> web.Response:
    """A project's limits (a user's with ``?user_id=``)."""
    project, user = _authorized(request, _rule("show"))
    quota = await request.app[API].conductor.quota_get(context_of(request), project, user_id=user)
    body = _view(quota["limits"], microversion_of(request), id=project)
    return json({"quota_set": body})


@routes.get(QUOTA_SET + "/detail")
async def show_quota_set_detail(request: web.Request) -> web.Response:
    """A project's limits with what is in use (``limit``, ``in_use``, ``reserved``)."""
    project, user = _authorized(request, _rule("detail"))
    quota = await request.app[API].conductor.quota_get(context_of(request), project, user_id=user)
    limits, usage = quota["limits"], quota["usage"]
    details = {
        r: {"limit": limits[r], "in_use": usage[r], "reserved": 0}
        for r in shown(microversion_of(request))
    }
    return json({"quota_set": {"id": project, **details}})


@routes.get(QUOTA_SET + "/defaults")
async def show_default_quota_set(request: web.Request) -> web.Response:
    """The default limits, which every project without limits of its own has."""
    project, _ = _authorized(request, _rule("defaults"))
    defaults = await request.app[API].conductor.quota_defaults(context_of(request))
    return json({"quota_set": _view(defaults, microversion_of(request), id=project)})


def _limits(body: Mapping[str, Any], version: APIVersion, *, quota_class: bool) -> dict[str, int]:
    allowed = shown(version, quota_class=quota_class)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Invalid(
            f"Additional properties are not allowed ({', '.join(map(repr, unknown))} "
            f"unexpected); the quotas of this microversion are {', '.join(allowed)}."
        )
    limits = {}
    for resource, value in body.items():
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise Invalid(f"Invalid input for field/attribute {resource}. Value: {value!r:.40}.")
        limits[resource] = value
    return limits


@routes.put(QUOTA_SET)
async def update_quota_set(request: web.Request) -> web.Response:
    """Change a project's (or user's) limits (administrators); ``force`` past what is used."""
    project, user = _authorized(request, _rule("update"))
    body = dict(await body_of(request, "quota_set"))
    force = validators.loose_boolean("force", body.pop("force", False))
    version = microversion_of(request)
    limits = _limits(body, version, quota_class=False)
    after = await request.app[API].conductor.quota_update(
        context_of(request), project, limits, user_id=user, force=force
    )
    return json({"quota_set": _view(after, version)})


@routes.delete(QUOTA_SET)
async def delete_quota_set(request: web.Request) -> web.Response:
    """Drop a project's (or user's) own limits: the defaults apply again; 202."""
    project, user = _authorized(request, _rule("delete"))
    await request.app[API].conductor.quota_delete(context_of(request), project, user_id=user)
    return web.Response(status=202)


def _class_view(values: Mapping[str, Any], version: APIVersion, **extra: Any) -> dict[str, Any]:
    return {**extra, **{r: values[r] for r in shown(version, quota_class=True)}}


@routes.get(QUOTA_CLASS)
async def show_quota_class_set(request: web.Request) -> web.Response:
    """A quota class's limits (``default``: the defaults of every project)."""
    ctx, name = context_of(request), request.match_info["class_name"]
    request.app[API].authorize(ctx, "os_compute_api:os-quota-class-sets:show", ctx.project_id)
    limits = await request.app[API].conductor.quota_class_get(ctx, name)
    return json({"quota_class_set": _class_view(limits, microversion_of(request), id=name)})


@routes.put(QUOTA_CLASS)
async def update_quota_class_set(request: web.Request) -> web.Response:
    """Change a quota class's limits (administrators)."""
    ctx, name = context_of(request), request.match_info["class_name"]
    request.app[API].authorize(ctx, "os_compute_api:os-quota-class-sets:update", ctx.project_id)
    version = microversion_of(request)
    body = await body_of(request, "quota_class_set")
    limits = _limits(body, version, quota_class=True)
    after = await request.app[API].conductor.quota_class_update(ctx, name, limits)
    return json({"quota_class_set": _class_view(after, version)})
