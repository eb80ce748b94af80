"""Volumes, snapshots and volume types as Cinder's API shows them, per microversion.

Cinder answers a create or an update with fewer keys than a show: the project, the
backend host, the migration status and the image metadata are added by the show and
detail views only (Tempest's create schema refuses them). Keys some microversions add:
``group_id`` (3.13), ``provider_id`` (3.21), ``service_uuid`` and ``shared_targets``
(3.48; null from 3.69), ``volume_type_id`` (3.63), ``consumes_quota`` (3.65), and the
snapshot's ``user_id`` (3.41).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import context_of
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.http.volume_common import iso, self_links
from nova_lite.api.http.volume_version import version_of

__all__ = ["snapshot_view", "type_view", "volume_view"]

SERVICE_UUID = "1f0b4d0e-3c6a-4f3e-9a52-6a3c9f2b7d11"


def _attachments(volume: objects.Volume) -> list[dict[str, Any]]:
    if not volume.attached_to:
        return []
    return [
        {
            "id": volume.id,
            "attachment_id": volume.attachment_id,
            "volume_id": volume.id,
            "server_id": volume.attached_to,
            "host_name": None,
            "device": volume.mountpoint,
            "attached_at": iso(volume.attached_at),
        }
    ]


def _metadata(volume: objects.Volume) -> dict[str, str]:
    shown = dict(volume.metadata)
    if volume.readonly is not None:
        shown["readonly"] = str(volume.readonly)
    if volume.attached_to:
        shown["attached_mode"] = "ro" if volume.readonly else "rw"
    return shown


def volume_view(
    request: web.Request, volume: objects.Volume, *, detail: bool = True
) -> dict[str, Any]:
    """A volume as Cinder shows it (`detail` False: as a create or update answers)."""
    version = version_of(request)
    view: dict[str, Any] = {
        "id": volume.id,
        "name": volume.name,
        "size": volume.size,
        "status": volume.status,
        "bootable": "true" if volume.bootable else "false",
        "attachments": _attachments(volume),
        "availability_zone": volume.availability_zone,
        "volume_type": volume.volume_type,
        "description": volume.description,
        "metadata": _metadata(volume),
        "encrypted": False,
        "multiattach": False,
        "snapshot_id": volume.snapshot_id,
        "source_volid": volume.source_volid,
        "replication_status": None,
        "consistencygroup_id": None,
        "migration_status": None,
        "user_id": volume.user_id,
        "created_at": iso(volume.created_at),
        "updated_at": iso(volume.updated_at),
        "links": self_links(request, volume.project_id, "volumes", volume.id),
    }
    view.update(_versioned_volume_keys(version, volume))
    if detail:
        view.update(_detail_keys(request, volume))
    return view


def _versioned_volume_keys(version: APIVersion, volume: objects.Volume) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    if version.at_least("3.13"):
        keys["group_id"] = volume.group_id
    if version.at_least("3.21"):
        keys["provider_id"] = None
    if version.at_least("3.48"):
        keys["service_uuid"] = SERVICE_UUID
        keys["shared_targets"] = None if version.at_least("3.69") else False
    if version.at_least("3.63"):
        keys["volume_type_id"] = volume.volume_type_id
    if version.at_least("3.65"):
        keys["consumes_quota"] = True
    return keys


def _detail_keys(request: web.Request, volume: objects.Volume) -> dict[str, Any]:
    keys: dict[str, Any] = {"os-vol-tenant-attr:tenant_id": volume.project_id}
    if volume.image_metadata:
        keys["volume_image_metadata"] = dict(volume.image_metadata)
    if context_of(request).is_admin:
        keys["os-vol-host-attr:host"] = volume.host
        keys["os-vol-mig-status-attr:migstat"] = None
        keys["os-vol-mig-status-attr:name_id"] = None
    return keys


def snapshot_view(
    request: web.Request, snapshot: objects.VolumeSnapshot, *, detail: bool = True
) -> dict[str, Any]:
    """A snapshot as Cinder shows it (`detail`: with its project and progress)."""
    view: dict[str, Any] = {
        "id": snapshot.id,
        "volume_id": snapshot.volume_id,
        "name": snapshot.name,
        "description": snapshot.description,
        "size": snapshot.size,
        "status": snapshot.status,
        "metadata": dict(snapshot.metadata),
        "created_at": iso(snapshot.created_at),
        "updated_at": iso(snapshot.updated_at),
    }
    if version_of(request).at_least("3.41"):
        view["user_id"] = snapshot.user_id
    if detail:
        view["os-extended-snapshot-attributes:progress"] = snapshot.progress
        view["os-extended-snapshot-attributes:project_id"] = snapshot.project_id
    return view


def type_view(
    volume_type: objects.VolumeType, *, access: bool = True, qos: bool = True
) -> dict[str, Any]:
    """A volume type as Cinder shows it (`access`: with ``os-volume-type-access``;
    `qos`: with its QoS specs, which a create's answer has not)."""
    view: dict[str, Any] = {
        "id": volume_type.id,
        "name": volume_type.name,
        "description": volume_type.description,
        "is_public": volume_type.is_public,
        "extra_specs": dict(volume_type.extra_specs),
    }
    if access:
        view["os-volume-type-access:is_public"] = volume_type.is_public
    if qos:
        view["qos_specs_id"] = volume_type.qos_specs_id
    return view
