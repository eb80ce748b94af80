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


async def _grouped(path: Path) -> Database:
    database = Database(path, SCHEMA, name="t", group_commit=True)
    await database.open()
    return database


async def test_writes_that_come_together_share_one_commit(tmp_path: Path) -> None:
    """Twenty writes sent at once (half single statements, half transactions), each
    awaited, are committed by a few COMMITs (one each would be ten, plus ten
    statements committing themselves), and each returns only once its data is
    committed (a second connection sees it)."""
    database = await _grouped(tmp_path / "t.sqlite")
    seen: list[str] = []
    try:
        await database.set_trace_callback(seen.append)

        async def write(x: int) -> None:
            if x % 2:
                assert await database.execute("INSERT INTO t VALUES (?)", (x,)) == 1
            else:
                async with database.transaction() as conn:
                    await conn.execute("INSERT INTO t VALUES (?)", (x,))
            other = sqlite3.connect(tmp_path / "t.sqlite")
            try:
                assert other.execute("SELECT 1 FROM t WHERE x = ?", (x,)).fetchone() == (1,)
            finally:
                other.close()

        await asyncio.gather(*(write(x) for x in range(20)))
    finally:
        await database.close()
    commits = sum(1 for sql in seen if sql == "COMMIT")
    assert 1 <= commits <= 3


async def test_a_failed_transaction_in_a_group_is_undone_alone(tmp_path: Path) -> None:
    """A transaction that fails is rolled back; the writes grouped with it, before and
    after, are committed."""
    database = await _grouped(tmp_path / "t.sqlite")

    async def fine(x: int) -> None:
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (?)", (x,))

    async def failing() -> None:
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (?)", (99,))
            raise RuntimeError("refused")

    try:
        results = await asyncio.gather(fine(1), failing(), fine(2), return_exceptions=True)
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], RuntimeError)
        rows = await database.fetchall("SELECT x FROM t ORDER BY x")
        assert [tuple(r) for r in rows] == [(1,), (2,)]
    finally:
        await database.close()


async def test_reads_outside_a_write_see_only_committed_data(tmp_path: Path) -> None:
    """While a transaction holding a write is open, another task's read does not see
    the write; once it is committed, the read does."""
    database = await _grouped(tmp_path / "t.sqlite")
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_write() -> None:
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (?)", (7,))
            inside.set()
            await go_on.wait()

    try:
        writing = asyncio.get_running_loop().create_task(slow_write())
        await inside.wait()
        assert await asyncio.wait_for(database.fetchall("SELECT x FROM t"), timeout=5) == []
        go_on.set()
        await writing
        assert [tuple(r) for r in await database.fetchall("SELECT x FROM t")] == [(7,)]
    finally:
        await database.close()


async def test_a_write_group_left_open_is_committed_at_close(tmp_path: Path) -> None:
    """Closing the database commits what a write group holds."""
    database = await _grouped(tmp_path / "t.sqlite")
    writing = asyncio.get_running_loop().create_task(
        database.execute("INSERT INTO t VALUES (?)", (3,))
    )
    await asyncio.sleep(0)  # the write is in its group; the group's COMMIT is not yet run
    await database.close()
    await asyncio.wait_for(writing, timeout=5)
    other = sqlite3.connect(tmp_path / "t.sqlite")
    try:
        assert other.execute("SELECT x FROM t").fetchall() == [(3,)]
    finally:
        other.close()


async def test_a_batch_waits_once_for_the_commit_of_its_statements(tmp_path: Path) -> None:
    """Statements in a batch return before their COMMIT (none waits for it), the batch
    returns once it is committed (a second connection sees every row), and a failed
    statement in it undoes only itself."""
    database = await _grouped(tmp_path / "t.sqlite")
    seen: list[str] = []
    try:
        await database.execute("CREATE UNIQUE INDEX t_x ON t (x)")
        await database.set_trace_callback(seen.append)
        async with database.batch():
            assert await database.execute("INSERT INTO t VALUES (?)", (1,)) == 1
            with pytest.raises(sqlite3.IntegrityError):
                await database.execute("INSERT INTO t VALUES (?)", (1,))
            assert await database.execute("INSERT INTO t VALUES (?)", (2,)) == 1
            assert "COMMIT" not in seen
        assert seen.count("COMMIT") == 1
        other = sqlite3.connect(tmp_path / "t.sqlite")
        try:
            assert other.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]
        finally:
            other.close()
    finally:
        await database.close()
