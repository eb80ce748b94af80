"""The OpenAPI description of every route served, at ``GET /openapi.json``.

The document is assembled from the static files in ``openapi_docs/`` beside this
module: ``base.json`` (info, security, shared components) and one file of paths per
API (identity, compute, compute_admin, image, network, volume), so that each API's routes are
described beside each other and apart from the rest. A test keeps them in step with
the routes, in both directions. Its request body
schemas are not written there: `document` puts in the ones `schemas.SCHEMAS` checks
every body against, so what is documented is what is enforced.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from nova_lite.api.http.common import json, public
from nova_lite.api.http.schemas import SCHEMAS

__all__ = ["document", "operation_ids", "routes"]

routes = web.RouteTableDef()

#: The APIs whose paths ``openapi_docs/<api>.json`` describes, in document order
#: (``compute_network``: Nova's security group and floating IP routes;
#: ``compute_admin``: Nova's administrative and placement-related routes; a path may
#: have some of its methods in one file and the rest in another, never one twice).
APIS = ("identity", "compute", "compute_network", "compute_admin", "image", "network", "volume")


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document, parsed once."""
    docs = resources.files(__package__).joinpath("openapi_docs")
    loaded: dict[str, Any] = orjson.loads(docs.joinpath("base.json").read_bytes())
    for api in APIS:
        part = orjson.loads(docs.joinpath(f"{api}.json").read_bytes())
        for path, item in part["paths"].items():
            known = loaded["paths"].setdefault(path, {})
            duplicated = set(item) & set(known)
            if duplicated:
                raise RuntimeError(
                    f"openapi_docs/{api}.json repeats {sorted(duplicated)} of path {path}."
                )
            known.update(item)
        loaded["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
    for operation in _operations(loaded):
        schema = SCHEMAS.get(operation.get("operationId", ""))
        if schema is not None:
            operation["requestBody"]["content"]["application/json"]["schema"] = schema
    return loaded


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)]


@functools.cache
def operation_ids() -> dict[tuple[str, str], str]:
    """Each documented (method, path) and its operationId."""
    return {
        (method.upper(), path): op["operationId"]
        for path, item in document()["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }


@routes.get("/openapi.json")
@public
async def openapi(request: web.Request) -> web.Response:
    """This OpenAPI document."""
    return json(document())
