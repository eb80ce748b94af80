"""``POST /volume/v3/{project_id}/volumes/{volume_id}/action``: Cinder's volume actions.

The body names one action (``{"os-extend": {"new_size": 2}}``); its arguments are
checked by the route's schema (`schemas.volume.VOLUME_ACTIONS`), then the action goes
to the volume service. The attach actions only record an attachment in the volume
service (as Cinder's legacy ``os-attach`` does): compute attaches through
``os-volume_attachments``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, json
from nova_lite.api.http.volume_common import PREFIX, accepted, project_context
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, VolumeInvalidState
from nova_lite.volume.rpcapi import VolumeAPI

__all__ = ["ACTION_RULES", "routes"]

routes = web.RouteTableDef()

_A = "volume_extension:volume_actions:"
#: The policy rule behind each action (the policy matrix and the OpenAPI document use it).
ACTION_RULES = {
    "os-extend": "volume:extend",
    "os-reset_status": "volume_extension:volume_admin_actions:reset_status",
    "os-force_delete": "volume_extension:volume_admin_actions:force_delete",
    "os-set_bootable": "volume:update",
    "os-update_readonly_flag": "volume:update_readonly_flag",
    "os-reserve": _A + "reserve",
    "os-unreserve": _A + "unreserve",
    "os-begin_detaching": _A + "begin_detaching",
    "os-roll_detaching": _A + "roll_detaching",
    "os-attach": _A + "attach",
    "os-detach": _A + "detach",
    "os-force_detach": "volume_extension:volume_admin_actions:force_detach",
    "os-volume_upload_image": _A + "upload_image",
    "os-retype": "volume:retype",
    "os-set_image_metadata": "volume_extension:volume_image_metadata:set",
    "os-unset_image_metadata": "volume_extension:volume_image_metadata:remove",
    "os-show_image_metadata": "volume:get",
}

Action = Callable[[VolumeAPI, RequestContext, str, dict[str, Any]], Awaitable[web.Response]]


def _truth(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


async def _extend(api: VolumeAPI, ctx: RequestContext, vid: str, args: dict[str, Any]) -> Any:
    await api.extend(ctx, vid, int(args["new_size"]))
    return accepted()


async def _reset(api: VolumeAPI, ctx: RequestContext, vid: str, args: dict[str, Any]) -> Any:
    if "status" in args:
        await api.reset_status(ctx, vid, args["status"])
    elif "attach_status" not in args and "migration_status" not in args:
        raise Invalid("os-reset_status needs status, attach_status or migration_status.")
    return accepted()


async def _force_delete(api: VolumeAPI, ctx: RequestContext, vid: str, args: Any) -> Any:
    await api.force_delete(ctx, vid)
    return accepted()


async def _bootable(api: VolumeAPI, ctx: RequestContext, vid: str, args: dict[str, Any]) -> Any:
    await api.set_bootable(ctx, vid, _truth(args["bootable"]))
    return web.Response(status=200)


async def _readonly(api: VolumeAPI, ctx: RequestContext, vid: str, args: dict[str, Any]) -> Any:
    await api.set_readonly(ctx, vid, _truth(args["readonly"]))
    return accepted()


def _step(name: str) -> Action:
    async def act(api: VolumeAPI, ctx: RequestContext, vid: str, args: Any) -> web.Response:
        await getattr(api, name)(ctx, vid)
        return accepted()

    return act


async def _attach(api: VolumeAPI, ctx: RequestContext, vid: str, args: dict[str, Any]) -> Any:
    instance = args.get("instance_uuid")
    if not instance:
        raise Invalid("os-attach needs an instance_uuid: attaching to a host is not served.")
    volume = await api.get(ctx, vid)
    if volume.status == "available":
        await api.reserve(ctx, vid)
    try:
        await api.attach(ctx, vid, instance, args["mountpoint"])
    except Exception:
        if volume.status == "available":
            await api.unreserve(ctx, vid)
        raise
    return accepted()


async def _detach(api: VolumeAPI, ctx: RequestContext, vid: str, args: Any) -> Any:
    volume = await api.get(ctx, vid)
    wanted = (args or {}).get("attachment_id")
    if volume.attached_to is None:
        return accepted()  # as Cinder's: the detach is cast, and finds nothing to do
    if wanted and wanted != volume.attachment_id:
        raise VolumeInvalidState(
            f"Volume {vid} has no attachment {wanted}.", volume_id=vid, status=volume.status
        )
    await api.detach(ctx, vid, volume.attached_to)
    return accepted()


async def _force_detach(api: VolumeAPI, ctx: RequestContext, vid: str, args: Any) -> Any:
    await api.force_detach(ctx, vid, (args or {}).get("attachment_id"))
    return accepted()


async def _upload(api: VolumeAPI, ctx: RequestContext, vid: str, args: dict[str, Any]) -> Any:
    visibility = args.get("visibility", "public" if _truth(args.get("is_public")) else "private")
    result = await api.upload_to_image(
        ctx,
        vid,
        args["image_name"],
        disk_format=args.get("disk_format", "raw"),
        container_format=args.get("container_format", "bare"),
        visibility=visibility,
        force=_truth(args.get("force", False)),
    )
    return json({"os-volume_upload_image": result}, status=202)


async def _retype(api: VolumeAPI, ctx: RequestContext, vid: str, args: dict[str, Any]) -> Any:
    await api.retype(ctx, vid, args["new_type"], args.get("migration_policy") or "never")
    return accepted()


async def _image_meta(api: VolumeAPI, ctx: RequestContext, vid: str, args: Any) -> Any:
    result = await api.set_image_metadata(ctx, vid, args["metadata"])
    return json({"metadata": result})


async def _unset_image_meta(api: VolumeAPI, ctx: RequestContext, vid: str, args: Any) -> Any:
    await api.delete_image_metadata(ctx, vid, args["key"])
    return web.Response(status=200)


async def _show_image_meta(api: VolumeAPI, ctx: RequestContext, vid: str, args: Any) -> Any:
    return json({"metadata": dict((await api.get(ctx, vid)).image_metadata)})


ACTIONS: dict[str, Action] = {
    "os-extend": _extend,
    "os-reset_status": _reset,
    "os-force_delete": _force_delete,
    "os-set_bootable": _bootable,
    "os-update_readonly_flag": _readonly,
    "os-reserve": _step("reserve"),
    "os-unreserve": _step("unreserve"),
    "os-begin_detaching": _step("begin_detaching"),
    "os-roll_detaching": _step("roll_detaching"),
    "os-attach": _attach,
    "os-detach": _detach,
    "os-force_detach": _force_detach,
    "os-volume_upload_image": _upload,
    "os-retype": _retype,
    "os-set_image_metadata": _image_meta,
    "os-unset_image_metadata": _unset_image_meta,
    "os-show_image_metadata": _show_image_meta,
}


@routes.post(PREFIX + "/volumes/{volume_id}/action")
async def volume_action(request: web.Request) -> web.StreamResponse:
    """One of Cinder's volume actions (``os-extend``, ``os-reset_status``, ...)."""
    body = await body_of(request)
    name, args = next(iter(body.items()))
    action = ACTIONS.get(name)
    if action is None:
        raise Invalid(f"There is no such action: {name}.")
    api = request.app[API].volume
    return await action(api, project_context(request), request.match_info["volume_id"], args)
