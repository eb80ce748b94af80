"""Making and changing one port inside a write transaction: the rows every part shares.

The ports API, routers (interfaces and gateways) and floating IPs all make ports
the same way: a MAC, fixed IPs (`addresses.Addresses`), the security groups and the
other columns, checked. A port of a network device (device owner ``network:...``)
gets no security group; any other gets the groups asked for, or its project's
``default`` group when none are named. A port without port security has no groups
and no allowed address pairs (Neutron's 409 otherwise).
"""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import aiosqlite

from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Invalid
from nova_lite.network import rows, values
from nova_lite.network.addresses import Addresses, mac_address
from nova_lite.network.security_groups import SecurityGroupRecords

__all__ = [
    "MAX_ADDRESS_PAIRS",
    "VNIC_TYPES",
    "PortMaker",
    "address_pairs",
    "dhcp_options",
    "vnic_type",
]

MAX_ADDRESS_PAIRS = 10  # Neutron's max_allowed_address_pair
VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "remote-managed",
    "vdpa",
)


def address_pairs(value: object, mac: str) -> list[dict[str, str]]:
    """Allowed address pairs: ``ip_address`` (an address or CIDR), ``mac_address`` (the port's)."""
    if not isinstance(value, list) or len(value) > MAX_ADDRESS_PAIRS:
        raise Invalid(f"allowed_address_pairs must be a list of at most {MAX_ADDRESS_PAIRS} pairs.")
    pairs = []
    for pair in value:
        if (
            not isinstance(pair, Mapping)
            or "ip_address" not in pair
            or set(pair) - {"ip_address", "mac_address"}
        ):
            raise Invalid(
                f"Invalid allowed address pair {pair!r:.80}: give 'ip_address' (and 'mac_address')."
            )
        try:
            ipaddress.ip_network(str(pair["ip_address"]), strict=False)
        except ValueError:
            raise Invalid(
                f"Invalid input for ip_address of an address pair: {pair['ip_address']!r}."
            ) from None
        found = {
            "ip_address": str(pair["ip_address"]),
            "mac_address": mac_address(pair.get("mac_address", mac)),
        }
        if found in pairs:
            raise Invalid(f"Request contains duplicate address pair: {found['ip_address']}.")
        pairs.append(found)
    return pairs


def dhcp_options(value: object) -> list[dict[str, Any]]:
    """Extra DHCP options: ``opt_name``, ``opt_value`` and an optional ``ip_version``."""
    if not isinstance(value, list) or len(value) > 50:
        raise Invalid("extra_dhcp_opts must be a list of at most 50 options.")
    options = []
    for option in value:
        if not isinstance(option, Mapping) or set(option) - {"opt_name", "opt_value", "ip_version"}:
            raise Invalid(f"Invalid extra DHCP option {option!r:.80}.")
        name = check.text("opt_name", option.get("opt_name"))
        version = option.get("ip_version", 4)
        if version not in (4, 6):
            raise Invalid(f"Invalid ip_version {version!r} of extra DHCP option {name}.")
        opt_value = option.get("opt_value")
        options.append(
            {
                "opt_name": name,
                "opt_value": None if opt_value is None else str(opt_value),
                "ip_version": version,
            }
        )
    return options


class PortMaker:
    """Writes ports: new ones, and the changes of existing ones."""

    def __init__(self, db: Database, addresses: Addresses, groups: SecurityGroupRecords) -> None:
        self.db = db
        self.addresses = addresses
        self.groups = groups

    async def make(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        network: sqlite3.Row,
        request: Mapping[str, Any],
        project: str | None,
    ) -> str:
        """Insert a port of `network` per `request` (Neutron's attributes); its id."""
        port_id = rows.new_id()
        mac = await self.addresses.new_mac(request.get("mac_address"))
        owner = check.text("device_owner", request.get("device_owner", ""), empty=True)
        secure = values.flag(request, "port_security_enabled", bool(network["port_security"]))
        host = request.get("binding:host_id") or None
        vnic = vnic_type(request.get("binding:vnic_type", "normal"))
        await rows.write(
            conn,
            "INSERT INTO ports (id, network_id, mac_address, device_id, project_id, status, "
            "binding_host, created_at, name, description, admin_state_up, device_owner, "
            "port_security, vnic_type, binding_profile, allowed_address_pairs, extra_dhcp_opts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                port_id,
                network["id"],
                mac,
                check.text("device_id", request.get("device_id", ""), empty=True) or None,
                project,
                _status(owner, host, request),
                None if host is None else check.text("binding:host_id", host),
                rows.now(),
                values.name(request),
                values.description(request),
                values.flag(request, "admin_state_up", True),
                owner,
                secure,
                vnic,
                rows.to_json(_profile(request.get("binding:profile", {}))),
                rows.to_json(self._pairs(request, mac, secure)),
                rows.to_json(dhcp_options(request.get("extra_dhcp_opts", []))),
            ),
        )
        await self.addresses.assign(conn, port_id, mac, network, request.get("fixed_ips"))
        await self._apply_groups(
            conn, ctx, port_id, owner, secure, request.get("security_groups"), project
        )
        return port_id

    def _pairs(self, request: Mapping[str, Any], mac: str, secure: bool) -> list[dict[str, str]]:
        pairs = address_pairs(request.get("allowed_address_pairs", []), mac)
        if pairs and not secure:
            raise Conflict(
                "Port Security must be enabled in order to have allowed address pairs on a port."
            )
        return pairs

    async def _apply_groups(
        self,
        conn: aiosqlite.Connection,
        ctx: RequestContext,
        port_id: str,
        owner: str,
        secure: bool,
        requested: object,
        project: str | None,
    ) -> None:
        if owner.startswith("network:"):
            return
        if requested is None:
            default = await self.groups.ensure_default(conn, project) if secure else None
            group_ids = [] if default is None else [default]
        else:
            group_ids = await self.groups.visible_ids(
                ctx, check.text_list("security_groups", requested)
            )
        if group_ids and not secure:
            raise Conflict(
                "Port has security group associated. Cannot disable port security or IP "
                "address until security group is removed."
            )
        await self.set_groups(conn, port_id, group_ids)

    async def set_groups(
        self, conn: aiosqlite.Connection, port_id: str, group_ids: Sequence[str]
    ) -> None:
        """Make `group_ids` the port's security groups."""
        await rows.write(conn, "DELETE FROM port_security_groups WHERE port_id = ?", (port_id,))
        await self.add_groups(conn, port_id, group_ids)

    async def add_groups(
        self, conn: aiosqlite.Connection, port_id: str, group_ids: Sequence[str]
    ) -> None:
        """Give a port (a new one, with none yet) the security groups `group_ids`."""
        await rows.add_port_groups(conn, port_id, group_ids)


def _status(owner: str, host: object, request: Mapping[str, Any]) -> str:
    """ACTIVE for a router's ports and bound ones (nothing else will plug them in), else DOWN."""
    if "status" in request:
        return str(request["status"])
    return "ACTIVE" if owner.startswith("network:router") or host else "DOWN"


def vnic_type(value: object) -> str:
    """A binding VNIC type Neutron knows; `Invalid` naming the allowed ones otherwise."""
    if value not in VNIC_TYPES:
        raise Invalid(
            f"Invalid input for binding:vnic_type: {value!r}; allowed: {', '.join(VNIC_TYPES)}."
        )
    return str(value)


def _profile(value: object) -> dict[str, Any]:
    if not isinstance(value, dict) or len(rows.to_json(value)) > 4096:
        raise Invalid("binding:profile must be an object (at most 4096 characters of JSON).")
    return value
