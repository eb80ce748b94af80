"""Compute API key pairs (``/os-keypairs``), with what each microversion changed.

From 2.2 a key pair has a ``type`` (``ssh`` or ``x509``), a create answers 201 and
a delete 204 (200 and 202 before); from 2.10 an administrator may act for another
user (``user_id`` in the create body, or the query); from 2.35 the list is paged
(``limit``, ``marker`` a name, ``keypairs_links``). The library (`api.keypairs`)
checks the policy, the name and the key; a create without ``public_key`` answers
the generated ``private_key``, once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import (
    base_url,
    body_of,
    check_fields,
    json,
    microversion_of,
    query_int,
    session_of,
)
from nova_lite.api.http.compute import MAX_LIMIT, PREFIX
from nova_lite.api.http.microversion import APIVersion
from nova_lite.api.http.views import usectime

__all__ = ["routes"]

routes = web.RouteTableDef()
KEYPAIRS = PREFIX + "/os-keypairs"
SINCE = {"type": "2.2", "user_id": "2.10"}  # create fields a microversion added


def _brief(keypair: objects.KeyPair, version: APIVersion) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
    }
    if version.at_least("2.2"):
        view["type"] = keypair.type
    return view


def _detail(keypair: objects.KeyPair, version: APIVersion) -> dict[str, Any]:
    return {
        **_brief(keypair, version),
        "user_id": keypair.user_id,
        "id": keypair.id,
        "created_at": usectime(keypair.created_at),
        "updated_at": None,
        "deleted_at": None,
        "deleted": False,
    }


def _user(request: web.Request) -> str | None:
    """The ``user_id`` an administrator asks about (2.10), or None for the caller."""
    if not microversion_of(request).at_least("2.10"):
        return None
    return request.query.get("user_id") or None


@routes.post(KEYPAIRS)
async def create_keypair(request: web.Request) -> web.Response:
    """Import ``public_key``, or generate a key pair (its ``private_key`` answered once)."""
    version = microversion_of(request)
    body = await body_of(request, "keypair")
    allowed = ["name", "public_key", *(f for f, v in SINCE.items() if version.at_least(v))]
    check_fields(body, allowed=allowed, required=("name",), where="keypair")
    made = await session_of(request).keypairs.create(
        body["name"],
        public_key=body.get("public_key"),
        key_type=body.get("type", "ssh"),
        user_id=body.get("user_id"),
    )
    view = _brief(made.keypair, version)
    view["user_id"] = made.keypair.user_id
    if made.private_key is not None:
        view["private_key"] = made.private_key
    return json({"keypair": view}, status=201 if version.at_least("2.2") else 200)


@routes.get(KEYPAIRS)
async def list_keypairs(request: web.Request) -> web.Response:
    """The user's key pairs by name (paged from 2.35: ``limit``, ``marker``)."""
    version = microversion_of(request)
    paged = version.at_least("2.35")
    limit = query_int(request, "limit") if paged else None
    limit = None if limit is None else min(limit, MAX_LIMIT)
    marker = request.query.get("marker") if paged else None
    found = await session_of(request).keypairs.list(
        user_id=_user(request), limit=limit, marker=marker
    )
    body: dict[str, Any] = {"keypairs": [{"keypair": _brief(k, version)} for k in found]}
    if paged and limit is not None and found and len(found) == limit:
        query = {**request.query, "marker": found[-1].name}
        href = f"{base_url(request)}{request.path}?{urlencode(query)}"
        body["keypairs_links"] = [{"rel": "next", "href": href}]
    return json(body)


@routes.get(KEYPAIRS + "/{name}")
async def show_keypair(request: web.Request) -> web.Response:
    """One key pair, with its user, id and creation time."""
    keypair = await session_of(request).keypairs.get(
        request.match_info["name"], user_id=_user(request)
    )
    return json({"keypair": _detail(keypair, microversion_of(request))})


@routes.delete(KEYPAIRS + "/{name}")
async def delete_keypair(request: web.Request) -> web.Response:
    """Delete a key pair; 204 (202 before 2.2)."""
    await session_of(request).keypairs.delete(request.match_info["name"], user_id=_user(request))
    return web.Response(status=204 if microversion_of(request).at_least("2.2") else 202)
