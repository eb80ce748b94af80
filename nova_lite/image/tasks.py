"""Glance's tasks API (``/v2/tasks``, deprecated upstream): create, show and list tasks.

Only administrators reach it (Glance's ``tasks_api_access``). The one task type is
Glance's ``import``: its input names ``import_from`` (a URI), ``import_from_format``
and ``image_properties``, and a task missing one is refused (400). The image service
has no http store and fetches nothing from a URI, so every import task ends in
``failure`` with a message saying so, as Glance's ends when the URI cannot be read;
it is recorded ``pending`` first and has ended by the time the create answers. A
task expires 48 hours after it ends (Glance's ``task_time_to_live``), and is shown
until then.
"""

from __future__ import annotations

import builtins
import datetime
import sqlite3
import uuid
from typing import Any, ClassVar

import orjson
import structlog

from nova_lite import clock
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.image.schema import isotext
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["TASK_TYPES", "TaskRecords"]

log = structlog.get_logger(__name__)

TASK_TYPES = ("import",)
IMPORT_INPUT = ("import_from", "import_from_format", "image_properties")
TIME_TO_LIVE = datetime.timedelta(hours=48)
_COLUMNS = "id, type, status, input, result, message, owner, created_at, updated_at, expires_at"


def _record(row: sqlite3.Row) -> dict[str, Any]:
    """A task row as the endpoints return it (times as ISO text)."""
    return {
        "id": row["id"],
        "type": row["type"],
        "status": row["status"],
        "input": orjson.loads(row["input"]),
        "result": None if row["result"] is None else orjson.loads(row["result"]),
        "message": row["message"],
        "owner": row["owner"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "expires_at": row["expires_at"],
    }


def check_input(task_type: object, task_input: object) -> tuple[str, dict[str, Any]]:
    """The task's type and input, or `Invalid` naming what is wrong with them."""
    if task_type not in TASK_TYPES:
        raise Invalid(f"Invalid type value: {task_type!r:.80}. The task types are 'import'.")
    if not isinstance(task_input, dict):
        raise Invalid("The task's input must be an object.")
    for field in IMPORT_INPUT:
        if field not in task_input:
            raise Invalid(f"Input does not contain {field!r} field.")
    check.text("import_from", task_input["import_from"], max_length=2048)
    if not isinstance(task_input["image_properties"], dict):
        raise Invalid("image_properties must be an object.")
    return str(task_type), task_input


class TaskRecords:
    """The tasks endpoints (see the module docstring)."""

    target: ClassVar[Target] = Target(version=ImageAPI.version)

    def __init__(self, db: Database, policy: Enforcer) -> None:
        self.db = db
        self.policy = policy

    def _authorize(self, ctx: RequestContext, rule: str) -> None:
        target = {"project_id": ctx.project_id}
        self.policy.authorize(ctx, "tasks_api_access", target)
        self.policy.authorize(ctx, rule, target)

    @endpoint
    async def task_create(
        self, ctx: RequestContext, type: str, input: dict[str, Any]
    ) -> dict[str, Any]:
        """A new task, run at once: an import from a URI ends in ``failure``."""
        self._authorize(ctx, "add_task")
        task_type, task_input = check_input(type, input)
        task_id, created = str(uuid.uuid4()), isotext(clock.now())
        async with self.db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO tasks ({_COLUMNS}) VALUES (?, ?, 'pending', ?, NULL, '', ?, ?, ?,"
                " NULL)",
                (
                    task_id,
                    task_type,
                    orjson.dumps(task_input).decode(),
                    ctx.project_id,
                    created,
                    created,
                ),
            )
        log.info("image.task_created", task_id=task_id, type=task_type)
        await self._fail(task_id, _unfetchable(task_input["import_from"]))
        return await self._get(ctx, task_id)

    async def _fail(self, task_id: str, message: str) -> None:
        ended = clock.now()
        await self.db.execute(
            "UPDATE tasks SET status = 'failure', message = ?, updated_at = ?, expires_at = ?"
            " WHERE id = ?",
            (message, isotext(ended), isotext(ended + TIME_TO_LIVE), task_id),
        )
        log.info("image.task_failed", task_id=task_id, message=message)

    async def _get(self, ctx: RequestContext, task_id: str) -> dict[str, Any]:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM tasks WHERE id = ? AND (? OR owner = ?)",
            (task_id, ctx.is_admin, ctx.project_id),
        )
        if row is None:
            raise NotFound(f"Task with identifier {task_id} not found.")
        return _record(row)

    @endpoint
    async def task_get(self, ctx: RequestContext, task_id: str) -> dict[str, Any]:
        """One task (an administrator's: any project's)."""
        self._authorize(ctx, "get_task")
        return await self._get(ctx, check.text("task_id", task_id))

    @endpoint
    async def task_list(
        self, ctx: RequestContext, status: str | None = None, type: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The tasks not yet expired, newest first (filtered by `status` and `type`)."""
        self._authorize(ctx, "get_tasks")
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM tasks WHERE (? OR owner = ?)"
            " AND (? IS NULL OR status = ?) AND (? IS NULL OR type = ?)"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC, rowid DESC",
            (ctx.is_admin, ctx.project_id, status, status, type, type, isotext(clock.now())),
        )
        return [_record(row) for row in rows]


def _unfetchable(uri: str) -> str:
    return (
        f"Import from {uri} failed: the image service has no http store and fetches no"
        " data from a URI."
    )
