"""/api/runs: list, show, start, stop and resume runs, their agents, and their live events (SSE)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from boocode.errors import InputError
from boocode.server.live import stream
from boocode.server.models import (
    AgentOut,
    ErrorOut,
    FailureOut,
    PhaseOut,
    ResumeRunIn,
    RunDetailOut,
    RunEventOut,
    RunOut,
    RunStartedOut,
    StartRunIn,
    StopOut,
    UsageOut,
)
from boocode.server.state import ServerState, state
from boocode.store.run_events import RunEventLog
from boocode.store.trace import AgentTrace, RunTrace, UsageTotals, aware
from boocode.workflow.discovery import resolve
from boocode.workflow.sandbox import UNDEFINED
from boocode.workflow.script import WorkflowScript, load_script
from boocode.workflow.summary import phase_summary

router = APIRouter(tags=["runs"])
State = Annotated[ServerState, Depends(state)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such run"}}
SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: each event's `id` is the stored event id and its `data` a "
        "RunEventOut; a run's stream ends with an `end` event once the run has ended.",
        "content": {"text/event-stream": {"schema": RunEventOut.model_json_schema()}},
    }
}


def run_out(trace: RunTrace) -> RunOut:
    row = trace.row
    return RunOut(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        status=row["status"],
        parent_run_id=row["parent_run_id"],
        started_at=aware(row["started_at"]),
        finished_at=aware(row["finished_at"]),
        elapsed_seconds=trace.elapsed_seconds,
        resume_count=row["resume_count"],
        agents_total=trace.agents_total,
        agents_done=trace.agents_done,
        agents_failed=trace.agents_failed,
        usage=UsageOut.of(trace.usage),
    )


def agent_out(agent: AgentTrace) -> AgentOut:
    row = agent.row
    return AgentOut(
        id=row["id"],
        run_id=row["run_id"],
        idx=row["idx"],
        label=row["label"],
        phase=row["phase"],
        status=agent.status,
        model=row["model"],
        session_id=row["session_id"],
        cached=bool(row["cached"]),
        attempts=row["attempts"],
        prompt=row["prompt"],
        error=row["error"],
        result=row["result"],
        started_at=aware(row["started_at"]),
        finished_at=aware(row["finished_at"]),
        elapsed_seconds=agent.elapsed_seconds,
        tool_calls=agent.tool_calls,
        usage=UsageOut.of(agent.usage),
    )


def phases_of(
    agents: list[AgentTrace], run_id: str, declared: list[str], nested: dict[str, str]
) -> list[PhaseOut]:
    """Per-phase agent counts and elapsed time (`phase_summary`: the declared phases first) with each phase's
    summed usage; the agents of a nested run form one group, "▸ name", as in `boocode runs show`."""

    def key(agent: AgentTrace) -> str | None:
        run = agent.row["run_id"]
        return agent.row["phase"] if run == run_id else f"▸ {nested.get(run, run)}"

    rows = [
        {
            "phase": key(a),
            "status": a.status,
            "input_tokens": a.usage.input_tokens,
            "output_tokens": a.usage.output_tokens,
            "started_at": aware(a.row["started_at"]),
            "finished_at": aware(a.row["finished_at"]),
        }
        for a in agents
    ]
    usage: dict[str | None, UsageTotals] = {}
    for a in agents:
        usage[key(a)] = usage.get(key(a), UsageTotals()) + a.usage
    return [
        PhaseOut(
            phase=p["phase"],
            agents=p["agents"],
            finished=p["finished"],
            elapsed_seconds=p["elapsed_seconds"],
            usage=UsageOut.of(usage.get(p["phase"], UsageTotals())),
        )
        for p in phase_summary(rows, declared)
    ]


def _declared_phases(run: Any) -> list[str]:
    """The titles of the run's `meta.phases`, from its stored script (none if it cannot be read)."""
    try:
        script = load_script(run["script"] or "", run["script_path"] or "workflow.js")
    except InputError:
        return []
    return [phase.title for phase in script.meta.phases]


async def _run_or_404(st: ServerState, run_id: str) -> RunTrace:
    trace = await st.trace.run(run_id)
    if trace is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return trace


def _script(st: ServerState, body: StartRunIn) -> WorkflowScript:
    if body.script is not None:
        return load_script(body.script, "<api>")
    name = str(body.workflow)
    if name.endswith(".js") or "/" in name or os.sep in name:
        raise HTTPException(400, "`workflow` takes a workflow name; to run other code, send `script` text")
    return resolve(name, st.server.project, st.server.settings.home)


@router.get("/api/runs", response_model=list[RunOut], summary="List runs")
async def list_runs(st: State, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[RunOut]:
    """Top-level runs, newest first, with their totals."""
    return [run_out(r) for r in await st.trace.runs(limit)]


@router.post(
    "/api/runs",
    status_code=202,
    response_model=RunStartedOut,
    responses={400: {"model": ErrorOut, "description": "Unknown workflow or invalid script"}},
    summary="Start a run",
)
async def start_run(body: StartRunIn, st: State) -> RunStartedOut:
    """Start a run in the server's process (it outlives this request) in the server's project."""
    script = await asyncio.to_thread(_script, st, body)
    args = body.args if "args" in body.model_fields_set else UNDEFINED
    run_id = await st.launcher.start(script, st.server.project, args=args, budget=body.budget)
    return RunStartedOut(run_id=run_id, status="running")


@router.get("/api/runs/{run_id}", response_model=RunDetailOut, responses=NOT_FOUND, summary="Show a run")
async def show_run(run_id: str, st: State) -> RunDetailOut:
    """A run with its phases, log lines, failures, result and totals (cache shape included)."""
    last_event_id = await RunEventLog(st.store).last_id(run_id)  # first: what follows is at least this new
    trace = await _run_or_404(st, run_id)
    row = trace.row
    agents = await st.trace.agents(run_id, row["status"])
    journal = await st.records.journal(run_id)
    nested = {}
    for child in journal.children:
        found = await st.records.get_run(child["id"])
        nested[child["id"]] = found["name"] if found else child["id"]
    declared = await asyncio.to_thread(_declared_phases, row)
    return RunDetailOut(
        **run_out(trace).model_dump(),
        args=row["args"],
        result=row["result"],
        error=row["error"],
        failures=[FailureOut(label=str(f["label"]), error=str(f["error"])) for f in row["failures"] or []],
        logs=await st.records.logs(run_id),
        phases=phases_of(agents, run_id, declared, nested),
        budget_total=row["budget_total"],
        script_path=row["script_path"],
        nested_runs=[c["id"] for c in journal.children],
        last_event_id=last_event_id,
    )


@router.get(
    "/api/runs/{run_id}/agents",
    response_model=list[AgentOut],
    responses=NOT_FOUND,
    summary="List a run's agents",
)
async def run_agents(run_id: str, st: State) -> list[AgentOut]:
    """The agents of the run and its nested runs, in start order, with usage and cache shape."""
    trace = await _run_or_404(st, run_id)
    return [agent_out(a) for a in await st.trace.agents(run_id, trace.row["status"])]


@router.post(
    "/api/runs/{run_id}/stop",
    response_model=StopOut,
    responses={**NOT_FOUND, 400: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Stop a run",
)
async def stop_run(run_id: str, st: State) -> StopOut:
    """Stop a run, whichever process runs it, and wait until it has ended (409: it is not running)."""
    await _run_or_404(st, run_id)
    return StopOut(run_id=run_id, status=await st.launcher.stop(run_id))


@router.post(
    "/api/runs/{run_id}/resume",
    status_code=202,
    response_model=RunStartedOut,
    responses={**NOT_FOUND, 400: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Resume a run",
)
async def resume_run(run_id: str, st: State, body: ResumeRunIn | None = None) -> RunStartedOut:
    """Run `run_id` again under its id in the server's process (409: another live process runs it)."""
    await _run_or_404(st, run_id)
    body = body or ResumeRunIn()
    args = body.args if "args" in body.model_fields_set else UNDEFINED
    await st.launcher.resume(run_id, mode=body.mode, args=args)
    return RunStartedOut(run_id=run_id, status="running")


def _start_id(after: int | None, last_event_id: str | None) -> int | None:
    if last_event_id is not None:
        if not last_event_id.strip().isdigit():
            raise HTTPException(400, "Last-Event-ID must be an event id (a whole number)")
        return int(last_event_id)
    return after


def _sse(request: Request, st: ServerState, run_id: str | None, after: int) -> StreamingResponse:
    body = stream(
        st.store,
        st.hub,
        run_id,
        after,
        poll_seconds=st.server.poll_seconds,
        disconnected=request.is_disconnected,
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


@router.get(
    "/api/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={**SSE_DOC, **NOT_FOUND, 400: {"model": ErrorOut}},
    summary="Stream a run's events",
)
async def run_events(
    run_id: str,
    request: Request,
    st: State,
    after: Annotated[int, Query(ge=0, description="Send events after this id (default: all).")] = 0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """The run's events (its nested runs' too) as Server-Sent Events: every stored event after `after` (or
    `Last-Event-ID`), then new ones as they are stored, until the run has ended."""
    await _run_or_404(st, run_id)
    return _sse(request, st, run_id, _start_id(after, last_event_id) or 0)


@router.get(
    "/api/events",
    response_class=StreamingResponse,
    responses={**SSE_DOC, 400: {"model": ErrorOut}},
    summary="Stream every run's events",
)
async def all_events(
    request: Request,
    st: State,
    after: Annotated[int | None, Query(ge=0, description="Send events after this id (default: new)")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Events of every run as Server-Sent Events, from `after` (or `Last-Event-ID`; default: from now on);
    the stream does not end by itself."""
    start = _start_id(after, last_event_id)
    if start is None:
        start = await RunEventLog(st.store).last_id()
    return _sse(request, st, None, start)
