"""Request schemas of the network API (Neutron v2.0's attribute maps).

Each resource's attributes are capped here (strings, lists, objects), with Neutron's
types; the values Neutron checks with messages of its own (ports of a rule, a
protocol, a CIDR, an address) are left to the network service, which answers
with Neutron's wording. A create body is one resource or, in bulk, a list of at
most `MAX_BULK` (``{"networks": [...]}``).
"""

from __future__ import annotations

from nova_lite.api.http.schemas.types import Schema, nullable, obj, text

__all__ = ["MAX_BULK", "SCHEMAS"]

MAX_BULK = 100  # resources one bulk create may hold
BOOL: Schema = {"type": "boolean"}
ID = text(255)
OWNER = {"project_id": text(255), "tenant_id": text(255)}
STANDARD = {"name": text(255), "description": text(255)}
ADDRESS = text(64)


def _list(items: Schema, most: int) -> Schema:
    return {"type": "array", "maxItems": most, "items": items}


def _whole(most_chars: int = 16) -> Schema:
    """An integer, or text the service reads as one (with Neutron's own messages)."""
    return {"type": ["integer", "string", "null"], "maxLength": most_chars}


def _create(
    singular: str, plural: str, attributes: Schema, required: tuple[str, ...] = ()
) -> Schema:
    one = obj(attributes, required=required)
    return {
        "anyOf": [
            obj({singular: one}, required=(singular,)),
            obj({plural: {**_list(one, MAX_BULK), "minItems": 1}}, required=(plural,)),
        ]
    }


def _update(singular: str, attributes: Schema) -> Schema:
    return obj({singular: obj(attributes)}, required=(singular,))


NETWORK: Schema = {
    **STANDARD,
    "shared": BOOL,
    "admin_state_up": BOOL,
    "router:external": BOOL,
    "mtu": {"type": "integer"},
    "port_security_enabled": BOOL,
}
POOL = obj({"start": ADDRESS, "end": ADDRESS}, required=("start", "end"))
ROUTE = obj({"destination": text(64), "nexthop": ADDRESS}, required=("destination", "nexthop"))
SUBNET_UPDATE: Schema = {
    **STANDARD,
    "gateway_ip": nullable(ADDRESS),
    "allocation_pools": _list(POOL, 100),
    "dns_nameservers": _list(ADDRESS, 16),
    "host_routes": _list(ROUTE, 64),
    "enable_dhcp": BOOL,
}
SUBNET: Schema = {
    **SUBNET_UPDATE,
    "network_id": ID,
    "cidr": text(64, 1),
    "ip_version": {"enum": [4, 6]},
    "ipv6_ra_mode": nullable(text(32)),
    "ipv6_address_mode": nullable(text(32)),
    "subnetpool_id": nullable(ID),
    **OWNER,
}
FIXED_IP = obj({"subnet_id": ID, "ip_address": ADDRESS})
PAIR = obj({"ip_address": text(64), "mac_address": text(32)}, required=("ip_address",))
DHCP_OPTION = obj(
    {"opt_name": text(64), "opt_value": nullable(text(255)), "ip_version": {"enum": [4, 6]}},
    required=("opt_name",),
)
PORT_UPDATE: Schema = {
    **STANDARD,
    "admin_state_up": BOOL,
    "mac_address": text(32),
    "fixed_ips": nullable(_list(FIXED_IP, 16)),
    "security_groups": nullable(_list(ID, 64)),
    "port_security_enabled": BOOL,
    "device_id": nullable(text(255)),
    "device_owner": nullable(text(255)),
    "binding:host_id": nullable(text(255)),
    "binding:vnic_type": text(32),
    "binding:profile": nullable({"type": "object", "maxProperties": 32}),
    "allowed_address_pairs": nullable(_list(PAIR, 16)),
    "extra_dhcp_opts": nullable(_list(DHCP_OPTION, 64)),
}
PORT: Schema = {**PORT_UPDATE, "network_id": ID, **OWNER}
SECURITY_GROUP: Schema = {**STANDARD, "stateful": BOOL}
RULE: Schema = {
    "security_group_id": ID,
    "direction": text(16),
    "ethertype": text(16),
    "protocol": {"type": ["string", "integer", "null"], "maxLength": 64},
    "port_range_min": _whole(),
    "port_range_max": _whole(),
    "remote_ip_prefix": nullable(text(64)),
    "remote_group_id": nullable(ID),
    "description": text(255),
    **OWNER,
}
GATEWAY = nullable(
    obj(
        {
            "network_id": ID,
            "enable_snat": BOOL,
            "external_fixed_ips": _list(FIXED_IP, 8),
        }
    )
)
ROUTER_UPDATE: Schema = {
    **STANDARD,
    "admin_state_up": BOOL,
    "external_gateway_info": GATEWAY,
    "routes": nullable(_list(ROUTE, 64)),
}
ROUTER: Schema = {
    **STANDARD,
    "admin_state_up": BOOL,
    "external_gateway_info": GATEWAY,
    **OWNER,
}
INTERFACE = obj({"subnet_id": ID, "port_id": ID})
FLOATING_IP_UPDATE: Schema = {
    "port_id": nullable(ID),
    "fixed_ip_address": nullable(ADDRESS),
    "description": text(255),
}
FLOATING_IP: Schema = {
    **FLOATING_IP_UPDATE,
    "floating_network_id": ID,
    "floating_ip_address": ADDRESS,
    "subnet_id": ID,
    **OWNER,
}
SUBNETPOOL_UPDATE: Schema = {
    **STANDARD,
    "prefixes": _list(text(64), 64),
    "default_prefixlen": _whole(),
    "min_prefixlen": _whole(),
    "max_prefixlen": _whole(),
    "default_quota": _whole(),
    "is_default": BOOL,
}
SUBNETPOOL: Schema = {
    **SUBNETPOOL_UPDATE,
    "shared": BOOL,
    "address_scope_id": nullable(ID),
    **OWNER,
}

# Nova's proxies (compute routes, operation ids ``compute_...``).
NOVA_GROUP = obj({"name": text(255), "description": text(255)})
NOVA_RULE = obj(
    {
        "parent_group_id": {"type": ["string", "integer"], "maxLength": 255},
        "ip_protocol": nullable(text(64)),
        "from_port": _whole(),
        "to_port": _whole(),
        "cidr": nullable(text(64)),
        "group_id": nullable({"type": ["string", "integer"], "maxLength": 255}),
    },
    required=("parent_group_id",),
)
COMPUTE_SCHEMAS: dict[str, Schema] = {
    "compute_create_security_group": obj(
        {"security_group": NOVA_GROUP}, required=("security_group",)
    ),
    "compute_update_security_group": obj(
        {"security_group": NOVA_GROUP}, required=("security_group",)
    ),
    "compute_create_security_group_rule": obj(
        {"security_group_rule": NOVA_RULE}, required=("security_group_rule",)
    ),
    "compute_create_floating_ip": nullable(obj({"pool": nullable(text(255))})),
}

SCHEMAS: dict[str, Schema] = {
    **COMPUTE_SCHEMAS,
    "network_create_network": _create("network", "networks", {**NETWORK, **OWNER}),
    "network_update_network": _update("network", NETWORK),
    "network_create_subnet": _create("subnet", "subnets", SUBNET, ("network_id",)),
    "network_update_subnet": _update("subnet", SUBNET_UPDATE),
    "network_create_port": _create("port", "ports", PORT, ("network_id",)),
    "network_update_port": _update("port", PORT_UPDATE),
    "network_create_security_group": _update("security_group", {**SECURITY_GROUP, **OWNER}),
    "network_update_security_group": _update("security_group", SECURITY_GROUP),
    "network_create_security_group_rule": _create(
        "security_group_rule", "security_group_rules", RULE, ("security_group_id",)
    ),
    "network_create_router": _update("router", ROUTER),
    "network_update_router": _update("router", ROUTER_UPDATE),
    "network_add_router_interface": INTERFACE,
    "network_remove_router_interface": INTERFACE,
    "network_create_floatingip": obj(
        {"floatingip": obj(FLOATING_IP, required=("floating_network_id",))},
        required=("floatingip",),
    ),
    "network_update_floatingip": _update("floatingip", FLOATING_IP_UPDATE),
    "network_create_subnetpool": obj(
        {"subnetpool": obj(SUBNETPOOL, required=("prefixes",))}, required=("subnetpool",)
    ),
    "network_update_subnetpool": _update("subnetpool", SUBNETPOOL_UPDATE),
}
