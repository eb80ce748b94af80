"""Instance actions and migrations: the conductor's records of what was done.

Nova's os-instance-actions: every API request on an instance records an action with
its request id, user, project and times; each service step adds an event with its
result and, for failures, the traceback (shown to admins only). Resizes are
recorded as migrations. `ActionStore` owns the tables; `ActionRecords` is the
conductor part that serves them over RPC (and creates migrations for the resize task).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.admin import require_admin
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["ActionRecords", "ActionStore", "EventStep", "event_step"]

# What a save may carry for the request's action (`EventStep`): the keys of the start
# of an event, and of its end.
_START_KEYS = frozenset({"event", "host"})
_FINISH_KEYS = frozenset({"event", "result", "traceback"})
_RESULTS = ("Success", "Error")

EventStep = dict[str, str | None]
"""An event's start (``event``, ``host``) or end (``event``, ``result``, ``traceback``),
carried by an instance save so that recording it costs no message of its own."""


def event_step(value: Any) -> EventStep:
    """`value` checked as an `EventStep` (`Invalid` naming what is wrong)."""
    if not isinstance(value, dict) or not isinstance(value.get("event"), str):
        raise Invalid(f"An action event must be a mapping with an 'event' name, not {value!r}.")
    keys = set(value)
    if keys <= _START_KEYS and isinstance(value.get("host"), str):
        return value
    traceback = value.get("traceback")
    finish = keys <= _FINISH_KEYS and value.get("result") in _RESULTS
    if finish and (traceback is None or isinstance(traceback, str)):
        return value
    raise Invalid(
        f"An action event has either 'host' (its start) or 'result' (one of "
        f"{', '.join(_RESULTS)}) and an optional 'traceback' (its end), not {sorted(keys)}."
    )


def _time(value: str | None) -> Any:
    import datetime

    return datetime.datetime.fromisoformat(value) if value else None


class ActionStore:
    """Reads and writes the instance_actions, instance_action_events and migrations tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def start_many(self, ctx: RequestContext, instance_uuids: list[str], action: str) -> None:
        """`start` for each instance, in one transaction (a multiple create's)."""
        now = objects.utcnow().isoformat()
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO instance_actions (instance_uuid, action, request_id, "
                "user_id, project_id, start_time, message) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                [
                    (uuid, action, ctx.request_id, ctx.user_id, ctx.project_id, now)
                    for uuid in instance_uuids
                ],
            )

    async def start(
        self, ctx: RequestContext, instance_uuid: str, action: str, message: str | None = None
    ) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO instance_actions (instance_uuid, action, request_id, "
            "user_id, project_id, start_time, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                instance_uuid,
                action,
                ctx.request_id,
                ctx.user_id,
                ctx.project_id,
                objects.utcnow().isoformat(),
                message,
            ),
        )

    async def discard(self, ctx: RequestContext, instance_uuid: str, action: str) -> None:
        """Forget the action the request recorded (its events go with it)."""
        await self.db.execute(
            "DELETE FROM instance_actions WHERE instance_uuid = ? AND request_id = ? "
            "AND action = ?",
            (instance_uuid, ctx.request_id, action),
        )

    async def event_start(
        self, ctx: RequestContext, instance_uuid: str, event: str, host: str
    ) -> None:
        """Add an event to the request's action (nothing if no API request started one,
        as for periodic tasks and recovery)."""
        await self.db.execute(
            "INSERT INTO instance_action_events (action_id, event, host, start_time) "
            "SELECT id, ?, ?, ? FROM instance_actions WHERE instance_uuid = ? AND request_id = ?",
            (event, host, objects.utcnow().isoformat(), instance_uuid, ctx.request_id),
        )

    async def event_finish(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        event: str,
        result: str,
        traceback: str | None,
        *,
        closes_action: bool = True,
    ) -> None:
        """Close the event, and the action with it (marked Error if the event failed).

        Without `closes_action` a successful event leaves the action open: the
        conductor's part of a build ends where the compute host's begins.
        """
        now = objects.utcnow().isoformat()
        await self.db.execute(
            "UPDATE instance_action_events SET finish_time = ?, result = ?, traceback = ? "
            "WHERE event = ? AND finish_time IS NULL AND action_id = (SELECT id FROM "
            "instance_actions WHERE instance_uuid = ? AND request_id = ?)",
            (now, result, traceback, event, instance_uuid, ctx.request_id),
        )
        if not closes_action and result != "Error":
            return
        await self.db.execute(
            "UPDATE instance_actions SET finish_time = ?, "
            "message = CASE WHEN ? = 'Error' THEN 'Error' ELSE message END "
            "WHERE instance_uuid = ? AND request_id = ?",
            (now, result, instance_uuid, ctx.request_id),
        )

    async def record(self, ctx: RequestContext, instance_uuid: str, step: EventStep) -> None:
        """Start or finish an event as `step` says (see `EventStep`)."""
        event = str(step["event"])
        if "host" in step:
            await self.event_start(ctx, instance_uuid, event, str(step["host"]))
        else:
            result = str(step["result"])
            await self.event_finish(ctx, instance_uuid, event, result, step.get("traceback"))

    async def list(
        self, instance_uuid: str, *, with_tracebacks: bool
    ) -> list[objects.InstanceAction]:
        rows = await self.db.fetchall(
            "SELECT * FROM instance_actions WHERE instance_uuid = ? ORDER BY id",
            (instance_uuid,),
        )
        return [await self._action(row, with_tracebacks) for row in rows]

    async def _action(self, row: Any, with_tracebacks: bool) -> objects.InstanceAction:
        events = await self.db.fetchall(
            "SELECT * FROM instance_action_events WHERE action_id = ? ORDER BY id", (row["id"],)
        )
        return objects.InstanceAction(
            instance_uuid=row["instance_uuid"],
            action=row["action"],
            request_id=row["request_id"],
            user_id=row["user_id"],
            project_id=row["project_id"],
            start_time=_time(row["start_time"]),
            finish_time=_time(row["finish_time"]),
            message=row["message"],
            events=tuple(
                objects.InstanceActionEvent(
                    event=e["event"],
                    host=e["host"],
                    start_time=_time(e["start_time"]),
                    finish_time=_time(e["finish_time"]),
                    result=e["result"],
                    traceback=e["traceback"] if with_tracebacks else None,
                )
                for e in events
            ),
        )

    # -- migrations ----------------------------------------------------------

    async def migration_create(self, migration: objects.Migration) -> objects.Migration:
        await self.db.execute(
            "INSERT INTO migrations (uuid, instance_uuid, source_host, dest_host, old_flavor, "
            "new_flavor, old_vm_state, status, created_at, updated_at, migration_type) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                migration.uuid,
                migration.instance_uuid,
                migration.source_host,
                migration.dest_host,
                objects.dump(migration.old_flavor),
                objects.dump(migration.new_flavor),
                migration.old_vm_state,
                migration.status,
                migration.created_at.isoformat(),
                migration.updated_at.isoformat(),
                "live-migration" if migration.live else None,
            ),
        )
        return migration

    async def migration_update(self, migration_uuid: str, **values: Any) -> objects.Migration:
        unknown = set(values) - {"dest_host", "status"}
        if unknown:
            raise Invalid(f"Cannot update migration fields {sorted(unknown)}.")
        now = objects.utcnow().isoformat()
        if "status" in values:
            await self.db.execute(
                "UPDATE migrations SET status = ?, updated_at = ? WHERE uuid = ?",
                (values["status"], now, migration_uuid),
            )
        if "dest_host" in values:
            await self.db.execute(
                "UPDATE migrations SET dest_host = ?, updated_at = ? WHERE uuid = ?",
                (values["dest_host"], now, migration_uuid),
            )
        return await self.migration_get(migration_uuid)

    async def migration_get(self, migration_uuid: str) -> objects.Migration:
        row = await self.db.fetchone("SELECT * FROM migrations WHERE uuid = ?", (migration_uuid,))
        if row is None:
            raise NotFound(f"Migration {migration_uuid} could not be found.")
        return _migration(row)

    async def migration_for_instance(self, instance_uuid: str) -> objects.Migration:
        row = await self.db.fetchone(
            "SELECT * FROM migrations WHERE instance_uuid = ? AND status = 'finished' "
            "ORDER BY created_at DESC LIMIT 1",
            (instance_uuid,),
        )
        if row is None:
            raise NotFound(f"Instance {instance_uuid} has no resize awaiting confirmation.")
        return _migration(row)

    async def migration_list(
        self, instance_uuid: str | None, statuses: Sequence[str] | None
    ) -> builtins.list[objects.Migration]:
        """Migrations, oldest first: of one instance or all, in `statuses` or any."""
        rows = await self.db.fetchall(
            "SELECT m.rowid AS id, m.*, i.project_id, i.user_id FROM migrations m "
            "LEFT JOIN instances i ON i.uuid = m.instance_uuid "
            "WHERE (? IS NULL OR m.instance_uuid = ?) ORDER BY m.created_at, m.rowid",
            (instance_uuid, instance_uuid),
        )
        found = [_migration(row) for row in rows]
        return [m for m in found if statuses is None or m.status in statuses]


def _migration(row: Any) -> objects.Migration:
    columns = row.keys()  # a sqlite3.Row's `in` looks at its values, not its columns
    owner = {k: row[k] for k in ("id", "project_id", "user_id") if k in columns}
    return objects.Migration(
        **owner,
        uuid=row["uuid"],
        instance_uuid=row["instance_uuid"],
        source_host=row["source_host"],
        dest_host=row["dest_host"],
        old_flavor=objects.load(objects.Flavor, row["old_flavor"]),
        new_flavor=objects.load(objects.Flavor, row["new_flavor"]),
        old_vm_state=row["old_vm_state"],
        status=row["status"],
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
        live=row["migration_type"] == "live-migration",
    )


class ActionRecords:
    """The conductor's RPC endpoints for instance actions and migrations."""

    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(self, actions: ActionStore) -> None:
        self.actions = actions

    def __repr__(self) -> str:
        return "<ActionRecords>"

    @endpoint
    async def action_start(self, ctx: RequestContext, instance_uuid: str, action: str) -> None:
        """Record that the request `ctx.request_id` started `action` on the instance."""
        await self.actions.start(ctx, instance_uuid, action)

    @endpoint
    async def actions_start(
        self, ctx: RequestContext, instance_uuids: list[str], action: str
    ) -> None:
        """`action_start` for many instances in one round trip (a multiple create)."""
        await self.actions.start_many(ctx, instance_uuids, action)

    @endpoint
    async def action_discard(self, ctx: RequestContext, instance_uuid: str, action: str) -> None:
        """Forget `action` recorded by the request `ctx.request_id`: the API gave it back
        (a step after its claim failed), so nothing of it happened."""
        await self.actions.discard(ctx, instance_uuid, action)

    @endpoint
    async def action_event_start(
        self, ctx: RequestContext, instance_uuid: str, event: str, host: str
    ) -> None:
        await self.actions.event_start(ctx, instance_uuid, event, host)

    @endpoint
    async def action_event_finish(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        await self.actions.event_finish(ctx, instance_uuid, event, result, traceback)

    @endpoint
    async def actions_list(
        self, ctx: RequestContext, instance_uuid: str
    ) -> list[objects.InstanceAction]:
        return await self.actions.list(instance_uuid, with_tracebacks=ctx.is_admin)

    async def migration_create(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        source_host: str,
        old_flavor: objects.Flavor,
        new_flavor: objects.Flavor,
        old_vm_state: str,
        *,
        live: bool = False,
    ) -> objects.Migration:
        """Record a new migration of the instance (pre-migrating; a live one: accepted).

        Not an endpoint: no client creates migrations over RPC; the conductor's own
        resize and live migration tasks do.
        """
        migration = objects.Migration(
            uuid=str(uuid.uuid4()),
            instance_uuid=instance_uuid,
            source_host=source_host,
            dest_host=None,
            old_flavor=old_flavor,
            new_flavor=new_flavor,
            old_vm_state=old_vm_state,
            status="accepted" if live else "pre-migrating",
            live=live,
        )
        return await self.actions.migration_create(migration)

    @endpoint
    async def migration_update(
        self,
        ctx: RequestContext,
        migration_uuid: str,
        status: str | None = None,
        dest_host: str | None = None,
    ) -> objects.Migration:
        values = {k: v for k, v in (("status", status), ("dest_host", dest_host)) if v}
        return await self.actions.migration_update(migration_uuid, **values)

    @endpoint
    async def migration_get(self, ctx: RequestContext, migration_uuid: str) -> objects.Migration:
        return await self.actions.migration_get(migration_uuid)

    @endpoint
    async def migration_for_instance(
        self, ctx: RequestContext, instance_uuid: str
    ) -> objects.Migration:
        return await self.actions.migration_for_instance(instance_uuid)

    @endpoint
    async def migration_list(
        self,
        ctx: RequestContext,
        instance_uuid: str | None = None,
        statuses: list[str] | None = None,
    ) -> list[objects.Migration]:
        """Migrations (of one instance, in some statuses), oldest first; admins only."""
        require_admin(ctx, "list migrations")
        return await self.actions.migration_list(instance_uuid, statuses)
