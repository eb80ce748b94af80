"""The conductor's instance table: creates within quota, compare-and-swap saves.

Each instance row keeps the whole `Instance` as JSON plus the columns that queries,
quota counting and compare-and-swap need. Every change goes through `update()`, which
checks the expected task_state and applies the change in one write transaction, so a
delete that set ``deleting`` always wins over a build that expected ``spawning``.
"""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import orjson

from nova_lite import objects, paging
from nova_lite.compute import task_states, vm_states
from nova_lite.conductor.instance_changes import apply_values
from nova_lite.conductor.quotas import QuotaBook
from nova_lite.conductor.server_groups import ServerGroupStore
from nova_lite.db import Database
from nova_lite.exceptions import (
    Conflict,
    InstanceNotFound,
    Invalid,
    UnexpectedDeletingTaskStateError,
    UnexpectedTaskStateError,
)

__all__ = ["ANY", "InstanceStore"]

ANY: Any = object()  # "do not check the task_state"

_MARKER = "SELECT 1 FROM instances WHERE uuid = ?"


def _instances_where(project: bool, host: bool, *, project_by_index: bool = True) -> str:
    """The start of a statement over instances with the filters given, each written
    only when given: under ``(? IS NULL OR host = ?)`` SQLite cannot use
    `instances_by_host` and scans every instance (82 ms at 100,000)."""
    project_column = "project_id" if project_by_index else "+project_id"
    return (
        "SELECT data FROM instances WHERE "
        + (f"{project_column} = ? AND " if project else "")
        + ("host = ? AND " if host else "")
    )


_FILTERS = [(project, host) for project in (False, True) for host in (False, True)]

# A page of instances, by which filters are given (project, host). A host's few
# instances are found through its index and sorted; any other page walks the primary
# key from the marker and stops at the limit (``+project_id``: not through the
# project's index, which would sort all of a large project's rows for every page).
_PAGE_OF = {
    key: _instances_where(*key, project_by_index=False)
    + "uuid > ? AND (? OR deleted = 0) ORDER BY uuid LIMIT ?"
    for key in _FILTERS
}

# The whole list, by which filters are given.
_LIST_OF = {
    key: _instances_where(*key) + "(? OR deleted = 0) ORDER BY created_at, uuid" for key in _FILTERS
}


def _newest_where(project: bool, live: bool, after: bool) -> str:
    """A page of instances newest first, by (created_at, uuid) descending: an equality
    on each leading column of `instances_newest` / `instances_project_newest` (the
    project when given; ``deleted = 0`` for the live list), so the page is read off
    the index in order from the marker. With deleted ones too (``deleted IN (0, 1)``)
    SQLite sorts what matches: only admins' deleted-server listings ask that."""
    return (
        "SELECT data FROM instances WHERE "
        + ("project_id = ? AND " if project else "")
        + ("deleted = 0" if live else "deleted IN (0, 1)")
        + (" AND (created_at, uuid) < (?, ?)" if after else "")
        + " ORDER BY created_at DESC, uuid DESC LIMIT ?"
    )


# By (project given, live only, after a marker).
_NEWEST_OF = {key: _newest_where(*key) for key in itertools.product((False, True), repeat=3)}
# A marker deleted or not (as Nova looks its marker up, read_deleted "yes"): a page
# asked after a server deleted since the page before still starts in its place.
_NEWEST_MARKER = {
    project: "SELECT created_at, uuid FROM instances WHERE uuid = ?"
    + (" AND project_id = ?" if project else "")
    for project in (False, True)
}

_UPDATABLE = frozenset(
    {
        "vm_state",
        "task_state",
        "power_state",
        "host",
        "node",
        "addresses",
        "launched_at",
        "fault",
        "locked",
        "locked_by",
        "display_name",
        "flavor",
        "image_ref",
        "metadata",
        "system_metadata",
        "block_devices",
        "availability_zone",
        "deleted",
        # the server API's user-facing fields
        "description",
        "key_name",
        "key_data",
        "access_ip_v4",
        "access_ip_v6",
        "auto_disk_config",
        "user_data",
        "tags",
    }
)


# Instances kept as loaded, by uuid, with the text they were loaded from: a build's
# saves follow each other within seconds, and loading the JSON is most of a save's cost.
LOADED_KEPT = 4096


class InstanceStore:
    """Reads and writes the conductor's instance table, within the `QuotaBook`'s limits."""

    def __init__(self, db: Database, quotas: QuotaBook, groups: ServerGroupStore) -> None:
        self.db = db
        self.quotas = quotas
        self.groups = groups
        self._loaded: dict[str, tuple[str, objects.Instance]] = {}

    def _load(self, uuid: str, data: str) -> objects.Instance:
        """The instance stored as `data`: the one kept from that very text, or loaded."""
        kept = self._loaded.get(uuid)
        if kept is not None and kept[0] == data:
            return kept[1]
        instance = objects.load(objects.Instance, data)
        self._keep(uuid, data, instance)
        return instance

    def _keep(self, uuid: str, data: str, instance: objects.Instance) -> None:
        self._loaded.pop(uuid, None)
        self._loaded[uuid] = (data, instance)
        if len(self._loaded) > LOADED_KEPT:
            del self._loaded[next(iter(self._loaded))]

    # -- instances ---------------------------------------------------------

    async def create(
        self, instances: Sequence[objects.Instance]
    ) -> tuple[list[objects.Instance], bool]:
        """Insert new instances if the project's quota allows all of them at once.

        Instances created in a server group (hint ``group``) join it in the same
        transaction, if the group has room for them all.

        Returns the instances as stored, and whether they are new. The same batch
        again (every uuid recorded already, in the same project) is a retry of the
        create it made: its instances are returned as they are now, and nothing is
        inserted or counted twice. A uuid given twice, one that another batch or a
        deleted instance has, is a `Conflict` naming it, and nothing is inserted.
        """
        async with self.db.transaction() as conn:
            retried, taken = await self._retried(conn, instances)
            if retried is not None:
                return retried, False
            _check_new_uuids([i.uuid for i in instances], taken)
            for project_id in {i.project_id for i in instances}:
                mine = [i for i in instances if i.project_id == project_id]
                await self._check_quota(conn, project_id, mine)
            stored = []
            for instance in instances:
                data = objects.dump(instance)
                stored.append((instance, data))
                await conn.execute(
                    _INSERT,
                    (
                        instance.uuid,
                        instance.project_id,
                        instance.user_id,
                        *_column_values(instance).values(),
                        instance.created_at.isoformat(),
                        data,
                    ),
                )
            await self.groups.add_members(conn, instances)
        # Kept as written: the build's first save swaps on this text, with no read.
        for instance, data in stored:
            self._keep(instance.uuid, data, instance)
        return list(instances), True

    async def _retried(
        self, conn: Any, instances: Sequence[objects.Instance]
    ) -> tuple[list[objects.Instance] | None, list[str]]:
        """The stored instances if `instances` were all recorded by one earlier create,
        and the uuids of `instances` already taken (one read answers both)."""
        uuids = [i.uuid for i in instances]
        cursor = await conn.execute(
            "SELECT uuid, project_id, deleted, data FROM instances "
            "WHERE uuid IN (SELECT value FROM json_each(?))",
            (orjson.dumps(uuids).decode(),),
        )
        rows = {row[0]: row for row in await cursor.fetchall()}
        taken = sorted(rows)
        projects = {i.project_id for i in instances}
        if len(set(uuids)) != len(uuids) or set(rows) != set(uuids):
            return None, taken
        if any(row[2] for row in rows.values()) or {r[1] for r in rows.values()} != projects:
            return None, taken  # deleted since, or another project's: a conflict, said below
        return [objects.load(objects.Instance, rows[u][3]) for u in uuids], taken

    async def _check_quota(
        self, conn: Any, project_id: str, new: Sequence[objects.Instance]
    ) -> None:
        for user_id in sorted({i.user_id for i in new}):
            mine = [i for i in new if i.user_id == user_id]
            wanted = {
                "instances": len(mine),
                "cores": sum(i.flavor.vcpus for i in mine),
                "ram": sum(i.flavor.memory_mb for i in mine),
            }
            await self.quotas.check(conn, project_id, user_id or None, wanted)

    async def get(self, uuid: str, *, read_deleted: bool = False) -> objects.Instance:
        row = await self.db.fetchone("SELECT data, deleted FROM instances WHERE uuid = ?", (uuid,))
        if row is None or (row["deleted"] and not read_deleted):
            raise InstanceNotFound(f"Instance {uuid} could not be found.", instance_id=uuid)
        return self._load(uuid, row["data"])

    async def states(self, uuid: str) -> tuple[str, str | None, str | None] | None:
        """An undeleted instance's vm_state, task_state and host (its columns), or None."""
        row = await self.db.fetchone(
            "SELECT vm_state, task_state, host FROM instances WHERE uuid = ? AND deleted = 0",
            (uuid,),
        )
        return None if row is None else (row[0], row[1], row[2])

    async def with_tasks(self, *, created_before: datetime.datetime) -> list[objects.Instance]:
        """The undeleted instances with a task under way, made by `created_before`."""
        rows = await self.db.fetchall(
            "SELECT uuid, data FROM instances WHERE deleted = 0 AND task_state IS NOT NULL "
            "AND created_at <= ? ORDER BY created_at, uuid",
            (created_before.isoformat(),),
        )
        return [self._load(r["uuid"], r["data"]) for r in rows]

    async def page(
        self,
        *,
        marker: str | None,
        limit: int,
        project_id: str | None = None,
        host: str | None = None,
        read_deleted: bool = False,
    ) -> list[objects.Instance]:
        """A page of `list` by uuid: at most `limit`, those after `marker`, which must
        name an instance, deleted or not (as Nova's); `MarkerNotFound` otherwise."""
        if marker is not None and await self.db.fetchone(_MARKER, (marker,)) is None:
            raise paging.marker_not_found(marker, what="instances")
        filters = tuple(v for v in (project_id, host) if v is not None)
        rows = await self.db.fetchall(
            _PAGE_OF[project_id is not None, host is not None],
            (*filters, marker or "", int(read_deleted), limit),
        )
        return [objects.load(objects.Instance, r["data"]) for r in rows]

    async def newest(
        self,
        *,
        marker: str | None,
        limit: int,
        project_id: str | None = None,
        read_deleted: bool = False,
    ) -> list[objects.Instance]:
        """A page of the instances (of a project) newest first: at most `limit`, those
        after `marker`, which must be an instance (of the project), deleted or not
        (`MarkerNotFound` otherwise), as Nova looks its marker up: a server deleted
        since it ended the page before still marks its place."""
        project = project_id is not None
        filters = (project_id,) if project_id is not None else ()
        after: tuple[Any, ...] = ()
        if marker is not None:
            found = await self.db.fetchone(_NEWEST_MARKER[project], (marker, *filters))
            if found is None:
                raise paging.marker_not_found(marker, what="instances")
            after = (found["created_at"], found["uuid"])
        rows = await self.db.fetchall(
            _NEWEST_OF[project, not read_deleted, marker is not None],
            (*filters, *after, limit),
        )
        return [objects.load(objects.Instance, r["data"]) for r in rows]

    async def list(
        self,
        *,
        project_id: str | None = None,
        host: str | None = None,
        read_deleted: bool = False,
    ) -> list[objects.Instance]:
        filters = tuple(v for v in (project_id, host) if v is not None)
        rows = await self.db.fetchall(
            _LIST_OF[project_id is not None, host is not None], (*filters, int(read_deleted))
        )
        return [objects.load(objects.Instance, r["data"]) for r in rows]

    async def update(
        self,
        uuid: str,
        values: Mapping[str, Any],
        *,
        expected_task_state: Collection[str | None] | Any = ANY,
        expected_vm_state: Collection[str] | Any = ANY,
        expected_host: str | Any = ANY,
        seen: Callable[[objects.Instance], None] = lambda current: None,
    ) -> objects.Instance:
        """Apply `values` if the instance is in an expected state (compare-and-swap).

        `seen` is shown the record the values were applied to (the last one, if the
        swap had to be tried again), before the save is written.
        """

        def change(current: objects.Instance) -> Mapping[str, Any]:
            seen(current)
            _check_expected(current, expected_task_state, expected_vm_state)
            if expected_host is not ANY and current.host != expected_host:
                raise UnexpectedTaskStateError(
                    f"Instance {current.uuid} is on host {current.host}, expected {expected_host}.",
                    instance_uuid=current.uuid,
                    actual=current.task_state,
                )
            return values

        return await self.edit(uuid, change)

    async def edit(
        self, uuid: str, change: Callable[[objects.Instance], Mapping[str, Any]]
    ) -> objects.Instance:
        """Save the values `change` makes of the current instance, as one compare-and-swap.

        `change` sees the record as it is and may raise to refuse; if another writer
        got there first, the record is read again and `change` runs again, so an
        edit computed from the record (merging metadata, adding a tag) loses nothing.
        A ``fault`` among the values saved joins the instance's fault history.
        """
        faulted = False

        def tracked(current: objects.Instance) -> Mapping[str, Any]:
            nonlocal faulted
            values = change(current)
            faulted = "fault" in values
            return values

        updated = await self._swapped(uuid, tracked)
        fault = updated.fault
        if faulted and fault is not None:
            await self.db.execute(
                "INSERT INTO instance_faults (instance_uuid, code, message, details, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (uuid, fault.code, fault.message, fault.details, fault.created_at.isoformat()),
            )
        return updated

    async def _swapped(
        self, uuid: str, change: Callable[[objects.Instance], Mapping[str, Any]]
    ) -> objects.Instance:
        kept = self._loaded.get(uuid)
        if kept is not None and not kept[1].deleted:
            # Optimistic on the record as this store last saw it: the swap checks that
            # the row still holds that text, and anything else (another writer, or a
            # refusal that may rest on an old view) goes the way of a fresh read.
            try:
                updated = self._changed(kept[1], change)
            except Exception:  # judged again on the record as it is now, below
                pass
            else:
                if await self._swap(uuid, kept[0], kept[1], updated):
                    return updated
        while True:  # re-read and retry if another writer got there first
            row = await self.db.fetchone(
                "SELECT data, deleted FROM instances WHERE uuid = ?", (uuid,)
            )
            if row is None or row["deleted"]:
                raise InstanceNotFound(f"Instance {uuid} could not be found.", instance_id=uuid)
            current = self._load(uuid, row["data"])
            updated = self._changed(current, change)
            if await self._swap(uuid, row["data"], current, updated):
                return updated

    @staticmethod
    def _changed(
        current: objects.Instance, change: Callable[[objects.Instance], Mapping[str, Any]]
    ) -> objects.Instance:
        values = change(current)
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise Invalid(f"Cannot update instance fields {sorted(unknown)}.")
        return apply_values(current, values, updated_at=_later_than(current.updated_at))

    async def _swap(
        self,
        uuid: str,
        expected_data: str,
        current: objects.Instance,
        updated: objects.Instance,
    ) -> bool:
        """Write `updated` only if the row still holds `expected_data` (one statement).

        `current` is the record `expected_data` holds; of the columns kept beside
        the data (each indexed), only those whose value differs from it are set:
        SQLite rewrites the entries of every index on a column the statement
        assigns, changed or not, and a save assigned all of them (a build's saves
        change the task state alone, twice as fast to write without the rest).
        """
        data = objects.dump(updated)
        columns = _column_values(updated)
        before = _column_values(current)
        names = tuple(name for name in _COLUMNS if columns[name] != before[name])
        changed = await self.db.execute(
            _SWAP_STATEMENTS[names],
            (*(columns[name] for name in names), data, uuid, expected_data),
        )
        if changed == 1:
            self._keep(uuid, data, updated)
        return changed == 1

    async def destroy(self, uuid: str) -> objects.Instance:
        """Mark the instance deleted; its quota is released with it."""
        values = {
            "vm_state": vm_states.DELETED,
            "task_state": None,
            "power_state": 0,
            "deleted": True,
        }
        return await self.update(uuid, values)


# The instance's fields kept as columns beside its data, for the indexes and filters.
_COLUMNS = ("host", "vm_state", "task_state", "vcpus", "memory_mb", "deleted")


def _column_values(instance: objects.Instance) -> dict[str, Any]:
    """The record's values of `_COLUMNS`, in that order."""
    return {
        "host": instance.host,
        "vm_state": instance.vm_state,
        "task_state": instance.task_state,
        "vcpus": instance.flavor.vcpus,
        "memory_mb": instance.flavor.memory_mb,
        "deleted": int(instance.deleted),
    }


_INSERT = (
    f"INSERT INTO instances (uuid, project_id, user_id, {', '.join(_COLUMNS)}, created_at, "
    f"data) VALUES ({', '.join('?' * (len(_COLUMNS) + 5))})"
)


def _swap_statement(names: tuple[str, ...]) -> str:
    """The compare-and-swap UPDATE setting the columns `names` (and the data)."""
    assigned = "".join(f"{name} = ?, " for name in names)
    return f"UPDATE instances SET {assigned}data = ? WHERE uuid = ? AND data = ?"


# Every such statement, by the columns it sets (each subset of `_COLUMNS`, in order):
# a table of constants, so no SQL text is formatted when a save runs.
_SWAP_STATEMENTS = {
    names: _swap_statement(names)
    for size in range(len(_COLUMNS) + 1)
    for names in itertools.combinations(_COLUMNS, size)
}


def _check_new_uuids(uuids: Sequence[str], taken: Sequence[str]) -> None:
    """A `Conflict` for a uuid given twice in one request or `taken` already."""
    twice = sorted(u for u, n in Counter(uuids).items() if n > 1)
    if twice:
        raise Conflict(f"Instance uuid {twice[0]!r} is given twice in one request.", uuid=twice[0])
    if taken:
        raise Conflict(f"An instance with uuid {taken[0]!r} already exists.", uuid=taken[0])


def _check_expected(current: objects.Instance, expected_task: Any, expected_vm: Any) -> None:
    if expected_vm is not ANY and current.vm_state not in expected_vm:
        raise UnexpectedTaskStateError(
            f"Instance {current.uuid} is in vm_state {current.vm_state}, expected one of "
            f"{sorted(expected_vm)}.",
            instance_uuid=current.uuid,
            actual=current.vm_state,
        )
    if expected_task is ANY or current.task_state in expected_task:
        return
    error = (
        UnexpectedDeletingTaskStateError
        if current.task_state == task_states.DELETING
        else UnexpectedTaskStateError
    )
    raise error(
        f"Instance {current.uuid} has task_state {current.task_state}, expected one of "
        f"{sorted(map(str, expected_task))}.",
        instance_uuid=current.uuid,
        actual=current.task_state,
    )


_TICK = datetime.timedelta(microseconds=1)


def _later_than(previous: datetime.datetime | None) -> datetime.datetime:
    """Now, or a microsecond after `previous` if the clock has not passed it.

    Every write of a record moves its ``updated_at`` on, so a caller that holds the
    record as of one ``updated_at`` knows no one wrote it since while that is still
    the stored one (``instance_save``). The clock alone would not say so: under a
    simulation's virtual clock no time passes while tasks run, so two writes of one
    busy moment share the instant; a coarse or stepped-back system clock can too.
    """
    now = objects.utcnow()
    if previous is None or now > previous:
        return now
    return previous + _TICK
