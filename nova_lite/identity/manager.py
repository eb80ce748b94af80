"""The identity manager (Keystone's role): opens the database and composes the parts.

The parts, each given what it uses, carry the RPC endpoints:

- `Authenticator` (``auth.py``, with ``methods.py``): tokens by password, token or
  application credential, for a project, a domain, the system or no scope;
  validation (what a token means now, ``describe.py``), revocation, the scopes a
  user may ask for;
- `Entities` (``entities.py``): create, get, list, update and delete of every kind of
  record: domains and projects (``resources.py``), users (``users.py``), groups
  (``groups.py``), roles (``roles.py``), the catalog's services, endpoints, regions
  and endpoint groups (``catalog.py``), policies, credentials and OAuth consumers
  (``records.py``), application credentials (``app_creds.py``);
- `ProjectTags` (``tags.py``), `Memberships` (``groups.py``), `ImpliedRoles`,
  `Assignments` (grants and the role assignment list), `DomainConfigs`, `Catalog`,
  and `NamedAdmin` (``legacy.py``: the first endpoints, by name in the default
  domain, that the CLI and the testing helpers use).

Passwords and application credential secrets are kept as scrypt hashes
(``passwords.py``), tokens as SHA-256 digests (``tokens.py``). Every policy check
uses Keystone's rule names (``access.py``). At start the manager makes sure the
bootstrap administrator from ``[identity]`` exists, with the admin role on their
project and on the system, and seeds the catalog once.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import ClassVar

import structlog

from nova_lite import validators
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.identity import bootstrap
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.app_creds import ApplicationCredentials
from nova_lite.identity.assignments import Assignments
from nova_lite.identity.auth import AUTH_FAILED, Authenticator
from nova_lite.identity.catalog import (
    Catalog,
    EndpointGroups,
    Endpoints,
    Regions,
    Services,
    seed_catalog,
)
from nova_lite.identity.describe import TokenDescriber
from nova_lite.identity.domain_config import DomainConfigs
from nova_lite.identity.effective import EffectiveRoles
from nova_lite.identity.entities import Entities
from nova_lite.identity.groups import Groups, Memberships
from nova_lite.identity.legacy import NamedAdmin
from nova_lite.identity.passwords import DEFAULT_PARAMS, Hasher, ScryptParams
from nova_lite.identity.records import Consumers, Credentials, Ec2Credentials, Policies
from nova_lite.identity.resources import Domains, Projects
from nova_lite.identity.roles import ImpliedRoles, Roles
from nova_lite.identity.schema import MIGRATIONS
from nova_lite.identity.store import DEFAULT_DOMAIN_ID, IdentityStore, new_id
from nova_lite.identity.tags import ProjectTags
from nova_lite.identity.tokens import TokenStore
from nova_lite.identity.users import Users
from nova_lite.objects import utcnow
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport

__all__ = ["AUTH_FAILED", "IdentityManager"]

log = structlog.get_logger(__name__)

PURGE_INTERVAL = 3600.0


class IdentityManager(Manager):
    """Serves the ``identity`` topic: tokens, and Keystone's records and grants.

    `now` is the manager's clock (timezone-aware UTC); tests replace it to move time.
    """

    topic: ClassVar[str] = "identity"
    target = Target(version="1.0")

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("identity"), MIGRATIONS, name="identity")
        self.now: Callable[[], datetime.datetime] = utcnow
        self.store = IdentityStore(self.db, lambda: self.now())
        self.tokens = TokenStore(self.db, ttl=config.identity.token_ttl)
        self.policy = Enforcer.from_file(config.policy.file)
        self.hasher = Hasher(DEFAULT_PARAMS)
        self.access = IdentityAccess(self.policy, self.tokens, self.db, self.store.now)
        effective = EffectiveRoles(self.db)
        describer = TokenDescriber(self.store, effective)
        self.auth = Authenticator(
            self.store, self.tokens, describer, effective, self.hasher, self.access
        )
        store, access = self.store, self.access
        domains = Domains(store, access)
        self.projects = Projects(store, access, domains)
        self.users = Users(store, access, self.hasher, self.tokens)
        self.services = Services(store, access)
        self.regions = Regions(store, access)
        self.catalog_endpoints = Endpoints(store, access, self.regions)
        self.credentials = Credentials(store, access)
        self.entities = Entities(
            [
                domains,
                self.projects,
                self.users,
                Groups(store, access),
                Roles(store, access),
                self.services,
                self.catalog_endpoints,
                self.regions,
                EndpointGroups(store, access),
                Policies(store, access),
                self.credentials,
                Consumers(store, access),
                ApplicationCredentials(store, access, effective, self.hasher, self.tokens),
            ]
        )
        self.parts: list[object] = [
            self.auth,
            self.entities,
            self.users,
            ProjectTags(store, access),
            Memberships(store, access),
            ImpliedRoles(store, access),
            Assignments(store, access, effective),
            DomainConfigs(store, access),
            Ec2Credentials(self.credentials),
            Catalog(self.services, self.catalog_endpoints, access),
            NamedAdmin(store, access, self.projects, self.users),
        ]

    def __repr__(self) -> str:
        return f"<IdentityManager {self.host} {self.db!r}>"

    @property
    def password_params(self) -> ScryptParams:
        """The scrypt parameters new hashes are made with (old ones are upgraded at login)."""
        return self.hasher.params

    @password_params.setter
    def password_params(self, params: ScryptParams) -> None:
        self.hasher.params = params

    def endpoints(self) -> list[object]:
        """The parts that serve this service's RPC endpoints (see the module docstring)."""
        return self.parts

    # -- lifecycle -------------------------------------------------------------

    async def init_host(self) -> None:
        await self.db.open()
        try:
            await self._bootstrap()
            await seed_catalog(self.services, self.catalog_endpoints, self.regions)
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
        """The bootstrap project and administrator, with admin on both, if missing."""
        cfg = self.config.identity
        user_name = validators.user_name(cfg.bootstrap_username, "bootstrap_username")
        project_name = validators.project_name(cfg.bootstrap_project, "bootstrap_project")
        db, now = self.db, self.store.timestamp()
        project = await db.fetchone(
            "SELECT id FROM projects WHERE domain_id = ? AND name = ? AND is_domain = 0",
            (DEFAULT_DOMAIN_ID, project_name),
        )
        project_id = project["id"] if project is not None else new_id()
        if project is None:
            await db.execute(
                "INSERT INTO projects (id, name, description, domain_id, parent_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (project_id, project_name, "The bootstrap administrator's project.",
                 DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_ID, now),
            )  # fmt: skip
        user = await db.fetchone(
            "SELECT id FROM users WHERE domain_id = ? AND name = ?", (DEFAULT_DOMAIN_ID, user_name)
        )
        user_id = user["id"] if user is not None else new_id()
        if user is None:
            password = cfg.bootstrap_password or self._generate_bootstrap_password()
            await db.execute(
                "INSERT INTO users (id, domain_id, name, password_hash, password_changed_at,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, DEFAULT_DOMAIN_ID, user_name, await self.hasher.hash(password), now, now),
            )
        for target_type, target_id in (("project", project_id), ("system", "system")):
            await db.execute(
                "INSERT OR IGNORE INTO assignments (actor_type, actor_id, target_type, target_id,"
                " role_id) SELECT 'user', ?, ?, ?, id FROM roles"
                " WHERE name = 'admin' AND domain_id IS NULL",
                (user_id, target_type, target_id),
            )
        log.info("identity.bootstrapped", user_name=user_name, project_name=project_name)

    def _generate_bootstrap_password(self) -> str:
        password = bootstrap.generate_password()
        path = self.config.service_dir() / bootstrap.PASSWORD_FILE
        bootstrap.write_secret_file(path, password)
        log.warning("identity.bootstrap_password_generated", path=str(path))
        return password
