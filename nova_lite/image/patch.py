"""Applying an image update (Glance's JSON patch operations) to an image, with no I/O.

`apply` takes an `Image` and its `ImageChange`s and returns the image as it would be
after all of them, or raises the error Glance answers for the first one that cannot
be made (nothing is changed then):

- read-only fields (``id``, ``status``, ``size``, checksums, times, ...) and reserved
  names (``os_glance_*``, ``location``, ``deleted``) are 403;
- ``add`` sets a field or an extra property (created or replaced); with the older
  patch dialect (``strict_add``, Glance's v2.0 media type) adding one that exists is
  409;
- ``replace`` sets a field or an extra property that exists (else 409);
- ``remove`` drops an extra property (409 if absent); an image field may not be
  removed (403);
- values are checked against Glance's image schema (400); ``owner`` is changed by
  administrators only, and ``disk_format``/``container_format`` only while the image
  is ``queued`` (403); ``locations`` are not served (403);
- more than 128 extra properties or tags is 413.

`Outcome.rules` names the policy rules the change needs besides ``modify_image``:
``publicize_image`` to make an image public, ``communitize_image`` to make it
community.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from nova_lite import validators
from nova_lite.exceptions import Conflict, Forbidden, ImageLimitExceeded, Invalid
from nova_lite.image import checks
from nova_lite.image.glance_schema import validate_image
from nova_lite.objects import Image, ImageChange

__all__ = ["OPERATIONS", "Outcome", "apply"]

OPERATIONS = ("add", "remove", "replace")
_QUEUED_ONLY = ("disk_format", "container_format")
_NULLABLE_EXTRAS = ("kernel_id", "ramdisk_id")


@attrs.frozen
class Outcome:
    """The image after the changes, and the extra policy rules they need."""

    image: Image
    rules: tuple[str, ...] = ()


def apply(
    image: Image,
    changes: Sequence[ImageChange],
    *,
    is_admin: bool,
    strict_add: bool = False,
) -> Outcome:
    """`image` with every change made, or the error of the first that cannot be."""
    fields: dict[str, Any] = {}
    extras = dict(image.properties)
    for change in changes:
        _check_path(change)
        if change.op == "remove":
            _remove(change.path, extras)
            continue
        _check_value(change)
        if change.path in checks.CORE_FIELDS:
            if change.op == "add" and strict_add:
                raise Conflict(f"Property {change.path} already present.")
            fields[change.path] = _core_value(image, change, is_admin=is_admin)
        else:
            _set_extra(change, extras, strict_add=strict_add)
    if len(extras) > checks.MAX_PROPERTIES:
        raise ImageLimitExceeded(
            f"Maximum number of image properties exceeded: {len(extras)} of "
            f"{checks.MAX_PROPERTIES}."
        )
    updated = attrs.evolve(image, properties=extras, **fields)
    return Outcome(updated, _rules(image, updated))


def _check_path(change: ImageChange) -> None:
    if change.op not in OPERATIONS:
        raise Invalid(
            f"Invalid operation: `{change.op}`. It must be one of the following: "
            f"{', '.join(OPERATIONS)}."
        )
    if not isinstance(change.path, str) or not change.path:
        raise Invalid(f"Invalid JSON pointer for this resource: '/{change.path}'")
    if change.path == "locations":
        raise Forbidden("It's not allowed to update locations if locations are invisible.")
    if change.path not in checks.CORE_FIELDS:
        checks.check_extra_names([change.path])


def _check_value(change: ImageChange) -> None:
    if change.path in _NULLABLE_EXTRAS and change.value is None:
        return
    validate_image({change.path: change.value})
    if len(change.path) > checks.MAX_PROPERTY_NAME:
        raise Invalid("Custom property should not be greater than 255 characters.")


def _remove(path: str, extras: dict[str, str]) -> None:
    if path in checks.CORE_FIELDS:
        raise Forbidden(f"Property {path} may not be removed.")
    if path not in extras:
        raise Conflict(f"Property {path} does not exist.")
    del extras[path]


def _set_extra(change: ImageChange, extras: dict[str, str], *, strict_add: bool) -> None:
    present = change.path in extras
    if change.op == "replace" and not present:
        raise Conflict(f"Property {change.path} does not exist.")
    if change.op == "add" and strict_add and present:
        raise Conflict(f"Property {change.path} already present.")
    if change.value is None:  # a nullable shipped property (kernel_id, ramdisk_id)
        extras.pop(change.path, None)
        return
    if len(change.value) > checks.MAX_PROPERTY_VALUE:
        raise Invalid(f"Property {change.path} may hold at most 65535 characters.")
    extras[change.path] = change.value


def _core_value(image: Image, change: ImageChange, *, is_admin: bool) -> Any:
    path, value = change.path, change.value
    if path == "owner" and not is_admin:
        raise Forbidden("Owner can't be updated by non admin.")
    if path in _QUEUED_ONLY and image.status != "queued" and value != getattr(image, path):
        raise Forbidden(f"Attribute {path} can be only replaced for a queued image.")
    if path in _QUEUED_ONLY and value is None:
        raise Invalid(f"{path} may not be null in this cloud (the image service needs one).")
    if path == "name":
        return validators.image_name(value)
    if path in ("min_disk", "min_ram"):
        return checks.check_count(path, value)
    if path == "tags":
        return checks.check_tags(value)
    return value


def _rules(before: Image, after: Image) -> tuple[str, ...]:
    if after.visibility == before.visibility:
        return ()
    if after.visibility == "public":
        return ("publicize_image",)
    if after.visibility == "community":
        return ("communitize_image",)
    return ()
