"""The image service's metadata-definition catalog (Glance's ``/v2/metadefs``).

A catalog of namespaces, each holding resource type associations, properties,
objects and tags: documentation of the metadata other resources may carry, which
clients such as Horizon read. Namespaces are ``private`` (their owner project's) or
``public``; a ``protected`` namespace cannot be deleted (403). As in Glance's
defaults, administrators write the catalog and readers read what they may see; a
namespace the caller may not see is `NotFound`. Each namespace's elements are kept
as the JSON documents Glance shows, one row per element, so the catalog stays a
record store with no behaviour of its own.
"""

from __future__ import annotations

import builtins
import json
from typing import Any, ClassVar

import structlog

from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Forbidden, NotFound
from nova_lite.image.access import is_admin
from nova_lite.image.metadef_checks import (
    KINDS,
    NAMESPACE_COLUMNS,
    NAMESPACE_FIELDS,
    check_kind,
    check_namespace,
    element_name,
    element_view,
    namespace_name,
    namespace_view,
    nested,
)
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.image.schema import isotext
from nova_lite.objects import utcnow
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["KINDS", "MetadefCatalog"]

log = structlog.get_logger(__name__)


class MetadefCatalog:
    """The endpoints of the metadata-definition catalog."""

    target: ClassVar[Target] = Target(version=ImageAPI.version)

    def __init__(self, db: Database, policy: Enforcer) -> None:
        self.db = db
        self.policy = policy

    def __repr__(self) -> str:
        return f"<MetadefCatalog {self.db!r}>"

    # -- namespaces ------------------------------------------------------------

    @endpoint
    async def metadef_list_namespaces(
        self,
        ctx: RequestContext,
        visibility: str | None = None,
        resource_types: builtins.list[str] | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """The namespaces the caller may see (of `visibility`, associated with one of
        `resource_types`), by name."""
        self.policy.authorize(ctx, "get_metadef_namespaces", {"project_id": ctx.project_id})
        rows = await self.db.fetchall(
            f"SELECT {NAMESPACE_COLUMNS} FROM metadef_namespaces ORDER BY namespace"
        )
        found = [dict(row) for row in rows if self._may_read(ctx, dict(row))]
        if visibility is not None:
            found = [ns for ns in found if ns["visibility"] == visibility]
        if resource_types:
            associated = await self._associated(resource_types)
            found = [ns for ns in found if ns["namespace"] in associated]
        return [namespace_view(ns) for ns in found]

    @endpoint
    async def metadef_create_namespace(
        self, ctx: RequestContext, values: dict[str, Any]
    ) -> dict[str, Any]:
        """A new namespace (with the elements `values` lists); 409 if the name is taken."""
        name = namespace_name(values.get("namespace"))
        check_namespace(values)
        self.policy.authorize(ctx, "add_metadef_namespace", {"project_id": ctx.project_id})
        now = isotext(utcnow())
        row = {
            "namespace": name,
            "display_name": values.get("display_name"),
            "description": values.get("description"),
            "visibility": values.get("visibility") or "private",
            "protected": int(bool(values.get("protected", False))),
            "owner": values.get("owner") or ctx.project_id,
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.transaction() as conn:
            if await self._row(name) is not None:
                raise Conflict(f"A metadata definition namespace {name} already exists.")
            await conn.execute(
                f"INSERT INTO metadef_namespaces ({NAMESPACE_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(row.values()),
            )
            for kind, name_of, items in nested(values):
                for item in items:
                    await self._put(conn, name, kind, name_of(item), item, now=now)
        log.info("image.metadef_namespace_created", namespace=name)
        return await self.metadef_get_namespace(ctx, name)

    @endpoint
    async def metadef_get_namespace(self, ctx: RequestContext, namespace: str) -> dict[str, Any]:
        """A namespace with its resource type associations, properties, objects, tags."""
        row = await self._readable(ctx, namespace, "get_metadef_namespace")
        view = namespace_view(row)
        elements = await self._elements(namespace)
        nested = (("resource_type", "resource_type_associations"), ("object", "objects"))
        for kind, key in (*nested, ("tag", "tags")):
            if elements.get(kind):
                view[key] = elements[kind]
        if elements.get("property"):
            view["properties"] = {p["name"]: p for p in elements["property"]}
        return view

    @endpoint
    async def metadef_update_namespace(
        self, ctx: RequestContext, namespace: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a namespace's fields (its name too); 409 if the new name is taken."""
        check_namespace(values)
        async with self.db.transaction() as conn:
            row = await self._readable(ctx, namespace, "modify_metadef_namespace", write=True)
            new_name = namespace_name(values.get("namespace", namespace))
            if new_name != namespace and await self._row(new_name) is not None:
                raise Conflict(f"A metadata definition namespace {new_name} already exists.")
            merged = {**row, **{k: values[k] for k in NAMESPACE_FIELDS if k in values}}
            await conn.execute(
                "UPDATE metadef_namespaces SET namespace = ?, display_name = ?,"
                " description = ?, visibility = ?, protected = ?, updated_at = ?"
                " WHERE namespace = ?",
                (
                    new_name,
                    merged["display_name"],
                    merged["description"],
                    merged["visibility"] or "private",
                    int(bool(merged["protected"])),
                    isotext(utcnow()),
                    namespace,
                ),
            )
        return await self.metadef_get_namespace(ctx, new_name)

    @endpoint
    async def metadef_delete_namespace(self, ctx: RequestContext, namespace: str) -> None:
        """Delete a namespace and everything in it; 403 while it is protected."""
        async with self.db.transaction() as conn:
            row = await self._readable(ctx, namespace, "delete_metadef_namespace", write=True)
            if row["protected"]:
                raise Forbidden(f"Namespace {namespace} is protected and cannot be deleted.")
            await conn.execute("DELETE FROM metadef_namespaces WHERE namespace = ?", (namespace,))
        log.info("image.metadef_namespace_deleted", namespace=namespace)

    # -- resource types ----------------------------------------------------------

    @endpoint
    async def metadef_list_resource_types(
        self, ctx: RequestContext
    ) -> builtins.list[dict[str, Any]]:
        """Every resource type namespaces may be associated with."""
        self.policy.authorize(ctx, "list_metadef_resource_types", {"project_id": ctx.project_id})
        rows = await self.db.fetchall(
            "SELECT name, created_at, updated_at FROM metadef_resource_types ORDER BY rowid"
        )
        return [dict(row) for row in rows]

    # -- elements ----------------------------------------------------------------

    @endpoint
    async def metadef_list_elements(
        self, ctx: RequestContext, namespace: str, kind: str
    ) -> builtins.list[dict[str, Any]]:
        """A namespace's objects, properties, tags or resource type associations."""
        rules = check_kind(kind)
        await self._readable(ctx, namespace, rules[1])
        return (await self._elements(namespace)).get(kind, [])

    @endpoint
    async def metadef_get_element(
        self, ctx: RequestContext, namespace: str, kind: str, name: str
    ) -> dict[str, Any]:
        """One element of a namespace; `NotFound` if it has none of that name."""
        rules = check_kind(kind)
        await self._readable(ctx, namespace, rules[0])
        return await self._element(namespace, kind, name)

    @endpoint
    async def metadef_put_element(
        self,
        ctx: RequestContext,
        namespace: str,
        kind: str,
        name: str,
        body: dict[str, Any],
        create: bool,
    ) -> dict[str, Any]:
        """Create (`create`; 409 if it exists) or replace (404 if not) an element; a
        replacement may rename it (``body["name"]``; 409 if that name is taken)."""
        rules = check_kind(kind)
        name = element_name(kind, name)
        async with self.db.transaction() as conn:
            await self._readable(ctx, namespace, rules[2 if create else 3], write=True)
            existing = await self._find(namespace, kind, name)
            if create and existing is not None:
                raise Conflict(
                    f"A metadata definition {kind} {name} already exists in {namespace}."
                )
            if not create and existing is None:
                raise NotFound(f"Metadata definition {kind} {name} not found in {namespace}.")
            new_name = element_name(kind, body.get("name", name))
            if new_name != name and await self._find(namespace, kind, new_name) is not None:
                raise Conflict(f"A metadata definition {kind} {new_name} already exists.")
            created = None if existing is None else existing["created_at"]
            await conn.execute(
                "DELETE FROM metadef_elements WHERE namespace = ? AND kind = ? AND name = ?",
                (namespace, kind, name),
            )
            await self._put(conn, namespace, kind, new_name, body, created=created)
        return await self._element(namespace, kind, new_name)

    @endpoint
    async def metadef_delete_element(
        self, ctx: RequestContext, namespace: str, kind: str, name: str | None = None
    ) -> None:
        """Delete one element (`NotFound` if absent), or every element of `kind` (None)."""
        rules = check_kind(kind)
        rule = "delete_metadef_tags" if kind == "tag" and name is None else rules[4]
        async with self.db.transaction() as conn:
            await self._readable(ctx, namespace, rule, write=True)
            if name is not None:
                await self._element(namespace, kind, name)
            sql = "DELETE FROM metadef_elements WHERE namespace = ? AND kind = ?"
            params: tuple[str, ...] = (namespace, kind)
            if name is not None:
                sql, params = sql + " AND name = ?", (*params, name)
            await conn.execute(sql, params)

    @endpoint
    async def metadef_create_tags(
        self, ctx: RequestContext, namespace: str, names: builtins.list[str], append: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """Set a namespace's tags to `names` (or add them, with `append`); 409 on a repeat."""
        names = [element_name("tag", n) for n in names]
        if len(set(names)) != len(names):
            raise Conflict("A metadata tag is given twice.")
        async with self.db.transaction() as conn:
            await self._readable(ctx, namespace, "add_metadef_tags", write=True)
            if not append:
                await conn.execute(
                    "DELETE FROM metadef_elements WHERE namespace = ? AND kind = 'tag'",
                    (namespace,),
                )
            for tag in names:
                if append and await self._find(namespace, "tag", tag) is not None:
                    raise Conflict(f"A metadata tag {tag} already exists in {namespace}.")
                await self._put(conn, namespace, "tag", tag, {"name": tag})
        return (await self._elements(namespace)).get("tag", [])

    # -- helpers -----------------------------------------------------------------

    def _may_read(self, ctx: RequestContext, row: dict[str, Any]) -> bool:
        target = {"project_id": row["owner"], "visibility": row["visibility"]}
        return self.policy.check(ctx, "get_metadef_namespace", target)

    async def _row(self, namespace: str) -> dict[str, Any] | None:
        row = await self.db.fetchone(
            f"SELECT {NAMESPACE_COLUMNS} FROM metadef_namespaces WHERE namespace = ?",
            (namespace,),
        )
        return None if row is None else dict(row)

    async def _readable(
        self, ctx: RequestContext, namespace: str, rule: str, *, write: bool = False
    ) -> dict[str, Any]:
        """The namespace row, if the caller may see it (else `NotFound`) and `rule` allows."""
        row = await self._row(namespace) if isinstance(namespace, str) else None
        if row is None or not (is_admin(ctx) or self._may_read(ctx, row)):
            raise NotFound(f"Metadata definition namespace={namespace!r:.80} was not found.")
        target = {"project_id": row["owner"], "visibility": row["visibility"]}
        self.policy.authorize(ctx, rule, target)
        return row

    async def _associated(self, resource_types: builtins.list[str]) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT namespace FROM metadef_elements WHERE kind = 'resource_type'"
            " AND name IN (SELECT value FROM json_each(?))",
            (json.dumps(resource_types),),
        )
        return {str(row[0]) for row in rows}

    async def _find(self, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
        row = await self.db.fetchone(
            "SELECT body, created_at, updated_at FROM metadef_elements"
            " WHERE namespace = ? AND kind = ? AND name = ?",
            (namespace, kind, name),
        )
        return None if row is None else element_view(row)

    async def _element(self, namespace: str, kind: str, name: str) -> dict[str, Any]:
        found = await self._find(namespace, kind, name)
        if found is None:
            raise NotFound(f"Metadata definition {kind} {name!r:.80} not found in {namespace}.")
        return found

    async def _elements(self, namespace: str) -> dict[str, builtins.list[dict[str, Any]]]:
        rows = await self.db.fetchall(
            "SELECT kind, body, created_at, updated_at FROM metadef_elements"
            " WHERE namespace = ? ORDER BY rowid",
            (namespace,),
        )
        grouped: dict[str, builtins.list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(str(row["kind"]), []).append(element_view(row))
        return grouped

    async def _put(
        self,
        conn: Any,
        namespace: str,
        kind: str,
        name: str,
        body: dict[str, Any],
        *,
        now: str | None = None,
        created: str | None = None,
    ) -> None:
        moment = now or isotext(utcnow())
        document = {**body, "name": element_name(kind, name)}
        await conn.execute(
            "INSERT INTO metadef_elements (namespace, kind, name, body, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (namespace, kind, name, json.dumps(document), created or moment, moment),
        )
        if kind == "resource_type":
            await conn.execute(
                "INSERT OR IGNORE INTO metadef_resource_types (name, created_at, updated_at)"
                " VALUES (?, ?, ?)",
                (name, moment, moment),
            )
