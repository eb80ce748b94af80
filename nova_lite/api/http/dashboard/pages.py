"""The servers: the list, a server's page, launching one, and its actions.

Every page is rendered from the HTTP API's answers for the signed-in user. Rows and
summaries of servers whose state is still changing carry ``data-poll``: the page's
script fetches them again (``/row``, ``/summary``) until the server settles. Each
POST is answered with a 303 to a page (or the page again, with the API's refusal).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nova_lite.api.http.dashboard.actions import ACTIONS, allowed_actions
from nova_lite.api.http.dashboard.app import (
    Viewer,
    dashboard_of,
    page_context,
    see_other,
    viewer_of,
)
from nova_lite.compute import power_state, vm_states
from nova_lite.exceptions import Conflict, Forbidden, Invalid, NotFound, NovaError

__all__ = ["routes"]

routes = web.RouteTableDef()
CONSOLE_LINES = 50
BACK = {"list": "/dashboard/servers", "server": "/dashboard/servers/{id}"}  # after an action


def presented(server: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """The server as its templates show it: with the actions its state allows, and
    whether it has settled (no task running, not building)."""
    settled = not server["task_state"] and server["vm_state"] != vm_states.BUILDING
    actions = allowed_actions(server, is_admin=viewer.me.is_admin)
    power = power_state.STATE_MAP.get(server["power_state"], str(server["power_state"]))
    return {**server, "settled": settled, "actions": actions, "power": power}


def _all_projects(request: web.Request, viewer: Viewer) -> bool:
    return viewer.me.is_admin and request.query.get("all_projects") == "1"


async def _project_names(viewer: Viewer, shown: bool) -> dict[str, str]:
    if not shown:
        return {}
    return {p["id"]: p["name"] for p in await viewer.api.projects()}


@routes.get("/servers")
async def server_list(request: web.Request) -> web.Response:
    """The project's servers (an admin's ``?all_projects=1``: every project's)."""
    viewer = viewer_of(request)
    everyone = _all_projects(request, viewer)
    servers = await viewer.api.servers(
        all_projects=everyone, project_id=request.query.get("project", "")
    )
    context = page_context(
        request,
        title="Servers",
        section="all" if everyone else "servers",
        servers=[presented(s, viewer) for s in servers],
        show_project=everyone,
        project_names=await _project_names(viewer, everyone),
    )
    return dashboard_of(request).templates.page("servers.html", context)


async def _fragment(request: web.Request, template: str, **values: Any) -> web.Response:
    """One server's row or summary, or an empty 404 once the server is gone."""
    viewer = viewer_of(request)
    try:
        server = await viewer.api.server(request.match_info["server_id"])
    except NotFound:
        return web.Response(status=404)
    if template == "_server_summary.html" and server["image"]:
        values["image_name"] = await viewer.api.image_name(server["image"])
    context = page_context(request, server=presented(server, viewer), **values)
    return dashboard_of(request).templates.page(template, context)


@routes.get("/servers/{server_id}/row")
async def server_row(request: web.Request) -> web.Response:
    """One row of the server list, as it is now (for the list's polling)."""
    viewer = viewer_of(request)
    everyone = _all_projects(request, viewer)
    names = await _project_names(viewer, everyone)
    return await _fragment(request, "_server_row.html", show_project=everyone, project_names=names)


@routes.get("/servers/{server_id}/summary")
async def server_summary(request: web.Request) -> web.Response:
    """A server's status, facts and actions, as they are now (for its page's polling)."""
    return await _fragment(request, "_server_summary.html")


# -- launching ----------------------------------------------------------------------------


async def _launch_form(
    request: web.Request, form: dict[str, str], *, error: str | None = None, status: int = 200
) -> web.Response:
    api = viewer_of(request).api
    context = page_context(
        request,
        title="Launch a server",
        section="new",
        form=form,
        flavors=await api.flavors(),
        images=await api.images(),
        networks=await api.networks(),
        keypairs=await api.keypairs(),
        error=error,
    )
    return dashboard_of(request).templates.page("server_new.html", context, status=status)


LAUNCH_FIELDS = ("name", "flavor", "image", "network", "key_name")


@routes.get("/servers/new")
async def launch_form(request: web.Request) -> web.Response:
    """The form to launch a server: name, flavor, image, network (and key pair, if any)."""
    return await _launch_form(request, dict.fromkeys(LAUNCH_FIELDS, ""))


def _create_body(form: dict[str, str]) -> dict[str, Any]:
    """The ``server`` of ``POST /servers`` for the launch form's fields."""
    body: dict[str, Any] = {"name": form["name"], "flavorRef": form["flavor"]}
    body["imageRef"] = form["image"]
    body["networks"] = [{"uuid": form["network"]}] if form["network"] else "auto"
    if form["key_name"]:
        body["key_name"] = form["key_name"]
    return body


@routes.post("/servers")
async def launch(request: web.Request) -> web.Response:
    """Create the server the form describes; to the list, where its row shows the build."""
    posted = await request.post()
    form = {name: str(posted.get(name, "")).strip() for name in LAUNCH_FIELDS}
    try:
        await viewer_of(request).api.create_server(_create_body(form))
    except (Invalid, Forbidden, Conflict, NotFound) as exc:
        return await _launch_form(request, form, error=str(exc), status=exc.code)
    return see_other("/dashboard/servers")


async def _console(viewer: Viewer, server: dict[str, Any]) -> tuple[str | None, str]:
    """The console's last lines, or None and why there are none."""
    try:
        return await viewer.api.console_output(server["id"], lines=CONSOLE_LINES), ""
    except (Conflict, Forbidden, NotFound) as exc:
        return None, str(exc)


async def _server_page(
    request: web.Request, server_id: str, *, error: str | None = None, status: int = 200
) -> web.Response:
    viewer = viewer_of(request)
    server = await viewer.api.server(server_id)
    console, console_note = await _console(viewer, server)
    context = page_context(
        request,
        title=f"Server {server['name']}",
        server=presented(server, viewer),
        image_name=await viewer.api.image_name(server["image"]) if server["image"] else "",
        actions=await viewer.api.instance_actions(server_id),
        console=console,
        console_note=console_note,
        error=error,
    )
    return dashboard_of(request).templates.page("server.html", context, status=status)


@routes.get("/servers/{server_id}")
async def server_page(request: web.Request) -> web.Response:
    """A server: its state and actions, what was done to it, its console output."""
    return await _server_page(request, request.match_info["server_id"])


# -- actions ------------------------------------------------------------------------------


@routes.post("/servers/{server_id}/action")
async def server_action(request: web.Request) -> web.Response:
    """Ask the API for the form's action; back to the page the form was on.

    The API checks the state table again (the page may be old): a refusal is shown
    with the API's message, naming the state and what the action needs.
    """
    viewer, server_id = viewer_of(request), request.match_info["server_id"]
    form = await request.post()
    action = ACTIONS.get(str(form.get("action", "")))
    back = BACK.get(str(form.get("back", "")), BACK["list"]).format(id=server_id)
    if action is None:
        raise Invalid(f"There is no dashboard action {form.get('action')!r}.")
    try:
        if action.body is None:
            await viewer.api.delete_server(server_id)
        else:
            await viewer.api.server_action(server_id, dict(action.body))
    except NovaError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _server_page(
            request, server_id, error=f"{action.label}: {exc}", status=exc.code
        )
    return see_other("/dashboard/servers" if action.name == "delete" else back)
