"""Volume types (Cinder's): create, show, list, update, delete, extra specs, access,
encryption, and the ``__DEFAULT__`` type every volume without one gets.

Types are managed by administrators; everyone may list and show the public ones and
the private ones their project was given. A type some volume has, or the default
type, cannot be deleted. There is one backend, so extra specs and encryption are
recorded and shown, and change nothing else.
"""

from __future__ import annotations

import builtins
import uuid
from typing import Any

import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume import validation
from nova_lite.volume.schema import DEFAULT_TYPE_ID
from nova_lite.volume.store import VolumeStore, assignments, dumps, now, write

__all__ = ["TypeRecords"]

log = structlog.get_logger(__name__)

_EXT = "volume_extension:"
RULES = {
    "create": _EXT + "type_create",
    "update": _EXT + "type_update",
    "delete": _EXT + "type_delete",
    "get": _EXT + "type_get",
    "get_all": _EXT + "type_get_all",
    "specs_index": _EXT + "types_extra_specs:index",
    "specs_show": _EXT + "types_extra_specs:show",
    "specs_create": _EXT + "types_extra_specs:create",
    "specs_update": _EXT + "types_extra_specs:update",
    "specs_delete": _EXT + "types_extra_specs:delete",
    "access_list": _EXT + "volume_type_access:get_all_for_type",
    "access_add": _EXT + "volume_type_access:addProjectAccess",
    "access_remove": _EXT + "volume_type_access:removeProjectAccess",
    "encryption_get": _EXT + "volume_type_encryption:get",
    "encryption_create": _EXT + "volume_type_encryption:create",
    "encryption_update": _EXT + "volume_type_encryption:update",
    "encryption_delete": _EXT + "volume_type_encryption:delete",
}
_ENCRYPTION_FIELDS = ("provider", "cipher", "key_size", "control_location")
_ANY = {"project_id": None}


class TypeRecords:
    """The volume type endpoints (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer) -> None:
        self.store = store
        self.policy = policy

    @endpoint
    async def type_create(
        self,
        ctx: RequestContext,
        name: str,
        description: str | None = None,
        is_public: bool = True,
        extra_specs: dict[str, str] | None = None,
    ) -> objects.VolumeType:
        """A new volume type (admins); `Conflict` if the name is taken."""
        self.policy.authorize(ctx, RULES["create"], _ANY)
        name = _type_name(name)
        specs = _specs(extra_specs)
        type_id = str(uuid.uuid4())
        async with self.store.db.transaction() as conn:
            await self._check_unique(conn, name)
            await write(
                conn,
                "INSERT INTO volume_types (id, name, description, is_public, extra_specs, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    type_id,
                    name,
                    validation.description(description),
                    check.boolean("is_public", is_public),
                    dumps(specs),
                    now(),
                ),
            )
            created = await self.store.volume_type(ctx, type_id, conn)
        log.info("volume.type_created", volume_type_id=type_id, name=name)
        return created

    async def _check_unique(self, conn: Any, name: str, but: str | None = None) -> None:
        async with conn.execute(
            "SELECT id FROM volume_types WHERE name = ? AND id IS NOT ?", (name, but)
        ) as cursor:
            if await cursor.fetchone() is not None:
                raise Conflict(f"Volume Type {name} already exists.")

    @endpoint
    async def type_get(self, ctx: RequestContext, type_id: str) -> objects.VolumeType:
        """One type the caller may use, by id (``default``: the default type)."""
        self.policy.authorize(ctx, RULES["get"], {"project_id": ctx.project_id})
        if type_id == "default":
            type_id = DEFAULT_TYPE_ID
        return await self.store.volume_type(ctx, check.text("type_id", type_id))

    @endpoint
    async def type_list(
        self, ctx: RequestContext, is_public: bool | None = None
    ) -> builtins.list[objects.VolumeType]:
        """The types the caller may use (admins may ask for public or private ones)."""
        self.policy.authorize(ctx, RULES["get_all"], {"project_id": ctx.project_id})
        if not ctx.is_admin:
            is_public = None
        return await self.store.volume_types(ctx, is_public=is_public)

    @endpoint
    async def type_update(
        self, ctx: RequestContext, type_id: str, changes: dict[str, Any]
    ) -> objects.VolumeType:
        """Rename a type, change its description or whether it is public (admins)."""
        self.policy.authorize(ctx, RULES["update"], _ANY)
        if not changes or set(changes) - {"name", "description", "is_public"}:
            raise Invalid("A volume type update changes name, description or is_public.")
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        columns: dict[str, Any] = {}
        if changes.get("name") is not None:
            columns["name"] = _type_name(changes["name"])
            if current.id == DEFAULT_TYPE_ID and columns["name"] != current.name:
                raise Invalid("The default volume type cannot be renamed.")
        if "description" in changes:
            columns["description"] = validation.description(changes["description"])
        if changes.get("is_public") is not None:
            columns["is_public"] = check.boolean("is_public", changes["is_public"])
        async with self.store.db.transaction() as conn:
            if "name" in columns:
                await self._check_unique(conn, columns["name"], but=current.id)
            if columns:
                await write(
                    conn,
                    f"UPDATE volume_types SET {assignments('volume_types', columns)}, "
                    "updated_at = ? WHERE id = ?",
                    (*columns.values(), now(), current.id),
                )
            return await self.store.volume_type(ctx, current.id, conn)

    @endpoint
    async def type_delete(self, ctx: RequestContext, type_id: str) -> None:
        """Delete a type no volume has (admins); never the default type."""
        self.policy.authorize(ctx, RULES["delete"], _ANY)
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        if current.id == DEFAULT_TYPE_ID:
            raise Invalid("The default volume type cannot be deleted.")
        async with self.store.db.transaction() as conn:
            async with conn.execute(
                "SELECT count(*) FROM volumes WHERE volume_type_id = ?", (current.id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row and row[0]:
                raise Invalid(f"Volume Type {current.id} deletion is not allowed with volumes.")
            await write(conn, "DELETE FROM volume_types WHERE id = ?", (current.id,))
        log.info("volume.type_deleted", volume_type_id=current.id)

    @endpoint
    async def type_set_extra_specs(
        self, ctx: RequestContext, type_id: str, extra_specs: dict[str, str], only: str = ""
    ) -> dict[str, str]:
        """Add or change extra specs (admins); with `only`, exactly that one key."""
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        self.policy.authorize(ctx, RULES["specs_update" if only else "specs_create"], _ANY)
        specs = _specs(extra_specs)
        if only and (len(specs) != 1 or only not in specs):
            raise Invalid(f"The body must hold exactly the extra spec {only!r} of the URL.")
        merged = {**current.extra_specs, **specs}
        await self._set_specs(current.id, merged)
        return specs

    @endpoint
    async def type_delete_extra_spec(self, ctx: RequestContext, type_id: str, key: str) -> None:
        """Remove one extra spec (admins)."""
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        self.policy.authorize(ctx, RULES["specs_delete"], _ANY)
        if key not in current.extra_specs:
            raise NotFound(f"Volume Type {current.id} has no extra specs with key {key}.")
        await self._set_specs(
            current.id, {k: v for k, v in current.extra_specs.items() if k != key}
        )

    async def _set_specs(self, type_id: str, specs: dict[str, str]) -> None:
        async with self.store.db.transaction() as conn:
            await write(
                conn,
                "UPDATE volume_types SET extra_specs = ?, updated_at = ? WHERE id = ?",
                (dumps(specs), now(), type_id),
            )

    @endpoint
    async def type_access_list(self, ctx: RequestContext, type_id: str) -> builtins.list[str]:
        """The projects given a private type (admins; a public type: `NotFound`)."""
        self.policy.authorize(ctx, RULES["access_list"], _ANY)
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        if current.is_public:
            raise NotFound(f"Volume type {current.id} is public: it has no access list.")
        return await self.store.type_access(current.id)

    @endpoint
    async def type_access_add(self, ctx: RequestContext, type_id: str, project_id: str) -> None:
        """Give a project a private type (admins); `Conflict` if it has it already."""
        self.policy.authorize(ctx, RULES["access_add"], _ANY)
        current = await self._private(ctx, type_id)
        project_id = check.text("project", project_id)
        async with self.store.db.transaction() as conn:
            added = await write(
                conn,
                "INSERT OR IGNORE INTO volume_type_access (volume_type_id, project_id) "
                "VALUES (?, ?)",
                (current.id, project_id),
            )
        if not added:
            raise Conflict(f"Volume type access for {current.id}/{project_id} already exists.")

    @endpoint
    async def type_access_remove(self, ctx: RequestContext, type_id: str, project_id: str) -> None:
        """Take a private type from a project (admins)."""
        self.policy.authorize(ctx, RULES["access_remove"], _ANY)
        current = await self._private(ctx, type_id)
        async with self.store.db.transaction() as conn:
            removed = await write(
                conn,
                "DELETE FROM volume_type_access WHERE volume_type_id = ? AND project_id = ?",
                (current.id, check.text("project", project_id)),
            )
        if not removed:
            raise NotFound(f"Volume type access not found for {current.id}/{project_id}.")

    async def _private(self, ctx: RequestContext, type_id: str) -> objects.VolumeType:
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        if current.is_public:
            raise Invalid(f"Volume type {current.id} is public: access cannot be changed.")
        return current

    @endpoint
    async def type_encryption_set(
        self, ctx: RequestContext, type_id: str, encryption: dict[str, Any], create: bool
    ) -> dict[str, Any]:
        """Create (or change) a type's encryption (admins); the encryption afterwards."""
        self.policy.authorize(
            ctx, RULES["encryption_create" if create else "encryption_update"], _ANY
        )
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        given = _encryption(encryption)
        if create and current.encryption:
            raise Invalid(f"Volume type encryption for type {current.id} already exists.")
        if not create and not current.encryption:
            raise NotFound(f"Volume type encryption for type {current.id} does not exist.")
        if create:
            if "provider" not in given:
                raise Invalid("provider is a required property of a volume type encryption.")
            base: dict[str, Any] = {
                "encryption_id": str(uuid.uuid4()),
                "cipher": None,
                "key_size": None,
                "control_location": "front-end",
                "created_at": now(),
            }
        else:
            base = dict(current.encryption or {})
        merged = {**base, **given, "updated_at": None if create else now()}
        async with self.store.db.transaction() as conn:
            await write(
                conn,
                "UPDATE volume_types SET encryption = ? WHERE id = ?",
                (dumps(merged), current.id),
            )
        return {"volume_type_id": current.id, **merged}

    @endpoint
    async def type_encryption_get(self, ctx: RequestContext, type_id: str) -> dict[str, Any]:
        """A type's encryption (admins): empty when it has none."""
        self.policy.authorize(ctx, RULES["encryption_get"], _ANY)
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        if not current.encryption:
            return {}
        return {"volume_type_id": current.id, **current.encryption}

    @endpoint
    async def type_encryption_delete(self, ctx: RequestContext, type_id: str) -> None:
        """Remove a type's encryption (admins)."""
        self.policy.authorize(ctx, RULES["encryption_delete"], _ANY)
        current = await self.store.volume_type(ctx, check.text("type_id", type_id))
        if not current.encryption:
            raise NotFound(f"Volume type encryption for type {current.id} does not exist.")
        async with self.store.db.transaction() as conn:
            await write(
                conn, "UPDATE volume_types SET encryption = NULL WHERE id = ?", (current.id,)
            )


def _type_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise Invalid(f"A volume type name must be 1 to 255 characters, not {value!r:.80}.")
    return value.strip()


def _specs(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        if value is None:
            return {}
        raise Invalid(f"extra_specs must be an object of strings, not {value!r:.80}.")
    for key, item in value.items():
        validation.metadata_key(key)
        if not isinstance(item, str) or len(item) > 255:
            raise Invalid(f"Extra spec {key!r:.80} must be a string of at most 255 characters.")
    return dict(value)


def _encryption(value: dict[str, Any]) -> dict[str, Any]:
    unknown = set(value) - set(_ENCRYPTION_FIELDS)
    if unknown:
        raise Invalid(f"Unknown volume type encryption field(s): {', '.join(sorted(unknown))}.")
    location = value.get("control_location", "front-end")
    if location not in ("front-end", "back-end"):
        raise Invalid(f"control_location must be front-end or back-end, not {location!r}.")
    key_size = value.get("key_size")
    if key_size is not None and (isinstance(key_size, bool) or not isinstance(key_size, int)):
        raise Invalid(f"key_size must be an integer, not {key_size!r}.")
    return dict(value)
