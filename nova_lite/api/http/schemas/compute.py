"""Request schemas of the compute API (Nova's ``api/openstack/compute/schemas``)."""

from __future__ import annotations

from nova_lite.api.http.schemas.compute_admin import ACTIONS as ADMIN_ACTIONS
from nova_lite.api.http.schemas.types import (
    BOOLEAN,
    MAX_INT,
    METADATA,
    NAME,
    UUID_LIKE,
    Schema,
    count,
    nullable,
    obj,
    text,
)
from nova_lite.volume.validation import MAX_SIZE_GB

MAX_NETWORKS_PER_REQUEST = 16  # the HTTP schema's cap; [api] max_networks_per_server may lower it

DEVICE_NAME = {"type": "string", "pattern": "^(/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$"}
BLOCK_DEVICE = obj(
    {
        "source_type": {"enum": ["image", "volume", "blank", "snapshot"]},
        "destination_type": {"enum": ["local", "volume"]},
        "boot_index": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^-?[0-9]+$"},
                                 {"type": "null"}, {"const": "none"}]},
        "uuid": UUID_LIKE,
        "volume_size": nullable(count(0, MAX_SIZE_GB)),
        "delete_on_termination": BOOLEAN,
        "device_name": nullable(DEVICE_NAME),
        "disk_bus": text(255),
        "device_type": text(255),
        "tag": text(60),
        "guest_format": text(255),
        "volume_type": nullable(text(255)),
    },
    required=("source_type",),
)  # fmt: skip
# The user-facing fields of a server's record (create, update, rebuild). The
# addresses' and the tags' formats are the library's to check (`api.server_records`).
DISK_CONFIG: Schema = {"enum": ["AUTO", "MANUAL"]}
TAGS: Schema = {"type": "array", "items": text(60, 1), "maxItems": 50}
SERVER_RECORD_FIELDS: Schema = {
    "accessIPv4": text(64),
    "accessIPv6": text(64),
    "description": nullable(text(255)),
}
NETWORK_REQUEST = obj({"uuid": UUID_LIKE, "tag": text(60)}, required=("uuid",))
SERVER = obj(
    {
        "name": NAME,
        "imageRef": {"anyOf": [text(255), {"type": "integer"}]},
        "flavorRef": {"anyOf": [text(255, 1), {"type": "integer", "minimum": 0}]},
        "networks": {
            "anyOf": [
                {"type": "array", "items": NETWORK_REQUEST, "maxItems": MAX_NETWORKS_PER_REQUEST},
                {"enum": ["auto", "none"]},
            ]
        },
        "min_count": count(1),
        "max_count": count(1),
        "availability_zone": text(255, 1),
        "metadata": METADATA,
        "adminPass": text(255),
        "block_device_mapping_v2": {"type": "array", "items": BLOCK_DEVICE, "maxItems": 64},
        "return_reservation_id": BOOLEAN,
        "security_groups": {
            "type": "array",
            "items": obj({"name": text(255)}),
            "maxItems": 16,
        },
        "user_data": text(65535),
        "config_drive": BOOLEAN,
        "OS-DCF:diskConfig": DISK_CONFIG,
        "key_name": nullable(text(255)),
        **SERVER_RECORD_FIELDS,
        "tags": TAGS,
    },
    required=("name", "flavorRef"),
)
HINTS: Schema = {"type": "object", "maxProperties": 32}
SERVER_CREATE = obj(
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
    return {"anyOf": [{"type": "null"}, arguments or obj({})]}


ACTIONS: Schema = {
    "os-stop": _action(),
    "os-start": _action(),
    "reboot": obj({"type": {"enum": ["SOFT", "HARD", "soft", "hard"]}}, required=("type",)),
    "pause": _action(),
    "unpause": _action(),
    "suspend": _action(),
    "resume": _action(),
    "rescue": _action(obj({"adminPass": text(255), "rescue_image_ref": text(255)})),
    "unrescue": _action(),
    "changePassword": obj({"adminPass": text(255)}, required=("adminPass",)),
    "rebuild": obj(
        {
            "imageRef": text(255, 1),
            "name": NAME,
            "adminPass": text(255),
            "metadata": METADATA,
            "OS-DCF:diskConfig": DISK_CONFIG,
            "preserve_ephemeral": BOOLEAN,
            **SERVER_RECORD_FIELDS,
            "key_name": nullable(text(255)),
            "user_data": nullable(text(65535)),
        },
        required=("imageRef",),
    ),
    "createImage": obj({"name": NAME, "metadata": METADATA}, required=("name",)),
    "createBackup": obj(
        {"name": NAME, "backup_type": text(255, 1), "rotation": count(0), "metadata": METADATA},
        required=("name", "backup_type", "rotation"),
    ),
    "resize": obj(
        {
            "flavorRef": {"anyOf": [text(255, 1), {"type": "integer", "minimum": 0}]},
            "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
        },
        required=("flavorRef",),
    ),
    "confirmResize": _action(),
    "revertResize": _action(),
    "shelve": _action(),
    "shelveOffload": _action(),
    "unshelve": _action(obj({"availability_zone": nullable(text(255))})),
    "forceDelete": _action(),
    "restore": _action(),
    "lock": _action(obj({"locked_reason": text(255)})),
    "unlock": _action(),
    "os-getConsoleOutput": _action(obj({"length": nullable(CONSOLE_LENGTH)})),
    **ADMIN_ACTIONS,  # os-resetState, migrate, ... (compute_admin)
}  # fmt: skip
SERVER_ACTION: Schema = {
    "type": "object",
    "properties": ACTIONS,
    "additionalProperties": True,  # an unknown action is the handler's "no such action"
    "minProperties": 1,
    "maxProperties": 1,
}
FLAVOR_CREATE = obj(
    {
        "flavor": obj(
            {
                "name": NAME,
                "id": nullable({"anyOf": [text(255, 1), {"type": "integer", "minimum": 0}]}),
                "ram": count(1),
                "vcpus": count(1),
                "disk": count(0),
                "OS-FLV-EXT-DATA:ephemeral": count(0),
                "swap": {"anyOf": [count(0), {"const": ""}]},
                "rxtx_factor": {"type": "number", "exclusiveMinimum": 0, "maximum": 3.4e38},
                "os-flavor-access:is_public": BOOLEAN,
                "description": nullable(text(65535)),
            },
            required=("name", "ram", "vcpus", "disk"),
        )
    },
    required=("flavor",),
)
SERVER_UPDATE = obj(
    {"server": obj({"name": NAME, "OS-DCF:diskConfig": DISK_CONFIG, **SERVER_RECORD_FIELDS})},
    required=("server",),
)
VOLUME_ATTACH = obj(
    {
        "volumeAttachment": obj(
            {
                "volumeId": UUID_LIKE,
                "device": nullable(DEVICE_NAME),
                "tag": text(60),
                "delete_on_termination": BOOLEAN,
            },
            required=("volumeId",),
        )
    },
    required=("volumeAttachment",),
)
# -- key pairs, metadata and tags ---------------------------------------------------------
KEYPAIR_CREATE = obj(
    {
        "keypair": obj(
            {
                "name": NAME,
                "public_key": text(65535),
                "type": {"enum": ["ssh", "x509"]},
                "user_id": text(255, 1),
            },
            required=("name",),
        )
    },
    required=("keypair",),
)
METADATA_BODY = obj({"metadata": METADATA}, required=("metadata",))
METADATA_ITEM = obj(
    {"meta": {**METADATA, "minProperties": 1, "maxProperties": 1}}, required=("meta",)
)
TAGS_BODY = obj({"tags": TAGS}, required=("tags",))
RECORD_SCHEMAS: dict[str, Schema] = {
    "compute_create_keypair": KEYPAIR_CREATE,
    "compute_create_server_metadata": METADATA_BODY,
    "compute_replace_server_metadata": METADATA_BODY,
    "compute_set_server_metadata_item": METADATA_ITEM,
    "compute_replace_server_tags": TAGS_BODY,
    "compute_create_image_metadata": METADATA_BODY,
    "compute_replace_image_metadata": METADATA_BODY,
    "compute_set_image_metadata_item": METADATA_ITEM,
}

SCHEMAS: dict[str, Schema] = {
    **RECORD_SCHEMAS,
    "compute_create_server": SERVER_CREATE,
    "compute_update_server": SERVER_UPDATE,
    "compute_server_action": SERVER_ACTION,
    "compute_create_flavor": FLAVOR_CREATE,
    "compute_attach_volume": VOLUME_ATTACH,
}
