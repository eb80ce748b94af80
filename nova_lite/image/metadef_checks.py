"""The metadata-definition catalog's values: kinds of element and their rule names,
the checks of names and fields, and the documents shown (no I/O)."""

from __future__ import annotations

import json
from typing import Any

from nova_lite.exceptions import Invalid

__all__ = [
    "KINDS",
    "NAMESPACE_COLUMNS",
    "NAMESPACE_FIELDS",
    "check_kind",
    "check_namespace",
    "element_name",
    "element_view",
    "namespace_name",
    "namespace_view",
    "nested",
]

#: The kinds of namespace element, and Glance's rule names for reading one, reading
#: all, adding, changing and removing (the tags' bulk rules are add/delete_metadef_tags).
KINDS: dict[str, tuple[str, str, str, str, str]] = {
    "object": (
        "get_metadef_object",
        "get_metadef_objects",
        "add_metadef_object",
        "modify_metadef_object",
        "delete_metadef_object",
    ),
    "property": (
        "get_metadef_property",
        "get_metadef_properties",
        "add_metadef_property",
        "modify_metadef_property",
        "remove_metadef_property",
    ),
    "tag": (
        "get_metadef_tag",
        "get_metadef_tags",
        "add_metadef_tag",
        "modify_metadef_tag",
        "delete_metadef_tag",
    ),
    "resource_type": (
        "get_metadef_resource_type",
        "get_metadef_resource_type",
        "add_metadef_resource_type_association",
        "add_metadef_resource_type_association",
        "remove_metadef_resource_type_association",
    ),
}
NAMESPACE_FIELDS = ("namespace", "display_name", "description", "visibility", "protected")
NAMESPACE_COLUMNS = (
    "namespace, display_name, description, visibility, protected, owner, created_at, updated_at"
)


def namespace_name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 80:
        raise Invalid(f"namespace {value!r:.80} must be a string of 1 to 80 characters.")
    return value


def check_namespace(values: dict[str, Any]) -> None:
    """`Invalid` unless the namespace fields in `values` have Glance's types and sizes."""
    for field, limit in (("display_name", 80), ("description", 500), ("owner", 255)):
        value = values.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise Invalid(f"{field} {value!r:.80} must be a string of at most {limit} characters.")
    if values.get("visibility") not in (None, "public", "private"):
        raise Invalid(f"visibility {values['visibility']!r:.40} is not public or private.")
    if not isinstance(values.get("protected", False), bool):
        raise Invalid("protected must be true or false.")


def element_name(kind: str, value: Any) -> str:
    limit = 255 if kind == "tag" else 80
    if not isinstance(value, str) or not 1 <= len(value) <= limit or "/" in value:
        raise Invalid(f"{kind} name {value!r:.80} must be 1 to {limit} characters, no '/'.")
    return value


def check_kind(kind: str) -> tuple[str, str, str, str, str]:
    if kind not in KINDS:
        raise Invalid(f"kind {kind!r:.40} is not one of: {', '.join(KINDS)}.")
    return KINDS[kind]


def nested(values: dict[str, Any]) -> list[tuple[str, Any, list[Any]]]:
    """The elements a namespace is created with: (kind, how to name one, the items)."""
    raw = values.get("properties") or {}
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise Invalid("properties must be an object of property definitions (objects).")
    properties = [{**v, "name": k} for k, v in raw.items()]
    for key in ("resource_type_associations", "objects", "tags"):
        items = values.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise Invalid(f"{key} must be a list of objects.")

    def name_of(item: Any) -> Any:
        return item.get("name") if isinstance(item, dict) else None

    return [
        ("resource_type", name_of, values.get("resource_type_associations") or []),
        ("property", name_of, properties),
        ("object", name_of, values.get("objects") or []),
        ("tag", name_of, values.get("tags") or []),
    ]


def namespace_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "namespace": row["namespace"],
        "display_name": row["display_name"],
        "description": row["description"],
        "visibility": row["visibility"],
        "protected": bool(row["protected"]),
        "owner": row["owner"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def element_view(row: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(row["body"])
    return {**document, "created_at": row["created_at"], "updated_at": row["updated_at"]}
