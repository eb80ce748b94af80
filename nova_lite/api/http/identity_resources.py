"""Keystone's resource API: domains, projects, project tags and domain configuration.

Domains and projects are the five CRUD routes each (`identity_views.crud_routes`).
A project's tags are listed, replaced and cleared at ``/tags``, and added, checked
(204 or 404) and removed one at a time at ``/tags/{tag}``. A domain's configuration
(``[identity]`` and ``[ldap]`` options, recorded but never applied: users always
come from nova_lite's own database) is at ``/config``, by group and by option, with
Keystone's defaults at ``/v3/domains/config/default``.
"""

from __future__ import annotations

from aiohttp import web

from nova_lite.api.http.common import body_of, context_of, json
from nova_lite.api.http.identity_views import CrudSpec, crud_routes, identity_of

__all__ = ["routes"]

routes = web.RouteTableDef()

crud_routes(
    routes,
    CrudSpec("domain", "domains", "domain", "domains"),
    {
        "list": "The domains (``name``, ``enabled`` filter).",
        "create": "Create a domain; 201.",
        "show": "One domain.",
        "update": "Change a domain's name, description, enabled flag or tags.",
        "delete": "Delete a disabled domain and everything in it; 204.",
    },
)
crud_routes(
    routes,
    CrudSpec("project", "projects", "project", "projects"),
    {
        "list": "The projects (``name``, ``domain_id``, ``parent_id``, ``enabled``,"
        " ``is_domain``, ``tags`` filter).",
        "create": "Create a project (``is_domain``: a domain); 201.",
        "show": "One project.",
        "update": "Change a project's name, description, enabled flag, tags or attributes.",
        "delete": "Delete a project without children; 204.",
    },
)


# -- tags ------------------------------------------------------------------------------


@routes.get("/v3/projects/{project_id}/tags")
async def list_project_tags(request: web.Request) -> web.Response:
    """A project's tags."""
    found = await identity_of(request).project_tags(
        context_of(request), request.match_info["project_id"], "list"
    )
    return json({"tags": found})


@routes.put("/v3/projects/{project_id}/tags")
async def replace_project_tags(request: web.Request) -> web.Response:
    """Replace a project's tags with ``{"tags": [...]}``."""
    body = await body_of(request)
    tags = body.get("tags") if isinstance(body, dict) else None
    found = await identity_of(request).project_tags(
        context_of(request), request.match_info["project_id"], "replace", tags
    )
    return json({"tags": found})


@routes.delete("/v3/projects/{project_id}/tags")
async def clear_project_tags(request: web.Request) -> web.Response:
    """Remove every tag of a project; 204."""
    await identity_of(request).project_tags(
        context_of(request), request.match_info["project_id"], "clear"
    )
    return web.Response(status=204)


def _tag(request: web.Request) -> str:
    return request.match_info["tag"]


@routes.put("/v3/projects/{project_id}/tags/{tag}")
async def add_project_tag(request: web.Request) -> web.Response:
    """Add one tag to a project; 201."""
    project_id = request.match_info["project_id"]
    await identity_of(request).project_tag(context_of(request), project_id, "add", _tag(request))
    return web.Response(status=201)


@routes.get("/v3/projects/{project_id}/tags/{tag}")
async def check_project_tag(request: web.Request) -> web.Response:
    """204 if the project has the tag, else 404."""
    project_id = request.match_info["project_id"]
    await identity_of(request).project_tag(context_of(request), project_id, "check", _tag(request))
    return web.Response(status=204)


@routes.delete("/v3/projects/{project_id}/tags/{tag}")
async def remove_project_tag(request: web.Request) -> web.Response:
    """Remove one tag of a project; 204."""
    project_id = request.match_info["project_id"]
    await identity_of(request).project_tag(context_of(request), project_id, "remove", _tag(request))
    return web.Response(status=204)


# -- domain configuration --------------------------------------------------------------


async def _config_body(request: web.Request) -> dict[str, object]:
    body = await body_of(request, "config")
    return dict(body)


async def _config(
    request: web.Request, op: str, *, status: int = 200, body: bool = False
) -> web.Response:
    match = request.match_info
    config = await _config_body(request) if body else None
    result = await identity_of(request).domain_config(
        context_of(request),
        op,
        match["domain_id"],
        group=match.get("group"),
        option=match.get("option"),
        config=config,
    )
    if op == "delete":
        return web.Response(status=204)
    if op == "create":
        status = 201 if result["created"] else 200
    return json({"config": result["config"]}, status=status)


@routes.put("/v3/domains/{domain_id}/config")
async def create_domain_config(request: web.Request) -> web.Response:
    """Set a domain's whole configuration; 201 when it had none, else 200."""
    return await _config(request, "create", body=True)


@routes.get("/v3/domains/{domain_id}/config")
async def show_domain_config(request: web.Request) -> web.Response:
    """A domain's configuration."""
    return await _config(request, "get")


@routes.patch("/v3/domains/{domain_id}/config")
async def update_domain_config(request: web.Request) -> web.Response:
    """Merge options into a domain's configuration; the whole configuration after."""
    return await _config(request, "update", body=True)


@routes.delete("/v3/domains/{domain_id}/config")
async def delete_domain_config(request: web.Request) -> web.Response:
    """Delete a domain's configuration; 204."""
    return await _config(request, "delete")


@routes.get("/v3/domains/{domain_id}/config/{group}")
async def show_domain_config_group(request: web.Request) -> web.Response:
    """One group of a domain's configuration."""
    return await _config(request, "get")


@routes.patch("/v3/domains/{domain_id}/config/{group}")
async def update_domain_config_group(request: web.Request) -> web.Response:
    """Merge options into one group of a domain's configuration."""
    return await _config(request, "update", body=True)


@routes.delete("/v3/domains/{domain_id}/config/{group}")
async def delete_domain_config_group(request: web.Request) -> web.Response:
    """Delete one group of a domain's configuration; 204."""
    return await _config(request, "delete")


@routes.get("/v3/domains/{domain_id}/config/{group}/{option}")
async def show_domain_config_option(request: web.Request) -> web.Response:
    """One option of a domain's configuration."""
    return await _config(request, "get")


@routes.patch("/v3/domains/{domain_id}/config/{group}/{option}")
async def update_domain_config_option(request: web.Request) -> web.Response:
    """Set one option of a domain's configuration."""
    return await _config(request, "update", body=True)


@routes.delete("/v3/domains/{domain_id}/config/{group}/{option}")
async def delete_domain_config_option(request: web.Request) -> web.Response:
    """Delete one option of a domain's configuration; 204."""
    return await _config(request, "delete")


@routes.get("/v3/domains/config/default")
async def show_default_config(request: web.Request) -> web.Response:
    """Keystone's defaults of the options a domain may set."""
    found = await identity_of(request).domain_config_default(context_of(request))
    return json({"config": found})


@routes.get("/v3/domains/config/{group}/default")
async def show_default_config_group(request: web.Request) -> web.Response:
    """Keystone's defaults of one option group."""
    found = await identity_of(request).domain_config_default(
        context_of(request), group=request.match_info["group"]
    )
    return json({"config": found})


@routes.get("/v3/domains/config/{group}/{option}/default")
async def show_default_config_option(request: web.Request) -> web.Response:
    """Keystone's default of one option."""
    match = request.match_info
    found = await identity_of(request).domain_config_default(
        context_of(request), group=match["group"], option=match["option"]
    )
    return json({"config": found})
