"""Compute API: ``os-hosts`` (administrators), deprecated in Nova since 2.43.

From microversion 2.43 every route answers 404, as Nova's does (``os-hypervisors``,
``os-services`` and ``os-availability-zone`` replace it). Below it, the list names
each compute host (service ``compute``, in its zone) and the control host's
conductor and scheduler (zone ``internal``); a compute host's detail gives its
capacity, its usage now, and what each project's servers there use. Changing a
host's status or maintenance mode and its power actions answer 501, as they do
with Nova's libvirt driver: disable a host through the scheduler's configuration.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, check_fields, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.zones import compute_hosts
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
HOSTS = PREFIX + "/os-hosts"
INTERNAL_ZONE = "internal"


def _authorize(request: web.Request, rule: str) -> None:
    if microversion_of(request).at_least("2.43"):
        raise NotFound("os-hosts was removed in microversion 2.43; use os-hypervisors.")
    ctx = context_of(request)
    request.app[API].authorize(ctx, f"os_compute_api:os-hosts:{rule}", ctx.project_id)


@routes.get(HOSTS)
async def list_hosts(request: web.Request) -> web.Response:
    """The hosts and their services, in a ``zone`` if given (an empty zone: every one)."""
    _authorize(request, "list")
    ctx = context_of(request)
    hosts = [
        {"host_name": h.host, "service": "compute", "zone": h.zone}
        for h in await compute_hosts(request.app[API], ctx)
    ]
    control = request.app[API].config.host
    for service in ("conductor", "scheduler"):
        hosts.append({"host_name": control, "service": service, "zone": INTERNAL_ZONE})
    zone = request.query.get("zone")
    if zone:
        hosts = [h for h in hosts if h["zone"] == zone]
    return json({"hosts": hosts})


async def _compute_host(request: web.Request) -> dict[str, Any]:
    name = request.match_info["host_name"]
    for host in await request.app[API].scheduler.all_hosts(context_of(request)):
        if host["host"] == name:
            return dict(host)
    raise NotFound(f"Compute host {name} could not be found.")


def _resource(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "disk_gb": disk_gb,
        }
    }


@routes.get(HOSTS + "/{host_name}")
async def show_host(request: web.Request) -> web.Response:
    """A compute host's capacity, usage now and at most, and each project's usage there."""
    _authorize(request, "show")
    host = await _compute_host(request)
    name = host["host"]
    instances = await request.app[API].conductor.all_instances(context_of(request), host=name)
    by_project: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for instance in instances:
        used = by_project[instance.project_id]
        used[0] += instance.flavor.vcpus
        used[1] += instance.flavor.memory_mb
        used[2] += instance.flavor.disk_gb
    total = [sum(u[i] for u in by_project.values()) for i in range(3)]
    resources = [
        _resource(name, "(total)", host["vcpus"], host["memory_mb"], host["local_gb"]),
        _resource(
            name, "(used_now)", host["vcpus_used"], host["memory_mb_used"], host["local_gb_used"]
        ),
        _resource(name, "(used_max)", *total),
        *(_resource(name, project, *used) for project, used in sorted(by_project.items())),
    ]
    return json({"host": resources})


UPDATES = {"status": ("enable", "disable"), "maintenance_mode": ("enable", "disable")}


@routes.put(HOSTS + "/{host_name}")
async def update_host(request: web.Request) -> web.Response:
    """Change a host's status or maintenance mode: checked, then 501 (not supported)."""
    _authorize(request, "update")
    body = await body_of(request)
    if not isinstance(body, dict) or not body:
        raise Invalid("The request body must name status and/or maintenance_mode.")
    check_fields(body, allowed=tuple(UPDATES))
    for field, allowed in UPDATES.items():
        if field in body and body[field] not in allowed:
            raise Invalid(f"Invalid input for field/attribute {field}. Value: {body[field]!r:.40}.")
    await _compute_host(request)
    raise web.HTTPNotImplemented(
        text="Changing a host's status or maintenance mode is not supported; the scheduler's "
        "configuration decides which hosts take servers."
    )


async def _power_action(request: web.Request, action: str) -> web.Response:
    _authorize(request, action)
    await _compute_host(request)
    raise web.HTTPNotImplemented(text=f"The host power action {action} is not supported.")


@routes.get(HOSTS + "/{host_name}/startup")
async def startup_host(request: web.Request) -> web.Response:
    """Power a host on: not supported (501); 404 for an unknown host."""
    return await _power_action(request, "start")


@routes.get(HOSTS + "/{host_name}/shutdown")
async def shutdown_host(request: web.Request) -> web.Response:
    """Power a host off: not supported (501); 404 for an unknown host."""
    return await _power_action(request, "shutdown")


@routes.get(HOSTS + "/{host_name}/reboot")
async def reboot_host(request: web.Request) -> web.Response:
    """Reboot a host: not supported (501); 404 for an unknown host."""
    return await _power_action(request, "reboot")
