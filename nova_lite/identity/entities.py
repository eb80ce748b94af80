"""One set of endpoints for every kind of identity record: create, get, list, update, delete.

Keystone's API is mostly the same five operations over many collections (domains,
projects, users, groups, roles, services, endpoints, regions, ...). Each collection
is a small class with those five methods (`Collection`); `Entities` serves them all
as ``entity_create(kind, body)`` and its siblings, so the RPC API stays small and an
unknown kind is refused with the list of the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid
from nova_lite.identity import checks
from nova_lite.rpc.endpoint import endpoint

__all__ = ["Collection", "Entities"]

MAX_FILTERS = 16


class Collection(Protocol):
    """One kind of identity record and its five operations (each checks its policy)."""

    kind: str

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Create a record from `body`; the record as shown."""

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        """The record `ident` (`NotFound` if there is none)."""

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        """The records that match `filters` (query parameters, as text)."""

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change record `ident` by `body`; the record as shown."""

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        """Delete record `ident`."""


class Entities:
    """The ``entity_*`` endpoints, dispatching to the collection of each kind."""

    def __init__(self, collections: Iterable[Collection]) -> None:
        self.collections = {collection.kind: collection for collection in collections}

    def __repr__(self) -> str:
        return f"<Entities {', '.join(sorted(self.collections))}>"

    def _of(self, kind: str) -> Collection:
        try:
            return self.collections[kind]
        except KeyError:
            known = ", ".join(sorted(self.collections))
            raise Invalid(f"Unknown kind {kind!r:.40}; the kinds are: {known}.") from None

    @staticmethod
    def _body(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid("The record must be a JSON object.")
        return body

    @endpoint
    async def entity_create(
        self, ctx: RequestContext, kind: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a record of `kind` (``domain``, ``project``, ``user``, ...)."""
        return await self._of(kind).create(ctx, self._body(body))

    @endpoint
    async def entity_get(self, ctx: RequestContext, kind: str, ident: str) -> dict[str, Any]:
        """The record `ident` of `kind`."""
        return await self._of(kind).get(ctx, checks.identifier("id", ident))

    @endpoint
    async def entity_list(
        self, ctx: RequestContext, kind: str, filters: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The records of `kind` matching `filters` (text values, as in a query string)."""
        filters = filters or {}
        if len(filters) > MAX_FILTERS or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in filters.items()
        ):
            raise Invalid(f"Filters are at most {MAX_FILTERS} text values.")
        for key, value in filters.items():
            checks.check_text(key, value)
        return await self._of(kind).query(ctx, filters)

    @endpoint
    async def entity_update(
        self, ctx: RequestContext, kind: str, ident: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Change the record `ident` of `kind` by `body`."""
        return await self._of(kind).update(ctx, checks.identifier("id", ident), self._body(body))

    @endpoint
    async def entity_delete(self, ctx: RequestContext, kind: str, ident: str) -> None:
        """Delete the record `ident` of `kind`."""
        await self._of(kind).delete(ctx, checks.identifier("id", ident))
