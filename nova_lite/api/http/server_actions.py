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

import attrs
from aiohttp import web

from nova_lite.api.http import compute_floating_ips, compute_security_groups
from nova_lite.api.http.common import (
    base_url,
    body_of,
    check_fields,
    json,
    microversion_of,
    session_of,
)
from nova_lite.api.http.compute import PREFIX, record_changes, server_view
from nova_lite.api.http.server_admin import ADMIN_ACTIONS
from nova_lite.api.http.server_views import Parts
from nova_lite.api.servers import Servers
from nova_lite.exceptions import FlavorNotFound, ImageNotFound, Invalid

__all__ = ["ACTIONS", "routes"]

routes = web.RouteTableDef()


@attrs.frozen
class Call:
    """One action request: the HTTP request, the caller's servers, the server, the arguments."""

    request: web.Request
    servers: Servers
    server_id: str
    args: Any

    def arguments(
        self, name: str, *, allowed: tuple[str, ...] = (), required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The action's arguments object, checked; `Invalid` naming the bad field."""
        if self.args is None and not required:
            return {}
        if not isinstance(self.args, dict):
            raise Invalid(f"Invalid input for action {name!r}: an object is required.")
        check_fields(self.args, allowed=allowed, required=required, where=name)
        return self.args


Action = Callable[[Call], Awaitable[web.Response]]


def _accepted() -> web.Response:
    return web.Response(status=202)


def _no_arguments(call: Call, name: str) -> None:
    if call.args not in (None, {}):
        raise Invalid(f"Invalid input for action {name!r}: it takes no arguments.")


def _simple(method: str, name: str) -> Action:
    """An action without arguments (``null`` or ``{}``) that answers 202."""

    async def run(call: Call) -> web.Response:
        _no_arguments(call, name)
        await getattr(call.servers, method)(call.server_id)
        return _accepted()

    return run


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"Invalid input for field/attribute {field}. Value: {value!r}.")
    return value


async def _reboot(call: Call) -> web.Response:
    kind = call.arguments("reboot", required=("type",))["type"]
    if not isinstance(kind, str) or kind.upper() not in ("SOFT", "HARD"):
        raise Invalid(
            f"Invalid input for field/attribute type. Value: {kind!r}. It must be SOFT or HARD."
        )
    await call.servers.reboot(call.server_id, hard=kind.upper() == "HARD")
    return _accepted()


async def _rescue(call: Call) -> web.Response:
    args = call.arguments("rescue", allowed=("adminPass", "rescue_image_ref"))
    await call.servers.rescue(call.server_id)
    return json({"adminPass": args.get("adminPass") or secrets.token_urlsafe(9)})


async def _change_password(call: Call) -> web.Response:
    args = call.arguments("changePassword", required=("adminPass",))
    await call.servers.set_admin_password(call.server_id, args["adminPass"])
    return _accepted()


REBUILD_FIELDS = ("name", "adminPass", "metadata", "OS-DCF:diskConfig", "preserve_ephemeral",
                  "accessIPv4", "accessIPv6", "description", "key_name", "user_data")  # fmt: skip
REBUILD_SINCE = {"key_name": "2.54", "user_data": "2.57"}  # besides the update's fields


async def _rebuild(call: Call) -> web.Response:
    """Rebuild from ``imageRef``, with the record fields the body gives; 202 with the server.

    The body is the server as the microversion's rebuild shows it (`Parts.rebuild`),
    ``user_data`` beside it from 2.57, and the admin password.
    """
    args = call.arguments("rebuild", allowed=REBUILD_FIELDS, required=("imageRef",))
    version = microversion_of(call.request)
    changes = record_changes(args, version, "rebuild")
    for field in ("metadata", "key_name", "user_data"):
        since = REBUILD_SINCE.get(field, "2.1")
        if field in args and not version.at_least(since):
            raise Invalid(
                f"Additional properties are not allowed ({field!r} was unexpected) in "
                f"'rebuild': it needs microversion {since}."
            )
        if field in args:
            changes[field] = args[field]
    image = _text("imageRef", args["imageRef"])
    try:
        instance = await call.servers.rebuild_with(call.server_id, image, changes)
    except ImageNotFound:
        raise Invalid("Cannot find image for rebuild") from None
    parts = Parts.rebuild(version)
    view = await server_view(call.request, [instance] if parts.extended else ())
    body = view.detail(instance, parts)
    if version.at_least("2.57"):
        body["user_data"] = instance.user_data
    body["adminPass"] = args.get("adminPass") or secrets.token_urlsafe(9)
    return json({"server": body}, status=202)


def _image_created(request: web.Request, image_id: str) -> web.Response:
    if microversion_of(request).at_least("2.45"):
        return json({"image_id": image_id}, status=202)
    location = f"{base_url(request)}/image/v2/images/{image_id}"
    return web.Response(status=202, headers={"Location": location})


async def _create_image(call: Call) -> web.Response:
    args = call.arguments("createImage", allowed=("metadata",), required=("name",))
    name, metadata = _text("name", args["name"]), args.get("metadata") or {}
    image_id = await call.servers.snapshot(call.server_id, name, metadata)
    return _image_created(call.request, image_id)


async def _create_backup(call: Call) -> web.Response:
    args = call.arguments(
        "createBackup", allowed=("metadata",), required=("name", "backup_type", "rotation")
    )
    rotation = args["rotation"]
    if isinstance(rotation, str) and rotation.isdigit():
        rotation = int(rotation)
    name, kind = _text("name", args["name"]), _text("backup_type", args["backup_type"])
    image_id = await call.servers.backup(call.server_id, name, kind, rotation)
    return _image_created(call.request, image_id)


async def _resize(call: Call) -> web.Response:
    """Resize to ``flavorRef`` (an unknown one is a 400, as Nova), with its disk config."""
    args = call.arguments("resize", allowed=("OS-DCF:diskConfig",), required=("flavorRef",))
    flavor = args["flavorRef"]
    if isinstance(flavor, bool) or not isinstance(flavor, str | int):
        raise Invalid(f"Invalid input for field/attribute flavorRef. Value: {flavor!r}.")
    try:
        await call.servers.resize(call.server_id, str(flavor))
    except FlavorNotFound:
        raise Invalid("Unable to locate requested flavor.") from None
    if "OS-DCF:diskConfig" in args:
        auto = {"auto_disk_config": args["OS-DCF:diskConfig"] == "AUTO"}
        await call.servers.update(call.server_id, auto)
    return _accepted()


async def _confirm_resize(call: Call) -> web.Response:
    _no_arguments(call, "confirmResize")
    await call.servers.confirm_resize(call.server_id)
    return web.Response(status=204)


async def _unshelve(call: Call) -> web.Response:
    call.arguments("unshelve", allowed=("availability_zone",))
    await call.servers.unshelve(call.server_id)
    return _accepted()


async def _lock(call: Call) -> web.Response:
    call.arguments("lock", allowed=("locked_reason",))
    await call.servers.lock(call.server_id)
    return _accepted()


def _length(value: object) -> int:
    """The number of console lines asked for (-1, or none: all of them)."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise Invalid(f"Invalid input for field/attribute length. Value: {value!r}.")
    return 10**9 if value == -1 else value


def _last_lines(text: str, count: int) -> str:
    """The last `count` lines of `text`, joined by newlines with none after the last.

    So that ``output.split("\\n")`` has `count` pieces, as Tempest counts them (Nova's
    ``_tail_log`` counts the empty piece after a final newline as a line, and then
    answers ``""`` for one line; here the last line is the last text written).
    """
    return "\n".join(text.splitlines()[-count:]) if count else ""


async def _console_output(call: Call) -> web.Response:
    args = call.arguments("os-getConsoleOutput", allowed=("length",))
    output = await call.servers.console_output(call.server_id)
    if args.get("length") is not None:
        output = _last_lines(output, _length(args["length"]))
    return json({"output": output})


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
    **compute_security_groups.ACTIONS,
    **compute_floating_ips.ACTIONS,
    **ADMIN_ACTIONS,  # os-resetState, migrate, ... (server_admin)
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
    servers = session_of(request).servers
    return await action(Call(request, servers, request.match_info["server_id"], args))
