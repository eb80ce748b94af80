"""The request body schema of every route, as Nova's ``api/openstack/compute/schemas``.

Each JSON body is checked against its route's schema before the handler sees it
(types, ranges, formats, and unknown keys refused where Nova, Glance, Neutron, Cinder
and Keystone refuse them), and the OpenAPI document's request schemas are these same
objects (`openapi.document` puts them in), so the two cannot drift. A body that does
not fit is `Invalid` (400) naming the field, the value and the rule it breaks.

Each service's schemas are in a module of their own (`compute`, `compute_admin`,
`image`, `network`, `volume`, `identity`), built from the parameter types in `types`.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema

from nova_lite.api.http.schemas import compute, compute_admin, identity, image, network, volume
from nova_lite.api.http.schemas.compute import MAX_NETWORKS_PER_REQUEST
from nova_lite.api.http.schemas.types import Schema
from nova_lite.exceptions import Invalid

__all__ = ["MAX_NETWORKS_PER_REQUEST", "SCHEMAS", "validate"]

SCHEMAS: dict[str, Schema] = {
    **identity.SCHEMAS,
    **compute.SCHEMAS,
    **compute_admin.SCHEMAS,
    **image.SCHEMAS,
    **network.SCHEMAS,
    **volume.SCHEMAS,
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
