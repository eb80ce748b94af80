"""The OpenAPI document describes exactly the routes the HTTP API serves."""

from __future__ import annotations

from aiohttp import web

from nova_lite.api.client import NovaAPI
from nova_lite.api.http import create_app
from nova_lite.api.http.openapi import document
from nova_lite.config import Config
from transports.memory import MemoryTransport

METHODS = ("get", "head", "post", "put", "patch", "delete")


def _app() -> web.Application:
    return create_app(NovaAPI(MemoryTransport("memory://"), Config.load(environ={})))


def _served() -> set[tuple[str, str]]:
    """Every API route served (neither the HTML dashboard nor /metrics is an API)."""
    routes = _app().router.routes()
    return {
        (r.method.lower(), r.resource.canonical)
        for r in routes
        if r.resource is not None
        and not r.resource.canonical.startswith("/dashboard")
        and r.resource.canonical != "/metrics"
    }


def _documented() -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, operations in document()["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_every_route_is_in_the_openapi_document() -> None:
    """Each served method and path (HEAD aside, which aiohttp adds to GETs) is documented."""
    undocumented = {(m, p) for m, p in _served() if m != "head"} - _documented()

    assert not undocumented, sorted(undocumented)


def test_every_documented_operation_is_served() -> None:
    """Each operation the OpenAPI document lists is a route of the application."""
    unserved = _documented() - _served()

    assert not unserved, sorted(unserved)


def test_the_document_declares_its_parameters_and_public_routes() -> None:
    """Path parameters are declared, and exactly the no-token routes have no security."""
    paths = document()["paths"]
    public = {p for p, ops in paths.items() for o in ops.values() if o.get("security") == []}

    for path, operations in paths.items():
        for operation in operations.values():
            declared = {p.get("name") for p in operation.get("parameters", [])}
            assert {part[1:-1] for part in path.split("/") if part.startswith("{")} <= declared
    assert {"/", "/v3", "/v3/auth/tokens", "/compute/v2.1", "/openapi.json"} <= public
    assert "/compute/v2.1/servers" not in public
