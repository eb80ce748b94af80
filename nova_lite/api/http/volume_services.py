"""Block Storage API v3 (Cinder): services, hosts, availability zones, pools and
backend capabilities.

One volume service stands for Cinder's scheduler and volume services: os-services
shows ``cinder-scheduler`` on its host and ``cinder-volume`` on its one backend
(``<host>@lvmdriver-1``), both up while the service answers. Disabling one, or
freezing the backend, is recorded and shown (`ServiceStatus`) and changes nothing
else; failing over is refused (there is no replication).
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import (
    PREFIX,
    authorized,
    iso,
    project_context,
    query_bool,
)
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.volume import backend

__all__ = ["routes"]

routes = web.RouteTableDef()
BACKEND, VENDOR, PROTOCOL = backend.BACKEND_NAME, backend.VENDOR, backend.PROTOCOL


# -- services, hosts, zones -------------------------------------------------------------


async def _services(request: web.Request, ctx: RequestContext) -> list[dict[str, Any]]:
    status = await request.app[API].volume.service_status(ctx)
    host = status["host"]
    updated = iso(datetime.datetime.fromisoformat(status["updated_at"]))

    def entry(binary: str, on: str) -> dict[str, Any]:
        disabled = binary in status["disabled"]
        return {
            "binary": binary,
            "host": on,
            "zone": status["zone"],
            "status": "disabled" if disabled else "enabled",
            "state": "up",
            "updated_at": updated,
            "disabled_reason": status["disabled"].get(binary),
            "frozen": status["frozen"],
            "replication_status": "not-capable",
            "active_backend_id": None,
        }

    volume = {**entry("cinder-volume", f"{host}@{BACKEND}"), "backend_state": "up"}
    return [entry("cinder-scheduler", host), volume]


def _on_host(service_host: str, host: str) -> bool:
    """Cinder's host match: the host itself, or any backend or pool on it."""
    return service_host == host or service_host.startswith((host + "@", host + "#"))


@routes.get(PREFIX + "/os-services")
async def list_services(request: web.Request) -> web.Response:
    """The block storage services (admins); ``host`` and ``binary`` filter."""
    ctx = authorized(request, "volume_extension:services:index")
    services = await _services(request, ctx)
    if "host" in request.query:
        services = [s for s in services if _on_host(s["host"], request.query["host"])]
    if "binary" in request.query:
        services = [s for s in services if s["binary"] == request.query["binary"]]
    return json({"services": services})


@routes.put(PREFIX + "/os-services/{verb}")
async def update_service(request: web.Request) -> web.Response:
    """Enable, disable (with a reason), freeze or thaw a service (admins)."""
    ctx = authorized(request, "volume_extension:services:update")
    verb = request.match_info["verb"]
    body = await body_of(request)
    if not isinstance(body, dict):
        raise Invalid("The request body must be an object.")
    services = await _services(request, ctx)
    host = body.get("host")
    api = request.app[API].volume
    if verb in ("freeze", "thaw"):
        if not any(
            s["binary"] == "cinder-volume" and _on_host(s["host"], str(host)) for s in services
        ):
            raise Invalid(f"Host {host!r} is not a volume backend host.")
        await api.service_freeze(ctx, frozen=verb == "freeze")
        return web.Response(status=200)
    if verb in ("failover_host", "failover"):
        raise Invalid("The volume backend is not replication capable: it cannot fail over.")
    if verb not in ("enable", "disable", "disable-log-reason"):
        raise NotFound(f"Unknown service action {verb!r}.")
    binary = body.get("binary")
    if not any(s["host"] == host and s["binary"] == binary for s in services):
        raise NotFound(f"Service {binary} on host {host} could not be found.")
    reason = body.get("disabled_reason")
    if verb == "disable-log-reason" and (not isinstance(reason, str) or not reason.strip()):
        raise Invalid("disabled_reason must be a non-empty string.")
    state = await api.service_set(
        ctx, str(binary), disabled=verb != "enable", reason=reason if verb != "enable" else None
    )
    shown = {
        "host": host,
        "service": binary,
        "binary": binary,
        "disabled": state["disabled"],
        "status": "disabled" if state["disabled"] else "enabled",
    }
    if verb != "disable":
        shown["disabled_reason"] = state["disabled_reason"]
    return json(shown)


@routes.get(PREFIX + "/os-hosts")
async def list_hosts(request: web.Request) -> web.Response:
    """The block storage hosts (admins)."""
    ctx = authorized(request, "volume_extension:hosts")
    hosts = [
        {
            "host_name": s["host"],
            "service": s["binary"],
            "zone": s["zone"],
            "service-status": "available",
            "service-state": "enabled",
            "last-update": s["updated_at"],
        }
        for s in await _services(request, ctx)
    ]
    return json({"hosts": hosts})


@routes.get(PREFIX + "/os-hosts/{host}")
async def show_host(request: web.Request) -> web.Response:
    """What each project has on a volume host (admins), and the total."""
    ctx = authorized(request, "volume_extension:hosts")
    host = request.match_info["host"]
    if not any(_on_host(s["host"], host) for s in await _services(request, ctx)):
        raise NotFound(f"Host {host} could not be found.")
    api = request.app[API].volume
    volumes = await api.list(ctx)
    snapshots = await api.snapshot_list(ctx)
    projects = sorted(
        {v.project_id or "" for v in volumes} | {s.project_id or "" for s in snapshots}
    )
    rows = [_host_row(host, "(total)", volumes, snapshots)]
    for project in projects:
        mine = [v for v in volumes if v.project_id == project]
        theirs = [s for s in snapshots if s.project_id == project]
        rows.append(_host_row(host, project, mine, theirs))
    return json({"host": [{"resource": row} for row in rows]})


def _host_row(host: str, project: str, volumes: list[Any], snapshots: list[Any]) -> dict[str, str]:
    return {
        "host": host,
        "project": project,
        "volume_count": str(len(volumes)),
        "total_volume_gb": str(sum(v.size for v in volumes)),
        "snapshot_count": str(len(snapshots)),
        "total_snapshot_gb": str(sum(s.size for s in snapshots)),
    }


@routes.get(PREFIX + "/os-availability-zone")
async def list_availability_zones(request: web.Request) -> web.Response:
    """The zone volumes are created in."""
    ctx = project_context(request)
    status = await request.app[API].volume.service_status(ctx)
    zones = [{"zoneName": status["zone"], "zoneState": {"available": True}}]
    return json({"availabilityZoneInfo": zones})


# -- pools and capabilities ------------------------------------------------------


def _capabilities(host: str) -> dict[str, Any]:
    return {
        "volume_backend_name": BACKEND,
        "vendor_name": VENDOR,
        "storage_protocol": PROTOCOL,
        "driver_version": "1.0.0",
        "QoS_support": False,
        "total_capacity_gb": "infinite",
        "free_capacity_gb": "infinite",
        "reserved_percentage": 0,
        "timestamp": None,
        "updated": None,
    }


@routes.get(PREFIX + "/scheduler-stats/get_pools")
async def get_pools(request: web.Request) -> web.Response:
    """The storage pools (admins): one, the volume service's backend."""
    ctx = authorized(request, "scheduler_extension:scheduler_stats:get_pools")
    host = (await request.app[API].volume.service_status(ctx))["host"]
    name = f"{host}@{BACKEND}#{BACKEND}"
    pool: dict[str, Any] = {"name": name}
    if query_bool(request, "detail"):
        pool["capabilities"] = _capabilities(host)
    return json({"pools": [pool]})


@routes.get(PREFIX + "/capabilities/{host}")
async def show_capabilities(request: web.Request) -> web.Response:
    """A backend's capabilities (admins)."""
    ctx = authorized(request, "volume_extension:capabilities")
    host = (await request.app[API].volume.service_status(ctx))["host"]
    if not request.match_info["host"].startswith(host):
        raise NotFound(f"Backend {request.match_info['host']} could not be found.")
    return json(
        {
            "namespace": f"OS::Storage::Capabilities::{host}",
            "vendor_name": VENDOR,
            "volume_backend_name": BACKEND,
            "pool_name": BACKEND,
            "driver_version": "1.0.0",
            "storage_protocol": PROTOCOL,
            "display_name": None,
            "description": None,
            "visibility": None,
            "replication_targets": [],
            "properties": {},
        }
    )
