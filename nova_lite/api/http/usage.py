"""Compute API: ``os-simple-tenant-usage``: what servers used over a period.

For each server alive during ``[start, end]`` (deleted ones included), the hours it
ran inside the period (from its launch, or the period's start, to its deletion, or
the period's end), times its vCPUs, RAM and disk, summed per project.
Administrators list every project's usage (``detailed=1`` adds each server's);
a project's members read their own. Times are ISO 8601 (``2026-12-01T10:00:00`` or
with microseconds, or a space instead of ``T``), UTC; either may be left out (now).
From 2.40 the servers counted page with ``limit`` and ``marker`` (a server's id).

``os-instance_usage_audit_log`` reports Nova's periodic usage audit of the last
completed month (its default ``instance_usage_audit_period``). nova_lite does not run
that audit (Nova's ``instance_usage_audit`` is off by default too), so every compute
host is reported as not run for the period.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import attrs
from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import (
    API,
    base_url,
    context_of,
    json,
    microversion_of,
    query_int,
)
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.http.views import usectime
from nova_lite.api.zones import compute_hosts
from nova_lite.exceptions import Invalid, MarkerNotFound

__all__ = ["Period", "routes", "server_usage"]

routes = web.RouteTableDef()
USAGE = PREFIX + "/os-simple-tenant-usage"
FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def _when(raw: str | None, field: str) -> datetime.datetime:
    if raw is None:
        return objects.utcnow()
    for fmt in FORMATS:
        try:
            return datetime.datetime.strptime(raw, fmt).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
    raise Invalid(f"Invalid {field} time {raw!r:.40}: use ISO 8601, e.g. 2026-12-01T10:00:00.")


@attrs.frozen
class Period:
    """The period usage is counted over, and now (for servers still running)."""

    start: datetime.datetime
    stop: datetime.datetime
    now: datetime.datetime

    @classmethod
    def of(cls, request: web.Request) -> Period:
        start = _when(request.query.get("start"), "start")
        stop = _when(request.query.get("end"), "end")
        if not start < stop:
            raise Invalid("Invalid start time. The start time cannot occur after the end time.")
        return cls(start, stop, objects.utcnow())


def _ended(instance: objects.Instance) -> datetime.datetime | None:
    """When a deleted server ended (its last update is its deletion)."""
    return (instance.updated_at or instance.created_at) if instance.deleted else None


def server_usage(instance: objects.Instance, period: Period) -> dict[str, Any] | None:
    """One server's usage in the period (Nova's server_usages entry), or None if it ran none."""
    started = instance.launched_at or instance.created_at
    ended = _ended(instance)
    begin, end = max(started, period.start), min(ended or period.now, period.stop)
    if end <= begin:
        return None
    flavor = instance.flavor
    lived = (ended or period.now) - started
    return {
        "instance_id": instance.uuid,
        "name": instance.display_name,
        "tenant_id": instance.project_id,
        "flavor": flavor.name,
        "hours": (end - begin).total_seconds() / 3600,
        "vcpus": flavor.vcpus,
        "memory_mb": flavor.memory_mb,
        "local_gb": flavor.root_gb + flavor.ephemeral_gb,
        "started_at": usectime(started),
        "ended_at": usectime(ended),
        "state": "terminated" if instance.deleted else instance.vm_state,
        "uptime": int(lived.total_seconds()),
    }


def tenant_usage(
    project: str, usages: Sequence[dict[str, Any]], period: Period, *, detailed: bool
) -> dict[str, Any]:
    """A project's totals over the period (with each server's usage if `detailed`)."""
    body: dict[str, Any] = {
        "tenant_id": project,
        "total_hours": sum(u["hours"] for u in usages),
        "total_local_gb_usage": sum(u["local_gb"] * u["hours"] for u in usages),
        "total_memory_mb_usage": sum(u["memory_mb"] * u["hours"] for u in usages),
        "total_vcpus_usage": sum(u["vcpus"] * u["hours"] for u in usages),
        "start": usectime(period.start),
        "stop": usectime(period.stop),
    }
    if detailed:
        body["server_usages"] = list(usages)
    return body


def _page(
    request: web.Request, instances: Iterable[objects.Instance]
) -> tuple[list[objects.Instance], int | None]:
    ordered = sorted(instances, key=lambda i: (i.created_at, i.uuid))
    if not microversion_of(request).at_least("2.40"):
        return ordered, None
    marker = request.query.get("marker")
    if marker is not None:
        ids = [i.uuid for i in ordered]
        if marker not in ids:
            raise MarkerNotFound(f"marker [{marker}] not found", marker=marker)
        ordered = ordered[ids.index(marker) + 1 :]
    limit = query_int(request, "limit")
    return (ordered if limit is None else ordered[:limit]), limit


async def _usages(
    request: web.Request, project: str | None, period: Period
) -> tuple[list[dict[str, Any]], list[objects.Instance], int | None]:
    conductor, ctx = request.app[API].conductor, context_of(request)
    instances = await conductor.all_instances(ctx, project_id=project, read_deleted=True)
    page, limit = _page(request, instances)
    usages = [u for i in page if (u := server_usage(i, period)) is not None]
    return usages, page, limit


def _links(request: web.Request, page: list[objects.Instance], limit: int | None) -> list[Any]:
    if limit is None or not page or len(page) < limit:
        return []
    query = {**request.query, "marker": page[-1].uuid}
    return [{"rel": "next", "href": f"{base_url(request)}{request.path}?{urlencode(query)}"}]


@routes.get(USAGE)
async def list_tenant_usages(request: web.Request) -> web.Response:
    """Every project's usage over ``start``..``end`` (administrators); ``detailed=1``."""
    ctx = context_of(request)
    request.app[API].authorize(ctx, "os_compute_api:os-simple-tenant-usage:list", ctx.project_id)
    period = Period.of(request)
    detailed = request.query.get("detailed", "0") not in ("0", "", "false", "False")
    usages, page, limit = await _usages(request, None, period)
    projects = sorted({u["tenant_id"] for u in usages})
    body: dict[str, Any] = {
        "tenant_usages": [
            tenant_usage(p, [u for u in usages if u["tenant_id"] == p], period, detailed=detailed)
            for p in projects
        ]
    }
    links = _links(request, page, limit)
    if links:
        body["tenant_usages_links"] = links
    return json(body)


@routes.get(USAGE + "/{tenant_id}")
async def show_tenant_usage(request: web.Request) -> web.Response:
    """One project's usage with each server's (``{}`` if it had none in the period)."""
    ctx, project = context_of(request), request.match_info["tenant_id"]
    request.app[API].authorize(ctx, "os_compute_api:os-simple-tenant-usage:show", project)
    period = Period.of(request)
    usages, page, limit = await _usages(request, project, period)
    body: dict[str, Any] = {
        "tenant_usage": tenant_usage(project, usages, period, detailed=True) if usages else {}
    }
    links = _links(request, page, limit)
    if links:
        body["tenant_usage_links"] = links
    return json(body)


# -- the instance usage audit log ---------------------------------------------------------


def last_completed_month(before: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """The last whole month that ended at or before `before` (Nova's audit period)."""
    end = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - datetime.timedelta(days=1)).replace(day=1)
    return start, end


async def _audit_log(request: web.Request, before: datetime.datetime) -> dict[str, Any]:
    hosts = sorted(h.host for h in await compute_hosts(request.app[API], context_of(request)))
    start, end = last_completed_month(before)
    return {
        "hosts_not_run": hosts,
        "log": {},
        "num_hosts": len(hosts),
        "num_hosts_done": 0,
        "num_hosts_not_run": len(hosts),
        "num_hosts_running": 0,
        "overall_status": f"0 of {len(hosts)} hosts done. 0 errors.",
        "period_beginning": start.strftime("%Y-%m-%d %H:%M:%S"),
        "period_ending": end.strftime("%Y-%m-%d %H:%M:%S"),
        "total_errors": 0,
        "total_instances": 0,
    }


def _audit_rule(request: web.Request, rule: str) -> None:
    ctx = context_of(request)
    request.app[API].authorize(
        ctx, f"os_compute_api:os-instance-usage-audit-log:{rule}", ctx.project_id
    )


@routes.get(PREFIX + "/os-instance_usage_audit_log")
async def list_usage_audit_logs(request: web.Request) -> web.Response:
    """The usage audit of the last completed month (not run on any host here)."""
    _audit_rule(request, "list")
    return json({"instance_usage_audit_logs": await _audit_log(request, objects.utcnow())})


@routes.get(PREFIX + "/os-instance_usage_audit_log/{before_timestamp}")
async def show_usage_audit_log(request: web.Request) -> web.Response:
    """The usage audit of the last month completed before the time given; 400 if bad."""
    _audit_rule(request, "show")
    raw = request.match_info["before_timestamp"]
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            before = datetime.datetime.strptime(raw, fmt).replace(tzinfo=datetime.UTC)
            break
        except ValueError:
            continue
    else:
        raise Invalid(f"Invalid timestamp for date {raw!r:.40}: use YYYY-MM-DD HH:MM:SS.")
    return json({"instance_usage_audit_log": await _audit_log(request, before)})
