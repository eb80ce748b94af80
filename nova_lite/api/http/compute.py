"""Compute API v2.1 (Nova): version discovery and servers (create, list, show, update, delete).

Writes go through the caller's `Session` (``session.servers``: policy, state checks,
quotas and the build flow live there); reads fetch the instances from the conductor
and apply the same visibility rule (`policy.can_see`), so another project's server
is "not found". Server actions are in `server_actions`, the rest of the compute API
(flavors, limits, instance actions, hosts, volume attachments) in `compute_extras`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from nova_lite import objects, paging
from nova_lite.api import policy, security_groups
from nova_lite.api.http import server_create
from nova_lite.api.http.common import (
    API,
    base_url,
    body_of,
    check_fields,
    context_of,
    json,
    microversion_of,
    public,
    query_int,
    session_of,
)
from nova_lite.api.http.microversion import MAX_VERSION, MIN_VERSION, APIVersion
from nova_lite.api.http.server_filters import ServerFilter
from nova_lite.api.http.server_views import Parts, ServerView
from nova_lite.api.http.views import link
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    FlavorNotFound,
    ImageNotFound,
    InstanceNotFound,
    Invalid,
    MessageTooLarge,
)

__all__ = ["routes", "server_view", "visible_instance"]

routes = web.RouteTableDef()
PREFIX = "/compute/v2.1"
MAX_LIMIT = 1000  # Nova's [api] max_limit: the most items one page returns


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{base}{PREFIX}/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


def _legacy_version_doc(base: str) -> dict[str, Any]:
    """Nova's v2.0 entry (deprecated, no microversions): listed first, as Nova lists it."""
    return {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{base}/compute/v2/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}
        ],
    }


@routes.get("/compute")
@routes.get("/compute/")
@public
async def versions(request: web.Request) -> web.Response:
    """The compute API versions: v2.0 (its version document only) and v2.1."""
    base = base_url(request)
    return json({"versions": [_legacy_version_doc(base), _version_doc(base)]})


@routes.get(PREFIX)
@routes.get(PREFIX + "/")
@public
async def version(request: web.Request) -> web.Response:
    """The v2.1 version document: ``min_version`` and ``version`` (the newest microversion)."""
    return json({"version": _version_doc(base_url(request))})


@routes.get("/compute/v2")
@routes.get("/compute/v2/")
@public
async def legacy_version(request: web.Request) -> web.Response:
    """The v2.0 version document (the v2.0 API itself is not served: use v2.1)."""
    return json({"version": _legacy_version_doc(base_url(request))})


# -- reading ---------------------------------------------------------------------------


async def visible_instance(request: web.Request, server_id: str) -> objects.Instance:
    """The server `server_id`, or `InstanceNotFound` if the caller may not see it."""
    ctx = context_of(request)
    instance = await request.app[API].conductor.instance_get(ctx, server_id)
    if not policy.can_see(ctx, instance.project_id):
        raise InstanceNotFound(f"Instance {server_id} could not be found.")
    return instance


async def server_view(
    request: web.Request, instances: Sequence[objects.Instance] = ()
) -> ServerView:
    """How servers look to this request (network names, host states for admins, and
    the security groups of `instances`, the servers it shows in full)."""
    api, ctx, version = request.app[API], context_of(request), microversion_of(request)
    networks = await api.network.list_networks(ctx)
    groups = await security_groups.names_by_server(api.network, ctx, instances)
    host_states: dict[str, str] = {}
    if ctx.is_admin and version.at_least("2.16"):
        hosts = await api.scheduler.all_hosts(ctx)
        host_states = {h["host"]: "UP" if h["state"] == "up" else "DOWN" for h in hosts}
    return ServerView(
        base=base_url(request),
        version=version,
        is_admin=ctx.is_admin,
        network_names={n.id: n.name for n in networks},
        host_states=host_states,
        security_groups=groups,
    )


def _all_tenants(request: web.Request, ctx: RequestContext) -> bool:
    raw = request.query.get("all_tenants")
    if raw is None or raw.lower() in ("0", "false", "off", "no"):
        return False
    request.app[API].authorize(ctx, "os_compute_api:servers:index:get_all_tenants", None)
    return True


async def _listed(
    request: web.Request, project: str | None, wanted: ServerFilter
) -> tuple[list[objects.Instance], int | None]:
    """The servers a listing shows, newest first, and its limit (capped at `MAX_LIMIT`).

    Read from the conductor `paging.PAGE_SIZE` at a time (fewer if a page's reply
    would pass the message limit) after the ``marker`` (which must name a server of
    the project, deleted or not, as Nova's: 400 otherwise), each page filtered here,
    until `limit` servers match or the pages run out: a listing costs the servers it
    passes over, not every server of the project (an admin's all_tenants: of the cloud).
    """
    api, ctx = request.app[API], context_of(request)
    marker = request.query.get("marker")
    limit = query_int(request, "limit")
    if limit is not None:
        limit = min(limit, MAX_LIMIT)
        if limit == 0:
            return [], limit
    size = paging.PAGE_SIZE
    shown: list[objects.Instance] = []
    while True:
        try:
            page = await api.conductor.newest_instances(
                ctx, limit=size, project_id=project, read_deleted=wanted.read_deleted, marker=marker
            )
        except MessageTooLarge:  # servers with large metadata: ask fewer, as `paging.pages`
            if size == 1:
                raise
            size //= 2
            continue
        shown.extend(i for i in page if wanted(i))
        if limit is not None and len(shown) >= limit:
            return shown[:limit], limit
        if len(page) < size:
            return shown, limit
        marker = page[-1].uuid


async def _list(request: web.Request, *, detail: bool) -> web.Response:
    ctx = context_of(request)
    all_tenants = _all_tenants(request, ctx)
    project = request.query.get("project_id") or request.query.get("tenant_id")
    if not all_tenants:
        project = ctx.project_id
    wanted = ServerFilter.of(request.query, microversion_of(request), is_admin=ctx.is_admin)
    page, limit = await _listed(request, project, wanted)
    view = await server_view(request, page if detail else ())
    body: dict[str, Any] = {"servers": [view.listed(i) if detail else view.brief(i) for i in page]}
    if limit is not None and page and len(page) == limit:
        query = {**request.query, "marker": page[-1].uuid}
        href = f"{base_url(request)}{request.path}?{urlencode(query)}"
        body["servers_links"] = [{"rel": "next", "href": href}]
    return json(body)


@routes.get(PREFIX + "/servers")
async def list_servers(request: web.Request) -> web.Response:
    """The caller's servers (id, name, links); filters and pagination as for detail."""
    return await _list(request, detail=False)


@routes.get(PREFIX + "/servers/detail")
async def list_servers_detail(request: web.Request) -> web.Response:
    """The caller's servers in full; ``status``, ``name`` (a regex), ``all_tenants``
    (admins), ``limit`` and ``marker`` narrow the list, newest first."""
    return await _list(request, detail=True)


@routes.get(PREFIX + "/servers/{server_id}")
async def show_server(request: web.Request) -> web.Response:
    """One server, in full."""
    instance = await visible_instance(request, request.match_info["server_id"])
    return json({"server": (await server_view(request, [instance])).detail(instance)})


# -- writing ---------------------------------------------------------------------------


@routes.post(PREFIX + "/servers")
async def create_server(request: web.Request) -> web.Response:
    """Start building servers; 202 with the first one's id and admin password.

    An unknown flavor or image is a 400, as Nova answers (the request is wrong, not
    the URL).
    """
    order = server_create.parse(await body_of(request), microversion_of(request))
    try:
        servers = await session_of(request).servers.create(
            order.name,
            flavor=order.flavor,
            image=order.image,
            networks=order.networks,
            count=order.count,
            availability_zone=order.availability_zone,
            block_devices=order.block_devices,
            scheduler_hints=order.scheduler_hints,
            metadata=order.metadata,
            fields=order.fields,
            security_groups=order.security_groups,
        )
    except FlavorNotFound as exc:
        raise Invalid(f"Invalid flavorRef provided: {exc}") from None
    except ImageNotFound as exc:
        raise Invalid(f"Can not find requested image: {exc}") from None
    first = servers[0]
    base = base_url(request)
    if order.return_reservation_id:
        return json({"reservation_id": f"r-{first.id[:8]}"}, status=202)
    body = {
        "id": first.id,
        "links": link(base, "servers", first.id),
        "OS-DCF:diskConfig": "AUTO" if order.fields.auto_disk_config else "MANUAL",
        "security_groups": [{"name": name} for name in order.security_groups or ["default"]],
        "adminPass": order.admin_password or secrets.token_urlsafe(9),
    }
    location = f"{base}{PREFIX}/servers/{first.id}"
    return json({"server": body}, status=202, headers={"Location": location})


UPDATE_FIELDS = {  # the body's field: the record's, and the microversion that added it
    "name": ("display_name", "2.1"),
    "accessIPv4": ("access_ip_v4", "2.1"),
    "accessIPv6": ("access_ip_v6", "2.1"),
    "OS-DCF:diskConfig": ("auto_disk_config", "2.1"),
    "description": ("description", "2.19"),
}


def record_changes(body: dict[str, Any], version: APIVersion, where: str) -> dict[str, Any]:
    """The record fields a body of an update (or rebuild) changes; 400 for one not served."""
    changes: dict[str, Any] = {}
    for field, value in body.items():
        if field not in UPDATE_FIELDS:
            continue
        name, since = UPDATE_FIELDS[field]
        if not version.at_least(since):
            raise Invalid(
                f"Additional properties are not allowed ({field!r} was unexpected) in "
                f"{where!r}: it needs microversion {since}."
            )
        changes[name] = value == "AUTO" if field == "OS-DCF:diskConfig" else value
    return changes


@routes.put(PREFIX + "/servers/{server_id}")
async def update_server(request: web.Request) -> web.Response:
    """Rename a server, or change its description, access addresses or disk config; 200."""
    body = await body_of(request, "server")
    check_fields(body, allowed=tuple(UPDATE_FIELDS), where="server")
    version = microversion_of(request)
    changes = record_changes(body, version, "server")
    servers = session_of(request).servers
    instance = await servers.update(request.match_info["server_id"], changes)
    parts = Parts.update(version)
    view = await server_view(request, [instance] if parts.extended else ())
    return json({"server": view.detail(instance, parts)})


@routes.delete(PREFIX + "/servers/{server_id}")
async def delete_server(request: web.Request) -> web.Response:
    """Delete a server (soft-delete when ``reclaim_instance_interval`` is set); 204.

    As Nova's API, a soft delete falls back to a hard delete for a server that never
    launched (`ServerActions.delete_deferred`).
    """
    server_id = request.match_info["server_id"]
    servers = session_of(request).servers
    if request.app[API].config.compute.reclaim_instance_interval > 0:
        await servers.delete_deferred(server_id)
    else:
        await servers.delete(server_id)
    return web.Response(status=204)
