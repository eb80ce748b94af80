"""Compute API: ``os-migrations`` (administrators) and ``/servers/{id}/migrations``.

Every resize, cold and live migration is recorded as a migration (`conductor.actions`);
``os-migrations`` lists them newest first, filtered by ``host`` (either end),
``source_compute``, ``status``, ``instance_uuid`` and, by microversion,
``migration_type`` (2.23), ``changes-since`` with paging by ``limit`` and
``marker`` (2.59), ``changes-before`` (2.66), ``user_id`` and ``project_id`` (2.80),
each entry in its microversion's fields. ``/servers/{id}/migrations`` (2.23) lists a
server's live migrations in progress (``preparing`` or ``running``), with no progress
figures (null: nothing copies memory that could be counted); showing one
(``/servers/{id}/migrations/{id}``), aborting or forcing one are not served.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, base_url, context_of, json, microversion_of, query_int
from nova_lite.api.http.compute import PREFIX, visible_instance
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.http.views import usectime
from nova_lite.compute import migration_states
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["migration_view", "routes"]

routes = web.RouteTableDef()


def _flavor_number(flavor: objects.Flavor) -> int | None:
    """Nova's numeric flavor id (``instance_type_id``): the flavor id, if it is a number."""
    return int(flavor.flavorid) if flavor.flavorid.isdigit() else None


def migration_view(migration: objects.Migration, version: APIVersion) -> dict[str, Any]:
    """A migration as its microversion shows it."""
    dest = migration.dest_host
    view: dict[str, Any] = {
        "id": migration.id,
        "status": migration.status,
        "instance_uuid": migration.instance_uuid,
        "source_node": migration.source_host,
        "source_compute": migration.source_host,
        "dest_node": dest,
        "dest_compute": dest,
        "dest_host": "127.0.0.1" if dest else None,
        "old_instance_type_id": _flavor_number(migration.old_flavor),
        "new_instance_type_id": _flavor_number(migration.new_flavor),
        "created_at": usectime(migration.created_at),
        "updated_at": usectime(migration.updated_at),
    }
    if version.at_least("2.23"):
        view["migration_type"] = migration.migration_type
    if version.at_least("2.59"):
        view["uuid"] = migration.uuid
    if version.at_least("2.80"):
        view.update({"user_id": migration.user_id, "project_id": migration.project_id})
    return view


def _since(raw: str, field: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"Invalid {field} {raw!r:.40}: an ISO 8601 time is required.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


Check = Callable[[objects.Migration], bool]


def _filters(request: web.Request, version: APIVersion) -> list[Check]:
    """The checks the query asks every listed migration to pass."""
    query, checks = request.query, []
    if "host" in query:
        host = query["host"]
        checks.append(lambda m: host in (m.source_host, m.dest_host))
    plain: dict[str, Callable[[objects.Migration], object]] = {
        "source_compute": lambda m: m.source_host,
        "status": lambda m: m.status,
        "instance_uuid": lambda m: m.instance_uuid,
    }
    if version.at_least("2.23"):
        plain["migration_type"] = lambda m: m.migration_type
    if version.at_least("2.80"):
        plain.update({"user_id": lambda m: m.user_id, "project_id": lambda m: m.project_id})
    for name, attribute in plain.items():
        if name in query:
            checks.append(lambda m, a=attribute, v=query[name]: a(m) == v)  # type: ignore[misc]
    times = (("changes-since", "2.59", 1), ("changes-before", "2.66", -1))
    for name, since, sign in times:
        if name in query and version.at_least(since):
            moment = _since(query[name], name)
            checks.append(lambda m, t=moment, s=sign: (m.updated_at - t).total_seconds() * s >= 0)  # type: ignore[misc]
    return checks


def _page(
    request: web.Request, version: APIVersion, found: Sequence[objects.Migration]
) -> tuple[list[objects.Migration], int | None]:
    rows = list(found)
    if not version.at_least("2.59"):
        return rows, None
    marker = request.query.get("marker")
    if marker is not None:
        uuids = [m.uuid for m in rows]
        if marker not in uuids:
            raise NotFound(f"Marker {marker} could not be found.")
        rows = rows[uuids.index(marker) + 1 :]
    limit = query_int(request, "limit")
    return (rows if limit is None else rows[:limit]), limit


@routes.get(PREFIX + "/os-migrations")
async def list_migrations(request: web.Request) -> web.Response:
    """Every resize, cold and live migration, newest first, filtered as the module says."""
    ctx = context_of(request)
    request.app[API].authorize(ctx, "os_compute_api:os-migrations:index", ctx.project_id)
    version = microversion_of(request)
    migrations = await request.app[API].conductor.migration_list(ctx)
    checks = _filters(request, version)
    newest = sorted(migrations, key=lambda m: (m.created_at, m.id), reverse=True)
    page, limit = _page(request, version, [m for m in newest if all(c(m) for c in checks)])
    body: dict[str, Any] = {"migrations": [migration_view(m, version) for m in page]}
    if limit is not None and page and len(page) == limit:
        query = {**request.query, "marker": page[-1].uuid}
        href = f"{base_url(request)}{request.path}?{urlencode(query)}"
        body["migrations_links"] = [{"rel": "next", "href": href}]
    return json(body)


async def _server(request: web.Request, rule: str) -> objects.Instance:
    """404 before 2.23; the server, once the policy `rule` allows it."""
    if not microversion_of(request).at_least("2.23"):
        raise NotFound("A server's migrations are listed from microversion 2.23.")
    ctx = context_of(request)
    instance = await visible_instance(request, request.match_info["server_id"])
    request.app[API].authorize(
        ctx, f"os_compute_api:servers:migrations:{rule}", instance.project_id
    )
    return instance


_PROGRESS = ("disk_processed", "disk_remaining", "disk_total", "memory_processed",
             "memory_remaining", "memory_total")  # fmt: skip
LIVE_IN_PROGRESS = (migration_states.PREPARING, migration_states.RUNNING)  # Nova's, of these


def live_view(migration: objects.Migration, version: APIVersion) -> dict[str, Any]:
    """A live migration in progress as ``/servers/{id}/migrations`` shows it."""
    dest = migration.dest_host
    view: dict[str, Any] = {
        "id": migration.id,
        "status": migration.status,
        "server_uuid": migration.instance_uuid,
        "source_node": migration.source_host,
        "source_compute": migration.source_host,
        "dest_node": dest,
        "dest_compute": dest,
        "dest_host": "127.0.0.1" if dest else None,
        **{f"{figure}_bytes": None for figure in _PROGRESS},
        "created_at": usectime(migration.created_at),
        "updated_at": usectime(migration.updated_at),
    }
    if version.at_least("2.59"):
        view["uuid"] = migration.uuid
    if version.at_least("2.80"):
        view.update({"user_id": migration.user_id, "project_id": migration.project_id})
    return view


@routes.get(PREFIX + "/servers/{server_id}/migrations")
async def list_server_migrations(request: web.Request) -> web.Response:
    """The server's live migrations in progress (2.23)."""
    instance = await _server(request, "index")
    found = await request.app[API].conductor.migration_list(
        context_of(request), instance_uuid=instance.uuid, statuses=list(LIVE_IN_PROGRESS)
    )
    version = microversion_of(request)
    return json({"migrations": [live_view(m, version) for m in found if m.live]})
