"""Rows of `tasks`: background subagents and workflow runs, their progress, ownership (lease) and notes."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from boocode.store import schema as t
from boocode.store.leases import abandoned, lease_end, project_root, renewing, status_now
from boocode.store.store import Store, updating, utcnow

ACTIVE = ("queued", "running")
STATUSES = ("queued", "running", "completed", "failed", "cancelled", "interrupted")


def new_task_id() -> str:
    """A short id (`task_` + 10 hex): agents copy it into later calls, small models included."""
    return f"task_{secrets.token_hex(5)}"


def _columns() -> list[Any]:
    """Every column of `tasks`, `status` as it is now (queued or running under an expired lease means its
    process died: `interrupted`)."""
    return [*(c for c in t.tasks.c if c.name != "status"), status_now(t.tasks, ACTIVE).label("status")]


class TaskRecords:
    """Reads and writes of the `tasks` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, **values: Any) -> None:
        row = {"created_at": utcnow(), "turns": 0, "tool_calls": 0, **values}
        await self.store.write(lambda conn: conn.execute(insert(t.tasks), [row]))

    async def update(self, task_id: str, *, wait: bool = True, **values: Any) -> None:
        """Set `values`; with `wait=False` the write is queued (`Store.write_behind`)."""
        op = updating(t.tasks, task_id, values)
        if wait:
            await self.store.write(op)
        else:
            await self.store.write_behind(op)

    async def claim_notes(self, task_ids: Sequence[str]) -> set[str]:
        """Mark the tasks' parents as told; returns the ids that had not been (so each note goes out once)."""
        c = t.tasks.c
        now = utcnow()

        def op(conn: Connection) -> set[str]:
            claimed = set()
            for task_id in task_ids:
                query = (
                    update(t.tasks).where(c.id == task_id, c.notified_at.is_(None)).values(notified_at=now)
                )
                if conn.execute(query).rowcount:
                    claimed.add(task_id)
            return claimed

        return await self.store.write(op) if task_ids else set()

    async def renew(self, owner: str, lease_seconds: float, progress: Sequence[dict[str, Any]]) -> list[str]:
        """Extend `owner`'s lease on its active tasks, store their `progress` (dicts of `row` id, turns,
        tool_calls, last_tool, usage) and return the ids of those another process asked to cancel."""
        c = t.tasks.c
        renew = renewing(t.tasks, owner, ACTIVE, lease_end(lease_seconds))
        write_progress = (
            update(t.tasks)
            .where(c.id == bindparam("row"))
            .values(
                turns=bindparam("turns"),
                tool_calls=bindparam("tool_calls"),
                last_tool=bindparam("last_tool"),
                usage=bindparam("usage"),
            )
        )

        def op(conn: Connection) -> list[str]:
            conn.execute(renew)
            if progress:
                conn.execute(write_progress, list(progress))
            asked = select(c.id).where(
                c.owner == owner, c.status.in_(ACTIVE), c.cancel_requested_at.is_not(None)
            )
            return list(conn.execute(asked).scalars())

        return await self.store.write(op)

    async def active_owners(self) -> list[str]:
        """Owners of queued or running tasks."""
        c = t.tasks.c
        query = select(c.owner).where(c.status.in_(ACTIVE), c.owner.is_not(None)).distinct()
        async with self.store.reading() as conn:
            return [str(o) for o in (await conn.execute(query)).scalars()]

    async def interrupt_orphans(self, dead_owners: Collection[str]) -> int:
        """Record as interrupted the active tasks whose lease expired or whose owner is in `dead_owners`."""
        c = t.tasks.c
        query = (
            update(t.tasks)
            .where(c.status.in_(ACTIVE), abandoned(t.tasks, dead_owners))
            .values(
                status="interrupted",
                finished_at=utcnow(),
                lease_expires_at=None,
                error="interrupted: the process running it ended before it finished",
            )
        )
        return int(await self.store.write(lambda conn: conn.execute(query).rowcount))

    async def request_cancel(self, task_id: str) -> bool:
        """Ask the process running the task to cancel it; False when it is not active."""
        c = t.tasks.c
        query = (
            update(t.tasks).where(c.id == task_id, c.status.in_(ACTIVE)).values(cancel_requested_at=utcnow())
        )
        return bool(await self.store.write(lambda conn: conn.execute(query).rowcount))

    async def get(self, task_id: str) -> RowMapping | None:
        """The task with its status as it is now."""
        async with self.store.reading() as conn:
            return (await conn.execute(select(*_columns()).where(t.tasks.c.id == task_id))).mappings().first()

    async def recent(self, *, limit: int = 50, active_only: bool = False) -> list[RowMapping]:
        """Tasks, newest first; `active_only`: those queued or running."""
        c = t.tasks.c
        query = select(*_columns()).order_by(c.created_at.desc()).limit(limit)
        if active_only:
            query = query.where(c.status.in_(ACTIVE))
        async with self.store.reading() as conn:
            return list((await conn.execute(query)).mappings())

    async def children(self, session_id: str) -> list[RowMapping]:
        """The tasks the agent with `session_id` started, oldest first."""
        c = t.tasks.c
        query = select(*_columns()).where(c.parent_session_id == session_id).order_by(c.created_at)
        async with self.store.reading() as conn:
            return list((await conn.execute(query)).mappings())

    async def project_root(self, task_id: str) -> str | None:
        """The project directory the task works in, or None for an unknown task."""
        return await project_root(self.store, t.tasks, task_id)
