"""The run event log: every event a run emits, stored in order so that any process can replay and tail it.

Ids increase in commit order for one run (one process writes a run's events, one batch after another), so a
reader that has seen id N of a run misses nothing by asking for ids above N. On PostgreSQL each batch also
sends a notification on `CHANNEL` (payload: the run id), so listeners in other processes wake at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, RowMapping

from boocode.store import schema as t
from boocode.store.runs import run_tree
from boocode.store.store import Store, insert_into
from boocode.store.writer import WriteOp

CHANNEL: Final = "boocode_run_events"

_log = logging.getLogger(__name__)
CommitListener = Callable[[set[str]], None]
_committed: list[CommitListener] = []


def on_commit(listener: CommitListener) -> Callable[[], None]:
    """Call `listener(run_ids)` whenever this process has committed events of those runs; returns the
    function that unsubscribes it. (Other processes are heard through `CHANNEL` or by polling.)"""
    _committed.append(listener)
    return lambda: _committed.remove(listener)


def appending(rows: Sequence[dict[str, Any]]) -> WriteOp[None]:
    """A write operation inserting event rows (run_id, kind, data, created_at), notifying on PostgreSQL."""

    def op(conn: Connection) -> None:
        conn.execute(insert_into(t.run_events), list(rows))
        if conn.dialect.name == "postgresql":
            for run_id in sorted({r["run_id"] for r in rows}):
                conn.execute(text("SELECT pg_notify(:channel, :run)"), {"channel": CHANNEL, "run": run_id})

    return op


class RunEventLog:
    """Reads of `run_events`; a run's events include those of its nested runs."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store event rows (run_id, kind, data, created_at) in one transaction, then tell `on_commit`
        listeners."""
        await self.store.write(appending(rows))
        runs = {r["run_id"] for r in rows}
        for listener in list(_committed):
            try:
                listener(runs)
            except Exception:  # a listener's bug must not stop the log
                _log.exception("run event listener failed")

    async def after(self, run_id: str | None, after: int, limit: int = 500) -> list[RowMapping]:
        """Events with an id above `after`, oldest first: of run `run_id` (and its nested runs), or of all
        runs when `run_id` is None."""
        events = t.run_events.c
        query = select(t.run_events).where(events.id > after).order_by(events.id).limit(limit)
        if run_id is not None:
            query = query.where(events.run_id.in_(run_tree(run_id)))
        async with self.store.reading() as conn:
            return list((await conn.execute(query)).mappings())

    async def last_id(self, run_id: str | None = None) -> int:
        """The id of the newest event (of the run and its nested runs, or of all runs); 0 when none."""
        events = t.run_events.c
        query = select(func.max(events.id))
        if run_id is not None:
            query = query.where(events.run_id.in_(run_tree(run_id)))
        async with self.store.reading() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    async def newest(self, run_id: str) -> RowMapping | None:
        """The newest event (id, run_id, kind) of the run and its nested runs, read in one query."""
        events = t.run_events.c
        query = (
            select(events.id, events.run_id, events.kind)
            .where(events.run_id.in_(run_tree(run_id)))
            .order_by(events.id.desc())
            .limit(1)
        )
        async with self.store.reading() as conn:
            return (await conn.execute(query)).mappings().first()
