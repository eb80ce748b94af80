"""The aiohttp application: routes of every API, and the middlewares around them.

Each request passes, outermost first, through:

- `observed_http.observed`: counted and timed by route template and status, and
  traced (a span for the request, the parent of every call and cast it makes) when
  the deployment has metrics or tracing on;
- `request_ids`: a new ``req-<uuid>`` id, bound into the logs and returned in
  ``X-Openstack-Request-Id`` (and ``x-compute-request-id`` for compute); it is the
  request id of every RPC message the request causes, so the services log it too.
  A well-formed ``X-Openstack-Request-Id`` sent by the caller (another service's
  request id) becomes the global request id, as with oslo.middleware;
- `faults`: any exception becomes the status and fault body the API being called
  uses (`faults.fault_body`), with ``WWW-Authenticate`` on 401;
- `microversions`: compute and block storage requests negotiate their microversion
  (406 if unserved) and every such response says which one answered;
- `authentication`: routes not marked `public` need a valid ``X-Auth-Token``; the
  caller's `Session` and `RequestContext` are stored in the request;
- `request_schemas`: a JSON body must fit its route's schema (`schemas.SCHEMAS`,
  also the OpenAPI document's), or the request is a 400 naming the field.
"""

from __future__ import annotations

import time

import orjson
import structlog
from aiohttp import web

from nova_lite.api.client import NovaAPI
from nova_lite.api.http import (
    aggregates,
    compute,
    compute_extras,
    compute_floating_ips,
    compute_images,
    compute_networks,
    compute_security_group_rules,
    compute_security_groups,
    compute_service_calls,
    dashboard,
    flavor_extras,
    flavors,
    hosts,
    hypervisors,
    identity,
    identity_catalog,
    identity_resources,
    identity_roles,
    identity_users,
    image_data,
    image_discovery,
    image_members,
    image_metadefs,
    image_tasks,
    image_update,
    images,
    keypairs,
    migrations,
    network,
    network_ports,
    network_routers,
    network_security_groups,
    network_subnets,
    openapi,
    quotas,
    schemas,
    server_actions,
    server_admin,
    server_extras,
    server_groups,
    server_metadata,
    usage,
    volume_actions,
    volume_backups,
    volume_extras,
    volume_group_types,
    volume_groups,
    volume_qos,
    volume_services,
    volume_snapshots,
    volume_transfers,
    volume_types,
    volume_version,
    volumes,
)
from nova_lite.api.http.common import (
    API,
    CONTEXT,
    MICROVERSION,
    REQUEST_ID,
    SESSION,
    SETTINGS,
    Handler,
    HttpSettings,
    base_url,
    is_public,
)
from nova_lite.api.http.faults import api_of, fault_body, fault_for
from nova_lite.api.http.microversion import negotiate, response_headers
from nova_lite.api.http.network_common import neutron_fault
from nova_lite.api.http.volume_common import cinder_fault
from nova_lite.context import generate_request_id, is_request_id
from nova_lite.exceptions import Invalid, NotAuthorized
from nova_lite.telemetry import http as observed_http

__all__ = ["create_app"]

# Nova's administrative and placement-related compute routes (openapi_docs/compute_admin.json).
ADMIN_COMPUTE_MODULES = (
    flavor_extras,
    server_admin,
    quotas,
    server_groups,
    aggregates,
    hypervisors,
    hosts,
    usage,
    migrations,
    compute_networks,
)

log = structlog.get_logger(__name__)

AUTH_REQUIRED = "The request you have made requires authentication."


def global_request_id(request: web.Request) -> str | None:
    """The caller's ``X-OpenStack-Request-ID``, if it is a well-formed request id.

    As oslo.middleware does, another service's request id sent in that header becomes
    the global request id of this request; a malformed value is ignored.
    """
    inbound = request.headers.get("X-Openstack-Request-Id", "")
    return inbound if is_request_id(inbound) else None


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id, log it, and return it in the response headers."""
    request_id = generate_request_id()
    request[REQUEST_ID] = request_id
    started = time.monotonic()
    ids = {"request_id": request_id, "global_request_id": global_request_id(request)}
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v}):
        response = await handler(request)
        log.info(
            "http.request",
            method=request.method,
            path=request.path,
            status=response.status,
            duration=round(time.monotonic() - started, 4),
        )
    if not response.prepared:
        response.headers["X-Openstack-Request-Id"] = request_id
        if api_of(request.path) == "compute":
            response.headers["x-compute-request-id"] = request_id
    return response


def error_response(request: web.Request, exc: Exception) -> web.Response:
    """The response reporting `exc` as the called API does."""
    api = api_of(request.path)
    fault = (
        cinder_fault(exc)
        if api == "volume"
        else neutron_fault(exc)
        if api == "network"
        else fault_for(exc)
    )
    if fault.status >= 500:
        log.error("http.unexpected_error", exc_info=exc, path=request.path)
    response = web.json_response(fault_body(api, fault), status=fault.status)
    if fault.status == 401:
        response.headers["WWW-Authenticate"] = f'Keystone uri="{base_url(request)}/v3"'
    return response


@web.middleware
async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Report every error as the called API does."""
    try:
        return await handler(request)
    except Exception as exc:
        return error_response(request, exc)


@web.middleware
async def microversions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Negotiate the compute microversion and announce it in every compute response."""
    api = api_of(request.path)
    if api == "volume" and request.path.startswith("/volume/v3/"):
        volume = volume_version.negotiate(request.headers)
        request[volume_version.VOLUME_MICROVERSION] = volume
        headers = volume_version.response_headers(volume)
    elif api == "compute":
        version = negotiate(request.headers)
        request[MICROVERSION] = version
        headers = response_headers(version)
    else:
        return await handler(request)
    try:
        response = await handler(request)
    except Exception as exc:
        response = error_response(request, exc)
    if not response.prepared:
        response.headers.update(headers)
    return response


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn the request's token into the caller's session (routes that need one)."""
    match = request.match_info
    if match.http_exception is not None or is_public(match.handler):
        return await handler(request)
    token = request.headers.get("X-Auth-Token", "").strip()
    if not token:
        raise NotAuthorized(AUTH_REQUIRED)
    api = request.app[API]
    ids = {"request_id": request[REQUEST_ID], "global_request_id": global_request_id(request)}
    request[CONTEXT] = await api.context_for(token, **ids)
    if request[CONTEXT].project_id is None and api_of(request.path) != "identity":
        # A domain-, system- or un-scoped token is for the identity API only.
        raise NotAuthorized("This API needs a token scoped to a project.")
    request[SESSION] = api.session(token, **ids)
    return await handler(request)


@web.middleware
async def request_schemas(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check a JSON body against its route's schema before the handler reads it."""
    resource = request.match_info.route.resource
    operation = (
        None
        if resource is None
        else openapi.operation_ids().get((request.method, resource.canonical))
    )
    if operation in schemas.SCHEMAS and request.can_read_body:
        raw = await request.read()
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise Invalid(f"Malformed request body: not valid JSON ({exc}).") from None
            schemas.validate(operation, body)
    return await handler(request)


def create_app(api: NovaAPI, *, public_url: str = "") -> web.Application:
    """The HTTP API application, serving `api` (every route of every API)."""
    app = web.Application(
        middlewares=[
            observed_http.observed,
            request_ids,
            faults,
            microversions,
            authentication,
            request_schemas,
        ],
        client_max_size=1024**2,
    )
    app[API] = api
    app[SETTINGS] = HttpSettings(public_url=public_url)
    for module in (
        identity,
        identity_resources,
        identity_users,
        identity_roles,
        identity_catalog,
        compute,
        server_actions,
        flavors,
        compute_extras,
        keypairs,
        server_metadata,
        server_extras,
        compute_images,
        compute_security_groups,
        compute_security_group_rules,
        compute_floating_ips,
        compute_service_calls,
        *ADMIN_COMPUTE_MODULES,
        images,
        image_update,
        image_data,
        image_members,
        image_metadefs,
        image_discovery,
        image_tasks,
        network,
        network_subnets,
        network_ports,
        network_security_groups,
        network_routers,
        volumes,
        volume_actions,
        volume_snapshots,
        volume_types,
        volume_transfers,
        volume_qos,
        volume_backups,
        volume_group_types,
        volume_groups,
        volume_services,
        volume_extras,
    ):
        app.add_routes(module.routes)
    app.add_routes(openapi.routes)
    app.add_routes(observed_http.routes)  # /metrics, for Prometheus (not in openapi.json)
    dashboard.mount(app)  # the HTML dashboard at /dashboard (not an API: not in openapi.json)
    return app
