"""Compute API: the administrators' server actions and a server's diagnostics.

``os-resetState`` sets a server's vm_state to ``active`` or ``error`` and clears its
task, whatever it was doing (the way an operator unsticks a server, as in Nova: the
books are the operator's to check, e.g. with ``nova-lite audit``).
``injectNetworkInfo`` is accepted and does nothing, since guests get their network
configuration when they are spawned. ``migrate`` is a cold migration: the resize
machinery with the same flavor, to another host (``host`` chooses it, from 2.56);
``os-migrateLive`` moves a running or paused server to another host as it runs
(``compute/live_migrate.py``).
``GET /servers/{id}/diagnostics`` asks the server's host for the guest's figures
(Nova's standard form from 2.48, a flat per-driver dictionary before). The actions are merged into
`server_actions.ACTIONS`; `server_actions.Call` is their argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.api.http.common import API, context_of, json, microversion_of
from nova_lite.api.http.compute import PREFIX, visible_instance
from nova_lite.compute import vm_states
from nova_lite.context import RequestContext
from nova_lite.exceptions import InstanceInvalidState, Invalid

if TYPE_CHECKING:
    from nova_lite.api.http.server_actions import Action, Call

__all__ = ["ADMIN_ACTIONS", "routes"]

routes = web.RouteTableDef()
RESET_STATES = {"active": vm_states.ACTIVE, "error": vm_states.ERROR}


async def _authorized(call: Call, rule: str) -> tuple[RequestContext, objects.Instance]:
    """The caller's context and the server, once `rule` lets the caller act on it."""
    ctx = context_of(call.request)
    instance = await visible_instance(call.request, call.server_id)
    call.request.app[API].authorize(ctx, rule, instance.project_id)
    return ctx, instance


async def _reset_state(call: Call) -> web.Response:
    args = call.arguments("os-resetState", required=("state",))
    state = args["state"]
    if state not in RESET_STATES:
        raise Invalid(f"Invalid input for field/attribute state. Value: {state!r:.40}.")
    ctx, instance = await _authorized(call, "os_compute_api:os-admin-actions:reset_state")
    await call.request.app[API].conductor.instance_update(
        ctx, instance.uuid, {"vm_state": RESET_STATES[state], "task_state": None}
    )
    return web.Response(status=202)


async def _inject_network_info(call: Call) -> web.Response:
    if call.args not in (None, {}):
        raise Invalid("Invalid input for action 'injectNetworkInfo': it takes no arguments.")
    await _authorized(call, "os_compute_api:os-admin-actions:inject_network_info")
    return web.Response(status=202)


async def _migrate(call: Call) -> web.Response:
    """Cold-migrate (``host`` from 2.56, administrators only); 202."""
    allowed = ("host",) if microversion_of(call.request).at_least("2.56") else ()
    args = call.arguments("migrate", allowed=allowed)
    host = args.get("host")
    if host is not None and (not isinstance(host, str) or not host.strip()):
        raise Invalid(f"Invalid input for field/attribute host. Value: {host!r:.80}.")
    await call.servers.migrate(call.server_id, host=host)
    return web.Response(status=202)


def _live_arguments(call: Call) -> dict[str, Any]:
    """os-migrateLive's body for the microversion: ``host`` and ``block_migration``
    always (a boolean; ``auto`` too from 2.25), ``disk_over_commit`` before 2.25,
    ``force`` (optional) from 2.30 to 2.67."""
    version = microversion_of(call.request)
    modern = version.at_least("2.25")
    required = ("host", "block_migration") if modern else ("host", "block_migration",
                                                          "disk_over_commit")  # fmt: skip
    forced = version.at_least("2.30") and not version.at_least("2.68")
    args = call.arguments("os-migrateLive", allowed=("force",) if forced else (), required=required)
    if not (modern and args["block_migration"] == "auto"):
        check.loose_boolean("block_migration", args["block_migration"])
    for flag in ("disk_over_commit", "force"):
        if flag in args:
            check.loose_boolean(flag, args[flag])
    return args


async def _migrate_live(call: Call) -> web.Response:
    """Live-migrate (administrators): to ``host``, or (null) where the scheduler picks; 202.

    ``block_migration``, ``disk_over_commit`` and ``force`` are checked and otherwise
    change nothing: the guest's disk always moves with it (there is no shared
    storage), and a named host is always checked by the scheduler's filters.
    """
    host = _live_arguments(call)["host"]
    if host is not None and (not isinstance(host, str) or not host.strip() or len(host) > 255):
        raise Invalid(f"Invalid input for field/attribute host. Value: {host!r:.80}.")
    await call.servers.live_migrate(call.server_id, host=host)
    return web.Response(status=202)


ADMIN_ACTIONS: dict[str, Action] = {
    "os-resetState": _reset_state,
    "injectNetworkInfo": _inject_network_info,
    "migrate": _migrate,
    "os-migrateLive": _migrate_live,
}


def _legacy(standard: dict[str, Any]) -> dict[str, Any]:
    """The pre-2.48 diagnostics: one flat dictionary of counters, as libvirt's were."""
    flat: dict[str, Any] = {f"cpu{c['id']}_time": c["time"] for c in standard["cpu_details"]}
    flat["memory"] = standard["memory_details"]["maximum"]
    for index, disk in enumerate(standard["disk_details"]):
        name = f"vd{chr(ord('a') + index)}"
        flat.update({f"{name}_{k}": v for k, v in disk.items() if k != "errors_count"})
    for index, nic in enumerate(standard["nic_details"]):
        flat.update({f"tap{index}_{k}": v for k, v in nic.items() if k != "mac_address"})
    return flat


@routes.get(PREFIX + "/servers/{server_id}/diagnostics")
async def show_diagnostics(request: web.Request) -> web.Response:
    """The guest's diagnostics (administrators); 409 for a server on no host."""
    ctx = context_of(request)
    instance = await visible_instance(request, request.match_info["server_id"])
    request.app[API].authorize(ctx, "os_compute_api:os-server-diagnostics", instance.project_id)
    if instance.host is None:
        raise InstanceInvalidState(
            f"Cannot read the diagnostics of server {instance.uuid}: it is on no host.",
            instance_uuid=instance.uuid,
        )
    standard = await request.app[API].compute.get_instance_diagnostics(
        ctx, instance.host, instance.uuid
    )
    return json(standard if microversion_of(request).at_least("2.48") else _legacy(standard))
