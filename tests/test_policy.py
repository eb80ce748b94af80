"""The policy matrix: admin, member and reader, on their own and another project's servers.

For every server operation the outcome is one of three kinds: *allowed* (the policy
let it through, whatever the state machine then says), *forbidden* (Forbidden), or
*invisible* (InstanceNotFound: another project's server does not exist for you).
"""

from __future__ import annotations

from typing import Any

import pytest

from nova_lite.api.client import Session
from nova_lite.api.manager import SERVER_ACTIONS
from nova_lite.api.policy import rule_for
from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden, InstanceNotFound, NovaLiteError
from nova_lite.policy import Enforcer
from nova_lite.testing import WAIT, CloudFactory, add_user, unlimited_quota

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

ARGUMENTS: dict[str, dict[str, Any]] = {
    "reboot": {"hard": False},
    "set_admin_password": {"password": "n3w-Passw0rd"},
    "rebuild": {"image": "cirros"},
    "snapshot": {"name": "snap"},
    "backup": {"name": "bak", "backup_type": "daily", "rotation": 1},
    "resize": {"flavor": "m1.small"},
    "attach_volume": {"volume_id": "00000000-0000-0000-0000-000000000000"},
    "detach_volume": {"volume_id": "00000000-0000-0000-0000-000000000000"},
}
READS = ("get", "actions", "console_output")
DESTRUCTIVE = ("delete", "force_delete")
STABLE = (
    "ACTIVE",
    "SHUTOFF",
    "PAUSED",
    "SUSPENDED",
    "RESCUE",
    "VERIFY_RESIZE",
    "SOFT_DELETED",
    "SHELVED",
    "SHELVED_OFFLOADED",
    "ERROR",
)


async def _outcome(session: Session, operation: str, server_id: str) -> str:
    servers = session.servers
    try:
        await getattr(servers, operation)(server_id, **ARGUMENTS.get(operation, {}))
    except Forbidden:
        return "forbidden"
    except InstanceNotFound:
        return "invisible"
    except NovaLiteError:
        return "allowed"  # past the policy; refused later by state or input checks
    return "allowed"


READ_RULES = {
    "get": "os_compute_api:servers:show",
    "actions": "os_compute_api:os-instance-actions:list",
}


def _expected(role: str, whose: str, operation: str) -> str:
    """The outcome the default rule table (`nova_lite.policy`) gives."""
    if role == "admin":
        return "allowed"
    if whose == "other":
        return "invisible"
    ctx = RequestContext(user_id="u", project_id="p", roles=(role,))
    rule = READ_RULES.get(operation) or rule_for(operation)
    return "allowed" if Enforcer().check(ctx, rule, {"project_id": "p"}) else "forbidden"


async def test_the_policy_matrix(clouds: CloudFactory) -> None:
    """Every role x ownership x operation gets the outcome Nova's default policy gives."""
    cloud = await clouds.start(computes=2)
    admin = await cloud.login_admin()
    member = await add_user(cloud, admin, "mia", project="alpha")
    reader = await add_user(cloud, admin, "rex", project="alpha", role="reader")
    stranger = await add_user(cloud, admin, "sam", project="beta")
    for session in (member, stranger):
        await unlimited_quota(cloud, admin, (await session.context()).project_id)
    sessions = {"admin": admin, "member": member, "reader": reader}
    operations = [*READS, *(a for a in SERVER_ACTIONS if a not in DESTRUCTIVE)]

    async def boot(owner: Session, name: str) -> str:
        (server,) = await owner.servers.create(name, flavor="m1.tiny", image="cirros")
        await owner.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
        return server.id

    targets = {"own": await boot(member, "own"), "other": await boot(stranger, "other")}
    mismatches = []
    for operation in operations:
        for role, session in sessions.items():
            for whose, server_id in targets.items():
                await admin.servers.wait_for(server_id, STABLE, timeout=WAIT)  # no task running
                got = await _outcome(session, operation, server_id)
                if got != _expected(role, whose, operation):
                    mismatches.append((role, whose, operation, got))
    for operation in DESTRUCTIVE:
        for role, session in sessions.items():
            for whose, owner in (("own", member), ("other", stranger)):
                server_id = await boot(owner, f"{operation}-{role}-{whose}")
                got = await _outcome(session, operation, server_id)
                if got != _expected(role, whose, operation):
                    mismatches.append((role, whose, operation, got))
    assert mismatches == []


async def test_other_projects_servers_are_not_listed(clouds: CloudFactory) -> None:
    """A project lists only its own servers; an admin asking for all projects sees both."""
    cloud = await clouds.start(computes=1)
    admin = await cloud.login_admin()
    mine = await add_user(cloud, admin, "mia", project="alpha")
    theirs = await add_user(cloud, admin, "sam", project="beta")
    (a,) = await mine.servers.create("a", flavor="m1.tiny", image="cirros")
    (b,) = await theirs.servers.create("b", flavor="m1.tiny", image="cirros")
    assert [s.id for s in await mine.servers.list()] == [a.id]
    assert [s.id for s in await theirs.servers.list()] == [b.id]
    everything = {s.id for s in await admin.servers.list(all_projects=True)}
    assert {a.id, b.id} <= everything
    assert b.id not in {s.id for s in await mine.servers.list(all_projects=True)}
