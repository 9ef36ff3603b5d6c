"""Live run events as Server-Sent Events, tailed from the run event log.

Each SSE event is one stored event: `id` is its row id, `data` its JSON (`RunEventOut`). A client that
reconnects with `Last-Event-ID` (browsers do it by themselves) gets every event after that id, so it misses
nothing. Streams wake at once when this process stores events (runs started through the server), when
PostgreSQL notifies (runs of other processes), and otherwise poll every `poll_seconds` (SQLite, other
processes). A run's stream ends with an `end` event once the run has ended and its last event was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import RowMapping

from boocode.store.run_events import CHANNEL, RunEventLog, on_commit
from boocode.store.runs import RunRecords
from boocode.store.store import Store, utcnow
from boocode.store.trace import aware

KEEPALIVE_SECONDS = 15.0
# A run that ended without a final `run_finished` event (its process died) stops streaming after this.
SETTLE_SECONDS = 2.0
BATCH = 500


class EventHub:
    """Wakes the open streams when new events may have been stored."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit = contextlib.AsyncExitStack()

    async def start(self, store: Store) -> None:
        """Listen to this process's commits, and to PostgreSQL notifications on a PostgreSQL store."""
        self._loop = asyncio.get_running_loop()
        self._exit.callback(on_commit(lambda _runs: self.wake()))
        if store.engine.url.get_backend_name() == "postgresql":
            conn = await self._exit.enter_async_context(store.engine.connect())
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None

            def notified(*_args: Any) -> None:
                self.wake()

            await raw.add_listener(CHANNEL, notified)
            self._exit.push_async_callback(raw.remove_listener, CHANNEL, notified)

    async def aclose(self) -> None:
        await self._exit.aclose()
        self.wake()

    def wake(self) -> None:
        """Wake every waiting stream (safe from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    @contextlib.contextmanager
    def subscription(self) -> Iterator[asyncio.Event]:
        """An event set at every wake while the block runs (clear it before looking for new rows)."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            self._waiters.discard(waiter)


def sse(row: RowMapping) -> str:
    """One stored event as an SSE message."""
    created = aware(row["created_at"])
    data = {
        "id": row["id"],
        "run_id": row["run_id"],
        "kind": row["kind"],
        "data": row["data"],
        "created_at": created.isoformat() if created else None,
    }
    return f"id: {row['id']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _ended(records: RunRecords, log: RunEventLog, run_id: str, sent: int) -> bool:
    """Whether the run has ended and every event it will store has been sent: its status is read first,
    then its newest event (one read), which must have been sent and be its final `run_finished` (or the run
    ended a while ago without one: its process died)."""
    run = await records.get_run(run_id)
    if run is None or run["status"] == "running":
        return False
    newest = await log.newest(run_id)
    if newest is not None and newest["id"] > sent:
        return False
    if newest is not None and newest["run_id"] == run_id and newest["kind"] == "run_finished":
        return True
    finished = aware(run["finished_at"])
    return finished is None or utcnow() - finished > timedelta(seconds=SETTLE_SECONDS)


async def stream(
    store: Store,
    hub: EventHub,
    run_id: str | None,
    after: int,
    *,
    poll_seconds: float,
    disconnected: Any,
) -> AsyncIterator[str]:
    """The SSE body: events of `run_id` (and its nested runs), or of every run, with ids above `after`.
    `disconnected()` says when the client has gone."""
    log, records = RunEventLog(store), RunRecords(store)
    sent = after
    quiet_since = time.monotonic()
    yield "retry: 1000\n\n"
    with hub.subscription() as woken:
        while not await disconnected():
            woken.clear()
            rows = await log.after(run_id, sent, BATCH)
            for row in rows:
                yield sse(row)
                sent = row["id"]
            if rows:
                quiet_since = time.monotonic()
                if len(rows) == BATCH:
                    continue
            elif run_id is not None and await _ended(records, log, run_id, sent):
                yield "event: end\ndata: {}\n\n"
                return
            if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), poll_seconds)
