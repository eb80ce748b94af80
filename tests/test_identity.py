"""The identity service: authentication, tokens, roles and administration, over RPC."""

from __future__ import annotations

import datetime
import hashlib
import sqlite3
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from structlog.testing import capture_logs

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Forbidden, Invalid, NotAuthorized, UserNotFound
from nova_lite.identity.manager import AUTH_FAILED, IdentityManager
from nova_lite.identity.passwords import (
    ScryptParams,
    hash_password,
    needs_rehash,
    verify_password,
)
from nova_lite.identity.rpcapi import IdentityAPI
from nova_lite.objects import TokenInfo
from nova_lite.service import Service
from nova_lite.testing import TransportFactory
from nova_lite.transport import Transport

ADMIN_PASSWORD = "bootstrap-secret-1"
# Cheaper than the default cost, to keep the tests fast; hashes record their own cost.
FAST = ScryptParams(n=2**12)
ANON = RequestContext()
MEMBER = RequestContext(user_id="u1", project_id="p1", roles=("member", "reader"))


class Clock:
    """A settable clock for the manager, so tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.current = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += datetime.timedelta(seconds=seconds)


@attrs.define
class Identity:
    """A running identity service, its manager, a client, and an admin context."""

    config: Config
    manager: IdentityManager
    api: IdentityAPI
    clock: Clock
    admin: RequestContext


def make_config(tmp_path: Path, broker: TransportFactory, **identity: Any) -> Config:
    return Config.load(
        environ={},
        state_path=str(tmp_path),
        rpc={**broker.rpc_options(), "timeout": 10.0},
        identity={"bootstrap_password": ADMIN_PASSWORD, "token_ttl": 60.0, **identity},
    )


def database_bytes(state_path: Path) -> bytes:
    """Everything in the identity database's files, write-ahead log included."""
    return b"".join(path.read_bytes() for path in sorted(state_path.glob("identity.sqlite*")))


def context_for(info: TokenInfo) -> RequestContext:
    """The request context an API front end would build from a validated token."""
    return RequestContext(
        user_id=info.user_id,
        user_name=info.user_name,
        project_id=info.project_id,
        project_name=info.project_name,
        roles=info.roles,
        is_admin=info.is_admin,
    )


@asynccontextmanager
async def running(config: Config, transport: Transport) -> AsyncIterator[Identity]:
    """Start an identity service on `transport`, with the manager's clock under control."""
    manager = IdentityManager(config, transport, "host1")
    manager.password_params = FAST
    clock = Clock()
    manager.now = clock
    async with Service(manager, serializer=objects.serializer()):
        api = IdentityAPI(transport, config)
        login = await api.authenticate(ANON, "admin", ADMIN_PASSWORD, "admin")
        yield Identity(config, manager, api, clock, context_for(login["token_info"]))


@pytest.fixture
async def identity(broker: TransportFactory, tmp_path: Path) -> AsyncIterator[Identity]:
    """An identity service on the parametrized broker, bootstrapped with a known password."""
    async with running(make_config(tmp_path, broker), await broker.connect()) as service:
        yield service


@pytest.fixture
async def local_identity(tmp_path: Path) -> AsyncIterator[Identity]:
    """An identity service on the in-memory broker, for tests not about the transport."""
    broker = TransportFactory("memory", "memory://")
    try:
        async with running(make_config(tmp_path, broker), await broker.connect()) as service:
            yield service
    finally:
        await broker.aclose()


async def test_authenticate_then_validate_round_trip(identity: Identity) -> None:
    """A token from authenticate validates to the same user, project, roles and expiry."""
    login = await identity.api.authenticate(ANON, "admin", ADMIN_PASSWORD, "admin")
    token, info = login["token"], login["token_info"]
    assert isinstance(token, str) and len(token) >= 40
    assert info.user_name == "admin" and info.project_name == "admin"
    assert info.roles == ("admin", "manager", "member", "reader")
    assert info.expires_at == identity.clock() + datetime.timedelta(seconds=60)
    assert await identity.api.validate_token(ANON, token) == info


async def test_bad_credentials_all_get_the_same_refusal(identity: Identity) -> None:
    """Wrong password, unknown user, unknown project and no role all give one message."""
    await identity.api.create_project(identity.admin, "other")
    attempts = [
        ("admin", "wrong-password", "admin"),
        ("nobody", ADMIN_PASSWORD, "admin"),
        ("admin", ADMIN_PASSWORD, "no-such-project"),
        ("admin", ADMIN_PASSWORD, "other"),
    ]
    for username, password, project in attempts:
        with pytest.raises(NotAuthorized) as caught:
            await identity.api.authenticate(ANON, username, password, project)
        assert str(caught.value) == AUTH_FAILED


async def test_expired_token_is_refused(local_identity: Identity) -> None:
    """A token validates until its ttl has passed on the manager's clock, then not."""
    api, clock = local_identity.api, local_identity.clock
    token = (await api.authenticate(ANON, "admin", ADMIN_PASSWORD, "admin"))["token"]
    clock.advance(59.9)
    await api.validate_token(ANON, token)
    clock.advance(0.1)
    with pytest.raises(NotAuthorized, match="expired") as caught:
        await api.validate_token(ANON, token)
    assert token not in str(caught.value)


async def test_revoked_token_is_refused(identity: Identity) -> None:
    """After revoke_token the token no longer validates; revoking again is harmless."""
    token = (await identity.api.authenticate(ANON, "admin", ADMIN_PASSWORD, "admin"))["token"]
    await identity.api.revoke_token(ANON, token)
    with pytest.raises(NotAuthorized, match="revoked"):
        await identity.api.validate_token(ANON, token)
    await identity.api.revoke_token(ANON, token)


async def test_unknown_token_is_refused(local_identity: Identity) -> None:
    """A token the service never issued is refused without being echoed."""
    with pytest.raises(NotAuthorized, match="not valid") as caught:
        await local_identity.api.validate_token(ANON, "made-up-token-text")
    assert "made-up-token-text" not in str(caught.value)


async def test_management_needs_admin(identity: Identity) -> None:
    """Every management endpoint refuses a caller without the admin role."""
    api = identity.api
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: api.create_project(MEMBER, "p2"),
        lambda: api.list_projects(MEMBER),
        lambda: api.create_user(MEMBER, "eve", "pw-eve", "admin", "admin"),
        lambda: api.assign_role(MEMBER, "admin", "admin", "reader"),
        lambda: api.list_users(MEMBER),
        lambda: api.delete_user(MEMBER, "admin"),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            await call()


async def test_token_roles_follow_assignments(identity: Identity) -> None:
    """reader, member and admin assignments show in TokenInfo.roles, with implied roles."""
    api, admin = identity.api, identity.admin
    await api.create_project(admin, "demo", description="A demo project.")
    expected = {
        "reader": ("reader",),
        "member": ("member", "reader"),
        "admin": ("admin", "manager", "member", "reader"),
    }
    for role in expected:
        await api.create_user(admin, f"user-{role}", f"pw-{role}", "demo", role=role)
    for role, roles in expected.items():
        login = await api.authenticate(ANON, f"user-{role}", f"pw-{role}", "demo")
        assert login["token_info"].roles == roles
        assert login["token_info"].is_admin == (role == "admin")


async def test_assign_role_adds_a_project(local_identity: Identity) -> None:
    """A user given a role on a second project can then authenticate there."""
    api, admin = local_identity.api, local_identity.admin
    await api.create_project(admin, "one")
    await api.create_project(admin, "two")
    await api.create_user(admin, "carol", "pw-carol", "one")
    with pytest.raises(NotAuthorized):
        await api.authenticate(ANON, "carol", "pw-carol", "two")
    await api.assign_role(admin, "carol", "two", "reader")
    login = await api.authenticate(ANON, "carol", "pw-carol", "two")
    assert login["token_info"].roles == ("reader",)


async def test_unknown_role_is_invalid_and_lists_the_roles(local_identity: Identity) -> None:
    """A role that does not exist is Invalid, and the message lists the roles there are."""
    api, admin = local_identity.api, local_identity.admin
    with pytest.raises(Invalid, match=r"superuser.*admin, manager, member, reader"):
        await api.create_user(admin, "dave", "pw-dave", "admin", role="superuser")
    with pytest.raises(Invalid, match="owner"):
        await api.assign_role(admin, "admin", "admin", "owner")


async def test_duplicate_names_conflict(local_identity: Identity) -> None:
    """A second project or user with a taken name is a Conflict."""
    api, admin = local_identity.api, local_identity.admin
    with pytest.raises(Conflict, match="admin"):
        await api.create_project(admin, "admin")
    with pytest.raises(Conflict, match="admin"):
        await api.create_user(admin, "admin", "pw", "admin")


@pytest.mark.parametrize("name", ["", "x" * 65, "tab\there", "nul\x00", 42])
async def test_bad_names_are_invalid(local_identity: Identity, name: object) -> None:
    """Names must be 1-64 characters without control characters, or they are Invalid."""
    with pytest.raises(Invalid, match="name"):
        await local_identity.api.create_project(local_identity.admin, name)  # type: ignore[arg-type]


async def test_missing_user_or_project_is_not_found(local_identity: Identity) -> None:
    """Assigning to, creating in or deleting something that does not exist is UserNotFound."""
    api, admin = local_identity.api, local_identity.admin
    with pytest.raises(UserNotFound, match="ghost"):
        await api.create_user(admin, "frank", "pw", "ghost")
    with pytest.raises(UserNotFound, match="ghost"):
        await api.assign_role(admin, "ghost", "admin", "reader")
    with pytest.raises(UserNotFound, match="ghost"):
        await api.delete_user(admin, "ghost")


async def test_delete_user_revokes_their_tokens(identity: Identity) -> None:
    """Deleting a user revokes the tokens they hold and stops them logging in."""
    api, admin = identity.api, identity.admin
    await api.create_user(admin, "erin", "pw-erin", "admin", role="member")
    token = (await api.authenticate(ANON, "erin", "pw-erin", "admin"))["token"]
    await api.delete_user(admin, "erin")
    with pytest.raises(NotAuthorized, match="revoked"):
        await api.validate_token(ANON, token)
    with pytest.raises(NotAuthorized):
        await api.authenticate(ANON, "erin", "pw-erin", "admin")
    assert [user["name"] for user in await api.list_users(admin)] == ["admin"]


async def test_lists_show_names_and_assignments_only(local_identity: Identity) -> None:
    """list_users shows users with their assignments and no password hash."""
    api, admin = local_identity.api, local_identity.admin
    await api.create_user(admin, "gina", "pw-gina", "admin", role="reader")
    users = await api.list_users(admin)
    assert [(u["name"], u["assignments"]) for u in users] == [
        ("admin", [{"project": "admin", "role": "admin"}]),
        ("gina", [{"project": "admin", "role": "reader"}]),
    ]
    assert all(set(user) == {"id", "name", "created_at", "assignments"} for user in users)
    assert "scrypt" not in repr(users)
    assert [p["name"] for p in await api.list_projects(admin)] == ["admin"]


async def test_passwords_are_stored_hashed(local_identity: Identity, tmp_path: Path) -> None:
    """The database files never contain a clear password, only scrypt hashes."""
    api = local_identity.api
    await api.create_user(local_identity.admin, "hank", "clear-text-password-42", "admin")
    raw = database_bytes(tmp_path)
    assert b"clear-text-password-42" not in raw
    assert ADMIN_PASSWORD.encode() not in raw
    with sqlite3.connect(tmp_path / "identity.sqlite") as conn:
        hashes = [row[0] for row in conn.execute("SELECT password_hash FROM users")]
    assert len(hashes) == 2 and all(h.startswith("$scrypt$n=4096,r=8,p=1$") for h in hashes)
    assert len(set(hashes)) == 2


async def test_tokens_are_stored_as_digests(local_identity: Identity, tmp_path: Path) -> None:
    """The database keeps only a token's SHA-256, never the token text."""
    login = await local_identity.api.authenticate(ANON, "admin", ADMIN_PASSWORD, "admin")
    raw = database_bytes(tmp_path)
    assert login["token"].encode() not in raw


async def test_logs_carry_no_passwords_or_tokens(local_identity: Identity) -> None:
    """Nothing the identity manager logs contains a password or a token."""
    api, admin = local_identity.api, local_identity.admin
    with capture_logs() as logs:
        await api.create_user(admin, "ivy", "pw-ivy-secret", "admin")
        login = await api.authenticate(ANON, "ivy", "pw-ivy-secret", "admin")
        await api.revoke_token(ANON, login["token"])
    assert logs, "expected the manager to log something"
    assert "pw-ivy-secret" not in repr(logs) and login["token"] not in repr(logs)


async def test_generated_bootstrap_password_is_owner_only(tmp_path: Path) -> None:
    """With no configured password one is generated, saved with mode 0600, and kept."""
    broker = TransportFactory("memory", "memory://")
    config = make_config(tmp_path, broker, bootstrap_password="")
    transport = await broker.connect()
    password_file = tmp_path / "admin-password"
    try:
        for _start in range(2):
            manager = IdentityManager(config, transport, "host1")
            manager.password_params = FAST
            async with Service(manager, serializer=objects.serializer()):
                assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
                password = password_file.read_text().strip()
                api = IdentityAPI(transport, config)
                login = await api.authenticate(ANON, "admin", password, "admin")
                assert login["token_info"].is_admin
                users = await api.list_users(context_for(login["token_info"]))
                assert [user["name"] for user in users] == ["admin"]
    finally:
        await broker.aclose()


async def test_password_hashes_verify_and_upgrade(local_identity: Identity) -> None:
    """Hashes verify, carry their parameters, and are upgraded at login when those change."""
    assert hash_password("s3cret").startswith("$scrypt$n=32768,r=8,p=1$")
    cheap = ScryptParams(n=2**10)
    encoded = hash_password("s3cret", cheap)
    assert verify_password("s3cret", encoded) and not verify_password("other", encoded)
    assert not verify_password("s3cret", "$scrypt$garbage")
    assert needs_rehash(encoded) and not needs_rehash(encoded, cheap)
    local_identity.manager.password_params = cheap
    await local_identity.api.authenticate(ANON, "admin", ADMIN_PASSWORD, "admin")
    row = await local_identity.manager.db.fetchone(
        "SELECT password_hash FROM users WHERE name = ?", ("admin",)
    )
    assert row is not None and row["password_hash"].startswith("$scrypt$n=1024,")
    await local_identity.api.authenticate(ANON, "admin", ADMIN_PASSWORD, "admin")


async def test_a_first_schema_database_is_carried_into_keystone_v3(tmp_path: Path) -> None:
    """An identity database of the first schema upgrades in place: its projects and users
    land in the default domain with their roles, and a token it issued still validates."""
    from nova_lite.identity.schema import MIGRATIONS

    old_token = "a-token-issued-before-the-upgrade"
    with sqlite3.connect(tmp_path / "identity.sqlite") as conn:
        conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
        conn.execute("INSERT INTO projects VALUES ('p-old', 'old', '', '2029-01-01')")
        conn.execute(
            "INSERT INTO users VALUES ('u-old', 'olduser', ?, '2029-01-01')",
            (hash_password("pw-old", FAST),),
        )
        conn.execute("INSERT INTO assignments VALUES ('u-old', 'p-old', 'member')")
        conn.execute(
            "INSERT INTO tokens VALUES (?, 'u-old', 'olduser', 'p-old', 'old', 'member,reader',"
            " '2030-01-01T00:00:00.000000+00:00', '2030-01-01T00:10:00.000000+00:00', 0)",
            (hashlib.sha256(old_token.encode()).hexdigest(),),
        )
    broker = TransportFactory("memory", "memory://")
    try:
        async with running(make_config(tmp_path, broker), await broker.connect()) as service:
            login = await service.api.authenticate(ANON, "olduser", "pw-old", "old")
            carried = await service.api.validate_token(ANON, old_token)
            projects = await service.api.list_projects(service.admin)
    finally:
        await broker.aclose()

    assert login["token_info"].roles == ("member", "reader")
    assert (carried.user_id, carried.project_id, carried.roles) == (
        "u-old",
        "p-old",
        ("member", "reader"),
    )
    assert [p["name"] for p in projects] == ["admin", "old"]
