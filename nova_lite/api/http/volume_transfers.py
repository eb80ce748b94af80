"""Block Storage API v3 (Cinder): volume transfers, under both of Cinder's paths.

``os-volume-transfer`` is the original API, ``volume-transfers`` the one of 3.55
(``no_snapshots``); from 3.57 a transfer also shows its source project and whether
it was accepted. The one-time ``auth_key`` is in the create answer only.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import PREFIX, accepted, iso, project_context, self_links
from nova_lite.api.http.volume_version import version_of

__all__ = ["routes"]

routes = web.RouteTableDef()
PATHS = (PREFIX + "/os-volume-transfer", PREFIX + "/volume-transfers")


def _view(request: web.Request, offer: dict[str, Any], *, detail: bool = True) -> dict[str, Any]:
    version = version_of(request)
    kind = request.path.split("/")[4]
    view: dict[str, Any] = {
        "id": offer["id"],
        "volume_id": offer["volume_id"],
        "name": offer["name"],
        "links": self_links(request, request.match_info["project_id"], kind, offer["id"]),
    }
    if detail:
        view["created_at"] = iso(datetime.datetime.fromisoformat(offer["created_at"]))
        if version.at_least("3.55") and kind == "volume-transfers":
            view["no_snapshots"] = offer["no_snapshots"]
        if version.at_least("3.57") and kind == "volume-transfers":
            view["source_project_id"] = offer["source_project_id"]
            view["destination_project_id"] = None
            view["accepted"] = False
    return view


async def create_transfer(request: web.Request) -> web.Response:
    """Offer a volume to another project; 202 with the one-time ``auth_key``."""
    body = await body_of(request, "transfer")
    offer = await request.app[API].volume.transfer_create(
        project_context(request),
        body["volume_id"],
        name=body.get("name"),
        no_snapshots=bool(body.get("no_snapshots", False)),
    )
    return json({"transfer": {**_view(request, offer), "auth_key": offer["auth_key"]}}, status=202)


async def list_transfers(request: web.Request) -> web.Response:
    """The project's transfers (id, name, volume, links)."""
    found = await request.app[API].volume.transfer_list(project_context(request))
    return json({"transfers": [_view(request, t, detail=False) for t in found]})


async def list_transfers_detail(request: web.Request) -> web.Response:
    """The project's transfers in full."""
    found = await request.app[API].volume.transfer_list(project_context(request))
    return json({"transfers": [_view(request, t) for t in found]})


async def show_transfer(request: web.Request) -> web.Response:
    """One transfer."""
    offer = await request.app[API].volume.transfer_get(
        project_context(request), request.match_info["transfer_id"]
    )
    return json({"transfer": _view(request, offer)})


async def delete_transfer(request: web.Request) -> web.Response:
    """Withdraw a transfer; 202."""
    await request.app[API].volume.transfer_delete(
        project_context(request), request.match_info["transfer_id"]
    )
    return accepted()


async def accept_transfer(request: web.Request) -> web.Response:
    """Accept a transfer with its ``auth_key``: the volume joins the caller's project."""
    body = await body_of(request, "accept")
    offer = await request.app[API].volume.transfer_accept(
        project_context(request), request.match_info["transfer_id"], body["auth_key"]
    )
    return json({"transfer": _view(request, offer, detail=False)}, status=202)


for _base in PATHS:
    routes.get(_base)(list_transfers)
    routes.post(_base)(create_transfer)
    routes.get(_base + "/detail")(list_transfers_detail)
    routes.get(_base + "/{transfer_id}")(show_transfer)
    routes.delete(_base + "/{transfer_id}")(delete_transfer)
    routes.post(_base + "/{transfer_id}/accept")(accept_transfer)
