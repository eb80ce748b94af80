"""The JSON shapes of the compute API: flavors, instance actions, links and times.

Field names, nesting and time formats are Nova's, and so is what depends on the
microversion (``description`` from 2.55, ``updated_at`` from 2.58, ...) or on the
caller being an administrator (event tracebacks). These are pure functions of
model objects; handlers fetch what they need and pass it in. Servers have a module
of their own, `server_views`.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from typing import Any

from nova_lite import objects
from nova_lite.api.http.microversion import APIVersion

__all__ = [
    "action_event_view",
    "action_view",
    "flavor_brief",
    "flavor_detail",
    "host_id",
    "isotime",
    "link",
    "reservation_id",
    "stable_id",
    "usectime",
]

# The names Nova records instance actions under, where the library's differ.
ACTION_NAMES = {
    "reboot_hard": "reboot",
    "set_admin_password": "changePassword",
    "snapshot": "createImage",
    "backup": "createBackup",
    "confirm_resize": "confirmResize",
    "revert_resize": "revertResize",
    "shelve_offload": "shelveOffload",
    "soft_delete": "delete",
    "force_delete": "forceDelete",
}


def isotime(moment: datetime.datetime | None) -> str | None:
    """``2013-09-03T04:01:32Z``: the time format of most compute fields."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def usectime(moment: datetime.datetime | None) -> str | None:
    """``2013-09-23T13:37:00.000000``: the format of launched_at and action times."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def stable_id(kind: str, name: str) -> str:
    """A UUID that always names the same thing (a host's service, its hypervisor)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"nova-lite:{kind}:{name}"))


def link(base: str, collection: str, item: str) -> list[dict[str, str]]:
    """Nova's ``links``: the versioned self link and the unversioned bookmark."""
    return [
        {"rel": "self", "href": f"{base}/compute/v2.1/{collection}/{item}"},
        {"rel": "bookmark", "href": f"{base}/compute/{collection}/{item}"},
    ]


def host_id(project_id: str, host: str | None) -> str:
    """Nova's ``hostId``: the host, hashed with the project so projects cannot compare."""
    if not host:
        return ""
    return hashlib.sha224(f"{project_id}{host}".encode()).hexdigest()


def reservation_id(instance: objects.Instance) -> str:
    """The id of the create request that made the server (its servers share it)."""
    return instance.system_metadata.get("reservation_id", f"r-{instance.uuid[:8]}")


def flavor_brief(base: str, flavor: objects.Flavor, version: APIVersion) -> dict[str, Any]:
    """The ``GET /flavors`` entry."""
    view: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": link(base, "flavors", flavor.flavorid),
    }
    if version.at_least("2.55"):
        view["description"] = flavor.description
    return view


def flavor_detail(base: str, flavor: objects.Flavor, version: APIVersion) -> dict[str, Any]:
    """The full flavor."""
    view = flavor_brief(base, flavor, version)
    view.update(
        {
            "ram": flavor.memory_mb,
            "vcpus": flavor.vcpus,
            "disk": flavor.root_gb,
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
            "swap": flavor.swap if flavor.swap or version.at_least("2.75") else "",
            "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": flavor.is_public,
            "rxtx_factor": flavor.rxtx_factor,
        }
    )
    if version.at_least("2.61"):
        view["extra_specs"] = dict(flavor.extra_specs)
    return view


def action_view(action: objects.InstanceAction, version: APIVersion) -> dict[str, Any]:
    """One os-instance-actions entry (without its events)."""
    view: dict[str, Any] = {
        "action": ACTION_NAMES.get(action.action, action.action),
        "instance_uuid": action.instance_uuid,
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": usectime(action.start_time),
        "message": action.message,
    }
    if version.at_least("2.58"):
        last = max([action.start_time, *(e.finish_time or e.start_time for e in action.events)])
        view["updated_at"] = usectime(last)
    return view


def action_event_view(
    event: objects.InstanceActionEvent,
    action: objects.InstanceAction,
    *,
    version: APIVersion,
    is_admin: bool,
) -> dict[str, Any]:
    """One event of an instance action; the traceback and host only for admins."""
    view: dict[str, Any] = {
        "event": event.event,
        "start_time": usectime(event.start_time),
        "finish_time": usectime(event.finish_time),
        "result": event.result,
    }
    if is_admin:
        view["traceback"] = event.traceback
    if version.at_least("2.62"):
        view["hostId"] = host_id(action.project_id or "", event.host)
        if is_admin:
            view["host"] = event.host
    return view
