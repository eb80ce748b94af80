"""Request schemas of the network API (Neutron v2.0's attribute maps)."""

from __future__ import annotations

from nova_lite.api.http.schemas.types import (
    UUID_LIKE,
    Schema,
    nullable,
    obj,
    text,
)

NETWORK_CREATE = obj(
    {
        "network": obj(
            {
                "name": text(255),
                "shared": {"type": "boolean"},
                "admin_state_up": {"type": "boolean"},
                "description": text(255),
                "project_id": text(255),
                "tenant_id": text(255),
            }
        )
    },
    required=("network",),
)
SUBNET_CREATE = obj(
    {
        "subnet": obj(
            {
                "network_id": UUID_LIKE,
                "cidr": text(64, 1),
                "ip_version": {"const": 4},
                "gateway_ip": nullable(text(64)),
                "allocation_pools": {
                    "type": "array",
                    "maxItems": 1,
                    "items": obj({"start": text(64), "end": text(64)}),
                },
                "name": text(255),
                "enable_dhcp": {"type": "boolean"},
                "description": text(255),
                "project_id": text(255),
                "tenant_id": text(255),
            },
            required=("network_id", "cidr"),
        )
    },
    required=("subnet",),
)
SCHEMAS: dict[str, Schema] = {
    "network_create_network": NETWORK_CREATE,
    "network_create_subnet": SUBNET_CREATE,
}
