"""The OpenAPI description of every route served, at ``GET /openapi.json``.

The document is the static file ``openapi.json`` beside this module, kept in step
with the routes by a test that compares the two in both directions. Its request body
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


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document, parsed once."""
    text = resources.files(__package__).joinpath("openapi.json").read_bytes()
    loaded: dict[str, Any] = orjson.loads(text)
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
