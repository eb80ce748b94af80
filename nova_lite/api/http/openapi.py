"""The OpenAPI description of every route served, at ``GET /openapi.json``.

The document is the static file ``openapi.json`` beside this module, kept in step
with the routes by a test that compares the two in both directions.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from nova_lite.api.http.common import json, public

__all__ = ["document", "routes"]

routes = web.RouteTableDef()


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document, parsed once."""
    text = resources.files(__package__).joinpath("openapi.json").read_bytes()
    loaded: dict[str, Any] = orjson.loads(text)
    return loaded


@routes.get("/openapi.json")
@public
async def openapi(request: web.Request) -> web.Response:
    """This OpenAPI document."""
    return json(document())
