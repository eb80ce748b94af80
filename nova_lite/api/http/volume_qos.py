"""Block Storage API v3 (Cinder): QoS specs and their association with volume types.

Administrators only. Cinder answers the associate and disassociate requests, which
are ``GET`` requests with a ``vol_type_id`` query, with 202.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import (
    PREFIX,
    accepted,
    project_context,
    query_bool,
    self_links,
)
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()
QOS = PREFIX + "/qos-specs"


def _links(request: web.Request, qos_id: str) -> list[dict[str, str]]:
    return self_links(request, request.match_info["project_id"], "qos-specs", qos_id)


@routes.get(QOS)
async def list_qos(request: web.Request) -> web.Response:
    """Every QoS specs (admins)."""
    found = await request.app[API].volume.qos_list(project_context(request))
    return json({"qos_specs": found})


@routes.post(QOS)
async def create_qos(request: web.Request) -> web.Response:
    """New QoS specs: ``name``, ``consumer``, and every other key a spec (admins)."""
    body: dict[str, Any] = dict(await body_of(request, "qos_specs"))
    name = body.pop("name", None)
    consumer = body.pop("consumer", "back-end")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("QoS specs need a name.")
    created = await request.app[API].volume.qos_create(
        project_context(request), name, consumer=consumer, specs=body
    )
    return json({"qos_specs": created, "links": _links(request, created["id"])})


@routes.get(QOS + "/{qos_id}")
async def show_qos(request: web.Request) -> web.Response:
    """One QoS specs (admins)."""
    found = await request.app[API].volume.qos_get(
        project_context(request), request.match_info["qos_id"]
    )
    return json({"qos_specs": found, "links": _links(request, found["id"])})


@routes.put(QOS + "/{qos_id}")
async def set_qos_keys(request: web.Request) -> web.Response:
    """Add or change keys of QoS specs (admins); those given."""
    body = await body_of(request, "qos_specs")
    result = await request.app[API].volume.qos_set_keys(
        project_context(request), request.match_info["qos_id"], body
    )
    return json({"qos_specs": result})


@routes.put(QOS + "/{qos_id}/delete_keys")
async def unset_qos_keys(request: web.Request) -> web.Response:
    """Remove keys of QoS specs (admins); 202."""
    body = await body_of(request)
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise Invalid("The request body must be an object with a list of 'keys'.")
    await request.app[API].volume.qos_unset_keys(
        project_context(request), request.match_info["qos_id"], keys
    )
    return accepted()


@routes.delete(QOS + "/{qos_id}")
async def delete_qos(request: web.Request) -> web.Response:
    """Delete QoS specs (``force=true``: even if associated; admins); 202."""
    await request.app[API].volume.qos_delete(
        project_context(request),
        request.match_info["qos_id"],
        force=bool(query_bool(request, "force")),
    )
    return accepted()


def _type_id(request: web.Request) -> str:
    type_id = request.query.get("vol_type_id")
    if not type_id:
        raise Invalid("vol_type_id is required.")
    return type_id


@routes.get(QOS + "/{qos_id}/associate")
async def associate_qos(request: web.Request) -> web.Response:
    """Associate QoS specs with the volume type ``vol_type_id`` (admins); 202."""
    await request.app[API].volume.qos_associate(
        project_context(request), request.match_info["qos_id"], _type_id(request)
    )
    return accepted()


@routes.get(QOS + "/{qos_id}/disassociate")
async def disassociate_qos(request: web.Request) -> web.Response:
    """Dissociate QoS specs from the volume type ``vol_type_id`` (admins); 202."""
    await request.app[API].volume.qos_disassociate(
        project_context(request), request.match_info["qos_id"], _type_id(request)
    )
    return accepted()


@routes.get(QOS + "/{qos_id}/disassociate_all")
async def disassociate_all_qos(request: web.Request) -> web.Response:
    """Dissociate QoS specs from every volume type (admins); 202."""
    await request.app[API].volume.qos_disassociate_all(
        project_context(request), request.match_info["qos_id"]
    )
    return accepted()


@routes.get(QOS + "/{qos_id}/associations")
async def list_qos_associations(request: web.Request) -> web.Response:
    """The volume types QoS specs are associated with (admins)."""
    found = await request.app[API].volume.qos_associations(
        project_context(request), request.match_info["qos_id"]
    )
    return json({"qos_associations": found})
