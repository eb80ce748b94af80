"""The request body schema of every route, as Nova's ``api/openstack/compute/schemas``.

Each JSON body is checked against its route's schema before the handler sees it
(types, ranges, formats, and unknown keys refused where Nova, Glance, Neutron, Cinder
and Keystone refuse them), and the OpenAPI document's request schemas are these same
objects (`openapi.document` puts them in), so the two cannot drift. A body that does
not fit is `Invalid` (400) naming the field, the value and the rule it breaks.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema

from nova_lite.exceptions import Invalid
from nova_lite.volume.validation import MAX_SIZE_GB

__all__ = ["MAX_NETWORKS_PER_REQUEST", "SCHEMAS", "validate"]

Schema = dict[str, Any]
MAX_INT = 2**31 - 1  # what Nova's database columns hold
MAX_NETWORKS_PER_REQUEST = 16  # the HTTP schema's cap; [api] max_networks_per_server may lower it

# Nova's parameter_types.boolean: the spellings its API takes for true and false.
BOOLEAN: Schema = {
    "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
             False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f"]
}  # fmt: skip


def _text(max_length: int = 255, min_length: int = 0) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _count(minimum: int = 0, maximum: int = MAX_INT) -> Schema:
    """Nova's non-negative/positive integer: an integer, or a string of digits."""
    return {
        "anyOf": [
            {"type": "integer", "minimum": minimum, "maximum": maximum},
            {"type": "string", "pattern": "^[0-9]{1,10}$"},
        ]
    }


def _object(properties: Schema, *, required: tuple[str, ...] = (), extra: bool = False) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": extra,
    }


NAME = _text(255, 1)
UUID_LIKE = _text(255, 1)
DEVICE_NAME = {"type": "string", "pattern": "^(/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$"}
# Keys 1-255 and values up to 255 characters (400); more than maxServerMeta items is
# the metadata_items quota, a 403 from the servers API, so the count is not capped here.
METADATA: Schema = {
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 255},
    "additionalProperties": _text(255),
}
BLOCK_DEVICE = _object(
    {
        "source_type": {"enum": ["image", "volume", "blank", "snapshot"]},
        "destination_type": {"enum": ["local", "volume"]},
        "boot_index": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^-?[0-9]+$"},
                                 {"type": "null"}, {"const": "none"}]},
        "uuid": UUID_LIKE,
        "volume_size": _nullable(_count(0, MAX_SIZE_GB)),
        "delete_on_termination": BOOLEAN,
        "device_name": _nullable(DEVICE_NAME),
        "disk_bus": _text(255),
        "device_type": _text(255),
        "tag": _text(60),
        "guest_format": _text(255),
        "volume_type": _nullable(_text(255)),
    },
    required=("source_type",),
)  # fmt: skip
NETWORK_REQUEST = _object({"uuid": UUID_LIKE, "tag": _text(60)}, required=("uuid",))
SERVER = _object(
    {
        "name": NAME,
        "imageRef": {"anyOf": [_text(255), {"type": "integer"}]},
        "flavorRef": {"anyOf": [_text(255, 1), {"type": "integer", "minimum": 0}]},
        "networks": {
            "anyOf": [
                {"type": "array", "items": NETWORK_REQUEST, "maxItems": MAX_NETWORKS_PER_REQUEST},
                {"enum": ["auto", "none"]},
            ]
        },
        "min_count": _count(1),
        "max_count": _count(1),
        "availability_zone": _text(255, 1),
        "metadata": METADATA,
        "adminPass": _text(255),
        "block_device_mapping_v2": {"type": "array", "items": BLOCK_DEVICE, "maxItems": 64},
        "return_reservation_id": BOOLEAN,
        "security_groups": {
            "type": "array",
            "items": _object({"name": _text(255)}),
            "maxItems": 16,
        },
        "user_data": _text(65535),
        "config_drive": BOOLEAN,
        "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
        "key_name": _nullable(_text(255)),
    },
    required=("name", "flavorRef"),
)
HINTS: Schema = {"type": "object", "maxProperties": 32}
SERVER_CREATE = _object(
    {"server": SERVER, "os:scheduler_hints": HINTS, "OS-SCH-HNT:scheduler_hints": HINTS},
    required=("server",),
)


CONSOLE_LENGTH: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": -1, "maximum": MAX_INT},
        {"type": "string", "pattern": "^-?[0-9]{1,10}$"},
    ]
}


def _action(arguments: Schema | None = None) -> Schema:
    """An action's value: ``null``, ``{}``, or an object of `arguments`."""
    return {"anyOf": [{"type": "null"}, arguments or _object({})]}


ACTIONS: Schema = {
    "os-stop": _action(),
    "os-start": _action(),
    "reboot": _object({"type": {"enum": ["SOFT", "HARD", "soft", "hard"]}}, required=("type",)),
    "pause": _action(),
    "unpause": _action(),
    "suspend": _action(),
    "resume": _action(),
    "rescue": _action(_object({"adminPass": _text(255), "rescue_image_ref": _text(255)})),
    "unrescue": _action(),
    "changePassword": _object({"adminPass": _text(255)}, required=("adminPass",)),
    "rebuild": _object(
        {
            "imageRef": _text(255, 1),
            "name": NAME,
            "adminPass": _text(255),
            "metadata": METADATA,
            "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
            "preserve_ephemeral": BOOLEAN,
        },
        required=("imageRef",),
    ),
    "createImage": _object({"name": NAME, "metadata": METADATA}, required=("name",)),
    "createBackup": _object(
        {"name": NAME, "backup_type": _text(255, 1), "rotation": _count(0), "metadata": METADATA},
        required=("name", "backup_type", "rotation"),
    ),
    "resize": _object(
        {
            "flavorRef": {"anyOf": [_text(255, 1), {"type": "integer", "minimum": 0}]},
            "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
        },
        required=("flavorRef",),
    ),
    "confirmResize": _action(),
    "revertResize": _action(),
    "shelve": _action(),
    "shelveOffload": _action(),
    "unshelve": _action(_object({"availability_zone": _nullable(_text(255))})),
    "forceDelete": _action(),
    "restore": _action(),
    "lock": _action(_object({"locked_reason": _text(255)})),
    "unlock": _action(),
    "os-getConsoleOutput": _action(_object({"length": _nullable(CONSOLE_LENGTH)})),
}  # fmt: skip
SERVER_ACTION: Schema = {
    "type": "object",
    "properties": ACTIONS,
    "additionalProperties": True,  # an unknown action is the handler's "no such action"
    "minProperties": 1,
    "maxProperties": 1,
}
FLAVOR_CREATE = _object(
    {
        "flavor": _object(
            {
                "name": NAME,
                "id": _nullable({"anyOf": [_text(255, 1), {"type": "integer", "minimum": 0}]}),
                "ram": _count(1),
                "vcpus": _count(1),
                "disk": _count(0),
                "OS-FLV-EXT-DATA:ephemeral": _count(0),
                "swap": {"anyOf": [_count(0), {"const": ""}]},
                "rxtx_factor": {"type": "number", "exclusiveMinimum": 0, "maximum": 3.4e38},
                "os-flavor-access:is_public": BOOLEAN,
                "description": _nullable(_text(65535)),
            },
            required=("name", "ram", "vcpus", "disk"),
        )
    },
    required=("flavor",),
)
SERVER_UPDATE = _object({"server": _object({"name": NAME})}, required=("server",))
VOLUME_ATTACH = _object(
    {
        "volumeAttachment": _object(
            {
                "volumeId": UUID_LIKE,
                "device": _nullable(DEVICE_NAME),
                "tag": _text(60),
                "delete_on_termination": BOOLEAN,
            },
            required=("volumeId",),
        )
    },
    required=("volumeAttachment",),
)
IMAGE_CREATE: Schema = {
    "type": "object",
    "properties": {
        "name": _nullable(_text(255)),
        "disk_format": _nullable(
            {"enum": ["raw", "qcow2", "vmdk", "vdi", "iso", "ari", "aki", "ami"]}
        ),
        "container_format": _nullable({"enum": ["bare", "ovf", "aki", "ari", "ami"]}),
        "visibility": {"enum": ["public", "private"]},
        "min_disk": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
        "min_ram": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
        "tags": {"type": "array", "items": _text(255), "maxItems": 128},
        "protected": {"type": "boolean"},
    },
    "propertyNames": {"minLength": 1, "maxLength": 255},
    "additionalProperties": _text(65535),  # extra properties, as Glance's
    "maxProperties": 128,
}
NETWORK_CREATE = _object(
    {
        "network": _object(
            {
                "name": _text(255),
                "shared": {"type": "boolean"},
                "admin_state_up": {"type": "boolean"},
                "description": _text(255),
                "project_id": _text(255),
                "tenant_id": _text(255),
            }
        )
    },
    required=("network",),
)
SUBNET_CREATE = _object(
    {
        "subnet": _object(
            {
                "network_id": UUID_LIKE,
                "cidr": _text(64, 1),
                "ip_version": {"const": 4},
                "gateway_ip": _nullable(_text(64)),
                "allocation_pools": {
                    "type": "array",
                    "maxItems": 1,
                    "items": _object({"start": _text(64), "end": _text(64)}),
                },
                "name": _text(255),
                "enable_dhcp": {"type": "boolean"},
                "description": _text(255),
                "project_id": _text(255),
                "tenant_id": _text(255),
            },
            required=("network_id", "cidr"),
        )
    },
    required=("subnet",),
)
VOLUME_CREATE = _object(
    {
        "volume": _object(
            {
                "size": _count(1, MAX_SIZE_GB),
                "name": _nullable(_text(255)),
                "imageRef": _nullable(_text(255)),
                "description": _nullable(_text(255)),
                "volume_type": _nullable(_text(255)),
                "availability_zone": _nullable(_text(255)),
                "metadata": METADATA,
                "snapshot_id": {"type": "null"},
                "source_volid": {"type": "null"},
                "backup_id": {"type": "null"},
                "consistencygroup_id": {"type": "null"},
            },
            required=("size",),
        )
    },
    required=("volume",),
)
DOMAIN = _object({"id": _text(255), "name": _text(255)})
TOKEN_ISSUE = _object(
    {
        "auth": _object(
            {
                "identity": _object(
                    {
                        "methods": {"type": "array", "items": _text(64), "maxItems": 4},
                        "password": _object(
                            {
                                "user": _object(
                                    {
                                        "name": _text(255),
                                        "id": _text(255),
                                        "password": _text(1024),
                                        "domain": DOMAIN,
                                    }
                                )
                            }
                        ),
                        "token": _object({"id": _text(1024)}),
                    },
                    required=("methods",),
                ),
                "scope": _nullable(
                    _object(
                        {
                            "project": _object(
                                {"name": _text(64), "id": _text(255), "domain": DOMAIN}
                            )
                        },
                        extra=True,
                    )
                ),
            },
            required=("identity",),
        )
    },
    required=("auth",),
)

SCHEMAS: dict[str, Schema] = {
    "compute_create_server": SERVER_CREATE,
    "compute_update_server": SERVER_UPDATE,
    "compute_server_action": SERVER_ACTION,
    "compute_create_flavor": FLAVOR_CREATE,
    "compute_attach_volume": VOLUME_ATTACH,
    "image_create_image": IMAGE_CREATE,
    "network_create_network": NETWORK_CREATE,
    "network_create_subnet": SUBNET_CREATE,
    "volume_create_volume": VOLUME_CREATE,
    "identity_issue_token": TOKEN_ISSUE,
}


@functools.cache
def _validator(operation_id: str) -> jsonschema.protocols.Validator:
    schema = SCHEMAS[operation_id]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate(operation_id: str, body: Any) -> None:
    """`Invalid` (400) unless `body` fits the route's schema (routes without one: any)."""
    if operation_id not in SCHEMAS:
        return
    error = jsonschema.exceptions.best_match(_validator(operation_id).iter_errors(body))
    if error is None:
        return
    field = "/".join(str(part) for part in error.absolute_path) or "body"
    value = repr(error.instance)
    if len(value) > 80:
        value = value[:77] + "..."
    raise Invalid(
        f"Invalid input for field/attribute {field}. Value: {value}. {error.message[:200]}"
    )
