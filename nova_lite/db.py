"""Each service's own SQLite database: aiosqlite, WAL, foreign keys, migrations.

No service reads another's tables; they cross by RPC. A service hands `Database` its
list of migrations (SQL scripts, in order); the ones not yet applied run at start,
and ``PRAGMA user_version`` records how far the schema has come. All SQL is written
with ``?`` parameters, never by formatting values into the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from nova_lite import clock
from nova_lite.exceptions import NovaLiteError

__all__ = ["Database", "DatabaseError", "WriteGroup"]

log = structlog.get_logger(__name__)

T = TypeVar("T")


class DatabaseError(NovaLiteError):
    """The service's database cannot be opened or migrated."""


# How long one attempt at a statement may block the event loop waiting for another
# process's write lock; past it the statement is tried again after an awaited pause.
INLINE_BUSY_TIMEOUT_MS = 20
# How long a statement keeps trying for another process's write lock in all.
BUSY_DEADLINE = 10.0


class _InlineConnection(aiosqlite.Connection):
    """aiosqlite's interface, each statement run at once on the event loop's thread.

    Through aiosqlite a statement is handed to the connection's thread and its
    result handed back, and on a busy machine each hand-off waits for the OS (and
    the GIL's switch interval) to run the other thread: 0.4-2.7 ms per statement
    measured on a loaded 2-core machine, against 0.02-0.1 ms for the statement
    itself, and a service's statements queue behind each other on its one
    connection (`Database._exclusive`). Every service's statements are short, so
    they run inline. Only another process holding the write lock makes SQLite wait:
    each attempt waits at most `INLINE_BUSY_TIMEOUT_MS` in SQLite, then the event
    loop goes on for a moment and the statement is tried again, up to
    `BUSY_DEADLINE` (a refused statement changed nothing, so trying it again is
    safe).

    Under a virtual clock (`nova_lite.clock.is_virtual`) inline is also what keeps
    a simulation deterministic: work on a helper thread would let time jump while a
    statement runs. (It overrides aiosqlite's private `_connect`/`_execute`/`stop`,
    which its cursors also call; tests/test_simulate_clock.py checks it.)
    """

    def __await__(self) -> Generator[Any, None, _InlineConnection]:
        return self._connect().__await__()

    async def _connect(self) -> _InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        deadline: float | None = None
        while True:
            if not self._running or not self._connection:
                raise ValueError("Connection closed")
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                now = clock.monotonic()
                deadline = now + BUSY_DEADLINE if deadline is None else deadline
                if now >= deadline:
                    raise
                await asyncio.sleep(0.005)

    async def run(
        self, sql: str, params: tuple[Any, ...], read: Callable[[sqlite3.Cursor], T]
    ) -> T:
        """Run one statement and `read` its cursor (closed after), as one inline step.

        aiosqlite's ``execute`` wraps the cursor and closes it in a second step; the
        database's own statements (`Database.execute`, `fetchone`, `fetchall`) are
        read at once, so they skip both.
        """

        def step() -> T:
            cursor = self._conn.execute(sql, params)
            try:
                return read(cursor)
            finally:
                cursor.close()

        result: T = await self._execute(step)
        return result

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused a statement because another connection holds a lock."""
    text = str(exc)
    return "locked" in text or "busy" in text


def _rowcount(cursor: sqlite3.Cursor) -> int:
    return cursor.rowcount


def _one(cursor: sqlite3.Cursor) -> sqlite3.Row | None:
    row: sqlite3.Row | None = cursor.fetchone()
    return row


def _all(cursor: sqlite3.Cursor) -> list[sqlite3.Row]:
    return cursor.fetchall()


def _connect(path: str) -> _InlineConnection:
    """A connection to `path` whose statements run inline on the event loop's thread."""

    def connector() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={INLINE_BUSY_TIMEOUT_MS}")
        return conn

    return _InlineConnection(connector, 64)


class Database:
    """One service's SQLite database, opened with `open()` and closed with `close()`.

    Writes go through `transaction()`, which takes the write lock at once
    (``BEGIN IMMEDIATE``) so read-check-write sequences (quota, IP allocation,
    compare-and-swap on task_state) cannot interleave.

    With `group_commit` (a database in a file), the writes that come while one is
    under way share its SQLite transaction and are committed together
    (`WriteGroup`): each `transaction()` is a savepoint in it, rolled back alone on
    failure, and neither it nor `execute()` returns before the COMMIT. Reads outside
    a write go to a second connection, which sees committed data only.
    """

    def __init__(
        self,
        path: str | Path,
        migrations: Sequence[str],
        *,
        name: str = "db",
        group_commit: bool = False,
    ) -> None:
        self.path = str(path)
        self.migrations = list(migrations)
        self.name = name
        self.group_commit = group_commit and self.path != ":memory:"
        self._conn: _InlineConnection | None = None
        self._reader: _InlineConnection | None = None
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._group: WriteGroup | None = None
        self._batch: list[WriteGroup] | None = None  # the groups a `batch()` joined

    def __repr__(self) -> str:
        state = "open" if self._conn is not None else "closed"
        return f"<Database {self.name} {self.path} {state}>"

    @property
    def conn(self) -> _InlineConnection:
        if self._conn is None:
            raise DatabaseError(f"Database {self.name} at {self.path} is not open.")
        return self._conn

    async def open(self) -> None:
        """Open the file (creating its directory), set pragmas, run pending migrations."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = await _connect(self.path)
            self._conn.row_factory = sqlite3.Row
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA synchronous=NORMAL",
            ):
                await self._conn.execute(pragma)
            await self._migrate()
            if self.group_commit:
                self._reader = await _connect(self.path)
                self._reader.row_factory = sqlite3.Row
        except sqlite3.Error as exc:
            await self.close()
            raise DatabaseError(f"Cannot open database {self.name} at {self.path}: {exc}") from exc

    async def _migrate(self) -> None:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        if current > len(self.migrations):
            raise DatabaseError(
                f"Database {self.path} is at schema version {current}, newer than this "
                f"code's {len(self.migrations)}; upgrade nova_lite."
            )
        for version, script in enumerate(self.migrations[current:], start=current + 1):
            await self.conn.executescript(
                f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
            log.info("db.migrated", database=self.name, version=version)

    async def set_trace_callback(self, callback: Callable[[str], object]) -> None:
        """Have SQLite call `callback` with every statement either connection runs."""
        for conn in (self._conn, self._reader):
            if conn is not None:
                await conn.set_trace_callback(callback)

    async def close(self) -> None:
        """Commit a pending write group and close the connections; never raises."""
        if self._group is not None and self._conn is not None:
            async with self._exclusive():
                await self._commit(self._group)
        for conn in (self._reader, self._conn):
            if conn is not None:
                try:
                    await conn.close()
                except sqlite3.Error as exc:
                    log.warning("db.close_failed", database=self.name, error=str(exc))
        self._conn = self._reader = None

    def _exclusive(self) -> _Exclusive:
        """Use the connection alone (re-entrant for the task that already does).

        Every statement goes through here, reads included: a read left open on the
        shared connection while another coroutine writes would make SQLite refuse
        that write ("database is locked", at once) whenever another process wrote
        in between.
        """
        return _Exclusive(self)

    def _holds(self) -> bool:
        """Whether the current task is the one using the connection now."""
        task = asyncio.current_task()
        return task is not None and self._owner is task

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: commits on success, rolls back on any exception."""
        if not self.group_commit:
            async with self._exclusive():
                await self._begin_immediate()
                try:
                    yield self.conn
                except BaseException:
                    await self.conn.execute("ROLLBACK")
                    raise
                await self.conn.execute("COMMIT")
            return
        nested = self._holds()
        async with self._exclusive():
            group = await self._joined()
            if self._batch is not None:
                self._batch.append(group)
            await self.conn.execute("SAVEPOINT txn")
            try:
                yield self.conn
            except BaseException:
                await self._undo(group)
                raise
            await self.conn.execute("RELEASE txn")
        if not nested:
            await group.committed()

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Statements that share one wait for their commit: each `execute()` inside is
        still atomic on its own (a failed one undoes only itself, as outside), but
        none waits for the COMMIT; the batch waits once, at its end.

        For writes that follow each other anyway (an instance's save and the action
        event it carries): one commit to wait for instead of one per statement. The
        connection is this task's for the whole batch, so nothing in it may wait on
        anything but this database. Without `group_commit` every statement commits as
        it runs, and the batch only keeps other writers out between them.
        """
        if self._holds():  # inside another batch or transaction: its end waits
            yield
            return
        async with self._exclusive():
            joined: list[WriteGroup] = []
            self._batch = joined
            try:
                yield
            finally:
                self._batch = None
        for group in dict.fromkeys(joined):  # the group, or a later one if SQLite ended it
            await group.committed()

    async def _begin_immediate(self) -> None:
        """Take the write lock (the connection retries while another process holds it)."""
        try:
            await self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            raise DatabaseError(
                f"Database {self.name} at {self.path} stayed locked by another process "
                f"for {BUSY_DEADLINE:g} s."
            ) from exc

    async def _joined(self) -> WriteGroup:
        """The open write group (the caller holds the connection), begun if none is."""
        group = self._group
        if group is None:
            await self._begin_immediate()
            group = self._group = WriteGroup(self.name)
            group.flusher = asyncio.get_running_loop().create_task(self._flush(group))
        return group

    async def _flush(self, group: WriteGroup) -> None:
        """Commit `group` once the writes that joined it so far are through."""
        async with self._exclusive():
            await self._commit(group)

    async def _commit(self, group: WriteGroup) -> None:
        if self._group is not group:
            return  # ended already (rolled back whole, or committed at close)
        self._group = None
        try:
            await self.conn.execute("COMMIT")
        except (sqlite3.Error, ValueError) as exc:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await self.conn.execute("ROLLBACK")
            group.fail(exc)
            return
        group.succeed()

    async def _undo(self, group: WriteGroup) -> None:
        """Roll back the failed write's savepoint, or the whole group if SQLite did."""
        if self.conn.in_transaction:
            await self.conn.execute("ROLLBACK TO txn")
            await self.conn.execute("RELEASE txn")
            return
        if self._group is group:  # SQLite ended the transaction: every write in it is lost
            self._group = None
            group.fail(DatabaseError(f"Database {self.name} rolled the write group back."))

    def _reading(self) -> _InlineConnection | None:
        """The reader connection for a read outside a write, else None (the writer's)."""
        return None if self._reader is None or self._holds() else self._reader

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        reader = self._reading()
        if reader is not None:
            return await reader.run(sql, tuple(params), _one)
        async with self._exclusive():
            return await self.conn.run(sql, tuple(params), _one)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Every row of a query."""
        reader = self._reading()
        if reader is not None:
            return await reader.run(sql, tuple(params), _all)
        async with self._exclusive():
            return await self.conn.run(sql, tuple(params), _all)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one write statement, atomically on its own; return the rows changed.

        A single statement is its own transaction in SQLite; taking the connection's
        lock keeps it out of another coroutine's open transaction.
        """
        if not self.group_commit:
            async with self._exclusive():
                return await self.conn.run(sql, tuple(params), _rowcount)
        nested = self._holds()
        async with self._exclusive():
            group = await self._joined()
            if self._batch is not None:
                self._batch.append(group)
            try:
                count = await self.conn.run(sql, tuple(params), _rowcount)
            except BaseException:
                if not self.conn.in_transaction:
                    await self._undo(group)
                raise
        if not nested:
            await group.committed()
        return count


class _Exclusive:
    """`Database._exclusive()`: its connection's lock, taken unless this task holds it.

    A class rather than a generator-based context manager: every statement enters
    one, and contextlib's wrapping was three times the calls.
    """

    __slots__ = ("db", "taken")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.taken = False

    async def __aenter__(self) -> None:
        db = self.db
        task = asyncio.current_task()
        if task is not None and db._owner is task:
            return
        await db._lock.acquire()
        db._owner = task
        self.taken = True

    async def __aexit__(self, *exc_info: object) -> None:
        if self.taken:
            self.db._owner = None
            self.db._lock.release()


class WriteGroup:
    """Writes sharing one SQLite transaction, told together how its COMMIT went."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.flusher: asyncio.Task[None] | None = None  # the task that commits it

    def __repr__(self) -> str:
        return f"<WriteGroup {self.database} done={self._done.done()}>"

    async def committed(self) -> None:
        """Return once the group is committed; raise `DatabaseError` if it was not."""
        await asyncio.shield(self._done)

    def succeed(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def fail(self, cause: BaseException) -> None:
        if not self._done.done():
            error = DatabaseError(f"Database {self.database} could not commit: {cause}")
            error.__cause__ = cause
            self._done.set_exception(error)
            self._done.exception()  # retrieved: its writers each raise it on their own
