"""What the identity routes share: Keystone's views, links, queries and CRUD routes.

Keystone shows each entity with ``links.self`` and each list with ``links`` (self,
previous, next); `entity_view` and `list_body` add them. `crud_routes` writes the
five routes of one collection (list, create, show, update, delete) over the
identity service's ``entity_*`` endpoints, for the many collections that are only
those. Catalog URLs are templates: `render_url` puts this front end's base URL in
``$(public_url)s`` and a token's project in ``$(project_id)s``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, base_url, body_of, context_of, json
from nova_lite.exceptions import Invalid

__all__ = [
    "CrudSpec",
    "catalog_body",
    "crud_routes",
    "entity_view",
    "forget_tokens",
    "identity_of",
    "list_body",
    "query",
    "render_url",
]

MAX_QUERY = 16
PROJECT_TEMPLATES = ("$(project_id)s", "%(project_id)s", "$(tenant_id)s", "%(tenant_id)s")


def identity_of(request: web.Request) -> Any:
    """The identity service's client (the front end's `IdentityAPI`)."""
    return request.app[API].identity


def forget_tokens(request: web.Request) -> None:
    """After a change to who may do what, this front end validates every token again.

    The front end caches validations for ``[api] token_cache_ttl`` seconds; a change
    made through it takes effect at once here (another front end process sees it when
    its cache entry expires)."""
    request.app[API].forget_tokens()


def entity_view(request: web.Request, path: str, entity: Mapping[str, Any]) -> dict[str, Any]:
    """`entity` with Keystone's ``links.self`` (`path` is its collection's, under /v3)."""
    return {**entity, "links": {"self": f"{base_url(request)}/v3/{path}/{entity['id']}"}}


def list_body(request: web.Request, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Keystone's list body: the items under `key`, and the list's links."""
    url = f"{base_url(request)}{request.path}"
    if request.query_string:
        url += f"?{request.query_string}"
    return {key: items, "links": {"self": url, "previous": None, "next": None}}


def query(request: web.Request) -> dict[str, str]:
    """The query parameters (first value of each), at most `MAX_QUERY` of them."""
    if len(request.query) > MAX_QUERY:
        raise Invalid(f"At most {MAX_QUERY} query parameters are taken.")
    found: dict[str, str] = {}
    for key, value in request.query.items():
        found.setdefault(key, value)
    return found


def render_url(template: str, base: str, project_id: str | None) -> str | None:
    """A catalog URL for this front end and project (None: it needs a project there is not)."""
    url = template.replace("$(public_url)s", base)
    for marker in PROJECT_TEMPLATES:
        if marker in url:
            if project_id is None:
                return None
            url = url.replace(marker, project_id)
    return url


def catalog_body(
    request: web.Request, entries: list[dict[str, Any]], project_id: str | None
) -> list[dict[str, Any]]:
    """A token's catalog: each entry's endpoints with their URLs rendered."""
    base = base_url(request)
    rendered = []
    for entry in entries:
        endpoints = []
        for endpoint in entry["endpoints"]:
            url = render_url(endpoint["url"], base, project_id)
            if url is not None:
                endpoints.append({**endpoint, "url": url})
        rendered.append({**entry, "endpoints": endpoints})
    return rendered


class CrudSpec:
    """One collection's routes: its kind, its path under /v3, its body's wrapper key."""

    def __init__(
        self,
        kind: str,
        path: str,
        singular: str,
        plural: str,
        *,
        view: Callable[[web.Request, dict[str, Any]], dict[str, Any]] | None = None,
        update_method: str = "PATCH",
    ) -> None:
        self.kind = kind
        self.path = path
        self.singular = singular
        self.plural = plural
        self.update_method = update_method
        self._view = view

    def __repr__(self) -> str:
        return f"<CrudSpec {self.kind} /v3/{self.path}>"

    def view(self, request: web.Request, entity: dict[str, Any]) -> dict[str, Any]:
        """How one entity of the collection is shown."""
        if self._view is not None:
            return self._view(request, entity)
        return entity_view(request, self.path, entity)


def crud_routes(routes: web.RouteTableDef, spec: CrudSpec, docs: Mapping[str, str]) -> None:
    """Add the list, create, show, update and delete routes of `spec` to `routes`.

    `docs` gives each handler's docstring (the OpenAPI summaries), by operation.
    """
    param = f"{spec.kind}_id"
    collection, item = f"/v3/{spec.path}", f"/v3/{spec.path}/{{{param}}}"

    async def list_all(request: web.Request) -> web.Response:
        found = await identity_of(request).entity_list(
            context_of(request), spec.kind, query(request)
        )
        return json(list_body(request, spec.plural, [spec.view(request, e) for e in found]))

    async def create(request: web.Request) -> web.Response:
        body = await body_of(request, spec.singular)
        created = await identity_of(request).entity_create(context_of(request), spec.kind, body)
        return json({spec.singular: spec.view(request, created)}, status=201)

    async def show(request: web.Request) -> web.Response:
        found = await identity_of(request).entity_get(
            context_of(request), spec.kind, request.match_info[param]
        )
        return json({spec.singular: spec.view(request, found)})

    async def update(request: web.Request) -> web.Response:
        body = await body_of(request, spec.singular)
        changed = await identity_of(request).entity_update(
            context_of(request), spec.kind, request.match_info[param], body
        )
        forget_tokens(request)
        return json({spec.singular: spec.view(request, changed)})

    async def delete(request: web.Request) -> web.Response:
        await identity_of(request).entity_delete(
            context_of(request), spec.kind, request.match_info[param]
        )
        forget_tokens(request)
        return web.Response(status=204)

    handlers = {"list": list_all, "create": create, "show": show, "update": update}
    handlers["delete"] = delete
    for operation, handler in handlers.items():
        handler.__doc__ = docs.get(operation, f"{operation} {spec.plural}")
        handler.__name__ = (
            f"list_{spec.plural}" if operation == "list" else f"{operation}_{spec.kind}"
        )
    routes.get(collection)(list_all)
    routes.post(collection)(create)
    routes.get(item)(show)
    routes.route(spec.update_method, item)(update)
    routes.delete(item)(delete)
