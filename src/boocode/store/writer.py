"""Group commit for SQLite: one thread owns a write connection and commits queued writes in batches.

SQLite takes one writer at a time, and through SQLAlchemy's async layer every statement costs a thread hop
and a transaction costs several more. Here a write is a plain function of a sync `Connection`; the writer
thread runs everything queued so far in one transaction, commits once, then answers every caller. A caller
gets its answer only after the commit, so a write is durable before anything depends on it. If a batch
fails, its writes run again one transaction each, so one bad write fails only its own caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

T = TypeVar("T")
WriteOp = Callable[[Connection], T]

# Writes per transaction at most: a long batch delays the callers at its head.
MAX_BATCH: Final = 256


@dataclass
class _Job:
    op: WriteOp[Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    outcome: tuple[bool, Any] | None = None


class SqliteWriter:
    """Runs write operations for one SQLite file on a thread of its own; see the module doc."""

    def __init__(self, url: URL, on_connect: Callable[..., None]) -> None:
        self._engine: Engine = create_engine(url.set(drivername="sqlite"), poolclass=NullPool)
        event.listen(self._engine, "connect", on_connect)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="boocode-store-writer", daemon=True)
        self._thread.start()

    def submit(self, op: WriteOp[T]) -> asyncio.Future[T]:
        """Queue `op`; the future resolves once its transaction has committed (or it failed).

        Writes commit in the order they were submitted.
        """
        loop = asyncio.get_running_loop()
        job = _Job(op, loop.create_future(), loop)
        self._jobs.put(job)
        return job.future

    async def run(self, op: WriteOp[T]) -> T:
        """Run `op` in a committed transaction; its result, or its exception.

        Cancelling the caller does not cancel the write: it may already be committed.
        """
        future = self.submit(op)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_retrieve)  # a failure nobody waits for is not an error
            raise

    async def barrier(self) -> None:
        """Wait until every write submitted so far has committed."""
        await self.run(_nothing)

    async def close(self) -> None:
        """Finish the queued writes, then stop the thread."""
        if self._thread.is_alive():
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
        self._engine.dispose()

    def _serve(self) -> None:
        with self._engine.connect() as conn:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                self._execute(conn, batch)
                _answer(batch)
                if stop:
                    return

    @staticmethod
    def _execute(conn: Connection, batch: list[_Job]) -> None:
        try:
            with conn.begin():
                for job in batch:
                    job.outcome = (True, job.op(conn))
            return
        except Exception:  # isolated below: each write again, alone
            pass
        for job in batch:
            try:
                with conn.begin():
                    job.outcome = (True, job.op(conn))
            except Exception as exc:  # handed to the caller
                job.outcome = (False, exc)


def _answer(batch: list[_Job]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
    for job in batch:
        by_loop.setdefault(job.loop, []).append(job)
    for loop, jobs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the caller's loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_settle, jobs)


def _nothing(_conn: Connection) -> None:
    return None


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done() or job.outcome is None:
            continue
        ok, value = job.outcome
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)
