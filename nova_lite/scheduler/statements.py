"""The scheduler's SQL statements, run in the event loop's own thread when they can be.

A claim is on the path of every placement decision. Through aiosqlite a statement is
handed to the connection's thread and its result handed back, and on a busy machine
each hand-off waits for the OS to run the other thread: 0.4-2.7 ms per claim measured
on a loaded 2-core machine, against 0.06-0.14 ms for the statement itself. Every
statement of the scheduler is one short statement on its own (no transaction spans
an await), so `Statements` runs it inline on a second connection to the same file,
with a short busy timeout. When another process holds the write lock longer than
that, the statement goes to the `Database` instead, whose thread waits for the lock
while the event loop goes on. An in-memory database (tests) has no second
connection, so there every statement goes to the `Database`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import structlog

from nova_lite.db import Database

__all__ = ["INLINE_BUSY_TIMEOUT_MS", "Statements"]

log = structlog.get_logger(__name__)

# How long an inline statement may block the event loop waiting for another writer.
INLINE_BUSY_TIMEOUT_MS = 20


class Statements:
    """One-statement reads and writes of the scheduler's tables."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        mode = "inline" if self._conn is not None else "through the database thread"
        return f"<Statements {self.db.name} {mode}>"

    def open(self) -> None:
        """Open the inline connection (after the Database has made the schema)."""
        if self._conn is not None or self.db.path == ":memory:":
            return
        conn = sqlite3.connect(self.db.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={INLINE_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._conn = conn

    def close(self) -> None:
        """Close the inline connection; never raises."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                log.warning("scheduler.statements.close_failed", error=str(exc))

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement; return the rows it changed."""
        conn = self._conn
        if conn is not None:
            try:
                return conn.execute(sql, params).rowcount
            except sqlite3.OperationalError as exc:
                _raise_unless_busy(exc)
        return await self.db.execute(sql, params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Every row of a query."""
        conn = self._conn
        if conn is not None:
            try:
                rows: list[sqlite3.Row] = conn.execute(sql, params).fetchall()
                return rows
            except sqlite3.OperationalError as exc:
                _raise_unless_busy(exc)
        return await self.db.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


def _raise_unless_busy(exc: sqlite3.OperationalError) -> None:
    """Let a locked database fall through to the awaited path; raise anything else."""
    if "locked" not in str(exc) and "busy" not in str(exc):
        raise exc
    log.info("scheduler.statements.busy", error=str(exc))
