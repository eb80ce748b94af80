"""Tempest's pre-provisioned accounts, created through nova_lite's identity API.

Tempest's pre-provisioned credential provider hands each test class a member
("primary"), a reader in the member's project ("project_reader"), another
non-admin ("alt", the first free account of the file, hence members come first)
and an admin, each locked while the class runs. For `concurrency` workers the
plan therefore has ``2 * concurrency + 1`` projects, each with a member and a
reader, and ``concurrency + 1`` admins in projects of their own. Personas
nova_lite has no role or scope for (Keystone's ``manager`` role, system and domain
scopes) are not provisioned: the classes that ask for them fail in set-up, and the
report says so.

With dynamic credentials Tempest would create a project and users per class
itself; that needs Keystone's project, user and role management over HTTP, which
nova_lite does not serve yet (``--accounts dynamic`` is ready for when it does).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from pathlib import Path

import attrs
import yaml

from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.identity.rpcapi import IdentityAPI
from nova_lite.loader import get_transport

__all__ = ["Account", "accounts_yaml", "plan", "provision"]

DOMAIN = "Default"


@attrs.frozen
class Account:
    """One Tempest account: a user with one role on one project."""

    username: str
    project: str
    role: str
    password: str = attrs.field(factory=lambda: secrets.token_urlsafe(12), repr=False)


def plan(concurrency: int, prefix: str = "tempest") -> list[Account]:
    """The accounts `concurrency` Tempest workers need at once (members first)."""
    projects = [f"{prefix}-project-{i}" for i in range(1, 2 * concurrency + 2)]
    members = [Account(f"{prefix}-member-{i}", p, "member") for i, p in enumerate(projects, 1)]
    readers = [Account(f"{prefix}-reader-{i}", p, "reader") for i, p in enumerate(projects, 1)]
    admins = [
        Account(f"{prefix}-admin-{i}", f"{prefix}-admin-project-{i}", "admin")
        for i in range(1, concurrency + 2)
    ]
    return members + readers + admins


def accounts_yaml(accounts: Iterable[Account]) -> str:
    """Tempest's ``accounts.yaml`` for `accounts`."""
    entries = [
        {
            "username": a.username,
            "project_name": a.project,
            "password": a.password,
            "domain_name": DOMAIN,
            "roles": [a.role],
        }
        for a in accounts
    ]
    return yaml.safe_dump(entries, sort_keys=False)


async def _provision(config: Config, accounts: list[Account]) -> None:
    async with get_transport(config.transport_url) as transport:
        identity = IdentityAPI(transport, config)
        login = await identity.authenticate(
            RequestContext(),
            username=config.client.username,
            password=config.client.password,
            project_name=config.client.project,
        )
        ctx = RequestContext.from_token(login["token_info"], login["token"])
        for project in sorted({a.project for a in accounts}):
            await identity.create_project(ctx, project, "Tempest's pre-provisioned project")
        for account in accounts:
            await identity.create_user(
                ctx, account.username, account.password, account.project, account.role
            )


def provision(config_path: Path, accounts: list[Account]) -> None:
    """Create the projects and users of `accounts` in the cloud `config_path` configures."""
    asyncio.run(_provision(Config.load(str(config_path)), accounts))
