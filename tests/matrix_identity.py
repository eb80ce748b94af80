"""How the policy matrix calls each identity route (tests/test_policy_matrix.py).

Each builder returns the keyword arguments of the matrix's ``Call`` for one caller:
the path, the body, and what the route's rule reads of its target (``target``) and
of the caller's token (``creds``: the facts the identity service reads from a token,
`nova_lite.identity.access`). Routes that change or delete something act on a fresh
record per caller, made as the administrator over RPC, so one caller's change never
decides another's answer. The world is the matrix's: ``mia`` a member and ``rex`` a
reader of ``demo``, ``sam`` a member of ``beta``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nova_lite.context import RequestContext
from nova_lite.identity.rpcapi import IdentityAPI

__all__ = ["IDENTITY_BUILDERS"]

Request = dict[str, Any]
IdentityBuilder = Callable[[Any, str], Awaitable[Request]]
DOMAIN = "default"
TOKEN_DOMAIN = {"token.project.domain.id": DOMAIN}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _api(world: Any) -> IdentityAPI:
    api: IdentityAPI = world.cloud.api.identity
    return api


def _admin(world: Any) -> RequestContext:
    ctx: RequestContext = world.contexts["admin"]
    return ctx


def _user_id(world: Any, role: str) -> str | None:
    ctx = world.contexts.get(role)
    return ctx.user_id if ctx is not None else None


def _mia(world: Any) -> str:
    user_id = _user_id(world, "owner_member")
    assert user_id is not None
    return user_id


def _user_facts(user_id: str | None) -> dict[str, Any]:
    return {"target.user.id": user_id, "target.user.domain_id": DOMAIN, "user_id": user_id}


async def _fresh(world: Any, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = await _api(world).entity_create(_admin(world), kind, body)
    return created


async def _fresh_id(world: Any, kind: str, **body: Any) -> str:
    field = "type" if kind == "service" else "name"
    return str((await _fresh(world, kind, {field: _name(kind), **body}))["id"])


def fixed(path: str, **extra: Any) -> IdentityBuilder:
    """The same request for every caller."""

    async def build(world: Any, role: str) -> Request:
        return {"path": path, **extra}

    return build


def create(path: str, key: str, **fields: Any) -> IdentityBuilder:
    """A create with a new name for each caller."""

    async def build(world: Any, role: str) -> Request:
        name_field = "type" if key == "service" else "name"
        return {"path": path, "json": {key: {name_field: _name(key), **fields}}}

    return build


def on_fresh(
    kind: str, path: str, *, body: Any = None, target: str | None = None, **fields: Any
) -> IdentityBuilder:
    """A request on a record of `kind` made for this caller (`{}` in `path` is its id)."""

    async def build(world: Any, role: str) -> Request:
        ident = await _fresh_id(world, kind, **fields)
        facts = {target: ident} if target else {}
        return {"path": path.format(ident), "json": body, "target": facts}

    return build


async def _show_domain(world: Any, role: str) -> Request:
    return {
        "path": f"/v3/domains/{DOMAIN}",
        "target": {"target.domain.id": DOMAIN},
        "creds": TOKEN_DOMAIN,
    }


async def _disabled_domain(world: Any, role: str) -> Request:
    ident = await _fresh_id(world, "domain", enabled=False)
    return {"path": f"/v3/domains/{ident}", "target": {"target.domain.id": ident}}


def _project_facts(world: Any) -> dict[str, Any]:
    return {"target.project.id": world.owner, "target.project.domain_id": DOMAIN}


async def _show_project(world: Any, role: str) -> Request:
    return {"path": f"/v3/projects/{world.owner}", "target": _project_facts(world)}


async def _project_tags(world: Any, role: str) -> Request:
    return {"path": f"/v3/projects/{world.owner}/tags", "target": _project_facts(world)}


def _on_tagged_project(rest: str, body: Any = None) -> IdentityBuilder:
    async def build(world: Any, role: str) -> Request:
        ident = await _fresh_id(world, "project", tags=["t1"])
        facts = {"target.project.id": ident, "target.project.domain_id": DOMAIN}
        return {"path": f"/v3/projects/{ident}{rest}", "json": body, "target": facts}

    return build


def _domain_config(rest: str, body: Any = None, *, configured: bool = True) -> IdentityBuilder:
    async def build(world: Any, role: str) -> Request:
        ident = await _fresh_id(world, "domain")
        if configured:
            config = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://x"}}
            await _api(world).domain_config(_admin(world), "create", ident, config=config)
        return {"path": f"/v3/domains/{ident}/config{rest}", "json": body}

    return build


def _on_mia(rest: str, **facts: Any) -> IdentityBuilder:
    async def build(world: Any, role: str) -> Request:
        mia = _mia(world)
        return {"path": f"/v3/users/{mia}{rest}", "target": {**_user_facts(mia), **facts}}

    return build


async def _show_user(world: Any, role: str) -> Request:
    mia = _mia(world)
    return {"path": f"/v3/users/{mia}", "target": _user_facts(mia)}


async def _change_password(world: Any, role: str) -> Request:
    ident = await _fresh_id(world, "user", password="0ld-passw0rd")
    body = {"user": {"original_password": "0ld-passw0rd", "password": "n3w-passw0rd"}}
    return {"path": f"/v3/users/{ident}/password", "json": body}


def _membership(rest: str = "", *, member: bool = False) -> IdentityBuilder:
    async def build(world: Any, role: str) -> Request:
        group = await _fresh_id(world, "group")
        mia = _mia(world)
        if member:
            await _api(world).group_member(_admin(world), group, mia, "add")
        facts = {**_user_facts(mia), "target.group.id": group, "target.group.domain_id": DOMAIN}
        return {"path": f"/v3/groups/{group}/users{rest.format(mia)}", "target": facts}

    return build


async def _list_app_creds(world: Any, role: str) -> Request:
    mia = _mia(world)
    return {"path": f"/v3/users/{mia}/application_credentials", "target": _user_facts(mia)}


async def _create_app_cred(world: Any, role: str) -> Request:
    user_id = _user_id(world, role) or _mia(world)
    body = {"application_credential": {"name": _name("ac")}}
    path = f"/v3/users/{user_id}/application_credentials"
    return {"path": path, "json": body, "target": _user_facts(user_id)}


async def _mia_app_cred(world: Any, role: str) -> Request:
    mia = _mia(world)
    created = await _api(world).entity_create(
        world.contexts["owner_member"],
        "application_credential",
        {"user_id": mia, "name": _name("ac")},
    )
    path = f"/v3/users/{mia}/application_credentials/{created['id']}"
    return {"path": path, "target": _user_facts(mia)}


async def _role_id(world: Any, name: str) -> str:
    (role,) = await _api(world).entity_list(_admin(world), "role", {"name": name})
    return str(role["id"])


async def _show_role(world: Any, role: str) -> Request:
    return {"path": f"/v3/roles/{await _role_id(world, 'reader')}"}


def _implied(rest: str = "", *, exists: bool = True) -> IdentityBuilder:
    async def build(world: Any, role: str) -> Request:
        prior, implied = await _fresh_id(world, "role"), await _fresh_id(world, "role")
        if exists:
            await _api(world).implied_role(_admin(world), prior, implied, "create")
        return {"path": f"/v3/roles/{prior}/implies/{implied}{rest}"}

    return build


async def _list_implied(world: Any, role: str) -> Request:
    return {"path": f"/v3/roles/{await _role_id(world, 'admin')}/implies"}


_TARGETS = {"project": "/v3/projects/{t}", "domain": "/v3/domains/{t}", "system": "/v3/system"}


def grant(
    target_type: str, actor_type: str, op: str, *, inherited: bool = False
) -> IdentityBuilder:
    """One grant route: ``list`` on mia, else ``create``/``check``/``revoke`` on fresh ones
    (`inherited`: OS-INHERIT's, which the projects below the target inherit)."""
    prefix, suffix = ("/v3/OS-INHERIT", "/inherited_to_projects") if inherited else ("/v3", "")

    async def build(world: Any, role: str) -> Request:
        target_id = {"project": world.owner, "domain": DOMAIN, "system": "system"}[target_type]
        where = prefix + _TARGETS[target_type].format(t=target_id)[3:]
        actor = _mia(world) if op == "list" and actor_type == "user" else None
        if actor is None:
            actor = await _fresh_id(world, actor_type)
        facts: dict[str, Any] = {
            f"target.{actor_type}.id": actor,
            f"target.{actor_type}.domain_id": DOMAIN,
        }
        if target_type == "project":
            facts |= _project_facts(world)
        elif target_type == "domain":
            facts["target.domain.id"] = DOMAIN
        path = f"{where}/{actor_type}s/{actor}/roles"
        if op == "list":
            return {"path": path + suffix, "target": facts}
        role_id = await _fresh_id(world, "role")
        if op != "create":
            await _api(world).grant(
                _admin(world),
                "create",
                actor_type,
                actor,
                target_type,
                target_id,
                role_id,
                inherited=inherited,
            )
        return {"path": f"{path}/{role_id}{suffix}", "target": facts}

    return build


def _grant_builders() -> dict[str, IdentityBuilder]:
    builders = {}
    for target_type in ("project", "domain", "system"):
        for actor_type in ("user", "group"):
            for op in ("list", "create", "check", "revoke"):
                name = f"identity_{op}_{target_type}_{actor_type}_grant"
                builders[name] = grant(target_type, actor_type, op)
                if target_type == "system" or (target_type == "project" and op == "list"):
                    continue
                inherited = f"identity_{op}_inherited_{target_type}_{actor_type}_grant"
                builders[inherited] = grant(target_type, actor_type, op, inherited=True)
    return builders


async def _service_id(world: Any) -> str:
    return await _fresh_id(world, "service")


async def _create_endpoint(world: Any, role: str) -> Request:
    body = {"service_id": await _service_id(world), "interface": "public", "url": "http://x:1/"}
    return {"path": "/v3/endpoints", "json": {"endpoint": body}}


def _on_endpoint(body: Any = None) -> IdentityBuilder:
    async def build(world: Any, role: str) -> Request:
        endpoint = await _fresh(
            world,
            "endpoint",
            {"service_id": await _service_id(world), "interface": "public", "url": "http://x:1/"},
        )
        return {"path": f"/v3/endpoints/{endpoint['id']}", "json": body}

    return build


def _credential_body(user_id: str | None) -> dict[str, Any]:
    blob = f'{{"access": "{_name("a")}", "secret": "s"}}'
    return {"user_id": user_id, "type": "ec2", "blob": blob}


async def _create_credential(world: Any, role: str) -> Request:
    user_id = _user_id(world, role) or _mia(world)
    body = {**_credential_body(user_id), "project_id": world.owner}
    facts = {"target.credential.user_id": user_id}
    return {"path": "/v3/credentials", "json": {"credential": body}, "target": facts}


async def _list_credentials(world: Any, role: str) -> Request:
    return {
        "path": "/v3/credentials",
        "target": {"target.credential.user_id": _user_id(world, role)},
    }


def _on_credential(body: Any = None) -> IdentityBuilder:
    async def build(world: Any, role: str) -> Request:
        mia = _mia(world)
        created = await _fresh(
            world, "credential", {**_credential_body(mia), "project_id": world.owner}
        )
        facts = {"target.credential.user_id": mia}
        return {"path": f"/v3/credentials/{created['id']}", "json": body, "target": facts}

    return build


def _ec2(rest: str = "", *, exists: bool = True) -> IdentityBuilder:
    """An ec2 credential route of mia's; with `exists`, on a credential made for her."""

    async def build(world: Any, role: str) -> Request:
        mia = _mia(world)
        path = f"/v3/users/{mia}/credentials/OS-EC2"
        facts = {"target.credential.user_id": mia, "user_id": mia}
        if not exists:
            return {"path": path, "json": {"tenant_id": world.owner}, "target": facts}
        made = await _api(world).ec2_credential(_admin(world), "create", mia, tenant_id=world.owner)
        assert made is not None
        return {"path": path + rest.format(made["access"]), "target": facts}

    return build


async def _create_region_with_id(world: Any, role: str) -> Request:
    return {"path": f"/v3/regions/{_name('region')}", "json": {"region": {}}}


def _crud(
    kind: str, path: str, key: str, update: dict[str, Any], **fields: Any
) -> dict[str, IdentityBuilder]:
    plural = {"policy": "policies", "endpoint_group": "endpoint_groups"}.get(kind, f"{kind}s")
    item = path + "/{}"
    return {
        f"identity_list_{plural}": fixed(path),
        f"identity_create_{kind}": create(path, key, **fields),
        f"identity_show_{kind}": on_fresh(kind, item, **fields),
        f"identity_update_{kind}": on_fresh(kind, item, body={key: update}, **fields),
        f"identity_delete_{kind}": on_fresh(kind, item, **fields),
    }


IDENTITY_BUILDERS: dict[str, IdentityBuilder] = {
    "identity_token_domains": fixed("/v3/auth/domains"),
    "identity_token_system": fixed("/v3/auth/system"),
    "identity_token_catalog": fixed("/v3/auth/catalog"),
    # domains, projects, tags, configuration
    "identity_list_domains": fixed("/v3/domains"),
    "identity_create_domain": create("/v3/domains", "domain"),
    "identity_show_domain": _show_domain,
    "identity_update_domain": on_fresh(
        "domain", "/v3/domains/{}", body={"domain": {"description": "d"}}, target="target.domain.id"
    ),
    "identity_delete_domain": _disabled_domain,
    "identity_create_project": create("/v3/projects", "project"),
    "identity_show_project": _show_project,
    "identity_update_project": on_fresh(
        "project", "/v3/projects/{}", body={"project": {"description": "d"}}
    ),
    "identity_delete_project": on_fresh("project", "/v3/projects/{}"),
    "identity_list_project_tags": _project_tags,
    "identity_replace_project_tags": _on_tagged_project("/tags", {"tags": ["a", "b"]}),
    "identity_clear_project_tags": _on_tagged_project("/tags"),
    "identity_add_project_tag": _on_tagged_project("/tags/t2"),
    "identity_check_project_tag": _on_tagged_project("/tags/t1"),
    "identity_remove_project_tag": _on_tagged_project("/tags/t1"),
    "identity_create_domain_config": _domain_config(
        "", {"config": {"identity": {"driver": "sql"}}}, configured=False
    ),
    "identity_show_domain_config": _domain_config(""),
    "identity_update_domain_config": _domain_config("", {"config": {"ldap": {"url": "ldap://y"}}}),
    "identity_delete_domain_config": _domain_config(""),
    "identity_show_domain_config_group": _domain_config("/ldap"),
    "identity_update_domain_config_group": _domain_config(
        "/ldap", {"config": {"ldap": {"url": "ldap://z"}}}
    ),
    "identity_delete_domain_config_group": _domain_config("/ldap"),
    "identity_show_domain_config_option": _domain_config("/ldap/url"),
    "identity_update_domain_config_option": _domain_config(
        "/ldap/url", {"config": {"url": "ldap://w"}}
    ),
    "identity_delete_domain_config_option": _domain_config("/ldap/url"),
    "identity_show_default_config": fixed("/v3/domains/config/default"),
    "identity_show_default_config_group": fixed("/v3/domains/config/ldap/default"),
    "identity_show_default_config_option": fixed("/v3/domains/config/ldap/url/default"),
    # users, groups, application credentials
    "identity_create_user": create("/v3/users", "user"),
    "identity_show_user": _show_user,
    "identity_update_user": on_fresh("user", "/v3/users/{}", body={"user": {"email": "e@x"}}),
    "identity_delete_user": on_fresh("user", "/v3/users/{}"),
    "identity_change_password": _change_password,
    "identity_list_user_projects": _on_mia("/projects"),
    "identity_list_user_groups": _on_mia("/groups"),
    "identity_list_groups": fixed("/v3/groups"),
    "identity_create_group": create("/v3/groups", "group"),
    "identity_show_group": on_fresh("group", "/v3/groups/{}"),
    "identity_update_group": on_fresh(
        "group", "/v3/groups/{}", body={"group": {"description": "d"}}
    ),
    "identity_delete_group": on_fresh("group", "/v3/groups/{}"),
    "identity_list_group_users": _membership(),
    "identity_add_group_user": _membership("/{}"),
    "identity_check_group_user": _membership("/{}", member=True),
    "identity_remove_group_user": _membership("/{}", member=True),
    "identity_list_app_creds": _list_app_creds,
    "identity_create_app_cred": _create_app_cred,
    "identity_show_app_cred": _mia_app_cred,
    "identity_delete_app_cred": _mia_app_cred,
    # roles, implied roles, grants
    "identity_list_roles": fixed("/v3/roles"),
    "identity_create_role": create("/v3/roles", "role"),
    "identity_show_role": _show_role,
    "identity_update_role": on_fresh("role", "/v3/roles/{}", body={"role": {"description": "d"}}),
    "identity_delete_role": on_fresh("role", "/v3/roles/{}"),
    "identity_create_implied_role": _implied(exists=False),
    "identity_show_implied_role": _implied(),
    "identity_check_implied_role": _implied(),
    "identity_delete_implied_role": _implied(),
    "identity_list_implied_roles": _list_implied,
    "identity_list_role_inferences": fixed("/v3/role_inferences"),
    "identity_list_role_assignments": fixed("/v3/role_assignments"),
    **_grant_builders(),
    # the catalog and other records
    **_crud("service", "/v3/services", "service", {"description": "d"}),
    "identity_list_endpoints": fixed("/v3/endpoints"),
    "identity_create_endpoint": _create_endpoint,
    "identity_show_endpoint": _on_endpoint(),
    "identity_update_endpoint": _on_endpoint({"endpoint": {"enabled": False}}),
    "identity_delete_endpoint": _on_endpoint(),
    "identity_list_regions": fixed("/v3/regions"),
    "identity_create_region": fixed("/v3/regions", json={"region": {"description": "r"}}),
    "identity_create_region_with_id": _create_region_with_id,
    "identity_show_region": fixed("/v3/regions/RegionOne"),
    "identity_update_region": on_fresh(
        "region", "/v3/regions/{}", body={"region": {"description": "d"}}, description=""
    ),
    "identity_delete_region": on_fresh("region", "/v3/regions/{}", description=""),
    **_crud(
        "endpoint_group",
        "/v3/OS-EP-FILTER/endpoint_groups",
        "endpoint_group",
        {"description": "d"},
        filters={"interface": "public"},
    ),
    **_crud("policy", "/v3/policies", "policy", {"type": "t2"}, blob="{}", type="t1"),
    **_crud("consumer", "/v3/OS-OAUTH1/consumers", "consumer", {"description": "d"}),
    "identity_list_ec2_credentials": _ec2(),
    "identity_create_ec2_credential": _ec2(exists=False),
    "identity_show_ec2_credential": _ec2("/{}"),
    "identity_delete_ec2_credential": _ec2("/{}"),
    "identity_list_credentials": _list_credentials,
    "identity_create_credential": _create_credential,
    "identity_show_credential": _on_credential(),
    "identity_update_credential": _on_credential({"credential": {"type": "other"}}),
    "identity_delete_credential": _on_credential(),
}
