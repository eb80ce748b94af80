"""Compute API: ``os-server-groups`` (create, list, show, delete).

A server group is created with one policy, ``affinity`` or ``anti-affinity`` (and
from 2.15 their ``soft-`` forms), given as a one-item ``policies`` list before 2.64
and as ``policy`` with ``rules`` (``max_server_per_host``, anti-affinity only) from
2.64; its members are the servers created with the scheduler hint ``group`` (see
`nova_lite.api.placement`). Groups count against the ``server_groups`` quota, and
their members against ``server_group_members``. Another project's group is
forbidden (403), as in Nova; administrators list every project's with
``all_projects``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from nova_lite import objects, validators
from nova_lite.api.http.common import (
    API,
    body_of,
    check_fields,
    context_of,
    json,
    microversion_of,
    query_int,
)
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.http.microversion import APIVersion
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid

__all__ = ["group_view", "routes"]

routes = web.RouteTableDef()
GROUPS = PREFIX + "/os-server-groups"
HARD, SOFT = ("affinity", "anti-affinity"), ("soft-affinity", "soft-anti-affinity")


def _rule(name: str) -> str:
    return f"os_compute_api:os-server-groups:{name}"


def group_view(group: objects.ServerGroup, version: APIVersion) -> dict[str, Any]:
    """A group as its microversion shows it."""
    view: dict[str, Any] = {"id": group.uuid, "name": group.name}
    if version.at_least("2.64"):
        view.update({"policy": group.policy, "rules": dict(group.rules)})
    else:
        view.update({"policies": [group.policy], "metadata": {}})
    view["members"] = list(group.members)
    if version.at_least("2.13"):
        view.update({"project_id": group.project_id, "user_id": group.user_id})
    return view


def _policy(body: Mapping[str, Any], version: APIVersion) -> tuple[str, dict[str, int]]:
    """The group's policy and rules from a create body of `version`."""
    allowed = HARD + SOFT if version.at_least("2.15") else HARD
    if version.at_least("2.64"):
        check_fields(body, allowed=("rules",), required=("name", "policy"), where="server_group")
        policy, rules = body["policy"], body.get("rules", {})
    else:
        check_fields(body, allowed=(), required=("name", "policies"), where="server_group")
        policies, rules = body["policies"], {}
        if not isinstance(policies, list) or len(policies) != 1:
            raise Invalid(
                f"Invalid input for field/attribute policies. Value: {policies!r:.80}. "
                "Give exactly one policy."
            )
        policy = policies[0]
    if policy not in allowed:
        raise Invalid(f"Invalid input for field/attribute policy. Value: {policy!r:.80}.")
    return policy, _rules(policy, rules)


def _rules(policy: str, rules: object) -> dict[str, int]:
    if not isinstance(rules, dict) or set(rules) - {"max_server_per_host"}:
        raise Invalid(f"Invalid input for field/attribute rules. Value: {rules!r:.80}.")
    if rules and policy != "anti-affinity":
        raise Invalid("Only the anti-affinity policy takes rules (max_server_per_host).")
    most = rules.get("max_server_per_host")
    if most is None:
        return {}
    if isinstance(most, str) and most.isdigit():
        most = int(most)
    if isinstance(most, bool) or not isinstance(most, int) or most < 1:
        raise Invalid(f"Invalid input for field/attribute max_server_per_host. Value: {most!r}.")
    return {"max_server_per_host": most}


def _authorize(request: web.Request, rule: str, project_id: str | None) -> RequestContext:
    ctx = context_of(request)
    request.app[API].authorize(ctx, rule, project_id or ctx.project_id)
    return ctx


@routes.post(GROUPS)
async def create_server_group(request: web.Request) -> web.Response:
    """Create a group of the caller's project (within its quota); 200 with the group."""
    ctx = _authorize(request, _rule("create"), None)
    body = await body_of(request, "server_group")
    version = microversion_of(request)
    policy, rules = _policy(body, version)
    name = body["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise Invalid(f"Invalid input for field/attribute name. Value: {name!r:.80}.")
    group = objects.ServerGroup(
        uuid=str(uuid.uuid4()),
        name=name,
        project_id=ctx.project_id or "",
        user_id=ctx.user_id or "",
        policy=policy,
        rules=rules,
    )
    created = await request.app[API].conductor.server_group_create(ctx, group)
    return json({"server_group": group_view(created, version)})


@routes.get(GROUPS)
async def list_server_groups(request: web.Request) -> web.Response:
    """The project's groups (every project's for admins with ``all_projects``); paging."""
    ctx = _authorize(request, _rule("index"), None)
    every = validators.loose_boolean("all_projects", request.query.get("all_projects", False))
    if every:
        request.app[API].authorize(ctx, _rule("index:all_projects"), ctx.project_id)
    groups = await request.app[API].conductor.server_group_list(
        ctx,
        project_id=None if every else ctx.project_id,
        limit=query_int(request, "limit"),
        offset=query_int(request, "offset") or 0,
    )
    version = microversion_of(request)
    return json({"server_groups": [group_view(g, version) for g in groups]})


async def _group(request: web.Request, rule: str) -> tuple[RequestContext, objects.ServerGroup]:
    ctx = context_of(request)
    group = await request.app[API].conductor.server_group_get(ctx, request.match_info["group_id"])
    _authorize(request, rule, group.project_id)
    return ctx, group


@routes.get(GROUPS + "/{group_id}")
async def show_server_group(request: web.Request) -> web.Response:
    """One group, with its members."""
    _, group = await _group(request, _rule("show"))
    return json({"server_group": group_view(group, microversion_of(request))})


@routes.delete(GROUPS + "/{group_id}")
async def delete_server_group(request: web.Request) -> web.Response:
    """Delete a group (its servers stay, in no group); 204."""
    ctx, group = await _group(request, _rule("delete"))
    await request.app[API].conductor.server_group_delete(ctx, group.uuid)
    return web.Response(status=204)
