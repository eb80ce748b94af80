"""What administrators see: the compute hosts' utilization, and every project's usage.

Both pages ask admin-only API routes (``os-hypervisors``, ``/v3/projects``, servers
of all tenants); for anyone else the API answers 403 and the page says so.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

from nova_lite.api.http.dashboard.app import dashboard_of, page_context, viewer_of

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/hosts")
async def hosts(request: web.Request) -> web.Response:
    """Each compute host: state, and its vCPUs, RAM and disk used out of what it has."""
    hypervisors = await viewer_of(request).api.hypervisors()
    ordered = sorted(hypervisors, key=lambda h: str(h["hypervisor_hostname"]))
    context = page_context(request, title="Compute hosts", section="hosts", hosts=ordered)
    return dashboard_of(request).templates.page("hosts.html", context)


def usage_by_project(
    projects: list[dict[str, Any]], servers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each project with its number of servers and the vCPUs and RAM they take."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"servers": 0, "vcpus": 0, "ram": 0})
    for server in servers:
        total = totals[str(server["project_id"])]
        total["servers"] += 1
        total["vcpus"] += int(server["vcpus"])
        total["ram"] += int(server["ram"])
    rows = [{**p, **totals[str(p["id"])]} for p in projects]
    return sorted(rows, key=lambda p: str(p["name"]))


@routes.get("/projects")
async def projects(request: web.Request) -> web.Response:
    """Every project, with what its servers take (administrators)."""
    api = viewer_of(request).api
    rows = usage_by_project(await api.projects(), await api.servers(all_projects=True))
    context = page_context(request, title="Projects", section="projects", projects=rows)
    return dashboard_of(request).templates.page("projects.html", context)
