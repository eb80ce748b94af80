"""Keystone's catalog and plain records: services, endpoints, regions, endpoint groups,
policies, credentials and OAuth consumers, each the five CRUD routes; and a user's
ec2 credentials (OS-EC2).

Endpoint URLs are stored as templates and shown rendered: ``$(public_url)s`` is
this front end's base URL (the seeded endpoints use it); ``$(project_id)s`` is
left for the catalog of each token. A region can also be created with the id of
the caller's choice (``PUT /v3/regions/{id}``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import base_url, body_of, context_of, json
from nova_lite.api.http.identity_views import (
    CrudSpec,
    crud_routes,
    entity_view,
    identity_of,
    list_body,
)
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()


def _endpoint_view(request: web.Request, endpoint: dict[str, Any]) -> dict[str, Any]:
    url = endpoint["url"].replace("$(public_url)s", base_url(request))
    return entity_view(request, "endpoints", {**endpoint, "url": url})


def _docs(what: str, plural: str, filters: str = "") -> dict[str, str]:
    return {
        "list": f"The {plural}{f' ({filters} filter)' if filters else ''}.",
        "create": f"Create {what}; 201.",
        "show": f"One of the {plural}.",
        "update": f"Change {what}.",
        "delete": f"Delete {what}; 204.",
    }


crud_routes(
    routes,
    CrudSpec("service", "services", "service", "services"),
    _docs("a service", "services", "``type``, ``name``"),
)
crud_routes(
    routes,
    CrudSpec("endpoint", "endpoints", "endpoint", "endpoints", view=_endpoint_view),
    _docs("an endpoint", "endpoints", "``service_id``, ``interface``, ``region_id``"),
)
crud_routes(
    routes,
    CrudSpec("region", "regions", "region", "regions"),
    _docs("a region", "regions", "``parent_region_id``"),
)
crud_routes(
    routes,
    CrudSpec("endpoint_group", "OS-EP-FILTER/endpoint_groups", "endpoint_group", "endpoint_groups"),
    _docs("an endpoint group (recorded; tokens' catalogs are not filtered)", "endpoint groups"),
)
crud_routes(
    routes,
    CrudSpec("policy", "policies", "policy", "policies"),
    _docs("a policy blob (stored, never enforced)", "policy blobs", "``type``"),
)
crud_routes(
    routes,
    CrudSpec("credential", "credentials", "credential", "credentials"),
    _docs("a credential", "credentials the caller may see", "``user_id``, ``type``"),
)
crud_routes(
    routes,
    CrudSpec("consumer", "OS-OAUTH1/consumers", "consumer", "consumers"),
    _docs("an OAuth consumer (recorded; the OAuth flows are not served)", "OAuth consumers"),
)


@routes.put("/v3/regions/{region_id}")
async def create_region_with_id(request: web.Request) -> web.Response:
    """Create a region with the id in the path; 201."""
    body = {**await body_of(request, "region"), "id": request.match_info["region_id"]}
    created = await identity_of(request).entity_create(context_of(request), "region", body)
    return json({"region": entity_view(request, "regions", created)}, status=201)


# -- ec2 credentials (OS-EC2) ----------------------------------------------------------


def _ec2_view(request: web.Request, credential: dict[str, Any]) -> dict[str, Any]:
    path = f"users/{credential['user_id']}/credentials/OS-EC2"
    return entity_view(request, path, {**credential, "id": credential["access"]})


@routes.get("/v3/users/{user_id}/credentials/OS-EC2")
async def list_ec2_credentials(request: web.Request) -> web.Response:
    """A user's ec2 credentials, with their secrets."""
    found = await identity_of(request).ec2_credentials(
        context_of(request), request.match_info["user_id"]
    )
    views = [_ec2_view(request, credential) for credential in found]
    return json(list_body(request, "credentials", views))


@routes.post("/v3/users/{user_id}/credentials/OS-EC2")
async def create_ec2_credential(request: web.Request) -> web.Response:
    """Make an ec2 access key and secret for a user and a project (``tenant_id``); 201."""
    body = await body_of(request)
    tenant = body.get("tenant_id") if isinstance(body, dict) else None
    if not isinstance(tenant, str):
        raise Invalid("Name the credential's project in tenant_id.")
    made = await identity_of(request).ec2_credential(
        context_of(request), "create", request.match_info["user_id"], tenant_id=tenant
    )
    assert made is not None
    return json({"credential": _ec2_view(request, made)}, status=201)


@routes.get("/v3/users/{user_id}/credentials/OS-EC2/{access}")
async def show_ec2_credential(request: web.Request) -> web.Response:
    """One ec2 credential of a user, by its access key."""
    match = request.match_info
    found = await identity_of(request).ec2_credential(
        context_of(request), "get", match["user_id"], access=match["access"]
    )
    assert found is not None
    return json({"credential": _ec2_view(request, found)})


@routes.delete("/v3/users/{user_id}/credentials/OS-EC2/{access}")
async def delete_ec2_credential(request: web.Request) -> web.Response:
    """Delete one ec2 credential of a user; 204."""
    match = request.match_info
    await identity_of(request).ec2_credential(
        context_of(request), "delete", match["user_id"], access=match["access"]
    )
    return web.Response(status=204)
