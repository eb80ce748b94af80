"""Compute API: ``os-hypervisors`` (administrators): the compute hosts and their usage.

Each compute host is one hypervisor. Before 2.53 a hypervisor's id is its position in
the host list (1, 2, ...) and ``/{hostname}/search`` and ``/{hostname}/servers`` find
them by name; from 2.53 the id is a UUID that always names the same host, and the
list takes ``hypervisor_hostname_pattern`` and ``with_servers`` instead. From 2.28
``cpu_info`` is an object (a JSON string before); from 2.33 lists page with ``limit``
and ``marker``. ``/statistics`` sums every host; ``/{id}/uptime`` asks the host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from nova_lite import validators
from nova_lite.api.http.common import (
    API,
    base_url,
    context_of,
    json,
    microversion_of,
    query_int,
    session_of,
)
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.http.views import stable_id
from nova_lite.exceptions import Invalid, MarkerNotFound, MessagingError, NotFound, TransportError

__all__ = ["hypervisor_view", "routes"]

routes = web.RouteTableDef()
HYPERVISORS = PREFIX + "/os-hypervisors"
NEW_IDS = "2.53"  # UUID ids; search and servers folded into the list


def cpu_info(host: Mapping[str, Any]) -> dict[str, Any]:
    """The host's CPU as Nova's ``cpu_info`` describes it."""
    return {
        "arch": "x86_64",
        "model": host["hypervisor_type"],
        "vendor": "nova-lite",
        "topology": {"sockets": 1, "cores": host["vcpus"], "threads": 1},
        "features": [],
    }


def hypervisor_view(
    host: Mapping[str, Any], index: int, version: APIVersion, *, detail: bool
) -> dict[str, Any]:
    """A compute host as an os-hypervisors entry (with usage in detail)."""
    new_ids = version.at_least(NEW_IDS)
    view: dict[str, Any] = {
        "id": stable_id("hypervisor", host["host"]) if new_ids else index,
        "hypervisor_hostname": host["hypervisor_hostname"],
        "state": host["state"],
        "status": host["status"],
    }
    if not detail:
        return view
    service_id = stable_id("service", host["host"]) if new_ids else index
    info = cpu_info(host)
    view.update(
        {
            "hypervisor_type": host["hypervisor_type"],
            "hypervisor_version": 1000,
            "host_ip": "127.0.0.1",
            "service": {"host": host["host"], "id": service_id, "disabled_reason": None},
            "vcpus": host["vcpus"],
            "vcpus_used": host["vcpus_used"],
            "memory_mb": host["memory_mb"],
            "memory_mb_used": host["memory_mb_used"],
            "local_gb": host["local_gb"],
            "local_gb_used": host["local_gb_used"],
            "free_ram_mb": host["memory_mb"] - host["memory_mb_used"],
            "free_disk_gb": host["local_gb"] - host["local_gb_used"],
            "running_vms": host["running_vms"],
            "current_workload": 0,
            "disk_available_least": host["local_gb"] - host["local_gb_used"],
            "cpu_info": info if version.at_least("2.28") else orjson.dumps(info).decode(),
        }
    )
    return view


async def _hosts(request: web.Request) -> list[dict[str, Any]]:
    return [dict(h) for h in await session_of(request).hosts()]


def _authorize(request: web.Request, rule: str) -> None:
    ctx = context_of(request)
    request.app[API].authorize(ctx, f"os_compute_api:os-hypervisors:{rule}", ctx.project_id)


def _indexed(hosts: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(hosts, start=1))


def _matching(hosts: list[dict[str, Any]], pattern: str) -> list[tuple[int, dict[str, Any]]]:
    """The hosts whose hypervisor hostname contains `pattern` (Nova's LIKE), or 404."""
    found = [(i, h) for i, h in enumerate(hosts, start=1) if pattern in h["hypervisor_hostname"]]
    if not found:
        raise NotFound(f"No hypervisor matching {pattern!r} could be found.")
    return found


async def _servers(request: web.Request, host: str) -> list[dict[str, str]]:
    ctx = context_of(request)
    instances = await request.app[API].conductor.all_instances(ctx, host=host)
    return [{"name": i.display_name, "uuid": i.uuid} for i in instances]


def _page(
    request: web.Request, version: APIVersion, found: Sequence[tuple[int, dict[str, Any]]]
) -> tuple[list[tuple[int, dict[str, Any]]], int | None]:
    """Nova's paging from 2.33: after the ``marker`` id, at most ``limit`` hypervisors."""
    if not version.at_least("2.33"):
        return list(found), None
    rows = list(found)
    marker = request.query.get("marker")
    if marker is not None:
        ids = [str(hypervisor_view(h, i, version, detail=False)["id"]) for i, h in rows]
        if marker not in ids:
            raise MarkerNotFound(f"marker [{marker}] not found", marker=marker)
        rows = rows[ids.index(marker) + 1 :]
    limit = query_int(request, "limit")
    return (rows if limit is None else rows[:limit]), limit


async def _list(request: web.Request, *, detail: bool) -> web.Response:
    version = microversion_of(request)
    hosts = await _hosts(request)
    found = _indexed(hosts)
    pattern = request.query.get("hypervisor_hostname_pattern")
    with_servers = False
    if version.at_least(NEW_IDS):
        with_servers = validators.loose_boolean(
            "with_servers", request.query.get("with_servers", False)
        )
        if pattern is not None:
            found = _matching(hosts, pattern)
    page, limit = _page(request, version, found)
    views = []
    for index, host in page:
        view = hypervisor_view(host, index, version, detail=detail)
        if with_servers:
            view["servers"] = await _servers(request, host["host"])
        views.append(view)
    body: dict[str, Any] = {"hypervisors": views}
    if limit is not None and views and len(views) == limit:
        query = {**request.query, "marker": str(views[-1]["id"])}
        href = f"{base_url(request)}{request.path}?{urlencode(query)}"
        body["hypervisors_links"] = [{"rel": "next", "href": href}]
    return json(body)


@routes.get(HYPERVISORS)
async def list_hypervisors(request: web.Request) -> web.Response:
    """The hypervisors: id, hostname, state and status (servers too with ``with_servers``)."""
    _authorize(request, "list")
    return await _list(request, detail=False)


@routes.get(HYPERVISORS + "/detail")
async def list_hypervisors_detail(request: web.Request) -> web.Response:
    """The hypervisors with their capacity and usage."""
    _authorize(request, "list-detail")
    return await _list(request, detail=True)


@routes.get(HYPERVISORS + "/statistics")
async def hypervisor_statistics(request: web.Request) -> web.Response:
    """The capacity and usage of every hypervisor, summed."""
    _authorize(request, "statistics")
    version = microversion_of(request)
    hosts = _indexed(await _hosts(request))
    views = [hypervisor_view(h, i, version, detail=True) for i, h in hosts]
    keys = (
        "current_workload",
        "disk_available_least",
        "free_disk_gb",
        "free_ram_mb",
        "local_gb",
        "local_gb_used",
        "memory_mb",
        "memory_mb_used",
        "running_vms",
        "vcpus",
        "vcpus_used",
    )
    stats = {key: sum(v[key] for v in views) for key in keys}
    return json({"hypervisor_statistics": {"count": len(views), **stats}})


def _find(
    hosts: list[dict[str, Any]], wanted: str, version: APIVersion
) -> tuple[int, dict[str, Any]]:
    for index, host in enumerate(hosts, start=1):
        if str(hypervisor_view(host, index, version, detail=False)["id"]) == wanted:
            return index, host
    raise NotFound(f"Hypervisor with ID {wanted} could not be found.")


@routes.get(HYPERVISORS + "/{hypervisor_id}")
async def show_hypervisor(request: web.Request) -> web.Response:
    """One hypervisor with its capacity and usage (its servers with ``with_servers``, 2.53)."""
    _authorize(request, "show")
    version = microversion_of(request)
    index, host = _find(await _hosts(request), request.match_info["hypervisor_id"], version)
    view = hypervisor_view(host, index, version, detail=True)
    with_servers = version.at_least(NEW_IDS) and validators.loose_boolean(
        "with_servers", request.query.get("with_servers", False)
    )
    if with_servers:
        view["servers"] = await _servers(request, host["host"])
    return json({"hypervisor": view})


@routes.get(HYPERVISORS + "/{hypervisor_id}/uptime")
async def hypervisor_uptime(request: web.Request) -> web.Response:
    """The hypervisor's uptime, as its host reports it (400 if the host does not answer)."""
    _authorize(request, "uptime")
    version = microversion_of(request)
    index, host = _find(await _hosts(request), request.match_info["hypervisor_id"], version)
    try:
        uptime = await request.app[API].compute.get_host_uptime(context_of(request), host["host"])
    except (MessagingError, TransportError) as exc:
        raise Invalid(f"Compute service of {host['host']} is unavailable at this time.") from exc
    view = hypervisor_view(host, index, version, detail=False)
    return json({"hypervisor": {**view, "uptime": uptime}})


def _before_new_ids(request: web.Request) -> APIVersion:
    version = microversion_of(request)
    if version.at_least(NEW_IDS):
        raise NotFound("This API was removed in microversion 2.53; use the hypervisor list.")
    return version


@routes.get(HYPERVISORS + "/{hostname}/search")
async def search_hypervisors(request: web.Request) -> web.Response:
    """The hypervisors whose hostname contains the given text (before 2.53); 404 if none."""
    _authorize(request, "search")
    version = _before_new_ids(request)
    found = _matching(await _hosts(request), request.match_info["hostname"])
    return json({"hypervisors": [hypervisor_view(h, i, version, detail=False) for i, h in found]})


@routes.get(HYPERVISORS + "/{hostname}/servers")
async def hypervisor_servers(request: web.Request) -> web.Response:
    """The matching hypervisors with the servers on each (before 2.53); 404 if none."""
    _authorize(request, "servers")
    version = _before_new_ids(request)
    views = []
    for index, host in _matching(await _hosts(request), request.match_info["hostname"]):
        view = hypervisor_view(host, index, version, detail=False)
        servers = await _servers(request, host["host"])
        if servers:
            view["servers"] = servers
        views.append(view)
    return json({"hypervisors": views})
