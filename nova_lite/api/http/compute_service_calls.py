"""The compute API's service-to-service routes, for callers with Keystone's ``service`` role.

Nova keeps these for Neutron and Cinder, and its default rules name the ``service``
role alone (not ``admin``). Once the rule lets the caller through, servers and
volumes are looked up with the caller's rights raised, as Nova does for its peers:

- ``os-server-external-events``: each event is checked (its name for the request's
  microversion, its server) and answered with a code per event (200; 404 for a
  server that does not exist, 422 for one on no host); the answer is 200, 207 when
  some failed, 404 when all did. Nothing in nova_lite waits on these events (there
  is no VIF plugging to wait for), so an accepted event changes nothing.
- the ``PUT`` of ``os-volume_attachments/{volume_id}`` (to 2.84 a swap): the volume
  must exist (404) and be migrating, which only Cinder starts; nova_lite's volumes
  never migrate, so an existing volume is 409, as Nova answers a swap nobody asked
  Cinder for.
- ``os-assisted-volume-snapshots`` (create, delete): the volume must be attached to
  a server (400). The snapshot is the file-based drivers' (libvirt on NFS); the
  drivers here have no volume files, so, as Nova's fake driver, nothing is done.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from nova_lite.api.http.common import API, body_of, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX, visible_instance
from nova_lite.api.http.microversion import APIVersion
from nova_lite.exceptions import Conflict, Invalid, NotFound, VolumeNotFound

__all__ = ["EVENT_NAMES", "routes"]

routes = web.RouteTableDef()
_EVENTS = "os_compute_api:os-server-external-events:create"
_SWAP = "os_compute_api:os-volumes-attachments:swap"
_ASSISTED = "os_compute_api:os-assisted-volume-snapshots:"
#: The event names Nova accepts, and the microversion that added each.
EVENT_NAMES = {
    "network-changed": "2.1",
    "network-vif-plugged": "2.1",
    "network-vif-unplugged": "2.1",
    "network-vif-deleted": "2.1",
    "volume-extended": "2.51",
    "power-update": "2.76",
}


def _authorize(request: web.Request, rule: str) -> None:
    ctx = context_of(request)
    request.app[API].authorize(ctx, rule, ctx.project_id)


def _check_event(event: Any, version: APIVersion) -> dict[str, Any]:
    """One event as Nova's schema has it; `Invalid` naming what is wrong."""
    if not isinstance(event, dict):
        raise Invalid("Each event must be an object.")
    unknown = set(event) - {"name", "server_uuid", "status", "tag"}
    if unknown:
        raise Invalid(f"Additional properties are not allowed ({sorted(unknown)} unexpected).")
    name = event.get("name")
    if name not in EVENT_NAMES or not version.at_least(EVENT_NAMES[name]):
        allowed = [n for n, since in EVENT_NAMES.items() if version.at_least(since)]
        raise Invalid(f"Invalid event name {name!r}: at {version} one of {allowed}.")
    if not isinstance(event.get("server_uuid"), str):
        raise Invalid("Each event needs a server_uuid.")
    status = event.get("status", "completed")
    if status not in ("failed", "completed", "in-progress"):
        raise Invalid(f"Invalid event status {status!r}: failed, completed or in-progress.")
    tag = event.get("tag")
    if tag is not None and (not isinstance(tag, str) or len(tag) > 255):
        raise Invalid("An event's tag is a string of at most 255 characters.")
    return {**event, "status": status}


@routes.post(PREFIX + "/os-server-external-events")
async def create_external_events(request: web.Request) -> web.Response:
    """Events from Neutron or Cinder about servers (service role); a code per event."""
    _authorize(request, _EVENTS)
    body = await body_of(request)
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not events:
        raise Invalid("The body must be {'events': [...]} with at least one event.")
    version = microversion_of(request)
    checked = [_check_event(event, version) for event in events]
    conductor = request.app[API].conductor
    elevated = context_of(request).elevated()
    answered = []
    for event in checked:
        try:
            instance = await conductor.instance_get(elevated, event["server_uuid"])
            code = 200 if instance.host else 422
        except NotFound:
            code = 404
        status = event["status"] if code == 200 else "failed"
        answered.append({**event, "code": code, "status": status})
    accepted = [e for e in answered if e["code"] == 200]
    if not accepted:
        raise NotFound("No instances found for any event.")
    return json({"events": answered}, status=200 if len(accepted) == len(answered) else 207)


@routes.put(PREFIX + "/servers/{server_id}/os-volume_attachments/{volume_id}")
async def swap_volume(request: web.Request) -> web.Response:
    """Swap an attached volume for another (service role; only during Cinder's migration)."""
    instance = await visible_instance(request, request.match_info["server_id"])
    _authorize(request, _SWAP)
    body = await body_of(request, "volumeAttachment")
    if set(body) != {"volumeId"} or not isinstance(body["volumeId"], str):
        raise Invalid("The body must be {'volumeAttachment': {'volumeId': ...}}.")
    old_volume_id = request.match_info["volume_id"]
    try:
        await request.app[API].volume.get(context_of(request).elevated(), old_volume_id)
    except VolumeNotFound:
        raise NotFound(f"Volume {old_volume_id} could not be found.") from None
    raise Conflict(
        f"volume {old_volume_id} is not migrating; this API should only be called by Cinder"
        f" (server {instance.uuid})."
    )


@routes.post(PREFIX + "/os-assisted-volume-snapshots")
async def create_assisted_snapshot(request: web.Request) -> web.Response:
    """Snapshot a file-based volume of a server (service role); nothing to do here."""
    _authorize(request, _ASSISTED + "create")
    body = await body_of(request, "snapshot")
    info = body.get("create_info")
    volume_id = body.get("volume_id")
    if not isinstance(volume_id, str) or not isinstance(info, dict):
        raise Invalid("The snapshot needs a volume_id and a create_info object.")
    for field in ("snapshot_id", "type", "new_file"):
        if not isinstance(info.get(field), str):
            raise Invalid(f"create_info needs {field!r}.")
    if info["type"] != "qcow2":
        raise Invalid(f"create_info type {info['type']!r} is invalid: only 'qcow2'.")
    await _attached(request, volume_id)
    return json({"snapshot": {"id": info["snapshot_id"], "volumeId": volume_id}})


async def _attached(request: web.Request, volume_id: str) -> None:
    """`Invalid` unless the volume exists and is attached to a server."""
    try:
        volume = await request.app[API].volume.get(context_of(request).elevated(), volume_id)
    except VolumeNotFound:
        raise Invalid(f"No volume Block Device Mapping with id {volume_id}.") from None
    if volume.attached_to is None:
        raise Invalid(f"No volume Block Device Mapping with id {volume_id}.")


@routes.delete(PREFIX + "/os-assisted-volume-snapshots/{snapshot_id}")
async def delete_assisted_snapshot(request: web.Request) -> web.Response:
    """Delete a file-based volume snapshot (service role; ``delete_info``); 204."""
    _authorize(request, _ASSISTED + "delete")
    raw = request.query.get("delete_info")
    try:
        info = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("volume_id"), str):
        raise Invalid("delete_info must be JSON naming the volume_id.")
    await _attached(request, info["volume_id"])
    return web.Response(status=204)
