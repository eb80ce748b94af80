"""Compute API: ``os-aggregates`` (administrators) and ``os-availability-zone``.

An aggregate groups compute hosts under metadata; its ``availability_zone`` makes
them a zone (`nova_lite.conductor.aggregates`). ``POST /os-aggregates/{id}/action``
takes ``add_host``, ``remove_host`` and ``set_metadata`` (a null value removes a
key). A host must be a compute host the scheduler knows (404 otherwise).
``os-availability-zone`` lists the zones for anyone (available or not), and with
``/detail`` (administrators) each zone's hosts and services, the control services in
Nova's ``internal`` zone.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import (
    API,
    body_of,
    check_fields,
    context_of,
    json,
    microversion_of,
)
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.http.views import usectime
from nova_lite.api.zones import available_zones, compute_hosts
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound

__all__ = ["aggregate_view", "routes"]

routes = web.RouteTableDef()
AGGREGATES = PREFIX + "/os-aggregates"
INTERNAL_ZONE = "internal"  # Nova's internal_service_availability_zone
CONTROL_SERVICES = ("nova-conductor", "nova-scheduler")


def _rule(name: str) -> str:
    return f"os_compute_api:os-aggregates:{name}"


def aggregate_view(
    aggregate: objects.Aggregate, version: APIVersion, *, full: bool = True
) -> dict[str, Any]:
    """An aggregate as Nova shows it (create shows it without hosts and metadata)."""
    view: dict[str, Any] = {
        "availability_zone": aggregate.availability_zone,
        "created_at": usectime(aggregate.created_at),
        "deleted": False,
        "deleted_at": None,
        "id": aggregate.id,
        "name": aggregate.name,
        "updated_at": usectime(aggregate.updated_at),
    }
    if full:
        view.update({"hosts": list(aggregate.hosts), "metadata": dict(aggregate.metadata)})
    if version.at_least("2.41"):
        view["uuid"] = aggregate.uuid
    return view


def _admin(request: web.Request, rule: str) -> RequestContext:
    ctx = context_of(request)
    request.app[API].authorize(ctx, _rule(rule), ctx.project_id)
    return ctx


def _id(request: web.Request) -> int:
    raw = request.match_info["aggregate_id"]
    if not raw.isdigit():
        raise NotFound(f"Aggregate {raw} could not be found.")
    return int(raw)


def _name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise Invalid(f"Invalid input for field/attribute {field}. Value: {value!r:.80}.")
    return value


def _zone(value: object) -> str | None:
    return None if value is None else _name(value, "availability_zone")


def _respond(aggregate: objects.Aggregate, request: web.Request) -> web.Response:
    return json({"aggregate": aggregate_view(aggregate, microversion_of(request))})


@routes.get(AGGREGATES)
async def list_aggregates(request: web.Request) -> web.Response:
    """Every aggregate, with its hosts and metadata."""
    ctx = _admin(request, "index")
    aggregates = await request.app[API].conductor.aggregate_list(ctx)
    version = microversion_of(request)
    return json({"aggregates": [aggregate_view(a, version) for a in aggregates]})


@routes.post(AGGREGATES)
async def create_aggregate(request: web.Request) -> web.Response:
    """Create an aggregate (``name``, optional ``availability_zone``); 409 if the name is taken."""
    ctx = _admin(request, "create")
    body = await body_of(request, "aggregate")
    check_fields(body, allowed=("availability_zone",), required=("name",), where="aggregate")
    created = await request.app[API].conductor.aggregate_create(
        ctx, _name(body["name"]), availability_zone=_zone(body.get("availability_zone"))
    )
    version = microversion_of(request)
    return json({"aggregate": aggregate_view(created, version, full=False)})


@routes.get(AGGREGATES + "/{aggregate_id}")
async def show_aggregate(request: web.Request) -> web.Response:
    """One aggregate."""
    ctx = _admin(request, "show")
    return _respond(await request.app[API].conductor.aggregate_get(ctx, _id(request)), request)


@routes.put(AGGREGATES + "/{aggregate_id}")
async def update_aggregate(request: web.Request) -> web.Response:
    """Rename an aggregate or change its zone."""
    ctx = _admin(request, "update")
    body = await body_of(request, "aggregate")
    check_fields(body, allowed=("name", "availability_zone"), where="aggregate")
    if not body:
        raise Invalid("Give the aggregate's new name or availability_zone.")
    name = _name(body["name"]) if "name" in body else None
    metadata = (
        {"availability_zone": _zone(body["availability_zone"])}
        if "availability_zone" in body
        else None
    )
    updated = await request.app[API].conductor.aggregate_update(
        ctx, _id(request), name=name, metadata=metadata
    )
    return _respond(updated, request)


@routes.delete(AGGREGATES + "/{aggregate_id}")
async def delete_aggregate(request: web.Request) -> web.Response:
    """Delete an empty aggregate (400 while it has hosts); 200."""
    ctx = _admin(request, "delete")
    await request.app[API].conductor.aggregate_delete(ctx, _id(request))
    return web.Response(status=200)


async def _known_host(request: web.Request, ctx: RequestContext, host: object) -> str:
    if not isinstance(host, str) or not host:
        raise Invalid(f"Invalid input for field/attribute host. Value: {host!r:.80}.")
    if host not in {h.host for h in await compute_hosts(request.app[API], ctx)}:
        raise NotFound(f"Compute host {host} could not be found.")
    return host


def _metadata(args: dict[str, Any]) -> dict[str, str | None]:
    check_fields(args, allowed=(), required=("metadata",), where="set_metadata")
    metadata = args["metadata"]
    if not isinstance(metadata, dict) or not metadata:
        raise Invalid(f"Invalid input for field/attribute metadata. Value: {metadata!r:.80}.")
    for key, value in metadata.items():
        _name(key, "metadata key")
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise Invalid(f"Invalid input for field/attribute {key}. Value: {value!r:.80}.")
    return dict(metadata)


ACTIONS = {
    "add_host": "add_host",
    "remove_host": "remove_host",
    "set_metadata": "set_metadata",
}


@routes.post(AGGREGATES + "/{aggregate_id}/action")
async def aggregate_action(request: web.Request) -> web.Response:
    """``add_host``, ``remove_host`` (``{"host": ...}``) or ``set_metadata``; 200 with it."""
    body = await body_of(request)
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ACTIONS:
        raise Invalid(f"The body must name one action of {sorted(ACTIONS)}.")
    [(name, args)] = body.items()
    ctx = _admin(request, ACTIONS[name])
    if not isinstance(args, dict):
        raise Invalid(f"Invalid input for action {name!r}: an object is required.")
    conductor, aggregate_id = request.app[API].conductor, _id(request)
    if name == "set_metadata":
        updated = await conductor.aggregate_update(ctx, aggregate_id, metadata=_metadata(args))
        return _respond(updated, request)
    check_fields(args, allowed=(), required=("host",), where=name)
    if name == "add_host":
        host = await _known_host(request, ctx, args["host"])
        return _respond(await conductor.aggregate_add_host(ctx, aggregate_id, host), request)
    host = args["host"] if isinstance(args["host"], str) else ""
    return _respond(await conductor.aggregate_remove_host(ctx, aggregate_id, host), request)


# -- availability zones ---------------------------------------------------------------------


def _zone_entry(name: str, available: bool, hosts: Any = None) -> dict[str, Any]:
    return {"zoneName": name, "zoneState": {"available": available}, "hosts": hosts}


@routes.get(PREFIX + "/os-availability-zone")
async def list_availability_zones(request: web.Request) -> web.Response:
    """The zones of the compute hosts: available (an enabled host in it) or not."""
    ctx = context_of(request)
    request.app[API].authorize(ctx, "os_compute_api:os-availability-zone:list", ctx.project_id)
    available, unavailable = available_zones(await compute_hosts(request.app[API], ctx))
    zones = [_zone_entry(z, True) for z in available] + [_zone_entry(z, False) for z in unavailable]
    return json({"availabilityZoneInfo": zones})


def _service(enabled: bool, up: bool) -> dict[str, Any]:
    return {"available": enabled, "active": up, "updated_at": None}


@routes.get(PREFIX + "/os-availability-zone/detail")
async def list_availability_zones_detail(request: web.Request) -> web.Response:
    """The zones with their hosts and services (administrators); control services: internal."""
    ctx = context_of(request)
    request.app[API].authorize(ctx, "os_compute_api:os-availability-zone:detail", ctx.project_id)
    hosts = await compute_hosts(request.app[API], ctx)
    available, unavailable = available_zones(hosts)
    control = request.app[API].config.host
    internal = {control: {name: _service(True, True) for name in CONTROL_SERVICES}}
    zones = [_zone_entry(INTERNAL_ZONE, True, internal)]
    for name in [*available, *unavailable]:
        members = {
            h.host: {"nova-compute": _service(h.enabled, h.up)} for h in hosts if h.zone == name
        }
        zones.append(_zone_entry(name, name in available, members))
    return json({"availabilityZoneInfo": zones})
