"""Identity API v3 (Keystone): version discovery, tokens, and what a token may scope to.

``POST /v3/auth/tokens`` takes Keystone's body as it is sent and hands it to the
identity service, which does every check (the password method by user id or by
name and domain, the token method, the application credential method; a project,
domain or system scope, or none); it answers 201 with the token in
``X-Subject-Token`` and its body, catalog included unless ``nocatalog``. ``GET``,
``HEAD`` and ``DELETE`` on the same path show, check and revoke the token named by
``X-Subject-Token`` (404 if it is not valid). ``/v3/auth/projects``, ``domains``,
``system`` and ``catalog`` answer for the caller's own token. The records
(domains, projects, users, ...) are in the ``identity_*`` modules beside this one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, REQUEST_ID, base_url, body_of, context_of, json, public
from nova_lite.api.http.identity_views import catalog_body, entity_view, identity_of, list_body
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


@routes.get("/")
@public
async def versions(request: web.Request) -> web.Response:
    """The identity API versions (300 Multiple Choices, as Keystone answers)."""
    return json({"versions": {"values": [_version_doc(base_url(request))]}}, status=300)


@routes.get("/v3")
@routes.get("/v3/")
@public
async def version(request: web.Request) -> web.Response:
    """The identity v3 version document."""
    return json({"version": _version_doc(base_url(request))})


# -- tokens ----------------------------------------------------------------------------


async def _token_body(
    request: web.Request, data: dict[str, Any], catalog: bool, ctx: RequestContext
) -> dict[str, Any]:
    """Keystone's ``{"token": ...}``: `data` with the rendered catalog (if it has one)."""
    token = dict(data)
    if catalog and "nocatalog" not in request.query:
        entries = await identity_of(request).catalog_entries(ctx)
        project_id = token.get("project", {}).get("id")
        token["catalog"] = catalog_body(request, entries, project_id)
    return {"token": token}


@routes.post("/v3/auth/tokens")
@public
async def issue_token(request: web.Request) -> web.Response:
    """Authenticate (password, token or application credential); 201 with ``X-Subject-Token``."""
    auth = await body_of(request, "auth")
    ctx = RequestContext(request_id=request[REQUEST_ID])
    result = await identity_of(request).issue_token(ctx, auth)
    body = await _token_body(request, result["data"], result["catalog"], ctx)
    return json(body, status=201, headers={"X-Subject-Token": result["token"]})


def _subject(request: web.Request) -> str:
    subject = request.headers.get("X-Subject-Token", "").strip()
    if not subject:
        raise Invalid("Name the token to check in the X-Subject-Token header.")
    return subject


@routes.get("/v3/auth/tokens")
async def check_token(request: web.Request) -> web.Response:
    """The details of the ``X-Subject-Token`` token (HEAD: just whether it is valid)."""
    subject, ctx = _subject(request), context_of(request)
    rule = "identity:check_token" if request.method == "HEAD" else "identity:validate_token"
    result = await identity_of(request).token_data(ctx, subject, rule)
    body = await _token_body(request, result["data"], result["catalog"], ctx)
    return json(body, headers={"X-Subject-Token": subject})


@routes.delete("/v3/auth/tokens")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke the ``X-Subject-Token`` token; 204."""
    subject = _subject(request)
    await identity_of(request).revoke_subject(context_of(request), subject)
    request.app[API].forget_token(subject)
    return web.Response(status=204)


@routes.get("/v3/auth/projects")
async def token_projects(request: web.Request) -> web.Response:
    """The projects the caller's user may scope a token to."""
    found = await identity_of(request).auth_scopes(context_of(request), "projects")
    views = [entity_view(request, "projects", project) for project in found]
    return json(list_body(request, "projects", views))


@routes.get("/v3/auth/domains")
async def token_domains(request: web.Request) -> web.Response:
    """The domains the caller's user may scope a token to."""
    found = await identity_of(request).auth_scopes(context_of(request), "domains")
    views = [entity_view(request, "domains", domain) for domain in found]
    return json(list_body(request, "domains", views))


@routes.get("/v3/auth/system")
async def token_system(request: web.Request) -> web.Response:
    """Whether the caller's user may scope a token to the system."""
    found = await identity_of(request).auth_scopes(context_of(request), "system")
    return json(list_body(request, "system", found))


@routes.get("/v3/auth/catalog")
async def token_catalog(request: web.Request) -> web.Response:
    """The catalog of the caller's token."""
    ctx = context_of(request)
    entries = await identity_of(request).catalog_entries(ctx)
    catalog = catalog_body(request, entries, ctx.project_id)
    links = list_body(request, "catalog", [])["links"]
    return json({"catalog": catalog, "links": links})
