"""The identity manager (Keystone's role): users, projects, roles and tokens.

Users authenticate with a name, a password and a project, and get an opaque token
that other services validate here. Passwords are kept as scrypt hashes
(`nova_lite.identity.passwords`), tokens as SHA-256 digests
(`nova_lite.identity.tokens`). At start the manager makes sure the bootstrap
administrator from ``[identity]`` exists; every management endpoint is for
administrators only. Roles are ``admin``, ``member`` and ``reader``; a token lists
the roles the user holds on its project together with those they imply.
"""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import structlog

from nova_lite import validators
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, NotAuthorized, UserNotFound
from nova_lite.identity import bootstrap, checks
from nova_lite.identity.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    hash_password,
    needs_rehash,
    verify_password,
)
from nova_lite.identity.schema import MIGRATIONS
from nova_lite.identity.tokens import TokenStore, isoformat
from nova_lite.objects import TokenInfo, utcnow
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport

__all__ = ["AUTH_FAILED", "IdentityManager"]

log = structlog.get_logger(__name__)

AUTH_FAILED = "The request you have made requires authentication."
PURGE_INTERVAL = 3600.0


def _auth_failed() -> NotAuthorized:
    # One message for every cause, so callers cannot tell which users exist.
    return NotAuthorized(AUTH_FAILED)


class IdentityManager(Manager):
    """The identity service's endpoints: authentication, tokens, and administration.

    `now` is the manager's clock (timezone-aware UTC); tests replace it to move time.
    """

    topic: ClassVar[str] = "identity"
    target = Target(version="1.0")

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("identity"), MIGRATIONS, name="identity")
        self.tokens = TokenStore(self.db, ttl=config.identity.token_ttl)
        self.policy = Enforcer.from_file(config.policy.file)
        self.now: Callable[[], datetime.datetime] = utcnow
        self.password_params: ScryptParams = DEFAULT_PARAMS
        self._decoy_hash: str | None = None

    def __repr__(self) -> str:
        return f"<IdentityManager {self.host} {self.db!r}>"

    # -- lifecycle -------------------------------------------------------------

    async def init_host(self) -> None:
        await self.db.open()
        try:
            await self._bootstrap()
        except BaseException:
            await self.db.close()
            raise

    async def cleanup_host(self) -> None:
        await self.db.close()

    def periodic_tasks(self) -> list[PeriodicTask]:
        return [
            PeriodicTask(
                "purge_expired_tokens",
                PURGE_INTERVAL,
                self._purge_expired_tokens,
                initial_delay=PURGE_INTERVAL,
            )
        ]

    async def _purge_expired_tokens(self, ctx: RequestContext) -> None:
        purged = await self.tokens.purge_expired(self.now())
        log.info("identity.tokens_purged", count=purged)

    async def _bootstrap(self) -> None:
        """Create the bootstrap project, administrator and admin assignment if missing."""
        cfg = self.config.identity
        user_name = validators.user_name(cfg.bootstrap_username, "bootstrap_username")
        project_name = validators.project_name(cfg.bootstrap_project, "bootstrap_project")
        if await self._find_project(project_name) is None:
            await self._insert_project(project_name, "The bootstrap administrator's project.")
        if await self._find_user(user_name) is None:
            password = cfg.bootstrap_password or self._generate_bootstrap_password()
            encoded = await self._hash(password)
            async with self.db.transaction():
                await self._insert_user(user_name, encoded)
        async with self.db.transaction():
            await self._assign(user_name, project_name, "admin")
        log.info("identity.bootstrapped", user_name=user_name, project_name=project_name)

    def _generate_bootstrap_password(self) -> str:
        password = bootstrap.generate_password()
        path = self.config.service_dir() / bootstrap.PASSWORD_FILE
        bootstrap.write_secret_file(path, password)
        log.warning("identity.bootstrap_password_generated", path=str(path))
        return password

    # -- tokens ----------------------------------------------------------------

    @endpoint
    async def authenticate(
        self, ctx: RequestContext, username: str, password: str, project_name: str
    ) -> dict[str, Any]:
        """A new token for `username` on `project_name`: ``{"token", "token_info"}``."""
        checks.check_text("username", username, max_length=checks.MAX_SECRET)
        checks.check_text("password", password, max_length=checks.MAX_SECRET)
        checks.check_text("project_name", project_name, max_length=checks.MAX_SECRET)
        user = await self._find_user(username)
        if not await self._verify(user, password) or user is None:
            raise _auth_failed()
        project = await self._find_project(project_name)
        roles = await self._roles_of(user["id"], project["id"]) if project else ()
        if project is None or not roles:
            raise _auth_failed()
        await self._upgrade_hash(user, password)
        token, info = await self.tokens.issue(user, project, roles, self.now())
        log.info("identity.authenticated", user_id=info.user_id, project_id=info.project_id)
        return {"token": token, "token_info": info}

    @endpoint
    async def validate_token(self, ctx: RequestContext, token: str) -> TokenInfo:
        """Who `token` stands for; `NotAuthorized` if it is unknown, expired or revoked."""
        return await self.tokens.validate(checks.check_secret("token", token), self.now())

    @endpoint
    async def revoke_token(self, ctx: RequestContext, token: str) -> None:
        """Revoke `token` (holding it is the right to revoke it); revoking twice is harmless."""
        if await self.tokens.revoke(checks.check_secret("token", token)):
            log.info("identity.token_revoked")

    # -- administration --------------------------------------------------------

    @endpoint
    async def create_project(
        self, ctx: RequestContext, name: str, description: str = ""
    ) -> dict[str, Any]:
        """Create project `name`; `Conflict` if one by that name exists."""
        self.policy.authorize(ctx, "identity:create_project")
        name = validators.project_name(name)
        description = checks.check_text("description", description)
        project = await self._insert_project(name, description)
        log.info("identity.project_created", project_id=project["id"], project_name=name)
        return project

    @endpoint
    async def list_projects(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every project, by name: ``{"id", "name", "description", "created_at"}``."""
        self.policy.authorize(ctx, "identity:list_projects")
        rows = await self.db.fetchall(
            "SELECT id, name, description, created_at FROM projects ORDER BY name"
        )
        return [dict(row) for row in rows]

    @endpoint
    async def create_user(
        self,
        ctx: RequestContext,
        name: str,
        password: str,
        project_name: str,
        role: str = "member",
    ) -> dict[str, Any]:
        """Create user `name` with `password` and give them `role` on `project_name`."""
        self.policy.authorize(ctx, "identity:create_user")
        name = validators.user_name(name)
        password = checks.check_secret("password", password)
        project_name = validators.project_name(project_name, "project_name")
        role = checks.check_role(role)
        encoded = await self._hash(password)
        async with self.db.transaction():
            user = await self._insert_user(name, encoded)
            await self._assign(name, project_name, role)
        log.info("identity.user_created", user_id=user["id"], user_name=name, role=role)
        return {**user, "assignments": [{"project": project_name, "role": role}]}

    @endpoint
    async def assign_role(
        self, ctx: RequestContext, user_name: str, project_name: str, role: str
    ) -> None:
        """Give `user_name` `role` on `project_name` (tokens already issued keep theirs)."""
        self.policy.authorize(ctx, "identity:create_grant")
        role = checks.check_role(role)
        user_name = validators.user_name(user_name, "user_name")
        project_name = validators.project_name(project_name, "project_name")
        async with self.db.transaction():
            await self._assign(user_name, project_name, role)
        log.info("identity.role_assigned", user_name=user_name, project_name=project_name)

    @endpoint
    async def list_users(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every user, by name, with their assignments; never their password hashes."""
        self.policy.authorize(ctx, "identity:list_users")
        rows = await self.db.fetchall(
            "SELECT u.id, u.name, u.created_at, p.name AS project, a.role FROM users AS u"
            " LEFT JOIN assignments AS a ON a.user_id = u.id"
            " LEFT JOIN projects AS p ON p.id = a.project_id"
            " ORDER BY u.name, p.name, a.role"
        )
        users: dict[str, dict[str, Any]] = {}
        for row in rows:
            user = users.setdefault(
                row["id"],
                {"id": row["id"], "name": row["name"], "created_at": row["created_at"]},
            )
            assignments = user.setdefault("assignments", [])
            if row["role"] is not None:
                assignments.append({"project": row["project"], "role": row["role"]})
        return list(users.values())

    @endpoint
    async def delete_user(self, ctx: RequestContext, user_name: str) -> None:
        """Delete `user_name` and their assignments, and revoke every token they hold."""
        self.policy.authorize(ctx, "identity:delete_user")
        user_name = validators.user_name(user_name, "user_name")
        async with self.db.transaction() as conn:
            user = await self._find_user(user_name)
            if user is None:
                raise UserNotFound(f"No user is named {user_name!r}.", user_name=user_name)
            await conn.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", (user["id"],))
            await conn.execute("DELETE FROM users WHERE id = ?", (user["id"],))
        log.info("identity.user_deleted", user_id=user["id"], user_name=user_name)

    # -- helpers ---------------------------------------------------------------

    async def _find_user(self, name: str) -> sqlite3.Row | None:
        return await self.db.fetchone("SELECT * FROM users WHERE name = ?", (name,))

    async def _find_project(self, name: str) -> sqlite3.Row | None:
        return await self.db.fetchone("SELECT * FROM projects WHERE name = ?", (name,))

    async def _roles_of(self, user_id: str, project_id: str) -> tuple[str, ...]:
        rows = await self.db.fetchall(
            "SELECT role FROM assignments WHERE user_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        return checks.expand_roles(row["role"] for row in rows) if rows else ()

    async def _insert_project(self, name: str, description: str) -> dict[str, Any]:
        project = {
            "id": uuid.uuid4().hex,
            "name": name,
            "description": description,
            "created_at": isoformat(self.now()),
        }
        async with self.db.transaction() as conn:
            if await self._find_project(name) is not None:
                raise Conflict(f"A project named {name!r} already exists.", name=name)
            await conn.execute(
                "INSERT INTO projects (id, name, description, created_at) VALUES (?, ?, ?, ?)",
                (project["id"], name, description, project["created_at"]),
            )
        return project

    async def _insert_user(self, name: str, password_hash: str) -> dict[str, Any]:
        """Insert a user; the caller holds a transaction."""
        if await self._find_user(name) is not None:
            raise Conflict(f"A user named {name!r} already exists.", name=name)
        user = {"id": uuid.uuid4().hex, "name": name, "created_at": isoformat(self.now())}
        await self.db.conn.execute(
            "INSERT INTO users (id, name, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (user["id"], name, password_hash, user["created_at"]),
        )
        return user

    async def _assign(self, user_name: str, project_name: str, role: str) -> None:
        """Record an assignment (idempotently); the caller holds a transaction."""
        user = await self._find_user(user_name)
        if user is None:
            raise UserNotFound(f"No user is named {user_name!r}.", user_name=user_name)
        project = await self._find_project(project_name)
        if project is None:
            raise UserNotFound(f"No project is named {project_name!r}.", project=project_name)
        await self.db.conn.execute(
            "INSERT OR IGNORE INTO assignments (user_id, project_id, role) VALUES (?, ?, ?)",
            (user["id"], project["id"], role),
        )

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(hash_password, password, self.password_params)

    async def _verify(self, user: sqlite3.Row | None, password: str) -> bool:
        """Check `password`, spending the same time whether or not the user exists."""
        if user is not None:
            return await asyncio.to_thread(verify_password, password, user["password_hash"])
        if self._decoy_hash is None:
            self._decoy_hash = await self._hash(bootstrap.generate_password())
        await asyncio.to_thread(verify_password, password, self._decoy_hash)
        return False

    async def _upgrade_hash(self, user: sqlite3.Row, password: str) -> None:
        """Re-hash a just-verified password whose hash used older parameters."""
        if needs_rehash(user["password_hash"], self.password_params):
            encoded = await self._hash(password)
            await self.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (encoded, user["id"])
            )
            log.info("identity.password_rehashed", user_id=user["id"])
