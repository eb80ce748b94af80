"""Glance v2's tasks API (deprecated upstream): ``POST /v2/tasks``, list and show.

Administrators only (``tasks_api_access``). A create answers 201 with the task; the
image service runs it at once (`nova_lite.image.tasks`). A listed task omits its
``input`` and ``result``, as Glance's list does.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from nova_lite.api.http.common import API, body_of, context_of, json
from nova_lite.api.http.images import PREFIX
from nova_lite.api.http.views import isotime

__all__ = ["routes"]

routes = web.RouteTableDef()
TASKS = PREFIX + "/tasks"


def _time(value: str | None) -> str | None:
    return None if value is None else isotime(datetime.datetime.fromisoformat(value))


def task_view(task: dict[str, Any], *, listed: bool = False) -> dict[str, Any]:
    """A task as Glance shows it (`listed`: without its input and result)."""
    view = {
        "id": task["id"],
        "type": task["type"],
        "status": task["status"],
        "owner": task["owner"],
        "message": task["message"],
        "created_at": _time(task["created_at"]),
        "updated_at": _time(task["updated_at"]),
        "self": f"/v2/tasks/{task['id']}",
        "schema": "/v2/schemas/task",
    }
    if task["expires_at"] is not None:
        view["expires_at"] = _time(task["expires_at"])
    if not listed:
        view["input"] = task["input"]
        view["result"] = task["result"]
    return view


@routes.post(TASKS)
async def create_task(request: web.Request) -> web.Response:
    """A new task (``type`` ``import``, its ``input``; admins); 201."""
    body = await body_of(request)
    created = await request.app[API].image.task_create(
        context_of(request), body.get("type"), body.get("input")
    )
    return json(task_view(created), status=201)


@routes.get(TASKS)
async def list_tasks(request: web.Request) -> web.Response:
    """The tasks not yet expired, newest first (``status``, ``type`` filters; admins)."""
    found = await request.app[API].image.task_list(
        context_of(request), status=request.query.get("status"), type=request.query.get("type")
    )
    tasks = [task_view(t, listed=True) for t in found]
    return json({"tasks": tasks, "first": "/v2/tasks", "schema": "/v2/schemas/tasks"})


@routes.get(TASKS + "/{task_id}")
async def show_task(request: web.Request) -> web.Response:
    """One task (admins)."""
    found = await request.app[API].image.task_get(
        context_of(request), request.match_info["task_id"]
    )
    return json(task_view(found))
