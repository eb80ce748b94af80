"""The Keystone v3 API over HTTP: tokens of every scope, records, grants, and what stops a token.

The cloud runs in this process on the in-memory broker (the RPC side of identity is
tested on both brokers in tests/test_identity.py). Token validations are not cached
(``token_cache_ttl = 0``), so each request sees identity's answer of the moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nova_lite.testing import PASSWORD, CloudFactory
from tests.http_fixtures import FrontEnd, Reply

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)

V3 = "/v3"


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end, validating every token afresh."""
    front = await FrontEnd.start(await clouds.start(computes=1, api={"token_cache_ttl": 0}))
    try:
        yield front
    finally:
        await front.aclose()


def password_auth(user: dict[str, Any], password: str, scope: Any = None) -> dict[str, Any]:
    """Keystone's password-method body for a user reference and an optional scope."""
    auth: dict[str, Any] = {
        "identity": {"methods": ["password"], "password": {"user": {**user, "password": password}}}
    }
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


class Admin:
    """The bootstrap administrator's calls to the identity API."""

    def __init__(self, front: FrontEnd, token: str) -> None:
        self.front = front
        self.token = token

    async def call(self, method: str, path: str, json: Any = None, **headers: str) -> Reply:
        return await self.front.call(
            method, V3 + path, token=self.token, json=json, headers=headers
        )

    async def make(self, collection: str, key: str, **body: Any) -> dict[str, Any]:
        reply = await self.call("POST", f"/{collection}", {key: body})
        assert reply.status == 201, reply.body
        made: dict[str, Any] = reply.body[key]
        return made

    async def role(self, name: str) -> str:
        reply = await self.call("GET", f"/roles?name={name}")
        (role,) = reply.body["roles"]
        return str(role["id"])


@pytest.fixture
async def admin(front: FrontEnd) -> Admin:
    """The administrator, with a token for the admin project."""
    return Admin(front, await front.token())


async def issue(front: FrontEnd, body: dict[str, Any]) -> Reply:
    return await front.call("POST", V3 + "/auth/tokens", json=body)


async def member_of(admin: Admin, project: str = "alpha", password: str = "pw-1") -> dict[str, Any]:
    """A new project `project` and a new user holding ``member`` on it."""
    made = await admin.make("projects", "project", name=project)
    user = await admin.make("users", "user", name=f"u-{project}", password=password)
    member = await admin.role("member")
    grant = await admin.call("PUT", f"/projects/{made['id']}/users/{user['id']}/roles/{member}")
    assert grant.status == 204
    return {"project": made, "user": user}


async def test_a_password_authenticates_by_user_id_or_by_name_and_domain(
    front: FrontEnd, admin: Admin
) -> None:
    """The password method takes a user id, or a name with a domain id or name (the default
    domain when none is given); a wrong password is 401 with Keystone's error body."""
    found = await member_of(admin)
    user, project = found["user"], found["project"]
    scope = {"project": {"id": project["id"]}}
    references = [
        {"id": user["id"]},
        {"name": "u-alpha", "domain": {"id": "default"}},
        {"name": "u-alpha", "domain": {"name": "Default"}},
        {"name": "u-alpha"},
    ]
    replies = [await issue(front, password_auth(ref, "pw-1", scope)) for ref in references]
    wrong = await issue(front, password_auth({"id": user["id"]}, "nope", scope))

    assert [r.status for r in replies] == [201, 201, 201, 201]
    assert {r.body["token"]["project"]["id"] for r in replies} == {project["id"]}
    assert replies[0].body["token"]["user"]["domain"] == {"id": "default", "name": "Default"}
    assert wrong.status == 401
    assert wrong.body == {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }


async def test_an_unscoped_token_rescopes_to_a_project_keeping_its_expiry(
    front: FrontEnd, admin: Admin
) -> None:
    """No scope and no default project: an unscoped token without catalog, project or roles;
    the token method then scopes it, with both methods, the same expiry and audit chain."""
    user = (await member_of(admin))["user"]
    unscoped = await issue(front, password_auth({"id": user["id"]}, "pw-1"))
    token = unscoped.headers["X-Subject-Token"]
    rescope = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": token}},
            "scope": {"project": {"name": "alpha", "domain": {"id": "default"}}},
        }
    }
    scoped = await issue(front, rescope)
    body, first = scoped.body["token"], unscoped.body["token"]

    assert unscoped.status == 201 and not {"catalog", "project", "roles"} & set(first)
    assert scoped.status == 201 and body["methods"] == ["password", "token"]
    assert body["expires_at"] == first["expires_at"]
    assert body["audit_ids"][1] == first["audit_ids"][0]
    assert [r["name"] for r in body["roles"]] == ["member", "reader"]
    assert {entry["type"] for entry in body["catalog"]} >= {"identity", "compute", "volumev3"}


async def test_the_default_project_scopes_a_token_with_no_scope(
    front: FrontEnd, admin: Admin
) -> None:
    """A user with a default project they hold a role on gets a token scoped to it."""
    found = await member_of(admin)
    user, project = found["user"], found["project"]
    await admin.call(
        "PATCH", f"/users/{user['id']}", {"user": {"default_project_id": project["id"]}}
    )

    reply = await issue(front, password_auth({"id": user["id"]}, "pw-1"))

    assert reply.body["token"]["project"]["id"] == project["id"]


async def test_a_token_is_shown_checked_and_revoked_by_its_subject(
    front: FrontEnd, admin: Admin
) -> None:
    """GET shows the very body issued, HEAD checks, DELETE revokes; then both are 404."""
    found = await member_of(admin)
    scope = {"project": {"id": found["project"]["id"]}}
    issued = await issue(front, password_auth({"id": found["user"]["id"]}, "pw-1", scope))
    subject = issued.headers["X-Subject-Token"]

    shown = await admin.call("GET", "/auth/tokens", **{"X-Subject-Token": subject})
    checked = await admin.call("HEAD", "/auth/tokens", **{"X-Subject-Token": subject})
    revoked = await front.call(
        "DELETE", V3 + "/auth/tokens", token=subject, headers={"X-Subject-Token": subject}
    )
    after = await admin.call("GET", "/auth/tokens", **{"X-Subject-Token": subject})
    head_after = await admin.call("HEAD", "/auth/tokens", **{"X-Subject-Token": subject})

    assert shown.status == 200 and shown.body == issued.body
    assert (checked.status, revoked.status, after.status, head_after.status) == (200, 204, 404, 404)


async def test_domain_and_system_tokens_are_for_the_identity_api_only(
    front: FrontEnd, admin: Admin
) -> None:
    """A domain role gives a domain-scoped token, the bootstrap admin's system role a system
    token; both list roles but no project, and the compute API refuses them (401)."""
    found = await member_of(admin)
    user = found["user"]
    reader = await admin.role("reader")
    await admin.call("PUT", f"/domains/default/users/{user['id']}/roles/{reader}")
    domain = await issue(
        front, password_auth({"id": user["id"]}, "pw-1", {"domain": {"name": "Default"}})
    )
    system = await issue(
        front, password_auth({"name": "admin"}, PASSWORD, {"system": {"all": True}})
    )
    compute = await front.call(
        "GET", "/compute/v2.1/servers", token=domain.headers["X-Subject-Token"]
    )
    domains = await front.call("GET", V3 + "/auth/domains", token=domain.headers["X-Subject-Token"])

    assert domain.body["token"]["domain"] == {"id": "default", "name": "Default"}
    assert [r["name"] for r in domain.body["token"]["roles"]] == ["reader"]
    assert system.body["token"]["system"] == {"all": True} and "project" not in system.body["token"]
    assert compute.status == 401
    assert [d["id"] for d in domains.body["domains"]] == ["default"]


async def test_records_are_made_shown_filtered_changed_and_deleted(admin: Admin) -> None:
    """Domains, projects, users, groups and roles: create (201), show with links, list with
    filters, update (200), delete (204, then 404); a taken name is 409."""
    domain = await admin.make("domains", "domain", name="dom", description="d")
    project = await admin.make(
        "projects", "project", name="p1", domain_id=domain["id"], tags=["x"], colour="blue"
    )
    user = await admin.make(
        "users", "user", name="ann", domain_id=domain["id"], email="a@x", password="pw"
    )
    group = await admin.make("groups", "group", name="ops", domain_id=domain["id"])
    role = await admin.make("roles", "role", name="auditor")
    again = await admin.call(
        "POST", "/projects", {"project": {"name": "p1", "domain_id": domain["id"]}}
    )
    by_name = await admin.call("GET", f"/projects?name=p1&domain_id={domain['id']}")
    renamed = await admin.call("PATCH", f"/users/{user['id']}", {"user": {"name": "anne"}})
    shown = await admin.call("GET", f"/users/{user['id']}")
    deleted = [await admin.call("DELETE", path) for path in (
        f"/groups/{group['id']}", f"/roles/{role['id']}", f"/users/{user['id']}",
        f"/projects/{project['id']}",
    )]  # fmt: skip
    gone = await admin.call("GET", f"/projects/{project['id']}")

    assert project["parent_id"] == domain["id"] and project["colour"] == "blue"
    assert project["links"]["self"].endswith(f"/v3/projects/{project['id']}")
    assert again.status == 409
    assert [p["id"] for p in by_name.body["projects"]] == [project["id"]]
    assert renamed.body["user"]["name"] == "anne" and shown.body["user"]["email"] == "a@x"
    assert "password" not in shown.body["user"] and "password_hash" not in shown.body["user"]
    assert [r.status for r in deleted] == [204, 204, 204, 204]
    assert gone.status == 404 and gone.body["error"]["title"] == "Not Found"


async def test_a_domain_goes_only_disabled_and_takes_its_contents(admin: Admin) -> None:
    """Deleting an enabled domain is 403; once disabled it goes with its users and groups."""
    domain = await admin.make("domains", "domain", name="temp")
    user = await admin.make("users", "user", name="tim", domain_id=domain["id"])
    group = await admin.make("groups", "group", name="g", domain_id=domain["id"])
    parent = await admin.make("projects", "project", name="top", domain_id=domain["id"])
    await admin.make(
        "projects", "project", name="leaf", domain_id=domain["id"], parent_id=parent["id"]
    )

    refused = await admin.call("DELETE", f"/domains/{domain['id']}")
    not_leaf = await admin.call("DELETE", f"/projects/{parent['id']}")
    await admin.call("PATCH", f"/domains/{domain['id']}", {"domain": {"enabled": False}})
    deleted = await admin.call("DELETE", f"/domains/{domain['id']}")
    after = [await admin.call("GET", f"/{kind}/{item['id']}") for kind, item in (
        ("users", user), ("groups", group), ("projects", parent),
    )]  # fmt: skip

    assert (refused.status, not_leaf.status, deleted.status) == (403, 403, 204)
    assert [r.status for r in after] == [404, 404, 404]


async def test_group_grants_and_implied_roles_make_effective_assignments(
    front: FrontEnd, admin: Admin
) -> None:
    """A role given to a group is held by its members, with what it implies: in their token
    and in ``role_assignments?effective``; without ``effective`` the grant is listed as made."""
    project = await admin.make("projects", "project", name="shared")
    user = await admin.make("users", "user", name="gus", password="pw-g")
    group = await admin.make("groups", "group", name="team")
    prior = await admin.make("roles", "role", name="lead")
    member = await admin.role("member")
    await admin.call("PUT", f"/roles/{prior['id']}/implies/{member}")
    await admin.call("PUT", f"/groups/{group['id']}/users/{user['id']}")
    await admin.call("PUT", f"/projects/{project['id']}/groups/{group['id']}/roles/{prior['id']}")

    token = await issue(
        front, password_auth({"id": user["id"]}, "pw-g", {"project": {"id": project["id"]}})
    )
    direct = await admin.call("GET", f"/role_assignments?scope.project.id={project['id']}")
    effective = await admin.call(
        "GET", f"/role_assignments?scope.project.id={project['id']}&effective&include_names"
    )

    assert [r["name"] for r in token.body["token"]["roles"]] == ["lead", "member", "reader"]
    assert [(a["group"]["id"], a["role"]["id"]) for a in direct.body["role_assignments"]] == [
        (group["id"], prior["id"])
    ]
    assert sorted(a["role"]["name"] for a in effective.body["role_assignments"]) == [
        "lead", "member", "reader",
    ]  # fmt: skip
    assert all(a["user"]["name"] == "gus" for a in effective.body["role_assignments"])
    assert "membership" in effective.body["role_assignments"][0]["links"]


async def test_disabling_deleting_or_taking_the_role_stops_a_token(
    front: FrontEnd, admin: Admin
) -> None:
    """A token is read again at each use: disabling its project or domain, deleting its
    user, or revoking its last role makes it fail at once (401 on other APIs)."""
    tokens: dict[str, str] = {}
    made: dict[str, dict[str, Any]] = {}
    for case in ("project", "user", "role"):
        found = await member_of(admin, f"p-{case}", f"pw-{case}")
        made[case] = found
        scope = {"project": {"id": found["project"]["id"]}}
        reply = await issue(front, password_auth({"id": found["user"]["id"]}, f"pw-{case}", scope))
        tokens[case] = reply.headers["X-Subject-Token"]
    before = [
        (await front.call("GET", "/compute/v2.1/servers", token=t)).status for t in tokens.values()
    ]
    member = await admin.role("member")
    project, user = made["project"]["project"], made["user"]["user"]
    role_case = made["role"]
    await admin.call("PATCH", f"/projects/{project['id']}", {"project": {"enabled": False}})
    await admin.call("DELETE", f"/users/{user['id']}")
    await admin.call(
        "DELETE",
        f"/projects/{role_case['project']['id']}/users/{role_case['user']['id']}/roles/{member}",
    )
    after = [
        (await front.call("GET", "/compute/v2.1/servers", token=t)).status for t in tokens.values()
    ]

    assert before == [200, 200, 200] and after == [401, 401, 401]


async def test_a_user_changes_their_password_and_their_tokens_stop(
    front: FrontEnd, admin: Admin
) -> None:
    """POST /users/{id}/password needs the original password (401 without), and revokes the
    user's tokens; the new password then authenticates."""
    found = await member_of(admin)
    user_id = found["user"]["id"]
    scope = {"project": {"id": found["project"]["id"]}}
    old = (await issue(front, password_auth({"id": user_id}, "pw-1", scope))).headers[
        "X-Subject-Token"
    ]
    path = f"{V3}/users/{user_id}/password"

    wrong = await front.call(
        "POST", path, json={"user": {"original_password": "x", "password": "pw-2"}}
    )
    changed = await front.call(
        "POST", path, json={"user": {"original_password": "pw-1", "password": "pw-2"}}
    )
    stale = await front.call("GET", "/compute/v2.1/servers", token=old)
    with_old = await issue(front, password_auth({"id": user_id}, "pw-1", scope))
    with_new = await issue(front, password_auth({"id": user_id}, "pw-2", scope))

    assert (wrong.status, changed.status, stale.status) == (401, 204, 401)
    assert (with_old.status, with_new.status) == (401, 201)


async def test_an_application_credential_authenticates_until_deleted(
    front: FrontEnd, admin: Admin
) -> None:
    """A user makes one with their project token; its secret (shown once) gives a token for
    that project with the chosen roles; deleting it revokes that token."""
    found = await member_of(admin)
    user_id, project_id = found["user"]["id"], found["project"]["id"]
    scope = {"project": {"id": project_id}}
    token = (await issue(front, password_auth({"id": user_id}, "pw-1", scope))).headers[
        "X-Subject-Token"
    ]
    path = f"{V3}/users/{user_id}/application_credentials"
    body = {"application_credential": {"name": "ci", "roles": [{"name": "reader"}]}}
    created = (await front.call("POST", path, token=token, json=body)).body[
        "application_credential"
    ]
    shown = await front.call("GET", f"{path}/{created['id']}", token=token)
    secret = {"id": created["id"], "secret": created["secret"]}
    method = {"methods": ["application_credential"], "application_credential": secret}
    by_app = await issue(front, {"auth": {"identity": method}})
    app_token = by_app.headers["X-Subject-Token"]
    deleted = await front.call("DELETE", f"{path}/{created['id']}", token=token)
    after = await front.call("GET", "/compute/v2.1/servers", token=app_token)

    assert "secret" not in shown.body["application_credential"]
    assert by_app.status == 201 and by_app.body["token"]["project"]["id"] == project_id
    assert [r["name"] for r in by_app.body["token"]["roles"]] == ["reader"]
    assert by_app.body["token"]["application_credential"]["id"] == created["id"]
    assert (deleted.status, after.status) == (204, 401)


async def test_the_catalog_lists_enabled_services_and_endpoints(
    front: FrontEnd, admin: Admin
) -> None:
    """The seeded endpoints carry this front end's URL; an added service shows in new tokens'
    catalogs with its enabled endpoints only, and leaves with its deletion."""
    service = await admin.make("services", "service", type="dns", name="designate")
    for interface, enabled in (("public", True), ("internal", False)):
        url = f"http://dns.example/{interface}"
        await admin.make(
            "endpoints",
            "endpoint",
            service_id=service["id"],
            interface=interface,
            url=url,
            enabled=enabled,
            region="RegionTwo",
        )
    regions = await admin.call("GET", "/regions")
    catalog = await admin.call("GET", "/auth/catalog")
    endpoints = await admin.call("GET", "/endpoints?interface=public")
    await admin.call("DELETE", f"/services/{service['id']}")
    after = await admin.call("GET", "/auth/catalog")

    dns = [e for e in catalog.body["catalog"] if e["type"] == "dns"]
    assert {r["id"] for r in regions.body["regions"]} >= {"RegionOne", "RegionTwo"}
    assert [e["url"] for e in dns[0]["endpoints"]] == ["http://dns.example/public"]
    compute = next(e for e in catalog.body["catalog"] if e["type"] == "compute")
    assert {e["url"] for e in compute["endpoints"]} == {front.url + "/compute/v2.1"}
    assert any(e["url"] == front.url + "/v3" for e in endpoints.body["endpoints"])
    assert all(e["type"] != "dns" for e in after.body["catalog"])


async def test_project_tags_are_replaced_added_checked_and_removed(admin: Admin) -> None:
    """Tags: replace (200), add one (201), check (204, 404 after removal), clear (204)."""
    project = await admin.make("projects", "project", name="tagged", tags=["a"])
    base = f"/projects/{project['id']}/tags"
    replaced = await admin.call("PUT", base, {"tags": ["b", "c"]})
    added = await admin.call("PUT", f"{base}/d")
    checked = await admin.call("GET", f"{base}/d")
    removed = await admin.call("DELETE", f"{base}/d")
    missing = await admin.call("GET", f"{base}/d")
    bad = await admin.call("PUT", f"{base}/a,b")
    cleared = await admin.call("DELETE", base)
    listed = await admin.call("GET", base)

    assert replaced.body == {"tags": ["b", "c"]}
    assert (added.status, checked.status, removed.status, missing.status) == (201, 204, 204, 404)
    assert bad.status == 400 and cleared.status == 204 and listed.body == {"tags": []}


async def test_a_domain_configuration_is_recorded_by_group_and_option(admin: Admin) -> None:
    """PUT makes it (201), PATCH merges a group or sets an option, GET reads each level, an
    option outside Keystone's list is 400, and the LDAP password is never shown."""
    domain = await admin.make("domains", "domain", name="ldap-dom")
    base = f"/domains/{domain['id']}/config"
    config = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://a", "password": "secret"}}
    made = await admin.call("PUT", base, {"config": config})
    option = await admin.call("PATCH", f"{base}/ldap/url", {"config": {"url": "ldap://b"}})
    shown = await admin.call("GET", f"{base}/ldap")
    unknown = await admin.call("PATCH", base, {"config": {"ldap": {"nonsense": 1}}})
    default = await admin.call("GET", "/domains/config/identity/default")

    assert made.status == 201 and made.body["config"]["ldap"] == {"url": "ldap://a"}
    assert option.body["config"]["ldap"]["url"] == "ldap://b"
    assert shown.body == {"config": {"ldap": {"url": "ldap://b"}}}
    assert unknown.status == 400
    assert default.body == {"config": {"identity": {"driver": "sql", "list_limit": None}}}


async def test_a_user_makes_lists_shows_and_deletes_ec2_credentials(
    front: FrontEnd, admin: Admin
) -> None:
    """OS-EC2: a member makes an access key and secret for their project; they are listed
    and shown by access key, appear among /v3/credentials, and go with a delete."""
    found = await member_of(admin)
    user_id, project_id = found["user"]["id"], found["project"]["id"]
    scope = {"project": {"id": project_id}}
    reply = await issue(front, password_auth({"id": user_id}, "pw-1", scope))
    token = reply.headers["X-Subject-Token"]
    path = f"{V3}/users/{user_id}/credentials/OS-EC2"

    made = await front.call("POST", path, token=token, json={"tenant_id": project_id})
    access = made.body["credential"]["access"]
    listed = await front.call("GET", path, token=token)
    shown = await front.call("GET", f"{path}/{access}", token=token)
    general = await admin.call("GET", f"/credentials?user_id={user_id}")
    deleted = await front.call("DELETE", f"{path}/{access}", token=token)
    after = await front.call("GET", f"{path}/{access}", token=token)

    assert made.status == 201 and made.body["credential"]["tenant_id"] == project_id
    assert [c["access"] for c in listed.body["credentials"]] == [access]
    assert shown.body["credential"]["secret"] == made.body["credential"]["secret"]
    assert [c["type"] for c in general.body["credentials"]] == ["ec2"]
    assert (deleted.status, after.status) == (204, 404)


async def test_an_inherited_grant_is_held_below_its_target_only(
    front: FrontEnd, admin: Admin
) -> None:
    """OS-INHERIT: a role a domain passes down is held on its projects (their tokens,
    effective assignments), a project's on its children only; taking it away ends both."""
    domain = await admin.make("domains", "domain", name="tree")
    top = await admin.make("projects", "project", name="top", domain_id=domain["id"])
    leaf = await admin.make(
        "projects", "project", name="leaf", domain_id=domain["id"], parent_id=top["id"]
    )
    user = await admin.make("users", "user", name="ivy", domain_id=domain["id"], password="pw-i")
    role = await admin.make("roles", "role", name="auditor")
    on_domain = f"/OS-INHERIT/domains/{domain['id']}/users/{user['id']}/roles"
    on_top = f"/OS-INHERIT/projects/{top['id']}/users/{user['id']}/roles/{role['id']}"
    inherited = "/inherited_to_projects"

    def effective(project: dict[str, Any]) -> str:
        return f"/role_assignments?effective&user.id={user['id']}&scope.project.id={project['id']}"

    async def token_roles(project: dict[str, Any]) -> list[str] | int:
        reply = await issue(
            front, password_auth({"id": user["id"]}, "pw-i", {"project": {"id": project["id"]}})
        )
        return [r["name"] for r in reply.body["token"]["roles"]] if reply.status == 201 else 401

    await admin.call("PUT", f"{on_domain}/{role['id']}{inherited}")
    listed = await admin.call("GET", on_domain + inherited)
    from_domain = [await token_roles(p) for p in (top, leaf)]
    scoped = await admin.call("GET", effective(leaf))
    on_domain_itself = await issue(
        front, password_auth({"id": user["id"]}, "pw-i", {"domain": {"id": domain["id"]}})
    )
    await admin.call("DELETE", f"{on_domain}/{role['id']}{inherited}")
    await admin.call("PUT", on_top + inherited)
    checked = await admin.call("HEAD", on_top + inherited)
    from_top = [await token_roles(p) for p in (top, leaf)]
    await admin.call("DELETE", on_top + inherited)
    after = await admin.call("GET", effective(leaf))

    assert [r["id"] for r in listed.body["roles"]] == [role["id"]]
    assert from_domain == [["auditor"], ["auditor"]] and on_domain_itself.status == 401
    assert [a["role"]["id"] for a in scoped.body["role_assignments"]] == [role["id"]]
    assert checked.status == 204 and from_top == [401, ["auditor"]]
    assert after.body["role_assignments"] == []
