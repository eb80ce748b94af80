"""The rest of the compute API: instance actions, services, volume attachments.

``os-instance-actions`` lists what was done to a server, by which request, with the
events each service recorded (tracebacks for administrators only). ``os-services``
shows the compute hosts the scheduler knows (administrators only; ``os-hypervisors``
is in `hypervisors`). ``os-volume_attachments`` attaches and detaches volumes
through the server.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    session_of,
)
from nova_lite.api.http.compute import PREFIX, visible_instance
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.http.views import action_event_view, action_view, stable_id
from nova_lite.api.zones import zone_of
from nova_lite.exceptions import Invalid, NotFound, VolumeInvalidState

__all__ = ["routes"]

routes = web.RouteTableDef()
SERVER = PREFIX + "/servers/{server_id}"


# -- instance actions ------------------------------------------------------------------


@routes.get(SERVER + "/os-instance-actions")
async def list_instance_actions(request: web.Request) -> web.Response:
    """The server's actions, newest first."""
    actions = await session_of(request).servers.actions(request.match_info["server_id"])
    version = microversion_of(request)
    newest_first = sorted(actions, key=lambda a: a.start_time, reverse=True)
    return json({"instanceActions": [action_view(a, version) for a in newest_first]})


@routes.get(SERVER + "/os-instance-actions/{request_id}")
async def show_instance_action(request: web.Request) -> web.Response:
    """One action with its events (tracebacks and hosts for administrators)."""
    server_id, request_id = request.match_info["server_id"], request.match_info["request_id"]
    actions = await session_of(request).servers.actions(server_id)
    action = next((a for a in actions if a.request_id == request_id), None)
    if action is None:
        raise NotFound(f"Action for request_id {request_id} on instance {server_id} not found")
    version, is_admin = microversion_of(request), context_of(request).is_admin
    view = action_view(action, version)
    view["events"] = [
        action_event_view(e, action, version=version, is_admin=is_admin) for e in action.events
    ]
    return json({"instanceAction": view})


# -- services (administrators) ----------------------------------------------


def service_view(
    host: Mapping[str, Any],
    index: int,
    version: APIVersion,
    aggregate_zones: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A compute host as an os-services entry (the only services listed), in its zone."""
    view: dict[str, Any] = {
        "id": stable_id("service", host["host"]) if version.at_least("2.53") else index,
        "binary": "nova-compute",
        "host": host["host"],
        "zone": zone_of(host, aggregate_zones or {}),
        "status": host["status"],
        "state": host["state"],
        "updated_at": None,
        "disabled_reason": None,
    }
    if version.at_least("2.11"):
        view["forced_down"] = False
    return view


async def _hosts(request: web.Request) -> list[dict[str, Any]]:
    return [dict(h) for h in await session_of(request).hosts()]


@routes.get(PREFIX + "/os-services")
async def list_services(request: web.Request) -> web.Response:
    """The compute services (one per compute host), up or down; ``host``, ``binary``."""
    version = microversion_of(request)
    hosts = await _hosts(request)
    zones = await request.app[API].conductor.host_zones(context_of(request))
    services = [service_view(h, i, version, zones) for i, h in enumerate(hosts, start=1)]
    for name in ("host", "binary"):
        if name in request.query:
            services = [s for s in services if s[name] == request.query[name]]
    return json({"services": services})


# -- volume attachments -----------------------------------------------------------------------


def _attachment(
    server_id: str, mapping: objects.BlockDevice, version: APIVersion
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": mapping.volume_id,
        "serverId": server_id,
        "volumeId": mapping.volume_id,
        "device": mapping.device_name,
    }
    if version.at_least("2.70"):
        view["tag"] = None
    if version.at_least("2.79"):
        view["delete_on_termination"] = mapping.delete_on_termination
    return view


@routes.get(SERVER + "/os-volume_attachments")
async def list_volume_attachments(request: web.Request) -> web.Response:
    """The volumes attached to the server."""
    instance = await visible_instance(request, request.match_info["server_id"])
    version = microversion_of(request)
    attachments = [
        _attachment(instance.uuid, b, version) for b in instance.block_devices if b.volume_id
    ]
    return json({"volumeAttachments": attachments})


@routes.get(SERVER + "/os-volume_attachments/{volume_id}")
async def show_volume_attachment(request: web.Request) -> web.Response:
    """One volume's attachment to the server."""
    volume_id = request.match_info["volume_id"]
    instance = await visible_instance(request, request.match_info["server_id"])
    mapping = next((b for b in instance.block_devices if b.volume_id == volume_id), None)
    if mapping is None:
        raise NotFound(f"Volume {volume_id} is not attached to server {instance.uuid}.")
    return json({"volumeAttachment": _attachment(instance.uuid, mapping, microversion_of(request))})


@routes.post(SERVER + "/os-volume_attachments")
async def attach_volume(request: web.Request) -> web.Response:
    """Attach a volume (``volumeId``, optional ``device``); 200 with the attachment."""
    body = await body_of(request, "volumeAttachment")
    check_fields(
        body,
        allowed=("device", "tag", "delete_on_termination"),
        required=("volumeId",),
        where="volumeAttachment",
    )
    volume_id, device = body["volumeId"], body.get("device")
    if not isinstance(volume_id, str) or (device is not None and not isinstance(device, str)):
        raise Invalid(f"Invalid volumeAttachment {body!r}: volumeId and device are strings.")
    server_id = request.match_info["server_id"]
    try:
        device = await session_of(request).servers.attach_volume(server_id, volume_id, device)
    except VolumeInvalidState as exc:  # Nova: an attached (or busy) volume is a bad request
        raise Invalid(f"Invalid volume: {exc}") from None
    mapping = objects.BlockDevice(
        source_type="volume",
        volume_id=volume_id,
        device_name=device,
        delete_on_termination=bool(body.get("delete_on_termination", False)),
    )
    return json({"volumeAttachment": _attachment(server_id, mapping, microversion_of(request))})


@routes.delete(SERVER + "/os-volume_attachments/{volume_id}")
async def detach_volume(request: web.Request) -> web.Response:
    """Detach a volume from the server; 202."""
    await session_of(request).servers.detach_volume(
        request.match_info["server_id"], request.match_info["volume_id"]
    )
    return web.Response(status=202)
