"""Plain records kept whole as JSON: policies, credentials (with a user's ec2 credentials)
and OAuth consumers, and the base of the catalog's records (`nova_lite.identity.catalog`).

`JsonRecords` is one collection of the ``records`` table: create, get, list (filtered
on the fields a kind names), update and delete, each under Keystone's rule for the
kind (``identity:create_policy`` ...). A kind says how a body is checked (`check`),
what its rule sees of a record (`target`), what it shows (`view`) and what follows a
delete (`deleting`). Credentials' blobs are kept as given (Keystone encrypts them
at rest; this service does not, so they are readable in its database file).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

import orjson
import structlog

from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.store import IdentityStore, new_id
from nova_lite.rpc.endpoint import endpoint

__all__ = ["Consumers", "Credentials", "Ec2Credentials", "JsonRecords", "Policies"]

log = structlog.get_logger(__name__)


class JsonRecords:
    """One kind of plain record; subclasses name it and check its bodies."""

    kind: str
    rule: ClassVar[str]  # identity:<op>_<rule>
    plural: ClassVar[str] = ""  # the rule's plural (default: rule + "s")
    filters: ClassVar[tuple[str, ...]] = ()
    label: ClassVar[str] = ""  # how errors name the kind (default: the kind)

    def __init__(self, store: IdentityStore, access: IdentityAccess) -> None:
        self.store = store
        self.access = access

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.store!r}>"

    # -- what a kind decides --------------------------------------------------------

    async def check(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """The record's new body (without its id) from a create or update `body`."""
        return {**(current or {}), **body}

    def target(self, record: dict[str, Any] | None, ctx: RequestContext) -> dict[str, Any]:
        """What the kind's rule sees of `record` (None: a list)."""
        return {}

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        """What the API shows of `record`."""
        return record

    async def deleting(self, record: dict[str, Any]) -> None:
        """What follows from deleting `record` (inside its transaction)."""

    def new_id(self, body: dict[str, Any]) -> str:
        """The id a new record gets."""
        return new_id()

    # -- storage --------------------------------------------------------------------

    def _missing(self, ident: str) -> NotFound:
        label = self.label or self.kind.replace("_", " ")
        return NotFound(f"Could not find {label}: {ident}.", kind=self.kind, id=ident)

    async def load(self, ident: str) -> dict[str, Any]:
        """The record `ident`, or `NotFound`."""
        row = await self.store.db.fetchone(
            "SELECT body FROM records WHERE kind = ? AND id = ?", (self.kind, ident)
        )
        if row is None:
            raise self._missing(ident)
        return {**checks.decode(row["body"]), "id": ident}

    async def all(self) -> list[dict[str, Any]]:
        """Every record of this kind, oldest first."""
        rows = await self.store.db.fetchall(
            "SELECT id, body FROM records WHERE kind = ? ORDER BY created_at, id", (self.kind,)
        )
        return [{**checks.decode(row["body"]), "id": row["id"]} for row in rows]

    async def save(self, ident: str, body: dict[str, Any], *, new: bool) -> None:
        """Store `body` as record `ident` (`Conflict` if a new one's id is taken)."""
        text = checks.encode_extra({k: v for k, v in body.items() if k != "id"})
        if not new:
            await self.store.db.execute(
                "UPDATE records SET body = ? WHERE kind = ? AND id = ?", (text, self.kind, ident)
            )
            return
        changed = await self.store.db.execute(
            "INSERT OR IGNORE INTO records (kind, id, body, created_at) VALUES (?, ?, ?, ?)",
            (self.kind, ident, text, self.store.timestamp()),
        )
        if not changed:
            raise Conflict(f"Duplicate ID, {ident}.", id=ident)

    # -- the collection -------------------------------------------------------------

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        await self.access.authorize(ctx, f"identity:create_{self.rule}", self.target(body, ctx))
        ident = self.new_id(body)
        record = await self.check(body, None)
        await self.save(ident, record, new=True)
        log.info("identity.record_created", kind=self.kind, record_id=ident)
        return self.view({**record, "id": ident})

    async def get(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        record = await self.load(ident)
        await self.access.authorize(ctx, f"identity:get_{self.rule}", self.target(record, ctx))
        return self.view(record)

    async def query(self, ctx: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        plural = self.plural or f"{self.rule}s"
        await self.access.authorize(ctx, f"identity:list_{plural}", self.target(None, ctx))
        wanted = {key: value for key, value in filters.items() if key in self.filters}
        return [
            self.view(record)
            for record in await self.visible(ctx, await self.all())
            if all(str(record.get(key)) == value for key, value in wanted.items())
        ]

    async def visible(
        self, ctx: RequestContext, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The records of a list the caller may see (all, unless a kind says otherwise)."""
        return records

    async def update(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        current = await self.load(ident)
        await self.access.authorize(ctx, f"identity:update_{self.rule}", self.target(current, ctx))
        if "id" in body and body["id"] != ident:
            raise Invalid("A record's id cannot be changed.")
        record = await self.check({k: v for k, v in body.items() if k != "id"}, current)
        await self.save(ident, record, new=False)
        return self.view({**record, "id": ident})

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        record = await self.load(ident)
        await self.access.authorize(ctx, f"identity:delete_{self.rule}", self.target(record, ctx))
        async with self.store.db.transaction() as conn:
            await self.deleting(record)
            await conn.execute("DELETE FROM records WHERE kind = ? AND id = ?", (self.kind, ident))
        log.info("identity.record_deleted", kind=self.kind, record_id=ident)


def _blob(value: Any, field: str = "blob") -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string.", field=field)
    return checks.check_text(field, value, max_length=checks.MAX_EXTRA_BYTES // 2)


class Policies(JsonRecords):
    """Keystone's policy blobs (``/v3/policies``): stored and shown, never enforced."""

    kind = "policy"
    rule = "policy"
    plural = "policies"
    filters = ("type",)

    async def check(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        merged = {**(current or {}), **body}
        merged["blob"] = _blob(merged.get("blob"))
        merged["type"] = checks.check_text("type", merged.get("type"))
        return merged


class Credentials(JsonRecords):
    """Keystone's credentials (``/v3/credentials``): a user's blob of a type (``ec2`` ...)."""

    kind = "credential"
    rule = "credential"
    filters = ("user_id", "type")

    def new_id(self, body: dict[str, Any]) -> str:
        # Keystone derives an ec2 credential's id from its access key.
        if body.get("type") == "ec2" and isinstance(body.get("blob"), str):
            try:
                access = orjson.loads(body["blob"]).get("access")
            except (orjson.JSONDecodeError, AttributeError):
                raise Invalid("An ec2 credential's blob is a JSON object with 'access'.") from None
            if isinstance(access, str):
                return hashlib.sha256(access.encode()).hexdigest()
        return new_id()

    def target(self, record: dict[str, Any] | None, ctx: RequestContext) -> dict[str, Any]:
        owner = (record or {}).get("user_id", ctx.user_id)
        return {"target.credential.user_id": owner}

    async def check(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        merged = {**(current or {}), **body}
        user = await self.store.user_row(checks.identifier("user_id", merged.get("user_id")))
        merged["user_id"] = user["id"]
        merged["type"] = checks.check_text("type", merged.get("type"))
        merged["blob"] = _blob(merged.get("blob"))
        if merged.get("project_id") is not None:
            project = await self.store.project_row(
                checks.identifier("project_id", merged["project_id"])
            )
            merged["project_id"] = project["id"]
        elif merged["type"] == "ec2":
            raise Invalid("An ec2 credential needs a project_id.")
        return merged

    async def visible(
        self, ctx: RequestContext, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return [
            record
            for record in records
            if await self.access.check(ctx, "identity:get_credential", self.target(record, ctx))
        ]


class Consumers(JsonRecords):
    """OAuth 1.0a consumers (``/v3/OS-OAUTH1/consumers``): records only; the secret is
    shown once, at creation, and not kept (the OAuth flows are not served)."""

    kind = "consumer"
    rule = "consumer"

    async def check(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        if current is not None and "secret" in body:
            raise Invalid("A consumer's secret cannot be changed.")
        merged = {**(current or {}), **{k: v for k, v in body.items() if k != "secret"}}
        merged["description"] = checks.optional_text("description", merged.get("description"))
        return merged

    async def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        created = await super().create(ctx, body)
        return {**created, "secret": secrets.token_urlsafe(24)}


class Ec2Credentials:
    """Keystone's OS-EC2 credentials of a user (``/v3/users/{id}/credentials/OS-EC2``).

    Each is a ``credential`` record of type ``ec2`` (also seen at ``/v3/credentials``)
    whose id is the SHA-256 of its access key, as Keystone makes it; the access key
    and secret are made here. Nothing serves EC2 signatures (``/v3/ec2tokens``).
    """

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.access = credentials.access

    def __repr__(self) -> str:
        return f"<Ec2Credentials {self.credentials.store!r}>"

    @staticmethod
    def _view(record: dict[str, Any]) -> dict[str, Any]:
        blob = orjson.loads(record["blob"])
        return {
            "user_id": record["user_id"],
            "tenant_id": record.get("project_id"),
            "access": blob.get("access"),
            "secret": blob.get("secret"),
            "trust_id": blob.get("trust_id"),
        }

    async def _own(self, user_id: str, access: str) -> dict[str, Any]:
        try:
            record = await self.credentials.load(hashlib.sha256(access.encode()).hexdigest())
        except NotFound:
            record = {}
        if record.get("type") != "ec2" or record.get("user_id") != user_id:
            raise NotFound(f"Could not find credential: {access}.")
        return record

    @endpoint
    async def ec2_credential(
        self,
        ctx: RequestContext,
        op: str,
        user_id: str,
        access: str | None = None,
        tenant_id: str | None = None,
    ) -> dict[str, Any] | None:
        """``create`` (for `tenant_id`), ``get`` or ``delete`` (by `access`) a user's ec2
        credential; the credential with its secret for create and get."""
        user_id = checks.identifier("user_id", user_id)
        rules = {
            "create": "identity:ec2_create_credential",
            "get": "identity:ec2_get_credential",
            "delete": "identity:ec2_delete_credential",
        }
        if op not in rules:
            raise Invalid(f"Unknown ec2 credential operation {op!r}.")
        await self.access.authorize(ctx, rules[op], {"target.credential.user_id": user_id})
        if op == "create":
            key = secrets.token_hex(16)
            blob = orjson.dumps({"access": key, "secret": secrets.token_hex(16), "trust_id": None})
            body = {
                "user_id": user_id,
                "project_id": tenant_id,
                "type": "ec2",
                "blob": blob.decode(),
            }
            record = await self.credentials.check(body, None)
            await self.credentials.save(self.credentials.new_id(body), record, new=True)
            return self._view(record)
        record = await self._own(user_id, checks.check_text("access", access))
        if op == "get":
            return self._view(record)
        await self.credentials.store.db.execute(
            "DELETE FROM records WHERE kind = 'credential' AND id = ?", (record["id"],)
        )
        return None

    @endpoint
    async def ec2_credentials(self, ctx: RequestContext, user_id: str) -> list[dict[str, Any]]:
        """A user's ec2 credentials, with their secrets."""
        user = await self.credentials.store.user_row(checks.identifier("user_id", user_id))
        await self.access.authorize(ctx, "identity:ec2_list_credentials", {"user_id": user["id"]})
        return [
            self._view(record)
            for record in await self.credentials.all()
            if record.get("type") == "ec2" and record.get("user_id") == user["id"]
        ]
