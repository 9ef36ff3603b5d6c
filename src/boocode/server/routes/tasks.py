"""/api/tasks: background tasks (subagents and workflow runs that agents started)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.engine import RowMapping

from boocode.server.models import ErrorOut, UsageOut
from boocode.server.state import ServerState, state
from boocode.store.trace import UsageTotals, aware
from boocode.tasks.records import TaskRecords

router = APIRouter(prefix="/api/tasks", tags=["tasks"])
State = Annotated[ServerState, Depends(state)]


class TaskOut(BaseModel):
    """A background task: a subagent (`session_id` is its conversation) or a workflow run (`run_id`),
    started by the agent of `parent_session_id`; `usage` sums its session's inference calls."""

    id: str
    kind: str
    status: str
    label: str | None
    prompt: str
    parent_session_id: str | None
    session_id: str | None
    run_id: str | None
    depth: int
    detached: bool
    agent_type: str | None
    model: str | None
    result: Any
    error: str | None
    turns: int
    tool_calls: int
    last_tool: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    usage: UsageOut


async def _out(st: ServerState, rows: list[RowMapping]) -> list[TaskOut]:
    usage = await st.trace.session_usage([r["session_id"] for r in rows if r["session_id"]])
    return [
        TaskOut(
            **{
                k: row[k]
                for k in TaskOut.model_fields
                if k not in ("usage", "detached") and not k.endswith("_at")
            },
            detached=bool(row["detached"]),
            created_at=aware(row["created_at"]),
            started_at=aware(row["started_at"]),
            finished_at=aware(row["finished_at"]),
            usage=UsageOut.of(usage.get(row["session_id"], UsageTotals())),
        )
        for row in rows
    ]


@router.get(
    "",
    response_model=list[TaskOut],
    responses={404: {"model": ErrorOut, "description": "No such session"}},
    summary="List background tasks",
)
async def list_tasks(
    st: State,
    session_id: Annotated[str | None, Query(description="Tasks started by this session's agent")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[TaskOut]:
    """The tasks an agent started (oldest first), or the most recent tasks of all agents (newest first)."""
    records = TaskRecords(st.store)
    if session_id is None:
        return await _out(st, await records.recent(limit=limit))
    if await st.trace.session(session_id) is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return await _out(st, (await records.children(session_id))[:limit])


@router.get(
    "/{task_id}",
    response_model=TaskOut,
    responses={404: {"model": ErrorOut, "description": "No such task"}},
    summary="Show a background task",
)
async def show_task(task_id: str, st: State) -> TaskOut:
    row = await TaskRecords(st.store).get(task_id)
    if row is None:
        raise HTTPException(404, f"no task {task_id!r}")
    return (await _out(st, [row]))[0]
