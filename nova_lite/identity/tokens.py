"""Token issue, validation and revocation over the identity database.

A token is an opaque random string handed to the client once; the database keeps
only its SHA-256, with a snapshot of who it was issued to and until when, so a
stolen copy of the database yields no usable token.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import sqlite3

from nova_lite.db import Database
from nova_lite.exceptions import NotAuthorized
from nova_lite.objects import TokenInfo

__all__ = ["TokenStore", "isoformat"]


def isoformat(moment: datetime.datetime) -> str:
    """`moment` as fixed-width ISO 8601 text in UTC, so that text order is time order."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token_info(row: sqlite3.Row) -> TokenInfo:
    return TokenInfo(
        user_id=row["user_id"],
        user_name=row["user_name"],
        project_id=row["project_id"],
        project_name=row["project_name"],
        roles=tuple(role for role in row["roles"].split(",") if role),
        expires_at=datetime.datetime.fromisoformat(row["expires_at"]),
    )


class TokenStore:
    """The tokens table: issue, validate, revoke and purge tokens.

    Callers pass the current time in, so the identity manager's injectable clock
    decides expiry.
    """

    def __init__(self, db: Database, *, ttl: float) -> None:
        self.db = db
        self.ttl = datetime.timedelta(seconds=ttl)

    def __repr__(self) -> str:
        return f"<TokenStore {self.db.name} ttl={self.ttl.total_seconds()}s>"

    async def issue(
        self,
        user: sqlite3.Row,
        project: sqlite3.Row,
        roles: tuple[str, ...],
        now: datetime.datetime,
    ) -> tuple[str, TokenInfo]:
        """A new token for `user` on `project` with `roles`, and what it stands for."""
        token = secrets.token_urlsafe(32)
        info = TokenInfo(
            user_id=user["id"],
            user_name=user["name"],
            project_id=project["id"],
            project_name=project["name"],
            roles=roles,
            expires_at=now + self.ttl,
        )
        await self.db.execute(
            "INSERT INTO tokens (token_sha256, user_id, user_name, project_id, project_name,"
            " roles, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _digest(token),
                info.user_id,
                info.user_name,
                info.project_id,
                info.project_name,
                ",".join(roles),
                isoformat(now),
                isoformat(info.expires_at),
            ),
        )
        return token, info

    async def validate(self, token: str, now: datetime.datetime) -> TokenInfo:
        """What `token` stands for; `NotAuthorized` if it is unknown, revoked or expired."""
        row = await self.db.fetchone(
            "SELECT * FROM tokens WHERE token_sha256 = ?", (_digest(token),)
        )
        if row is None:
            raise NotAuthorized("The token is not valid.")
        if row["revoked"]:
            raise NotAuthorized("The token has been revoked.")
        info = _token_info(row)
        if info.expires_at <= now:
            raise NotAuthorized("The token has expired.")
        return info

    async def revoke(self, token: str) -> bool:
        """Revoke `token`; whether it was a known, unrevoked token."""
        changed = await self.db.execute(
            "UPDATE tokens SET revoked = 1 WHERE token_sha256 = ? AND revoked = 0",
            (_digest(token),),
        )
        return changed > 0

    async def purge_expired(self, now: datetime.datetime) -> int:
        """Delete tokens that expired before `now`; how many went."""
        return await self.db.execute("DELETE FROM tokens WHERE expires_at < ?", (isoformat(now),))
