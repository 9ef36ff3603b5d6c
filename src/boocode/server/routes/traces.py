"""Agents, sessions (transcripts and images) and inference calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from sqlalchemy.engine import RowMapping

from boocode.server.models import (
    AgentOut,
    CacheShapeOut,
    ChatOut,
    ErrorOut,
    InferenceCallOut,
    MessageOut,
    PartOut,
    SessionOut,
    TranscriptOut,
)
from boocode.server.routes.runs import agent_out
from boocode.server.state import ServerState, state
from boocode.store.trace import MAX_CALLS, aware, call_shape

router = APIRouter(tags=["traces"])
State = Annotated[ServerState, Depends(state)]


def _not_found(what: str) -> dict[int | str, dict[str, Any]]:
    return {404: {"model": ErrorOut, "description": f"No such {what}"}}


@router.get(
    "/api/agents/{agent_id}", response_model=AgentOut, responses=_not_found("agent"), summary="Show an agent"
)
async def show_agent(agent_id: str, st: State) -> AgentOut:
    """One `agent()` call of a run: status, model, tokens, tool calls, elapsed time and cache shape."""
    agent = await st.trace.agent(agent_id)
    if agent is None:
        raise HTTPException(404, f"no agent {agent_id!r}")
    return agent_out(agent)


def _session_out(row: RowMapping) -> SessionOut:
    return SessionOut(
        **{k: row[k] for k in SessionOut.model_fields if k not in ("created_at", "finished_at")},
        created_at=aware(row["created_at"]),
        finished_at=aware(row["finished_at"]),
    )


@router.get(
    "/api/sessions/{session_id}",
    response_model=SessionOut,
    responses=_not_found("session"),
    summary="Show a session",
)
async def show_session(session_id: str, st: State) -> SessionOut:
    """A session: one agent's conversation (its status, model, turns, result)."""
    row = await st.trace.session(session_id)
    if row is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return _session_out(row)


def _part(row: RowMapping) -> PartOut:
    return PartOut(
        id=row["id"],
        seq=row["part_seq"],
        kind=row["kind"],
        text=row["text"],
        tool_call_id=row["tool_call_id"],
        tool_name=row["tool_name"],
        data=row["data"],
        is_error=row["is_error"],
        media_type=row["media_type"],
        image_url=f"/api/parts/{row['id']}/image" if row["has_blob"] else None,
    )


def _messages(rows: list[RowMapping]) -> list[MessageOut]:
    messages: list[MessageOut] = []
    for row in rows:
        if not messages or messages[-1].id != row["message_id"]:
            messages.append(
                MessageOut(
                    id=row["message_id"],
                    seq=row["message_seq"],
                    role=row["role"],
                    created_at=aware(row["message_created_at"]),
                    parts=[],
                )
            )
        if row["id"] is not None:
            messages[-1].parts.append(_part(row))
    return messages


@router.get(
    "/api/sessions/{session_id}/transcript",
    response_model=TranscriptOut,
    responses=_not_found("session"),
    summary="A session's transcript",
)
async def transcript(session_id: str, st: State) -> TranscriptOut:
    """Every chat of the session with its messages and their parts: the prompt, assistant text and
    reasoning, tool calls with their arguments, tool results, and images (by URL)."""
    session = await st.trace.session(session_id)
    chats = await st.trace.transcript(session_id)
    if session is None or chats is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return TranscriptOut(
        session=_session_out(session),
        chats=[
            ChatOut(
                id=chat["id"],
                attempt=chat["attempt"],
                system_prompt=chat["system_prompt"],
                created_at=aware(chat["created_at"]),
                messages=_messages(rows),
            )
            for chat, rows in chats
        ],
    )


@router.get(
    "/api/parts/{part_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/*": {}}, "description": "The image's bytes"}, **_not_found("image")},
    summary="An image of a transcript",
)
async def part_image(part_id: str, st: State) -> Response:
    """The bytes of an image part, with its media type."""
    found = await st.trace.image(part_id)
    if found is None:
        raise HTTPException(404, f"no image part {part_id!r}")
    data, media_type = found
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.get(
    "/api/inference-calls",
    response_model=list[InferenceCallOut],
    responses={404: {"model": ErrorOut, "description": "No such run, agent or session"}},
    summary="List inference calls",
)
async def inference_calls(
    st: State,
    run_id: Annotated[str | None, Query(description="Calls of this run's agents (nested runs' too)")] = None,
    agent_id: Annotated[str | None, Query(description="Calls of this run agent")] = None,
    session_id: Annotated[str | None, Query(description="Calls of this session")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CALLS)] = 500,
) -> list[InferenceCallOut]:
    """Inference calls, oldest first, filtered by run, agent and/or session (all given filters apply), each
    with its stored usage and cache shape. An unknown run, agent or session id is a 404."""
    if run_id is not None and await st.records.get_run(run_id) is None:
        raise HTTPException(404, f"no run {run_id!r}")
    if agent_id is not None and await st.trace.agent(agent_id) is None:
        raise HTTPException(404, f"no agent {agent_id!r}")
    if session_id is not None and await st.trace.session(session_id) is None:
        raise HTTPException(404, f"no session {session_id!r}")
    rows = await st.trace.calls(run_id=run_id, agent_id=agent_id, session_id=session_id, limit=limit)
    return [
        InferenceCallOut(
            **{k: row[k] for k in InferenceCallOut.model_fields if k not in ("started_at", "cache")},
            started_at=aware(row["started_at"]),
            cache=CacheShapeOut.of(call_shape(row)),
        )
        for row in rows
    ]
