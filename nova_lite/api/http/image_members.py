"""Image API v2 (Glance): image members, the projects a ``shared`` image is shared with.

The image's owner adds (``POST .../members`` with ``{"member": project_id}``) and
removes members; each member project accepts or rejects it (``PUT
.../members/{member_id}`` with ``{"status": ...}``). Who may do what is the image
service's (`nova_lite.image.members`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, context_of, json
from nova_lite.api.http.images import PREFIX
from nova_lite.api.http.views import isotime
from nova_lite.objects import ImageMember

__all__ = ["member_view", "routes"]

routes = web.RouteTableDef()
MEMBERS = PREFIX + "/images/{image_id}/members"


def member_view(member: ImageMember) -> dict[str, Any]:
    """A membership as Glance shows it."""
    return {
        "member_id": member.member_id,
        "image_id": member.image_id,
        "status": member.status,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "schema": "/v2/schemas/member",
    }


@routes.get(MEMBERS)
async def list_members(request: web.Request) -> web.Response:
    """The image's members (a member project sees its own membership only)."""
    members = await request.app[API].image.list_members(
        context_of(request), request.match_info["image_id"]
    )
    return json({"members": [member_view(m) for m in members], "schema": "/v2/schemas/members"})


@routes.post(MEMBERS)
async def add_member(request: web.Request) -> web.Response:
    """Share the image with a project (its membership starts ``pending``); 200."""
    body = await body_of(request)
    member = await request.app[API].image.add_member(
        context_of(request), request.match_info["image_id"], body["member"]
    )
    return json(member_view(member))


@routes.get(MEMBERS + "/{member_id}")
async def show_member(request: web.Request) -> web.Response:
    """One membership of the image."""
    match = request.match_info
    member = await request.app[API].image.get_member(
        context_of(request), match["image_id"], match["member_id"]
    )
    return json(member_view(member))


@routes.put(MEMBERS + "/{member_id}")
async def update_member(request: web.Request) -> web.Response:
    """Accept, reject (or set back to pending) the image shared with a project; 200."""
    body = await body_of(request)
    match = request.match_info
    member = await request.app[API].image.update_member(
        context_of(request), match["image_id"], match["member_id"], body["status"]
    )
    return json(member_view(member))


@routes.delete(MEMBERS + "/{member_id}")
async def delete_member(request: web.Request) -> web.Response:
    """Stop sharing the image with a project; 204."""
    match = request.match_info
    await request.app[API].image.delete_member(
        context_of(request), match["image_id"], match["member_id"]
    )
    return web.Response(status=204)
