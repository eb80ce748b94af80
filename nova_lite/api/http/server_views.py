"""How a server looks in the compute API, for each microversion and each call.

Nova answers four calls with a server body, and they differ: ``GET /servers/{id}``
and ``GET /servers/detail`` show everything (``detail``; the list leaves out
``server_groups``); ``PUT /servers/{id}`` and the ``rebuild`` action answer, below
microversion 2.75, only the core of it (no ``OS-EXT-*`` fields, key name, security
groups, zone, config drive or volumes, and addresses without their type and MAC),
``rebuild`` adding the key name from 2.54 and ``user_data`` from 2.57; from 2.75 all
four show everything. Which fields appear where follows Nova's view builder
(``nova/api/openstack/compute/views/servers.py``) and what Tempest's response schemas
for each microversion allow. These are pure functions of model objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from nova_lite import objects
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.http.views import host_id, isotime, link, reservation_id, usectime
from nova_lite.compute.status import status_from_state

__all__ = ["Parts", "ServerView"]

# The statuses Nova shows a ``progress`` for, and those it shows a ``fault`` for.
PROGRESS_STATUSES = frozenset(
    {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
)
FAULT_STATUSES = frozenset({"ERROR", "DELETED"})


@attrs.frozen(kw_only=True)
class Parts:
    """Which optional parts of a server one response shows."""

    extended: bool = True  # zone, config drive, key, usage, groups, states, volumes, IP types
    keypair: bool = True
    user_data: bool = True  # the admin's OS-EXT-SRV-ATTR:user_data
    server_groups: bool = True  # from 2.71, except in the detail list

    @classmethod
    def update(cls, version: APIVersion) -> Parts:
        """``PUT /servers/{id}``: the core below 2.75, everything from it."""
        full = version.at_least("2.75")
        return cls(extended=full, keypair=full)

    @classmethod
    def rebuild(cls, version: APIVersion) -> Parts:
        """The rebuild action: as an update, and the key name from 2.54."""
        full = version.at_least("2.75")
        return cls(extended=full, keypair=version.at_least("2.54"), user_data=False)


@attrs.frozen(kw_only=True)
class ServerView:
    """How servers look to one request: its base URL, microversion and role."""

    base: str
    version: APIVersion
    is_admin: bool
    network_names: Mapping[str, str] = attrs.field(factory=dict)
    host_states: Mapping[str, str] = attrs.field(factory=dict)
    # Each server's security group names (its ports'); a server without any shows none.
    security_groups: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    def brief(self, instance: objects.Instance) -> dict[str, Any]:
        """The ``GET /servers`` entry: id, name and links."""
        return {
            "id": instance.uuid,
            "name": instance.display_name,
            "links": link(self.base, "servers", instance.uuid),
        }

    def detail(self, instance: objects.Instance, parts: Parts | None = None) -> dict[str, Any]:
        """The server as ``GET /servers/{id}`` shows it (or as `parts` say)."""
        parts = parts or Parts()
        view = self._core(instance, extend_address=parts.extended)
        if parts.extended:
            view.update(self._extended(instance))
        if parts.keypair:
            view["key_name"] = instance.key_name
        if self.is_admin and parts.extended:
            view.update(self._admin(instance, user_data=parts.user_data))
        view.update(self._versioned(instance, parts))
        return view

    def listed(self, instance: objects.Instance) -> dict[str, Any]:
        """The server as ``GET /servers/detail`` lists it (no server groups)."""
        return self.detail(instance, Parts(server_groups=False))

    def _core(self, instance: objects.Instance, *, extend_address: bool) -> dict[str, Any]:
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
            "addresses": self.addresses(instance, extended=extend_address),
            "accessIPv4": instance.access_ip_v4,
            "accessIPv6": instance.access_ip_v6,
            "OS-DCF:diskConfig": "AUTO" if instance.auto_disk_config else "MANUAL",
        }
        if status in PROGRESS_STATUSES:
            view["progress"] = 0
        if status in FAULT_STATUSES and instance.fault is not None:
            view["fault"] = self._fault(instance.fault)
        return view

    def _volume(self, mapping: objects.BlockDevice) -> dict[str, Any]:
        if not self.version.at_least("2.3"):
            return {"id": mapping.volume_id}
        return {"id": mapping.volume_id, "delete_on_termination": mapping.delete_on_termination}

    def _extended(self, instance: objects.Instance) -> dict[str, Any]:
        view = {
            "config_drive": "",
            "OS-EXT-AZ:availability_zone": instance.availability_zone or "nova",
            "OS-EXT-STS:vm_state": instance.vm_state,
            "OS-EXT-STS:task_state": instance.task_state,
            "OS-EXT-STS:power_state": instance.power_state,
            "OS-SRV-USG:launched_at": usectime(instance.launched_at),
            "OS-SRV-USG:terminated_at": None,
            "os-extended-volumes:volumes_attached": [
                self._volume(b) for b in instance.block_devices if b.volume_id is not None
            ],
        }
        groups = self.security_groups.get(instance.uuid)
        if groups:
            view["security_groups"] = [{"name": name} for name in groups]
        return view

    def _versioned(self, instance: objects.Instance, parts: Parts) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for since, name, value in (
            ("2.9", "locked", instance.locked),
            ("2.19", "description", instance.description),
            ("2.26", "tags", list(instance.tags)),
            ("2.63", "trusted_image_certificates", None),
        ):
            if self.version.at_least(since):
                fields[name] = value
        if self.is_admin and parts.extended and self.version.at_least("2.16"):
            fields["host_status"] = self.host_states.get(instance.host or "", "")
        if parts.server_groups and self.version.at_least("2.71"):
            group = instance.scheduler_hints.get("group")
            fields["server_groups"] = [str(group)] if group else []
        if self.version.at_least("2.73"):
            fields["locked_reason"] = instance.system_metadata.get("locked_reason")
        return fields

    def _admin(self, instance: objects.Instance, *, user_data: bool) -> dict[str, Any]:
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
                }
            )
            if user_data:
                fields["OS-EXT-SRV-ATTR:user_data"] = instance.user_data
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

    def addresses(
        self, instance: objects.Instance, *, extended: bool = True
    ) -> dict[str, list[dict[str, Any]]]:
        """The server's fixed addresses by network name (with type and MAC if `extended`)."""
        addresses: dict[str, list[dict[str, Any]]] = {}
        for address in instance.addresses:
            network_id = address.get("network_id", "")
            name = self.network_names.get(network_id, network_id or "network")
            addr = address.get("addr", "")
            entry: dict[str, Any] = {"version": 6 if ":" in addr else 4, "addr": addr}
            if extended:
                entry["OS-EXT-IPS:type"] = "fixed"
                entry["OS-EXT-IPS-MAC:mac_addr"] = address.get("mac", "")
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
