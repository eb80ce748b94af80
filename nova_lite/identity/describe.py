"""What a token stands for now: its user, scope and roles, read again at each validation.

A token row records only whom it was issued to and for which scope. `TokenDescriber`
reads the rest from the current tables, so a token stops validating as soon as its
user, project or domain is deleted or disabled, or its user loses every role on its
scope, as Keystone's revocation events make happen. The description is both the
`TokenInfo` other services build request contexts from and Keystone's token body
(without the catalog, which the HTTP front end renders).
"""

from __future__ import annotations

import datetime
import sqlite3
from typing import Any

import attrs
import orjson

from nova_lite.exceptions import NotAuthorized, NotFound
from nova_lite.identity.effective import EffectiveRoles
from nova_lite.identity.store import IdentityStore
from nova_lite.identity.tokens import TokenRecord
from nova_lite.objects import TokenInfo

__all__ = ["Described", "TokenDescriber", "keystone_time"]

INVALID = "The token is not valid."


def keystone_time(moment: datetime.datetime) -> str:
    """Keystone's time format, ``2015-11-05T22:00:11.000000Z``."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@attrs.frozen
class Described:
    """A valid token's meaning: the info for request contexts and Keystone's body."""

    info: TokenInfo
    data: dict[str, Any]
    catalog: bool  # whether the body has a catalog (unscoped tokens have none)


def _ref(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"]}


class TokenDescriber:
    """Turns a token record into what it means now, or `NotAuthorized` if it means nothing."""

    def __init__(self, store: IdentityStore, effective: EffectiveRoles) -> None:
        self.store = store
        self.effective = effective

    def __repr__(self) -> str:
        return f"<TokenDescriber {self.store!r}>"

    async def _enabled_domain(self, domain_id: str) -> sqlite3.Row:
        try:
            domain = await self.store.domain_row(domain_id)
        except NotFound:
            raise NotAuthorized(INVALID) from None
        if not domain["enabled"]:
            raise NotAuthorized(INVALID)
        return domain

    async def user(self, user_id: str) -> tuple[sqlite3.Row, sqlite3.Row]:
        """The token's user and their domain, both enabled, or `NotAuthorized`."""
        try:
            user = await self.store.user_row(user_id)
        except NotFound:
            raise NotAuthorized(INVALID) from None
        if not user["enabled"]:
            raise NotAuthorized(INVALID)
        return user, await self._enabled_domain(user["domain_id"])

    async def project(self, project_id: str) -> tuple[sqlite3.Row, sqlite3.Row]:
        """An enabled project in an enabled domain, with that domain, or `NotAuthorized`."""
        try:
            project = await self.store.project_row(project_id)
        except NotFound:
            raise NotAuthorized(INVALID) from None
        if not project["enabled"]:
            raise NotAuthorized(INVALID)
        return project, await self._enabled_domain(project["domain_id"])

    async def roles(self, record: TokenRecord) -> list[sqlite3.Row]:
        """The roles the token carries: the user's on its scope (an application
        credential's: those of its roles the user still holds)."""
        if record.scope_type == "unscoped" or record.scope_id is None:
            return []
        roles = await self.effective.roles_on(record.user_id, record.scope_type, record.scope_id)
        if record.app_cred_id is not None:
            row = await self.store.db.fetchone(
                "SELECT roles FROM application_credentials WHERE id = ?", (record.app_cred_id,)
            )
            if row is None:
                raise NotAuthorized(INVALID)
            allowed = set(orjson.loads(row["roles"]))
            roles = [role for role in roles if role["id"] in allowed]
        if not roles:
            raise NotAuthorized(INVALID)
        return roles

    async def describe(self, record: TokenRecord) -> Described:
        """What `record` means now (`NotAuthorized` if its user or scope is gone)."""
        user, user_domain = await self.user(record.user_id)
        data: dict[str, Any] = {
            "methods": list(record.methods),
            "user": {**_ref(user), "domain": _ref(user_domain), "password_expires_at": None},
            "audit_ids": list(record.audit_ids),
            "expires_at": keystone_time(record.expires_at),
            "issued_at": keystone_time(record.issued_at),
        }
        project: sqlite3.Row | None = None
        if record.scope_type == "project" and record.scope_id:
            project, project_domain = await self.project(record.scope_id)
            data["project"] = {**_ref(project), "domain": _ref(project_domain)}
            data["is_domain"] = False
        elif record.scope_type == "domain" and record.scope_id:
            data["domain"] = _ref(await self._enabled_domain(record.scope_id))
        elif record.scope_type == "system":
            data["system"] = {"all": True}
        roles = await self.roles(record)
        if record.scope_type != "unscoped":
            data["roles"] = [_ref(role) for role in roles]
        if record.app_cred_id is not None:
            data["application_credential"] = await self._app_cred(record.app_cred_id)
        info = TokenInfo(
            user_id=user["id"],
            user_name=user["name"],
            project_id=project["id"] if project is not None else None,
            project_name=project["name"] if project is not None else None,
            roles=tuple(role["name"] for role in roles),
            expires_at=record.expires_at,
        )
        return Described(info, data, catalog=record.scope_type != "unscoped")

    async def _app_cred(self, app_cred_id: str) -> dict[str, Any]:
        row = await self.store.db.fetchone(
            "SELECT id, name, unrestricted FROM application_credentials WHERE id = ?",
            (app_cred_id,),
        )
        if row is None:
            raise NotAuthorized(INVALID)
        return {"id": row["id"], "name": row["name"], "restricted": not row["unrestricted"]}
