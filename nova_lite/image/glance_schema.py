"""Glance's image and member schemas: the documents ``/v2/schemas/*`` serves, and the
checks of property values against them.

The image schema is Glance's base properties plus the properties Glance ships in
``schema-image.json`` (``kernel_id``, ``os_distro``, ...); any other property is an
extra property whose value must be a string (Glance's "permissive" schema). The same
schema checks an image created over HTTP and every value a PATCH sets, here in the
image service, so that a caller on the bus gets the same answers.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema

from nova_lite.exceptions import Invalid
from nova_lite.image import checks

__all__ = [
    "image_schema",
    "images_schema",
    "member_schema",
    "members_schema",
    "validate_image",
]

_UUID = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
_GUIDE = "https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"


def _prop(types: str | list[str], description: str, **rules: Any) -> dict[str, Any]:
    return {"type": types, "description": description, **rules}


def _read_only(types: str | list[str], description: str, **rules: Any) -> dict[str, Any]:
    return _prop(types, description, readOnly=True, **rules)


def _base_properties() -> dict[str, Any]:
    """Glance's base image properties (``glance.api.v2.images.get_base_properties``)."""
    statuses = list(checks.STATUSES)
    return {
        "id": _prop("string", "An identifier for the image", pattern=_UUID),
        "name": _prop(["null", "string"], "Descriptive name for the image", maxLength=255),
        "status": _read_only("string", "Status of the image", enum=statuses),
        "visibility": _prop(
            "string", "Scope of image accessibility", enum=list(checks.VISIBILITIES)
        ),
        "protected": _prop("boolean", "If true, image will not be deletable."),
        "os_hidden": _prop(
            "boolean", "If true, image will not appear in default image list response."
        ),
        "checksum": _read_only(["null", "string"], "md5 hash of image contents.", maxLength=32),
        "os_hash_algo": _read_only(
            ["null", "string"], "Algorithm to calculate the os_hash_value", maxLength=64
        ),
        "os_hash_value": _read_only(
            ["null", "string"],
            "Hexdigest of the image contents using the algorithm specified by the os_hash_algo",
            maxLength=128,
        ),
        "owner": _prop(["null", "string"], "Owner of the image", maxLength=255),
        "size": _read_only(["null", "integer"], "Size of image file in bytes"),
        "virtual_size": _read_only(["null", "integer"], "Virtual size of image in bytes"),
        "container_format": _prop(
            ["null", "string"],
            "Format of the container",
            enum=[None, *checks.CONTAINER_FORMATS],
        ),
        "disk_format": _prop(
            ["null", "string"], "Format of the disk", enum=[None, *checks.DISK_FORMATS]
        ),
        "created_at": _read_only("string", "Date and time of image registration"),
        "updated_at": _read_only("string", "Date and time of the last image modification"),
        "tags": _prop(
            "array",
            "List of strings related to the image",
            items={"type": "string", "maxLength": checks.MAX_TAG},
        ),
        "direct_url": _read_only("string", "URL to access the image file kept in external store"),
        "min_ram": _prop("integer", "Amount of ram (in MB) required to boot image."),
        "min_disk": _prop("integer", "Amount of disk space (in GB) required to boot image."),
        "self": _read_only("string", "An image self url"),
        "file": _read_only("string", "An image file url"),
        "stores": _read_only(
            "string",
            "Store in which image data resides.  Only present when the operator has enabled "
            "multiple stores.  May be a comma-separated list of store identifiers.",
        ),
        "schema": _read_only("string", "An image schema url"),
        "locations": _prop(
            "array",
            "A set of URLs to access the image file kept in external store",
            items={
                "type": "object",
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                },
                "required": ["url", "metadata"],
            },
        ),
    }


def _shipped_properties() -> dict[str, Any]:
    """The properties of Glance's default ``schema-image.json``."""
    return {
        "kernel_id": _prop(
            ["null", "string"],
            "ID of image stored in Glance that should be used as the kernel when booting "
            "an AMI-style image.",
            pattern=_UUID,
        ),
        "ramdisk_id": _prop(
            ["null", "string"],
            "ID of image stored in Glance that should be used as the ramdisk when booting "
            "an AMI-style image.",
            pattern=_UUID,
        ),
        "instance_uuid": _prop(
            "string",
            "Metadata which can be used to record which instance this image is associated "
            "with. (Informational only, does not create an instance snapshot.)",
        ),
        "architecture": _prop("string", f"Operating system architecture as specified in {_GUIDE}"),
        "os_distro": _prop(
            "string",
            f"Common name of operating system distribution as specified in {_GUIDE}",
        ),
        "os_version": _prop("string", "Operating system version as specified by the distributor."),
        "description": _prop("string", "A human-readable string describing this image."),
    }


@functools.cache
def image_schema() -> dict[str, Any]:
    """The document at ``/v2/schemas/image``."""
    return {
        "name": "image",
        "properties": {**_base_properties(), **_shipped_properties()},
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def _collection(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


@functools.cache
def images_schema() -> dict[str, Any]:
    """The document at ``/v2/schemas/images``."""
    return _collection("images", image_schema())


@functools.cache
def member_schema() -> dict[str, Any]:
    """The document at ``/v2/schemas/member``."""
    return {
        "name": "member",
        "properties": {
            "member_id": {
                "type": "string",
                "description": "An identifier for the image member (tenantId)",
            },
            "image_id": {
                "type": "string",
                "description": "An identifier for the image",
                "pattern": _UUID,
            },
            "created_at": {
                "type": "string",
                "description": "Date and time of image member creation",
            },
            "updated_at": {
                "type": "string",
                "description": "Date and time of last modification of image member",
            },
            "status": {
                "type": "string",
                "description": "The status of this image member",
                "enum": list(checks.MEMBER_STATUSES),
            },
            "schema": {"readOnly": True, "type": "string"},
        },
        "additionalProperties": False,
    }


@functools.cache
def members_schema() -> dict[str, Any]:
    """The document at ``/v2/schemas/members``."""
    return _collection("members", member_schema())


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = {k: v for k, v in image_schema().items() if k != "links"}
    return jsonschema.Draft4Validator(schema)


def validate_image(values: dict[str, Any]) -> None:
    """`Invalid` (400) unless `values` (some of an image's properties) fit the schema."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(values))
    if error is not None:
        field = "/".join(str(p) for p in error.absolute_path) or "image"
        raise Invalid(
            f"Provided object does not match schema 'image': {error.message[:200]} (at {field})."
        )
