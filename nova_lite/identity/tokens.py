"""The tokens table: issue, look up, revoke and purge tokens.

A token is an opaque random string handed to the client once; the database keeps
only its SHA-256, so a stolen copy of the database yields no usable token. A row
records whom the token was issued to and for which scope (a project, a domain, the
system, or none), by which methods, its audit ids and its lifetime; who that is
now (names, roles, whether still enabled) is read again at every validation, by
`nova_lite.identity.auth`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import sqlite3

import attrs

from nova_lite.db import Database
from nova_lite.exceptions import NotAuthorized

__all__ = ["SCOPES", "TokenRecord", "TokenStore", "isoformat", "new_audit_id"]

SCOPES = ("unscoped", "project", "domain", "system")


def isoformat(moment: datetime.datetime) -> str:
    """`moment` as fixed-width ISO 8601 text in UTC, so that text order is time order."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def new_audit_id() -> str:
    """A token's audit id: 16 random bytes, URL-safe base64 (22 characters), as Keystone's."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@attrs.frozen(kw_only=True)
class TokenRecord:
    """What the tokens table says of one token: who, which scope, how, until when."""

    user_id: str
    scope_type: str  # one of SCOPES
    scope_id: str | None  # the project or domain id ("system" for the system)
    methods: tuple[str, ...]
    audit_ids: tuple[str, ...]  # its own, then its parent's (a rescoped token)
    issued_at: datetime.datetime
    expires_at: datetime.datetime
    app_cred_id: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TokenRecord:
        parent = row["parent_audit_id"]
        return cls(
            user_id=row["user_id"],
            scope_type=row["scope_type"],
            scope_id=row["scope_id"],
            methods=tuple(m for m in row["methods"].split(",") if m),
            audit_ids=(row["audit_id"], parent) if parent else (row["audit_id"],),
            issued_at=datetime.datetime.fromisoformat(row["issued_at"]),
            expires_at=datetime.datetime.fromisoformat(row["expires_at"]),
            app_cred_id=row["app_cred_id"],
        )


class TokenStore:
    """The tokens table. Callers pass the current time in, so the manager's clock decides."""

    def __init__(self, db: Database, *, ttl: float) -> None:
        self.db = db
        self.ttl = datetime.timedelta(seconds=ttl)

    def __repr__(self) -> str:
        return f"<TokenStore {self.db.name} ttl={self.ttl.total_seconds()}s>"

    async def issue(self, record: TokenRecord) -> str:
        """A new token text for `record` (stored only as its digest)."""
        token = secrets.token_urlsafe(32)
        parent = record.audit_ids[1] if len(record.audit_ids) > 1 else None
        await self.db.execute(
            "INSERT INTO tokens (token_sha256, user_id, scope_type, scope_id, methods,"
            " audit_id, parent_audit_id, app_cred_id, issued_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _digest(token),
                record.user_id,
                record.scope_type,
                record.scope_id,
                ",".join(record.methods),
                record.audit_ids[0],
                parent,
                record.app_cred_id,
                isoformat(record.issued_at),
                isoformat(record.expires_at),
            ),
        )
        return token

    async def lookup(self, token: str, now: datetime.datetime) -> TokenRecord:
        """The record of `token`; `NotAuthorized` if it is unknown, revoked or expired."""
        row = await self.db.fetchone(
            "SELECT * FROM tokens WHERE token_sha256 = ?", (_digest(token),)
        )
        if row is None:
            raise NotAuthorized("The token is not valid.")
        if row["revoked"]:
            raise NotAuthorized("The token has been revoked.")
        record = TokenRecord.from_row(row)
        if record.expires_at <= now:
            raise NotAuthorized("The token has expired.")
        return record

    async def revoke(self, token: str) -> bool:
        """Revoke `token`; whether it was a known, unrevoked token."""
        changed = await self.db.execute(
            "UPDATE tokens SET revoked = 1 WHERE token_sha256 = ? AND revoked = 0",
            (_digest(token),),
        )
        return changed > 0

    async def revoke_user(self, user_id: str) -> int:
        """Revoke every token of `user_id` (a password change, a disable, a delete)."""
        return await self.db.execute(
            "UPDATE tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0", (user_id,)
        )

    async def revoke_app_cred(self, app_cred_id: str) -> int:
        """Revoke every token issued for an application credential (it was deleted)."""
        return await self.db.execute(
            "UPDATE tokens SET revoked = 1 WHERE app_cred_id = ? AND revoked = 0", (app_cred_id,)
        )

    async def purge_expired(self, now: datetime.datetime) -> int:
        """Delete tokens that expired before `now`; how many went."""
        return await self.db.execute("DELETE FROM tokens WHERE expires_at < ?", (isoformat(now),))
