"""Every Neutron resource as Neutron's API shows it (the attributes Tempest and clients read).

Each view carries the standard attributes (``created_at``, ``updated_at``,
``revision_number``, ``description``, ``tags``) and ``project_id`` with its old name
``tenant_id``, so ``fields=`` can ask for any of them.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from nova_lite import objects
from nova_lite.api.http.network_common import timestamp

__all__ = [
    "floating_ip_view",
    "network_view",
    "port_view",
    "router_view",
    "rule_view",
    "security_group_view",
    "subnet_pool_view",
    "subnet_view",
]


def _standard(resource: Any) -> dict[str, Any]:
    return {
        "project_id": resource.project_id,
        "tenant_id": resource.project_id,
        "description": resource.description,
        "created_at": timestamp(resource.created_at),
        "updated_at": timestamp(resource.updated_at),
        "revision_number": resource.revision_number,
        "tags": [],
    }


def network_view(network: objects.Network) -> dict[str, Any]:
    """A network, with Neutron's extension attributes (MTU, external, port security)."""
    return {
        "id": network.id,
        "name": network.name,
        "status": "ACTIVE",
        "admin_state_up": network.admin_state_up,
        "shared": network.shared,
        "subnets": list(network.subnets),
        "mtu": network.mtu,
        "router:external": network.external,
        "port_security_enabled": network.port_security_enabled,
        "availability_zones": ["nova"],
        "availability_zone_hints": [],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "l2_adjacency": True,
        "is_default": False,
        **_standard(network),
    }


def subnet_view(subnet: objects.Subnet) -> dict[str, Any]:
    """A subnet: its addresses, DHCP options and IPv6 modes."""
    return {
        "id": subnet.id,
        "name": subnet.name,
        "network_id": subnet.network_id,
        "cidr": subnet.cidr,
        "ip_version": subnet.ip_version,
        "gateway_ip": subnet.gateway_ip,
        "allocation_pools": [dict(pool) for pool in subnet.allocation_pools],
        "enable_dhcp": subnet.enable_dhcp,
        "dns_nameservers": list(subnet.dns_nameservers),
        "host_routes": [dict(route) for route in subnet.host_routes],
        "ipv6_ra_mode": subnet.ipv6_ra_mode,
        "ipv6_address_mode": subnet.ipv6_address_mode,
        "subnetpool_id": subnet.subnetpool_id,
        "segment_id": None,
        "service_types": [],
        **_standard(subnet),
    }


def port_view(port: objects.Port) -> dict[str, Any]:
    """A port: its addresses, device, security groups and binding."""
    bound = port.binding_host is not None
    return {
        "id": port.id,
        "name": port.name,
        "network_id": port.network_id,
        "mac_address": port.mac_address,
        "fixed_ips": [dict(ip) for ip in port.fixed_ips],
        "device_id": port.device_id or "",
        "device_owner": port.device_owner,
        "status": port.status,
        "admin_state_up": port.admin_state_up,
        "security_groups": list(port.security_groups),
        "port_security_enabled": port.port_security_enabled,
        "allowed_address_pairs": [dict(pair) for pair in port.allowed_address_pairs],
        "extra_dhcp_opts": [dict(option) for option in port.extra_dhcp_opts],
        "binding:host_id": port.binding_host or "",
        "binding:vif_type": "ovs" if bound else "unbound",
        "binding:vif_details": {"port_filter": True, "connectivity": "l2"} if bound else {},
        "binding:vnic_type": port.binding_vnic_type,
        "binding:profile": dict(port.binding_profile),
        **_standard(port),
    }


def rule_view(rule: objects.SecurityGroupRule) -> dict[str, Any]:
    """A security group rule."""
    return {
        "id": rule.id,
        "security_group_id": rule.security_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": None,
        "normalized_cidr": _normalized(rule.remote_ip_prefix),
        **_standard(rule),
    }


def _normalized(prefix: str | None) -> str | None:
    return None if prefix is None else str(ipaddress.ip_network(prefix, strict=False))


def security_group_view(group: objects.SecurityGroup) -> dict[str, Any]:
    """A security group with its rules."""
    return {
        "id": group.id,
        "name": group.name,
        "stateful": group.stateful,
        "shared": False,
        "security_group_rules": [rule_view(rule) for rule in group.rules],
        **_standard(group),
    }


def router_view(router: objects.Router) -> dict[str, Any]:
    """A router: its gateway (``null`` without one), routes and state."""
    gateway = (
        None
        if router.gateway_network_id is None
        else {
            "network_id": router.gateway_network_id,
            "enable_snat": router.enable_snat,
            "external_fixed_ips": [dict(ip) for ip in router.external_fixed_ips],
        }
    )
    return {
        "id": router.id,
        "name": router.name,
        "status": router.status,
        "admin_state_up": router.admin_state_up,
        "external_gateway_info": gateway,
        "routes": [dict(route) for route in router.routes],
        "distributed": False,
        "ha": False,
        "availability_zones": ["nova"],
        "availability_zone_hints": [],
        "flavor_id": None,
        **_standard(router),
    }


def floating_ip_view(fip: objects.FloatingIp) -> dict[str, Any]:
    """A floating IP and what it is associated with (``null``s when it is free)."""
    return {
        "id": fip.id,
        "floating_network_id": fip.floating_network_id,
        "floating_ip_address": fip.floating_ip_address,
        "port_id": fip.port_id,
        "fixed_ip_address": fip.fixed_ip_address,
        "router_id": fip.router_id,
        "status": fip.status,
        "port_forwardings": [],
        "qos_policy_id": None,
        "dns_name": "",
        "dns_domain": "",
        **_standard(fip),
    }


def subnet_pool_view(pool: objects.SubnetPool) -> dict[str, Any]:
    """A subnet pool."""
    return {
        "id": pool.id,
        "name": pool.name,
        "prefixes": list(pool.prefixes),
        "ip_version": pool.ip_version,
        "shared": pool.shared,
        "is_default": pool.is_default,
        "default_prefixlen": pool.default_prefixlen,
        "min_prefixlen": pool.min_prefixlen,
        "max_prefixlen": pool.max_prefixlen,
        "default_quota": pool.default_quota,
        "address_scope_id": pool.address_scope_id,
        **_standard(pool),
    }
