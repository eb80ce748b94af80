"""``POST /servers/{id}/action``: every lifecycle action, with Nova's bodies and codes.

The body names one action and its arguments, e.g. ``{"os-stop": null}`` or
``{"reboot": {"type": "HARD"}}``. Each is run through ``session.servers``, which
checks the policy and the state table and answers `InstanceInvalidState` (409,
naming the action and the state) when the server's state does not allow it. Most
actions answer 202 with no body; those that return something follow Nova:
``createImage`` and ``createBackup`` give the image id (a body from 2.45, the
``Location`` header before), ``os-getConsoleOutput`` the console text, ``rebuild``
the server, ``rescue`` the admin password, ``confirmResize`` 204.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from nova_lite.api.client import Session
from nova_lite.api.http.common import base_url, body_of, check_fields, json, microversion_of
from nova_lite.api.http.common import session_of
from nova_lite.api.http.compute import PREFIX, server_view, visible_instance
from nova_lite.exceptions import Invalid

__all__ = ["ACTIONS", "routes"]

routes = web.RouteTableDef()

Action = Callable[[web.Request, Session, str, Any], Awaitable[web.Response]]


def _accepted() -> web.Response:
    return web.Response(status=202)


def _no_arguments(name: str, args: Any) -> None:
    if args not in (None, {}):
        raise Invalid(f"Invalid input for action {name!r}: it takes no arguments, not {args!r}.")


def _arguments(name: str, args: Any, *, allowed: tuple[str, ...], required: tuple[str, ...] = ()
               ) -> dict[str, Any]:
    if args is None and not required:
        return {}
    if not isinstance(args, dict):
        raise Invalid(f"Invalid input for action {name!r}: an object is required, not {args!r}.")
    check_fields(args, allowed=allowed, required=required, where=name)
    return args


def _simple(method: str, name: str) -> Action:
    """An action without arguments that answers 202."""

    async def run(request: web.Request, session: Session, server_id: str, args: Any) -> web.Response:
        _no_arguments(name, args)
        await getattr(session.servers, method)(server_id)
        return _accepted()

    return run


async def _reboot(request: web.Request, session: Session, server_id: str, args: Any) -> web.Response:
    args = _arguments("reboot", args, allowed=(), required=("type",))
    kind = str(args["type"]).upper()
    if kind not in ("SOFT", "HARD"):
        raise Invalid(f"Invalid input for field/attribute type. Value: {args['type']!r}. "
                      "It must be SOFT or HARD.")
    await session.servers.reboot(server_id, hard=kind == "HARD")
    return _accepted()


async def _rescue(request: web.Request, session: Session, server_id: str, args: Any) -> web.Response:
    args = _arguments("rescue", args, allowed=("adminPass", "rescue_image_ref"))
    await session.servers.rescue(server_id)
    return json({"adminPass": args.get("adminPass") or secrets.token_urlsafe(9)})


async def _change_password(
    request: web.Request, session: Session, server_id: str, args: Any
) -> web.Response:
    args = _arguments("changePassword", args, allowed=(), required=("adminPass",))
    await session.servers.set_admin_password(server_id, args["adminPass"])
    return _accepted()


async def _rebuild(request: web.Request, session: Session, server_id: str, args: Any) -> web.Response:
    args = _arguments(
        "rebuild", args, allowed=("name", "adminPass", "metadata", "OS-DCF:diskConfig",
                                  "preserve_ephemeral", "description", "key_name", "user_data"),
        required=("imageRef",),
    )
    await session.servers.rebuild(server_id, str(args["imageRef"]))
    instance = await visible_instance(request, server_id)
    body = (await server_view(request)).detail(instance)
    body["adminPass"] = args.get("adminPass") or secrets.token_urlsafe(9)
    return json({"server": body}, status=202)


def _image_created(request: web.Request, image_id: str) -> web.Response:
    if microversion_of(request).at_least("2.45"):
        return json({"image_id": image_id}, status=202)
    location = f"{base_url(request)}/image/v2/images/{image_id}"
    return web.Response(status=202, headers={"Location": location})


async def _create_image(
    request: web.Request, session: Session, server_id: str, args: Any
) -> web.Response:
    args = _arguments("createImage", args, allowed=("metadata",), required=("name",))
    image_id = await session.servers.snapshot(server_id, _text("name", args["name"]))
    return _image_created(request, image_id)


async def _create_backup(
    request: web.Request, session: Session, server_id: str, args: Any
) -> web.Response:
    args = _arguments("createBackup", args, allowed=("metadata",),
                      required=("name", "backup_type", "rotation"))
    rotation = args["rotation"]
    if isinstance(rotation, str) and rotation.isdigit():
        rotation = int(rotation)
    image_id = await session.servers.backup(
        server_id, _text("name", args["name"]), _text("backup_type", args["backup_type"]),
        rotation,
    )
    return _image_created(request, image_id)


async def _resize(request: web.Request, session: Session, server_id: str, args: Any) -> web.Response:
    args = _arguments("resize", args, allowed=("OS-DCF:diskConfig",), required=("flavorRef",))
    await session.servers.resize(server_id, str(args["flavorRef"]))
    return _accepted()


async def _confirm_resize(
    request: web.Request, session: Session, server_id: str, args: Any
) -> web.Response:
    _no_arguments("confirmResize", args)
    await session.servers.confirm_resize(server_id)
    return web.Response(status=204)


async def _unshelve(request: web.Request, session: Session, server_id: str, args: Any) -> web.Response:
    _arguments("unshelve", args, allowed=("availability_zone",))
    await session.servers.unshelve(server_id)
    return _accepted()


async def _lock(request: web.Request, session: Session, server_id: str, args: Any) -> web.Response:
    _arguments("lock", args, allowed=("locked_reason",))
    await session.servers.lock(server_id)
    return _accepted()


async def _console_output(
    request: web.Request, session: Session, server_id: str, args: Any
) -> web.Response:
    args = _arguments("os-getConsoleOutput", args, allowed=("length",))
    output = await session.servers.console_output(server_id)
    length = args.get("length")
    if length is not None:
        lines = _length(length)
        output = "".join(output.splitlines(keepends=True)[-lines:]) if lines else ""
    return json({"output": output})


def _length(value: object) -> int:
    if isinstance(value, bool):
        raise Invalid(f"Invalid input for field/attribute length. Value: {value!r}.")
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise Invalid(f"Invalid input for field/attribute length. Value: {value!r}.") from None
    if number < -1:
        raise Invalid(f"Invalid input for field/attribute length. Value: {value!r}.")
    return 10**9 if number == -1 else number


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"Invalid input for field/attribute {field}. Value: {value!r}.")
    return value


ACTIONS: dict[str, Action] = {
    "os-stop": _simple("stop", "os-stop"),
    "os-start": _simple("start", "os-start"),
    "reboot": _reboot,
    "pause": _simple("pause", "pause"),
    "unpause": _simple("unpause", "unpause"),
    "suspend": _simple("suspend", "suspend"),
    "resume": _simple("resume", "resume"),
    "rescue": _rescue,
    "unrescue": _simple("unrescue", "unrescue"),
    "changePassword": _change_password,
    "rebuild": _rebuild,
    "createImage": _create_image,
    "createBackup": _create_backup,
    "resize": _resize,
    "confirmResize": _confirm_resize,
    "revertResize": _simple("revert_resize", "revertResize"),
    "shelve": _simple("shelve", "shelve"),
    "shelveOffload": _simple("shelve_offload", "shelveOffload"),
    "unshelve": _unshelve,
    "forceDelete": _simple("force_delete", "forceDelete"),
    "restore": _simple("restore", "restore"),
    "lock": _lock,
    "unlock": _simple("unlock", "unlock"),
    "os-getConsoleOutput": _console_output,
}


@routes.post(PREFIX + "/servers/{server_id}/action")
async def server_action(request: web.Request) -> web.Response:
    """Run the one action the body names (``{"os-stop": null}``, ``{"reboot": {...}}``, ...)."""
    body = await body_of(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise Invalid("The request body must be an object naming exactly one action.")
    [(name, args)] = body.items()
    action = ACTIONS.get(name)
    if action is None:
        raise Invalid(f"There is no such action: {name}")
    return await action(request, session_of(request), request.match_info["server_id"], args)
