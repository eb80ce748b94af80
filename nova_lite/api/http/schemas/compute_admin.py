"""Request schemas of Nova's administrative and placement-related compute routes.

Flavors' management, extra specs and access, server groups, aggregates, quotas,
migrations and the admin server actions (Nova's ``api/openstack/compute/schemas``
for each), built from the parameter types in `types`, with a cap on every list,
map and string.
"""

from __future__ import annotations

from nova_lite.api.http.schemas.types import BOOLEAN, MAX_INT, Schema, nullable, obj, text

__all__ = ["ACTIONS", "SCHEMAS"]

# A flavor's extra specs: Nova's key pattern; values are strings (numbers and
# booleans are taken and stored as text), at most 255 characters.
EXTRA_SPEC_VALUE: Schema = {
    "anyOf": [text(255), {"type": "number"}, {"type": "boolean"}],
}
EXTRA_SPECS: Schema = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-zA-Z0-9-_:. ]{1,255}$"},
    "additionalProperties": EXTRA_SPEC_VALUE,
    "maxProperties": 128,
}
TENANT = obj({"tenant": text(255, 1)}, required=("tenant",))
# A quota limit: an integer from -1 (unlimited), or its digits; which resources a
# microversion takes is the handler's check (it names them).
QUOTA_LIMIT: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": -1, "maximum": MAX_INT},
        {"type": "string", "pattern": "^-?[0-9]{1,10}$"},
    ]
}
QUOTAS: Schema = {
    "type": "object",
    "propertyNames": {"maxLength": 64},
    "additionalProperties": QUOTA_LIMIT,
    "maxProperties": 32,
}

# A server group: one policy (a one-item list before 2.64), rules for anti-affinity.
SERVER_GROUP = obj(
    {
        "name": text(255, 1),
        "policies": {"type": "array", "items": text(255), "maxItems": 1},
        "policy": text(255),
        "rules": obj({"max_server_per_host": {"anyOf": [{"type": "integer"}, text(10)]}}),
    },
    required=("name",),
)

AGGREGATE = {"name": text(255, 1), "availability_zone": nullable(text(255, 1))}
HOST = obj({"host": text(255, 1)}, required=("host",))
AGGREGATE_METADATA: Schema = {
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 255},
    "additionalProperties": nullable(text(255)),
    "minProperties": 1,
    "maxProperties": 128,
}

SCHEMAS: dict[str, Schema] = {
    "compute_create_aggregate": obj(
        {"aggregate": obj(AGGREGATE, required=("name",))}, required=("aggregate",)
    ),
    "compute_update_aggregate": obj({"aggregate": obj(AGGREGATE)}, required=("aggregate",)),
    "compute_aggregate_action": {
        "type": "object",
        "properties": {
            "add_host": HOST,
            "remove_host": HOST,
            "set_metadata": obj({"metadata": AGGREGATE_METADATA}, required=("metadata",)),
        },
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    },
    "compute_create_server_group": obj({"server_group": SERVER_GROUP}, required=("server_group",)),
    "compute_update_flavor": obj(
        {"flavor": obj({"description": nullable(text(65535))}, required=("description",))},
        required=("flavor",),
    ),
    "compute_create_flavor_extra_specs": obj(
        {"extra_specs": EXTRA_SPECS}, required=("extra_specs",)
    ),
    "compute_update_flavor_extra_spec": {
        "type": "object",
        "additionalProperties": EXTRA_SPEC_VALUE,
        "maxProperties": 16,  # one is right; the handler names what is wrong with more
    },
    "compute_update_quota_set": obj(
        {"quota_set": {**QUOTAS, "properties": {"force": BOOLEAN}}}, required=("quota_set",)
    ),
    "compute_update_quota_class_set": obj(
        {"quota_class_set": QUOTAS}, required=("quota_class_set",)
    ),
    "compute_flavor_action": {
        "type": "object",
        "properties": {"addTenantAccess": TENANT, "removeTenantAccess": TENANT},
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    },
}

# The admin actions of ``POST /servers/{id}/action`` (schemas.compute.ACTIONS takes them in).
NO_ARGUMENTS: Schema = {"anyOf": [{"type": "null"}, obj({})]}
ACTIONS: Schema = {
    "os-resetState": obj({"state": {"enum": ["active", "error"]}}, required=("state",)),
    "injectNetworkInfo": NO_ARGUMENTS,
    "migrate": {"anyOf": [{"type": "null"}, obj({"host": nullable(text(255, 1))})]},
}
