"""Tempest's pre-provisioned accounts, created through nova_lite's identity API.

Tempest's pre-provisioned credential provider hands each test class a member
("primary"), a reader in the member's project ("project_reader"), another
non-admin ("alt", the first free account of the file, hence members come first)
and an admin, each locked while the class runs. For `concurrency` workers the
plan therefore has ``2 * concurrency + 1`` projects, each with a member, a reader
and a manager (Keystone's ``manager`` role, for the ``project_manager`` persona),
``concurrency + 1`` admins in projects of their own, ``2 * concurrency + 1`` service
users (each an admin with Keystone's ``service`` role too, in a project of its own:
Tempest's ``['service_user', 'admin', 'service']`` persona, which the
service-to-service compute tests ask for; a class may take two of them, since its
``admin`` may be one; the runner makes the ``service`` role if the cloud has none),
and ``concurrency + 1`` system-scoped readers (the ``system_reader`` persona of the identity
tests). Domain-scoped
personas are not provisioned: the classes that ask for them fail in set-up, and
the report says so.

With ``--accounts dynamic`` Tempest creates a project and users per class itself,
through the identity API's project, user and role management.
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
SERVICE = ("service",)  # the roles a service user has besides admin


@attrs.frozen
class Account:
    """One Tempest account: a user with one role on one project (or on the system)."""

    username: str
    project: str  # "": the role is on the system
    role: str
    password: str = attrs.field(factory=lambda: secrets.token_urlsafe(12), repr=False)
    also: tuple[str, ...] = ()  # more roles on the same project

    @property
    def roles(self) -> list[str]:
        """Every role the account has."""
        return [self.role, *self.also]

    @property
    def system(self) -> bool:
        """Whether the account's role is on the system rather than a project."""
        return not self.project


def plan(concurrency: int, prefix: str = "tempest") -> list[Account]:
    """The accounts `concurrency` Tempest workers need at once (members first)."""
    projects = [f"{prefix}-project-{i}" for i in range(1, 2 * concurrency + 2)]
    members = [Account(f"{prefix}-member-{i}", p, "member") for i, p in enumerate(projects, 1)]
    readers = [Account(f"{prefix}-reader-{i}", p, "reader") for i, p in enumerate(projects, 1)]
    admins = [
        Account(f"{prefix}-admin-{i}", f"{prefix}-admin-project-{i}", "admin")
        for i in range(1, concurrency + 2)
    ]
    managers = [Account(f"{prefix}-manager-{i}", p, "manager") for i, p in enumerate(projects, 1)]
    services = [
        Account(f"{prefix}-service-{i}", f"{prefix}-service-project-{i}", "admin", also=SERVICE)
        for i in range(1, 2 * concurrency + 2)
    ]
    system = [
        Account(f"{prefix}-system-reader-{i}", "", "reader") for i in range(1, concurrency + 2)
    ]
    return members + readers + admins + managers + services + system


def accounts_yaml(accounts: Iterable[Account]) -> str:
    """Tempest's ``accounts.yaml`` for `accounts`."""
    entries = [
        (
            {
                "username": a.username,
                "password": a.password,
                "user_domain_name": DOMAIN,
                "system": "all",
                "roles": a.roles,
            }
            if a.system
            else {
                "username": a.username,
                "project_name": a.project,
                "password": a.password,
                "domain_name": DOMAIN,
                "roles": a.roles,
            }
        )
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
        for project in sorted({a.project for a in accounts if not a.system}):
            await identity.create_project(ctx, project, "Tempest's pre-provisioned project")
        for role in sorted({r for a in accounts for r in a.also}):
            await _ensure_role(identity, ctx, role)
        for account in accounts:
            if account.system:
                await _system_user(identity, ctx, account)
                continue
            await identity.create_user(
                ctx, account.username, account.password, account.project, account.role
            )
            for role in account.also:
                await identity.assign_role(ctx, account.username, account.project, role)


async def _ensure_role(identity: IdentityAPI, ctx: RequestContext, name: str) -> None:
    """The global role `name`, made if the cloud has none by that name."""
    if not await identity.entity_list(ctx, "role", {"name": name}):
        await identity.entity_create(ctx, "role", {"name": name})


async def _system_user(identity: IdentityAPI, ctx: RequestContext, account: Account) -> None:
    """A user of the default domain with `account`'s role on the system."""
    user = await identity.entity_create(
        ctx, "user", {"name": account.username, "password": account.password}
    )
    (role,) = await identity.entity_list(ctx, "role", {"name": account.role})
    await identity.grant(ctx, "create", "user", user["id"], "system", "system", role["id"])


def provision(config_path: Path, accounts: list[Account]) -> None:
    """Create the projects and users of `accounts` in the cloud `config_path` configures."""
    asyncio.run(_provision(Config.load(str(config_path)), accounts))
