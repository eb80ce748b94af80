"""The HTTP front end's hooks: every request counted, timed and traced; ``/metrics``.

`observed` is the outermost middleware of the API application. Its labels are the
request's method (one of `METHODS`, else ``OTHER``), its route template
(``/compute/v2.1/servers/{server_id}``, never the raw path, so no uuid becomes a
label; ``unmatched`` for a path no route serves) and the response status. With
tracing on, each request is a SERVER span, continuing a caller's W3C
``traceparent`` header when it sends one; every call and cast the request causes
is a child of it.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from nova_lite import telemetry
from nova_lite.api.http.common import API, REQUEST_ID, Handler, public
from nova_lite.exceptions import NotFound
from nova_lite.metrics.exposition import metrics_response
from nova_lite.tracing.light import Current
from nova_lite.tracing.propagation import KEYS, remote

__all__ = ["METHODS", "UNMATCHED", "observed", "route_of", "routes"]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

routes = web.RouteTableDef()


@routes.get("/metrics")
@public
async def get_metrics(request: web.Request) -> web.Response:
    """The deployment's metrics in Prometheus's text format (404 with metrics off)."""
    found = telemetry.of(request.app[API].transport)
    if found is None or found.metrics is None:
        raise NotFound("Metrics are off ([metrics] enabled = false).")
    return metrics_response(found.metrics, request.headers.get("Accept"))


def route_of(request: web.Request) -> str:
    """The template of the route that serves `request`, or ``unmatched``."""
    match = request.match_info
    resource = match.route.resource
    if match.http_exception is not None or resource is None:
        return UNMATCHED
    return resource.canonical


@web.middleware
async def observed(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count, time and (tracing on) trace the request, if the deployment observes."""
    found = telemetry.of(request.app[API].transport)
    if found is None:
        return await handler(request)
    return await _observe(found, request, handler)


async def _observe(
    found: telemetry.Telemetry, request: web.Request, handler: Handler
) -> web.StreamResponse:
    method = request.method if request.method in METHODS else "OTHER"
    route = route_of(request)
    started = time.perf_counter()
    status = 500
    try:
        if found.tracer is None:
            response = await handler(request)
        else:
            response = await _traced(found, request, handler, method, route)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if found.metrics is not None:
            found.metrics.http_requests.labels(method, route, str(status)).inc()
            seconds = time.perf_counter() - started
            found.metrics.http_request_duration.labels(method, route).observe(seconds)


async def _traced(
    found: telemetry.Telemetry, request: web.Request, handler: Handler, method: str, route: str
) -> web.StreamResponse:
    from opentelemetry.trace import SpanKind, Status, StatusCode

    assert found.tracer is not None
    headers = {key: request.headers[key] for key in KEYS if key in request.headers}
    where = ("api", request.app[API].config.host)
    span = found.tracer.child(f"{method} {route}", SpanKind.SERVER, remote(headers), where=where)
    if span.sampled:
        span.set_attributes(_attributes(request, method, route))
    with Current(span):
        response = await handler(request)
        span.set_attribute("http.response.status_code", response.status)
        if REQUEST_ID in request:
            span.set_attribute("nova_lite.request_id", request[REQUEST_ID])
        if response.status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        return response


def _attributes(request: web.Request, method: str, route: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "http.route": route,
        "url.path": request.path,
        "nova_lite.service": "api",
        "nova_lite.host": request.app[API].config.host,
    }
    server = request.match_info.get("server_id")
    if server:
        attributes["nova_lite.instance_uuid"] = server
    return attributes
