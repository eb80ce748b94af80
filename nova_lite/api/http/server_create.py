"""The body of ``POST /servers``, checked and turned into what `Servers.create` takes.

Nova's request schema, for the fields nova_lite serves: ``name``, ``imageRef``,
``flavorRef``, ``networks`` (a list of ``{"uuid": ...}``, or ``"auto"``/``"none"``;
required from microversion 2.37), ``min_count``/``max_count``, ``availability_zone``,
``metadata``, ``adminPass``, ``block_device_mapping_v2``, ``key_name``,
``accessIPv4``/``accessIPv6``, ``OS-DCF:diskConfig``, ``user_data``, ``description``
(from 2.19), ``tags`` (from 2.52) and ``security_groups`` (a list of ``{"name": ...}``,
names or ids: the ports' groups). Fields clients send by habit and nova_lite has no
use for (``config_drive``) are accepted and ignored; any other is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from nova_lite import objects, validators
from nova_lite.api.http.common import check_fields
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.server_fields import CreateFields
from nova_lite.exceptions import Invalid

__all__ = ["CreateOrder", "parse"]

SERVER_FIELDS = (
    "name",
    "imageRef",
    "flavorRef",
    "networks",
    "min_count",
    "max_count",
    "availability_zone",
    "metadata",
    "adminPass",
    "block_device_mapping_v2",
    "return_reservation_id",
    "security_groups",
    "user_data",
    "config_drive",
    "OS-DCF:diskConfig",
    "key_name",
    "accessIPv4",
    "accessIPv6",
    "description",
    "tags",
)
SINCE = {"description": "2.19", "tags": "2.52"}  # fields a microversion added
HINT_KEYS = ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints")
BDM_FIELDS = (
    "source_type",
    "destination_type",
    "boot_index",
    "uuid",
    "volume_size",
    "delete_on_termination",
    "device_name",
    "disk_bus",
    "device_type",
    "tag",
)


@attrs.frozen(kw_only=True)
class CreateOrder:
    """A checked create request."""

    name: str
    flavor: str
    image: str | None
    networks: list[str] | None
    count: int
    availability_zone: str | None
    metadata: dict[str, str]
    admin_password: str | None
    block_devices: list[objects.BlockDevice]
    scheduler_hints: dict[str, Any]
    return_reservation_id: bool
    fields: CreateFields
    security_groups: list[str] = attrs.field(factory=list)


def parse(body: Any, version: APIVersion) -> CreateOrder:
    """The create order in `body`; `Invalid` (400) naming the first bad field."""
    if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
        raise Invalid("The request body must be an object with an object 'server'.")
    check_fields(body, allowed=("server", *HINT_KEYS))
    server = body["server"]
    required = ("name", "flavorRef", "networks")[: 3 if version.at_least("2.37") else 2]
    allowed = [f for f in SERVER_FIELDS if version.at_least(SINCE.get(f, "2.1"))]
    check_fields(server, allowed=allowed, required=required, where="server")
    hints: Any = next((body[k] for k in HINT_KEYS if k in body), {})
    if not isinstance(hints, dict):
        raise Invalid(f"Invalid input for field/attribute scheduler_hints. Value: {hints!r}.")
    return CreateOrder(
        name=validators.server_name(server["name"]),
        flavor=_ref("flavorRef", server["flavorRef"]),
        image=_ref("imageRef", server["imageRef"]) if server.get("imageRef") else None,
        networks=_networks(server.get("networks")),
        count=_count(server),
        availability_zone=_optional_text(server, "availability_zone"),
        metadata=_metadata(server.get("metadata", {})),
        admin_password=_optional_text(server, "adminPass"),
        block_devices=[_bdm(m) for m in _list(server, "block_device_mapping_v2")],
        scheduler_hints=dict(hints),
        return_reservation_id=_loose_boolean(server.get("return_reservation_id", False)),
        security_groups=_security_groups(server),
        fields=_fields(server),
    )


def _fields(server: Mapping[str, Any]) -> CreateFields:
    """The rest of Nova's create fields (checked again by the library)."""
    return CreateFields(
        description=server.get("description"),
        key_name=server.get("key_name"),
        access_ip_v4=server.get("accessIPv4") or "",
        access_ip_v6=server.get("accessIPv6") or "",
        auto_disk_config=server.get("OS-DCF:diskConfig", "MANUAL") == "AUTO",
        user_data=server.get("user_data"),
        tags=tuple(_list(server, "tags")),
    )


def _invalid(field: str, value: object) -> Invalid:
    return Invalid(f"Invalid input for field/attribute {field}. Value: {value!r}.")


def _ref(field: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise _invalid(field, value)
    return str(value)


def _optional_text(server: Mapping[str, Any], field: str) -> str | None:
    value = server.get(field)
    if value is not None and not isinstance(value, str):
        raise _invalid(field, value)
    return value


def _security_groups(server: Mapping[str, Any]) -> list[str]:
    """The names (or ids) of ``security_groups: [{"name": ...}]``, each once."""
    names = []
    for group in _list(server, "security_groups"):
        if not isinstance(group, dict) or not isinstance(group.get("name"), str):
            raise _invalid("security_groups", group)
        check_fields(group, allowed=("name",), where="security_groups")
        names.append(group["name"])
    return list(dict.fromkeys(names))


def _list(server: Mapping[str, Any], field: str) -> list[Any]:
    value = server.get(field, [])
    if not isinstance(value, list):
        raise _invalid(field, value)
    return value


def _networks(value: object) -> list[str] | None:
    if value is None or value == "auto":
        return None
    if value == "none":
        return []
    if not isinstance(value, list):
        raise _invalid("networks", value)
    networks = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("uuid"), str):
            raise Invalid(
                f"Invalid network request {item!r}: give {{'uuid': <network id>}} "
                "(ports and fixed IPs are not supported)."
            )
        check_fields(item, allowed=("uuid", "tag"), where="networks")
        networks.append(item["uuid"])
    return networks


def _integer(field: str, value: object) -> int:
    if isinstance(value, bool):
        raise _invalid(field, value)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise _invalid(field, value)
    number: int = value
    if number < 1:
        raise Invalid(f"Invalid input for field/attribute {field}: {value!r} is less than 1.")
    return number


def _count(server: Mapping[str, Any]) -> int:
    low = _integer("min_count", server.get("min_count", 1))
    high = _integer("max_count", server.get("max_count", low))
    if low > high:
        raise Invalid("min_count must be <= max_count")
    return high


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _invalid("metadata", value)
    return dict(value)


TRUE_SPELLINGS = frozenset({"true", "1", "on", "yes", "y", "t"})


def _loose_boolean(value: object) -> bool:
    """Nova's boolean: True/False or one of its spellings (the schema allows only those)."""
    return value if isinstance(value, bool) else str(value).lower() in TRUE_SPELLINGS


def _size(value: object) -> int | None:
    return None if value is None else int(str(value))


def _bdm(mapping: object) -> objects.BlockDevice:
    if not isinstance(mapping, dict):
        raise _invalid("block_device_mapping_v2", mapping)
    check_fields(
        mapping, allowed=BDM_FIELDS, required=("source_type",), where="block_device_mapping_v2"
    )
    source = mapping["source_type"]
    if source not in ("image", "volume", "blank"):
        raise _invalid("source_type", source)
    uuid = mapping.get("uuid")
    boot_index = mapping.get("boot_index")
    return objects.BlockDevice(
        source_type=source,
        destination_type=mapping.get("destination_type", "volume"),
        boot_index=_boot_index(boot_index),
        volume_id=uuid if source == "volume" else None,
        image_id=uuid if source == "image" else None,
        volume_size=_size(mapping.get("volume_size")),
        delete_on_termination=_loose_boolean(
            mapping.get("delete_on_termination", source != "volume")
        ),
        device_name=mapping.get("device_name"),
    )


def _boot_index(value: object) -> int | None:
    """The boot index; None (or a negative one) for a disk that is not booted from."""
    if value is None or value == "none":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _invalid("boot_index", value)
    try:
        index = int(value)
    except ValueError:
        raise _invalid("boot_index", value) from None
    return index if index >= 0 else None
