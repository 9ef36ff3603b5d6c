"""Group commit on a SQLite file: batches, order, isolation of a failing write, cancellation, close."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError

from boocode.store.engine import sqlite_pragmas
from boocode.store.writer import SqliteWriter, WriteOp

meta = MetaData()
items = Table("items", meta, Column("id", Integer, primary_key=True), Column("name", String))


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    return path


@pytest.fixture
async def writer(db: Path) -> AsyncIterator[SqliteWriter]:
    w = SqliteWriter(make_url(f"sqlite+aiosqlite:///{db}"), sqlite_pragmas)
    yield w
    await w.close()


def rows(db: Path) -> list[tuple[int, str]]:
    """What another connection sees: committed rows only."""
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT id, name FROM items ORDER BY id"))


def put(item_id: int, name: str = "x") -> WriteOp[int]:
    def op(conn: Connection) -> int:
        conn.execute(insert(items), [{"id": item_id, "name": name}])
        return item_id

    return op


class Hold:
    """A write that keeps the writer thread busy until released, so later writes queue up behind it."""

    def __init__(self, writer: SqliteWriter) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.done = writer.submit(self._op)

    def _op(self, conn: Connection) -> None:
        self.entered.set()
        self.gate.wait(10)

    async def __aenter__(self) -> Hold:
        await asyncio.to_thread(self.entered.wait, 10)  # the writer is inside this write's transaction
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.gate.set()
        await self.done


async def test_a_write_is_committed_when_it_returns(writer: SqliteWriter, db: Path) -> None:
    assert await writer.run(put(1, "a")) == 1
    assert rows(db) == [(1, "a")]


async def test_queued_writes_share_one_transaction_and_keep_their_order(
    writer: SqliteWriter, db: Path
) -> None:
    commits: list[int] = []
    event.listen(writer._engine, "commit", lambda conn: commits.append(1))
    async with Hold(writer):
        later = [writer.submit(put(i, f"n{i}")) for i in range(1, 21)]
    assert await asyncio.gather(*later) == list(range(1, 21))
    assert rows(db) == [(i, f"n{i}") for i in range(1, 21)]
    assert len(commits) == 2  # the holding write, then one batch of twenty


async def test_a_failing_write_fails_alone(writer: SqliteWriter, db: Path) -> None:
    await writer.run(put(5, "old"))
    async with Hold(writer):
        good = writer.submit(put(6, "six"))
        duplicate = writer.submit(put(5, "dup"))
        also_good = writer.submit(put(7, "seven"))
    assert (await good, await also_good) == (6, 7)
    with pytest.raises(IntegrityError):
        await duplicate
    assert rows(db) == [(5, "old"), (6, "six"), (7, "seven")]


async def test_a_cancelled_caller_does_not_cancel_its_write(writer: SqliteWriter, db: Path) -> None:
    async with Hold(writer):
        caller = asyncio.create_task(writer.run(put(1)))
        await asyncio.sleep(0)  # let the caller queue its write
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
    await writer.barrier()
    assert rows(db) == [(1, "x")]


async def test_close_finishes_queued_writes(db: Path) -> None:
    w = SqliteWriter(make_url(f"sqlite:///{db}"), sqlite_pragmas)
    pending = [w.submit(put(i)) for i in range(1, 6)]
    await w.close()
    assert [f.result() for f in pending] == [1, 2, 3, 4, 5]
    assert len(rows(db)) == 5


async def test_store_reads_see_writes_queued_behind(tmp_path: Path) -> None:
    from boocode.store.store import open_store

    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    try:
        project = await store.ensure_project(tmp_path)
        ids = [
            await store.create_session(project_id=project, title=f"s{i}", provider="p", model="m")
            for i in range(30)
        ]
        listed = await store.list_sessions(limit=100)
        assert {row["id"] for row in listed} == set(ids)
    finally:
        await store.aclose()
