"""Request schemas of the volume API (Cinder v3's ``api/schemas``).

Cinder's volume create takes unknown keys inside ``volume`` (before 3.53) and its old
``display_name``/``display_description`` spellings; sizes are integers or strings
of digits. Each action of ``POST .../action`` has its own body, as in Cinder.
"""

from __future__ import annotations

from nova_lite.api.http.schemas.types import (
    Schema,
    nullable,
    obj,
    text,
)
from nova_lite.volume.validation import MAX_SIZE_GB

NAME = nullable(text(255))
DESCRIPTION = nullable(text(255))
# Cinder's metadata / extra_specs: keys 1-255, values strings up to 255.
METADATA: Schema = {
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 255},
    "additionalProperties": text(255),
}
BOOLEAN: Schema = {
    "anyOf": [
        {"type": "boolean"},
        {"enum": ["true", "false", "True", "False", "TRUE", "FALSE", "1", "0", "yes", "no"]},
    ]
}
SIZE: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_SIZE_GB},
        {"type": "string", "pattern": "^[0-9]+$"},
        {"type": "null"},
    ]
}
NEW_SIZE: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_SIZE_GB},
        {"type": "string", "pattern": "^[0-9]+$"},
    ]
}
ID = nullable(text(255))

VOLUME_CREATE = obj(
    {
        "volume": obj(
            {
                "size": SIZE,
                "name": NAME,
                "description": DESCRIPTION,
                "display_name": NAME,
                "display_description": DESCRIPTION,
                "imageRef": ID,
                "image_id": ID,
                "volume_type": nullable(text(255)),
                "availability_zone": nullable(text(255)),
                "metadata": nullable(METADATA),
                "snapshot_id": ID,
                "source_volid": ID,
                "backup_id": ID,
                "consistencygroup_id": {"type": "null"},
                "group_id": ID,
                "multiattach": {"enum": [False, None, "false", "False"]},
            },
            extra=True,
        ),
        "OS-SCH-HNT:scheduler_hints": {"type": ["object", "null"]},
    },
    required=("volume",),
)
VOLUME_UPDATE = obj(
    {
        "volume": obj(
            {
                "name": NAME,
                "description": DESCRIPTION,
                "display_name": NAME,
                "display_description": DESCRIPTION,
                "metadata": METADATA,
            }
        )
    },
    required=("volume",),
)


def _action(arguments: Schema | None = None, *, required: tuple[str, ...] = ()) -> Schema:
    """An action's value: an object of `arguments` (``null`` or ``{}`` when it takes none)."""
    if arguments is None:
        return {"anyOf": [{"type": "null"}, obj({}, extra=True)]}
    return obj(arguments, required=required, extra=True)


VOLUME_ACTIONS: Schema = {
    "os-extend": _action({"new_size": NEW_SIZE}, required=("new_size",)),
    "os-reset_status": _action(
        {
            "status": text(255, 1),
            "attach_status": nullable(text(255)),
            "migration_status": nullable(text(255)),
        }
    ),
    "os-force_delete": _action(),
    "os-set_bootable": _action({"bootable": BOOLEAN}, required=("bootable",)),
    "os-update_readonly_flag": _action({"readonly": BOOLEAN}, required=("readonly",)),
    "os-reserve": _action(),
    "os-unreserve": _action(),
    "os-begin_detaching": _action(),
    "os-roll_detaching": _action(),
    "os-attach": _action(
        {
            "instance_uuid": nullable(text(255)),
            "mountpoint": text(255, 1),
            "host_name": nullable(text(255)),
            "mode": {"enum": ["rw", "ro"]},
        },
        required=("mountpoint",),
    ),
    "os-detach": _action({"attachment_id": nullable(text(255))}),
    "os-force_detach": _action(
        {"attachment_id": nullable(text(255)), "connector": {"type": ["object", "null"]}}
    ),
    "os-volume_upload_image": _action(
        {
            "image_name": text(255, 1),
            "disk_format": text(255, 1),
            "container_format": text(255, 1),
            "force": BOOLEAN,
            "visibility": {"enum": ["public", "private", "shared", "community"]},
            "protected": BOOLEAN,
        },
        required=("image_name",),
    ),
    "os-retype": _action(
        {"new_type": text(255, 1), "migration_policy": nullable({"enum": ["never", "on-demand"]})},
        required=("new_type",),
    ),
    "os-set_image_metadata": _action({"metadata": METADATA}, required=("metadata",)),
    "os-unset_image_metadata": _action({"key": text(255, 1)}, required=("key",)),
    "os-show_image_metadata": _action(),
}
VOLUME_ACTION: Schema = {
    "type": "object",
    "properties": VOLUME_ACTIONS,
    "additionalProperties": True,  # an unknown action is the handler's "no such action"
    "minProperties": 1,
    "maxProperties": 1,
}

SNAPSHOT_CREATE = obj(
    {
        "snapshot": obj(
            {
                "volume_id": nullable(text(255)),
                "name": NAME,
                "description": DESCRIPTION,
                "display_name": NAME,
                "display_description": DESCRIPTION,
                "force": BOOLEAN,
                "metadata": nullable(METADATA),
            },
            required=("volume_id",),
        )
    },
    required=("snapshot",),
)
SNAPSHOT_UPDATE = obj(
    {
        "snapshot": obj(
            {
                "name": NAME,
                "description": DESCRIPTION,
                "display_name": NAME,
                "display_description": DESCRIPTION,
            }
        )
    },
    required=("snapshot",),
)
SNAPSHOT_ACTIONS: Schema = {
    "os-reset_status": _action({"status": text(255, 1)}, required=("status",)),
    "os-force_delete": _action(),
    "os-update_snapshot_status": _action(
        {"status": text(255, 1), "progress": nullable(text(255))}, required=("status",)
    ),
}
SNAPSHOT_ACTION: Schema = {
    "type": "object",
    "properties": SNAPSHOT_ACTIONS,
    "additionalProperties": True,
    "minProperties": 1,
    "maxProperties": 1,
}

TYPE_CREATE = obj(
    {
        "volume_type": obj(
            {
                "name": text(255, 1),
                "description": DESCRIPTION,
                "extra_specs": METADATA,
                "os-volume-type-access:is_public": BOOLEAN,
                "is_public": BOOLEAN,
            },
            required=("name",),
        )
    },
    required=("volume_type",),
)
TYPE_UPDATE = obj(
    {
        "volume_type": obj(
            {"name": nullable(text(255, 1)), "description": DESCRIPTION, "is_public": BOOLEAN}
        )
    },
    required=("volume_type",),
)
EXTRA_SPECS = obj({"extra_specs": METADATA}, required=("extra_specs",))
TYPE_ACTIONS: Schema = {
    "addProjectAccess": obj({"project": text(255, 1)}, required=("project",)),
    "removeProjectAccess": obj({"project": text(255, 1)}, required=("project",)),
}
TYPE_ACTION: Schema = {
    "type": "object",
    "properties": TYPE_ACTIONS,
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
}
ENCRYPTION: Schema = obj(
    {
        "encryption": obj(
            {
                "provider": text(255, 1),
                "cipher": nullable(text(255)),
                "key_size": nullable({"type": "integer", "minimum": 0}),
                "control_location": {"enum": ["front-end", "back-end"]},
            }
        )
    },
    required=("encryption",),
)
QUOTA_LIMIT: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": -1, "maximum": 2**31 - 1},
        {"type": "string", "pattern": "^-?[0-9]+$"},
    ]
}
QUOTA_UPDATE = obj(
    {"quota_set": {"type": "object", "additionalProperties": QUOTA_LIMIT}},
    required=("quota_set",),
)

TRANSFER_CREATE = obj(
    {
        "transfer": obj(
            {"volume_id": text(255, 1), "name": NAME, "no_snapshots": {"type": "boolean"}},
            required=("volume_id",),
        )
    },
    required=("transfer",),
)
TRANSFER_ACCEPT = obj(
    {"accept": obj({"auth_key": text(255, 1)}, required=("auth_key",))}, required=("accept",)
)

QOS_CREATE = obj(
    {
        "qos_specs": {
            "type": "object",
            "properties": {
                "name": text(255, 1),
                "consumer": {"enum": ["front-end", "back-end", "both"]},
            },
            "required": ["name"],
            "additionalProperties": text(255),
        }
    },
    required=("qos_specs",),
)
QOS_KEYS = obj(
    {"qos_specs": {"type": "object", "additionalProperties": text(255), "minProperties": 1}},
    required=("qos_specs",),
)
QOS_UNSET = obj({"keys": {"type": "array", "items": text(255, 1)}}, required=("keys",))

BACKUP_CREATE = obj(
    {
        "backup": obj(
            {
                "volume_id": text(255, 1),
                "name": NAME,
                "description": DESCRIPTION,
                "container": nullable(text(255)),
                "incremental": {"type": "boolean"},
                "force": {"type": "boolean"},
                "snapshot_id": ID,
                "metadata": nullable(METADATA),
                "availability_zone": nullable(text(255)),
            },
            required=("volume_id",),
        )
    },
    required=("backup",),
)
BACKUP_UPDATE = obj(
    {"backup": obj({"name": NAME, "description": DESCRIPTION, "metadata": METADATA})},
    required=("backup",),
)
BACKUP_RESTORE = obj(
    {"restore": {"anyOf": [{"type": "null"}, obj({"volume_id": ID, "name": NAME})]}},
    required=("restore",),
)
BACKUP_IMPORT = obj(
    {
        "backup-record": obj(
            {"backup_service": text(255, 1), "backup_url": text(65535, 1)},
            required=("backup_service", "backup_url"),
        )
    },
    required=("backup-record",),
)
BACKUP_ACTIONS: Schema = {
    "os-reset_status": _action({"status": text(255, 1)}, required=("status",)),
    "os-force_delete": _action(),
}

GROUP_TYPE_CREATE = obj(
    {
        "group_type": obj(
            {
                "name": text(255, 1),
                "description": DESCRIPTION,
                "is_public": BOOLEAN,
                "group_specs": METADATA,
            },
            required=("name",),
        )
    },
    required=("group_type",),
)
GROUP_TYPE_UPDATE = obj(
    {
        "group_type": obj(
            {"name": nullable(text(255, 1)), "description": DESCRIPTION, "is_public": BOOLEAN}
        )
    },
    required=("group_type",),
)
GROUP_SPECS = obj({"group_specs": METADATA}, required=("group_specs",))
_UUID_LIST = {"type": "array", "items": text(255, 1), "minItems": 1}
GROUP_CREATE = obj(
    {
        "group": obj(
            {
                "group_type": text(255, 1),
                "volume_types": _UUID_LIST,
                "name": NAME,
                "description": DESCRIPTION,
                "availability_zone": nullable(text(255)),
            },
            required=("group_type", "volume_types"),
        )
    },
    required=("group",),
)
GROUP_UPDATE = obj(
    {
        "group": obj(
            {
                "name": NAME,
                "description": DESCRIPTION,
                "add_volumes": nullable(text(65535)),
                "remove_volumes": nullable(text(65535)),
            }
        )
    },
    required=("group",),
)
GROUP_FROM_SOURCE = obj(
    {
        "create-from-src": obj(
            {
                "name": NAME,
                "description": DESCRIPTION,
                "group_snapshot_id": ID,
                "source_group_id": ID,
            }
        )
    },
    required=("create-from-src",),
)
_RESET = _action({"status": text(255, 1)}, required=("status",))
GROUP_ACTIONS: Schema = {
    "delete": obj({"delete-volumes": BOOLEAN}),
    "reset_status": _RESET,
}
GROUP_SNAPSHOT_CREATE = obj(
    {
        "group_snapshot": obj(
            {"group_id": text(255, 1), "name": NAME, "description": DESCRIPTION},
            required=("group_id",),
        )
    },
    required=("group_snapshot",),
)


def _one_action(actions: Schema) -> Schema:
    return {
        "type": "object",
        "properties": actions,
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }


SCHEMAS: dict[str, Schema] = {
    "volume_create_volume": VOLUME_CREATE,
    "volume_update_volume": VOLUME_UPDATE,
    "volume_volume_action": VOLUME_ACTION,
    "volume_create_snapshot": SNAPSHOT_CREATE,
    "volume_update_snapshot": SNAPSHOT_UPDATE,
    "volume_snapshot_action": SNAPSHOT_ACTION,
    "volume_create_type": TYPE_CREATE,
    "volume_update_type": TYPE_UPDATE,
    "volume_type_action": TYPE_ACTION,
    "volume_create_extra_specs": EXTRA_SPECS,
    "volume_update_extra_spec": {
        "type": "object",
        "additionalProperties": text(255),
        "propertyNames": {"minLength": 1, "maxLength": 255},
        "minProperties": 1,
    },
    "volume_create_encryption": ENCRYPTION,
    "volume_update_encryption": ENCRYPTION,
    "volume_update_quota_set": QUOTA_UPDATE,
    "volume_create_backup": BACKUP_CREATE,
    "volume_update_backup": BACKUP_UPDATE,
    "volume_restore_backup": BACKUP_RESTORE,
    "volume_import_backup": BACKUP_IMPORT,
    "volume_backup_action": {
        "type": "object",
        "properties": BACKUP_ACTIONS,
        "additionalProperties": True,
        "minProperties": 1,
        "maxProperties": 1,
    },
    "volume_create_qos": QOS_CREATE,
    "volume_set_qos_keys": QOS_KEYS,
    "volume_unset_qos_keys": QOS_UNSET,
    "volume_create_transfer": TRANSFER_CREATE,
    "volume_accept_transfer": TRANSFER_ACCEPT,
    "volume_create_volume_transfer": TRANSFER_CREATE,
    "volume_accept_volume_transfer": TRANSFER_ACCEPT,
    "volume_create_group_type": GROUP_TYPE_CREATE,
    "volume_update_group_type": GROUP_TYPE_UPDATE,
    "volume_create_group_specs": GROUP_SPECS,
    "volume_update_group_spec": {
        "type": "object",
        "additionalProperties": text(255),
        "propertyNames": {"minLength": 1, "maxLength": 255},
        "minProperties": 1,
        "maxProperties": 1,
    },
    "volume_create_group": GROUP_CREATE,
    "volume_update_group": GROUP_UPDATE,
    "volume_create_group_from_source": GROUP_FROM_SOURCE,
    "volume_group_action": _one_action(GROUP_ACTIONS),
    "volume_create_group_snapshot": GROUP_SNAPSHOT_CREATE,
    "volume_group_snapshot_action": _one_action({"reset_status": _RESET}),
    "volume_update_quota_class_set": obj(
        {"quota_class_set": {"type": "object", "additionalProperties": QUOTA_LIMIT}},
        required=("quota_class_set",),
    ),
}
