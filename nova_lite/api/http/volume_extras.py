"""Block Storage API v3 (Cinder): limits, quotas and quota classes, user messages and
the extensions list. Services, hosts, zones and pools are in ``volume_services``.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import (
    PREFIX,
    iso,
    project_context,
    query_bool,
    self_links,
)

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get(PREFIX + "/limits")
async def limits(request: web.Request) -> web.Response:
    """The project's volume limits and usage."""
    ctx = project_context(request)
    project = request.match_info["project_id"]
    quota = await request.app[API].volume.quota_show(ctx, project, usage=True)
    absolute = {
        "maxTotalVolumes": quota["volumes"]["limit"],
        "maxTotalVolumeGigabytes": quota["gigabytes"]["limit"],
        "maxTotalSnapshots": quota["snapshots"]["limit"],
        "maxTotalBackups": quota["backups"]["limit"],
        "maxTotalBackupGigabytes": quota["backup_gigabytes"]["limit"],
        "totalVolumesUsed": quota["volumes"]["in_use"],
        "totalGigabytesUsed": quota["gigabytes"]["in_use"],
        "totalSnapshotsUsed": quota["snapshots"]["in_use"],
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }
    return json({"limits": {"rate": [], "absolute": absolute}})


# -- quotas ---------------------------------------------------------------------------


@routes.get(PREFIX + "/os-quota-sets/{target}")
async def show_quota_set(request: web.Request) -> web.Response:
    """A project's volume limits (``usage=true``: with what it uses)."""
    target = request.match_info["target"]
    usage = bool(query_bool(request, "usage"))
    quota = await request.app[API].volume.quota_show(project_context(request), target, usage=usage)
    return json({"quota_set": {"id": target, **quota}})


@routes.get(PREFIX + "/os-quota-sets/{target}/defaults")
async def show_default_quota_set(request: web.Request) -> web.Response:
    """The default volume limits."""
    target = request.match_info["target"]
    defaults = await request.app[API].volume.quota_defaults(project_context(request), target)
    return json({"quota_set": {"id": target, **defaults}})


@routes.put(PREFIX + "/os-quota-sets/{target}")
async def update_quota_set(request: web.Request) -> web.Response:
    """Set some of a project's volume limits (admins)."""
    body = await body_of(request, "quota_set")
    given = {k: v for k, v in body.items() if k not in ("tenant_id", "skip_validation", "id")}
    result = await request.app[API].volume.quota_update(
        project_context(request), request.match_info["target"], given
    )
    return json({"quota_set": result})


@routes.delete(PREFIX + "/os-quota-sets/{target}")
async def delete_quota_set(request: web.Request) -> web.Response:
    """Give a project the default volume limits again (admins)."""
    await request.app[API].volume.quota_delete(
        project_context(request), request.match_info["target"]
    )
    return web.Response(status=200)


@routes.get(PREFIX + "/os-quota-class-sets/{class_name}")
async def show_quota_class_set(request: web.Request) -> web.Response:
    """A quota class's volume limits (admins; ``default``: what projects get)."""
    name = request.match_info["class_name"]
    limits = await request.app[API].volume.quota_class_show(project_context(request), name)
    return json({"quota_class_set": {"id": name, **limits}})


@routes.put(PREFIX + "/os-quota-class-sets/{class_name}")
async def update_quota_class_set(request: web.Request) -> web.Response:
    """Set some of a quota class's volume limits (admins)."""
    body = await body_of(request, "quota_class_set")
    limits = await request.app[API].volume.quota_class_update(
        project_context(request), request.match_info["class_name"], body
    )
    return json({"quota_class_set": limits})


@routes.get(PREFIX + "/messages")
async def list_messages(request: web.Request) -> web.Response:
    """The project's user messages (3.3)."""
    found = await request.app[API].volume.message_list(project_context(request))
    return json({"messages": [_message_view(request, m) for m in found]})


@routes.get(PREFIX + "/messages/{message_id}")
async def show_message(request: web.Request) -> web.Response:
    """One user message (3.3)."""
    found = await request.app[API].volume.message_get(
        project_context(request), request.match_info["message_id"]
    )
    return json({"message": _message_view(request, found)})


@routes.delete(PREFIX + "/messages/{message_id}")
async def delete_message(request: web.Request) -> web.Response:
    """Delete a user message (3.3); 204."""
    await request.app[API].volume.message_delete(
        project_context(request), request.match_info["message_id"]
    )
    return web.Response(status=204)


def _message_view(request: web.Request, message: dict[str, Any]) -> dict[str, Any]:
    def at(key: str) -> str | None:
        return iso(datetime.datetime.fromisoformat(message[key]))

    return {
        "id": message["id"],
        "request_id": message["request_id"],
        "resource_type": message["resource_type"],
        "resource_uuid": message["resource_uuid"],
        "event_id": message["event_id"],
        "message_level": message["message_level"],
        "user_message": message["user_message"],
        "created_at": at("created_at"),
        "guaranteed_until": at("expires_at"),
        "links": self_links(request, request.match_info["project_id"], "messages", message["id"]),
    }


_EXTENSIONS = (
    ("os-admin-actions", "AdminActions", "Enable admin actions."),
    ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
    ("capabilities", "Capabilities", "Capabilities support."),
    ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended attributes."),
    ("os-hosts", "Hosts", "Admin-only host administration."),
    ("os-quota-sets", "Quotas", "Quota management support."),
    ("scheduler-stats", "Scheduler_stats", "Scheduler stats support."),
    ("os-services", "Services", "Services support."),
    ("os-snapshot-actions", "SnapshotActions", "Enable snapshot manager actions."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."),
    ("os-types-manage", "TypesManage", "Types manage support."),
    ("os-used-limits", "UsedLimits", "Provide data on limited resources that are being used."),
    ("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
    ("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the volume."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id."),
    ("os-volume-actions", "VolumeActions", "Enable volume actions."),
    ("os-volume-encryption-metadata", "VolumeEncryptionMetadata", "Volume encryption metadata."),
    ("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
    ("encryption", "VolumeTypeEncryption", "Encryption support for volume types."),
)


@routes.get(PREFIX + "/extensions")
async def list_extensions(request: web.Request) -> web.Response:
    """The API extensions this block storage API has (Cinder's names)."""
    project_context(request)
    extensions = [
        {
            "alias": alias,
            "name": name,
            "description": description,
            "updated": "2013-01-01T00:00:00+00:00",
            "links": [],
            "namespace": f"https://docs.openstack.org/volume/ext/{alias}/api/v1",
        }
        for alias, name, description in _EXTENSIONS
    ]
    return json({"extensions": extensions})
