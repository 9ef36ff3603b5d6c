"""Workflow runs, their agents and log lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping

from boocode.store import schema as t
from boocode.store.ids import new_id
from boocode.store.store import Store, utcnow


def new_run_id() -> str:
    """A run id in Claude Code's shape: `wf_` + 8 hex + `-` + 3 hex."""
    raw = new_id("x")[2:]
    return f"wf_{raw[:8]}-{raw[8:11]}"


class RunRecords:
    """Rows of `runs`, `run_agents` and `run_logs`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    async def create_run(self, **values: Any) -> str:
        run_id = values.pop("id", None) or new_run_id()
        row = {"id": run_id, "status": "running", "started_at": utcnow(), **values}
        async with self.store.writing() as conn:
            await conn.execute(insert(t.runs), [row])
        return run_id

    async def finish_run(self, run_id: str, **values: Any) -> None:
        async with self.store.writing() as conn:
            await conn.execute(
                update(t.runs).where(t.runs.c.id == run_id).values(finished_at=utcnow(), **values)
            )

    async def add_agent(self, **values: Any) -> str:
        agent_id = new_id("agt")
        async with self.store.writing() as conn:
            await conn.execute(insert(t.run_agents), [{"id": agent_id, "tool_uses": 0, **values}])
        return agent_id

    async def update_agent(self, agent_id: str, **values: Any) -> None:
        async with self.store.writing() as conn:
            await conn.execute(update(t.run_agents).where(t.run_agents.c.id == agent_id).values(**values))

    async def add_log(self, run_id: str, message: str) -> None:
        async with self.store.writing() as conn:
            await conn.execute(
                insert(t.run_logs), [{"run_id": run_id, "message": message, "created_at": utcnow()}]
            )

    async def get_run(self, run_id: str) -> RowMapping | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(t.runs).where(t.runs.c.id == run_id))).mappings().first()

    async def list_runs(self, limit: int = 20) -> list[RowMapping]:
        query = select(t.runs).where(t.runs.c.parent_run_id.is_(None)).order_by(t.runs.c.started_at.desc())
        async with self.engine.connect() as conn:
            return list((await conn.execute(query.limit(limit))).mappings())

    async def agents(self, run_id: str) -> list[RowMapping]:
        query = select(t.run_agents).where(t.run_agents.c.run_id == run_id).order_by(t.run_agents.c.idx)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).mappings())

    async def logs(self, run_id: str) -> list[str]:
        query = select(t.run_logs.c.message).where(t.run_logs.c.run_id == run_id).order_by(t.run_logs.c.id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())
