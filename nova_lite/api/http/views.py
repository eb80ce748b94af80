"""The JSON shapes of the compute API: servers, flavors and instance actions.

Field names, nesting and time formats are Nova's, and so is what depends on the
microversion (the embedded flavor from 2.47, ``locked`` from 2.9, ...) or on the
caller being an administrator (``OS-EXT-SRV-ATTR:*``, event tracebacks). These are
pure functions of model objects; handlers fetch what they need and pass it in.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from nova_lite import objects
from nova_lite.api.http.microversion import APIVersion
from nova_lite.compute.status import status_from_state

__all__ = [
    "ServerView",
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


@attrs.frozen(kw_only=True)
class ServerView:
    """How servers look to one request: its base URL, microversion and role."""

    base: str
    version: APIVersion
    is_admin: bool
    network_names: Mapping[str, str] = attrs.field(factory=dict)
    host_states: Mapping[str, str] = attrs.field(factory=dict)

    def brief(self, instance: objects.Instance) -> dict[str, Any]:
        """The ``GET /servers`` entry: id, name and links."""
        return {
            "id": instance.uuid,
            "name": instance.display_name,
            "links": link(self.base, "servers", instance.uuid),
        }

    def detail(self, instance: objects.Instance) -> dict[str, Any]:
        """The full server, as ``GET /servers/{id}`` shows it."""
        status = status_from_state(instance.vm_state, instance.task_state)
        view: dict[str, Any] = {
            **self.brief(instance),
            "status": status,
            "tenant_id": instance.project_id,
            "user_id": instance.user_id,
            "metadata": dict(instance.metadata),
            "hostId": host_id(instance.project_id, instance.host),
            "image": self._image(instance),
            "flavor": self._flavor(instance.flavor),
            "created": isotime(instance.created_at),
            "updated": isotime(instance.updated_at or instance.created_at),
            "addresses": self._addresses(instance),
            "accessIPv4": "",
            "accessIPv6": "",
            "key_name": None,
            "config_drive": "",
            "progress": 0,
            "security_groups": [{"name": "default"}],
            "OS-DCF:diskConfig": "MANUAL",
            "OS-EXT-AZ:availability_zone": instance.availability_zone or "nova",
            "OS-EXT-STS:vm_state": instance.vm_state,
            "OS-EXT-STS:task_state": instance.task_state,
            "OS-EXT-STS:power_state": instance.power_state,
            "OS-SRV-USG:launched_at": usectime(instance.launched_at),
            "OS-SRV-USG:terminated_at": None,
            "os-extended-volumes:volumes_attached": [
                {"id": b.volume_id, "delete_on_termination": b.delete_on_termination}
                for b in instance.block_devices
                if b.volume_id is not None
            ],
        }
        if status == "ERROR" and instance.fault is not None:
            view["fault"] = self._fault(instance.fault)
        view.update(self._versioned(instance))
        if self.is_admin:
            view.update(self._admin(instance))
        return view

    def _versioned(self, instance: objects.Instance) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for since, name, value in (
            ("2.9", "locked", instance.locked),
            ("2.19", "description", None),
            ("2.26", "tags", []),
            ("2.63", "trusted_image_certificates", None),
            ("2.71", "server_groups", _server_groups(instance)),
            ("2.73", "locked_reason", None),
        ):
            if self.version.at_least(since):
                fields[name] = value
        if self.is_admin and self.version.at_least("2.16"):
            fields["host_status"] = self.host_states.get(instance.host or "", "")
        return fields

    def _admin(self, instance: objects.Instance) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "OS-EXT-SRV-ATTR:host": instance.host,
            "OS-EXT-SRV-ATTR:hypervisor_hostname": instance.node,
            "OS-EXT-SRV-ATTR:instance_name": f"instance-{instance.uuid[:8]}",
        }
        if self.version.at_least("2.3"):
            fields.update(
                {
                    "OS-EXT-SRV-ATTR:hostname": instance.display_name,
                    "OS-EXT-SRV-ATTR:reservation_id": reservation_id(instance),
                    "OS-EXT-SRV-ATTR:launch_index": 0,
                    "OS-EXT-SRV-ATTR:kernel_id": "",
                    "OS-EXT-SRV-ATTR:ramdisk_id": "",
                    "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                    "OS-EXT-SRV-ATTR:user_data": None,
                }
            )
        return fields

    def _image(self, instance: objects.Instance) -> dict[str, Any] | str:
        if instance.image_ref is None:
            return ""  # booted from a volume
        bookmark = f"{self.base}/compute/images/{instance.image_ref}"
        return {"id": instance.image_ref, "links": [{"rel": "bookmark", "href": bookmark}]}

    def _flavor(self, flavor: objects.Flavor) -> dict[str, Any]:
        if not self.version.at_least("2.47"):
            bookmark = f"{self.base}/compute/flavors/{flavor.flavorid}"
            return {"id": flavor.flavorid, "links": [{"rel": "bookmark", "href": bookmark}]}
        return {
            "vcpus": flavor.vcpus,
            "ram": flavor.memory_mb,
            "disk": flavor.root_gb,
            "ephemeral": flavor.ephemeral_gb,
            "swap": flavor.swap,
            "original_name": flavor.name,
            "extra_specs": dict(flavor.extra_specs),
        }

    def _addresses(self, instance: objects.Instance) -> dict[str, list[dict[str, Any]]]:
        addresses: dict[str, list[dict[str, Any]]] = {}
        for address in instance.addresses:
            network_id = address.get("network_id", "")
            name = self.network_names.get(network_id, network_id or "network")
            entry: dict[str, Any] = {
                "addr": address.get("addr", ""),
                "version": 6 if ":" in address.get("addr", "") else 4,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": address.get("mac", ""),
            }
            addresses.setdefault(name, []).append(entry)
        return addresses

    def _fault(self, fault: objects.InstanceFault) -> dict[str, Any]:
        view: dict[str, Any] = {
            "code": fault.code,
            "message": fault.message,
            "created": isotime(fault.created_at),
        }
        if self.is_admin or fault.code != 500:
            view["details"] = fault.details
        return view


def reservation_id(instance: objects.Instance) -> str:
    """The id of the create request that made the server (its servers share it)."""
    return instance.system_metadata.get("reservation_id", f"r-{instance.uuid[:8]}")


def _server_groups(instance: objects.Instance) -> list[str]:
    """The server group the server was created in (2.71 shows it), as a list of at most one."""
    group = instance.scheduler_hints.get("group")
    return [group] if isinstance(group, str) and group else []


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
