"""The service database: statements inline on the loop, another process's lock waited out."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from nova_lite import db as db_module
from nova_lite.db import Database, DatabaseError

SCHEMA = ["CREATE TABLE t (x INTEGER);"]


async def _opened(path: Path) -> Database:
    database = Database(path, SCHEMA, name="t")
    await database.open()
    return database


async def test_statements_run_on_the_event_loops_thread(tmp_path: Path) -> None:
    """Every statement runs in the calling thread: no hand-off to a helper thread."""
    database = await _opened(tmp_path / "t.sqlite")
    seen: list[int] = []
    try:
        await database.conn.set_trace_callback(lambda _sql: seen.append(threading.get_ident()))
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (?)", (1,))
        assert [tuple(r) for r in await database.fetchall("SELECT x FROM t")] == [(1,)]
    finally:
        await database.close()
    assert seen and set(seen) == {threading.get_ident()}


async def test_a_write_lock_held_elsewhere_is_waited_for_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    """While another connection (another process's, in a deployment) holds the write
    lock, a transaction waits for it in short attempts: the loop keeps running other
    work meanwhile, and the transaction goes through once the lock is let go."""
    path = tmp_path / "t.sqlite"
    database = await _opened(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")

        async def write() -> None:
            async with database.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (?)", (2,))

        writing = asyncio.get_running_loop().create_task(write())
        ticks = 0
        while ticks < 20:  # the loop turns while the write waits: it is not blocked
            await asyncio.sleep(0.01)
            ticks += 1
        assert not writing.done()
        other.execute("COMMIT")
        await asyncio.wait_for(writing, timeout=5)
        assert sorted(tuple(r) for r in await database.fetchall("SELECT x FROM t")) == [
            (1,),
            (2,),
        ]
    finally:
        other.close()
        await database.close()


async def test_a_write_lock_never_let_go_fails_the_transaction_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the deadline the transaction fails with a DatabaseError naming the database."""
    monkeypatch.setattr(db_module, "BUSY_DEADLINE", 0.2)
    path = tmp_path / "t.sqlite"
    database = await _opened(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseError, match="stayed locked by another process"):
            async with database.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (?)", (2,))
        other.execute("ROLLBACK")
        assert await database.fetchall("SELECT x FROM t") == []
    finally:
        other.close()
        await database.close()
