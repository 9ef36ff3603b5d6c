"""GET /api/workflows: the workflows the server's project can run."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from boocode.server.models import ErrorOut, PhaseMetaOut, WorkflowDetailOut, WorkflowOut
from boocode.server.state import ServerState, state
from boocode.workflow.discovery import WorkflowEntry, discover

router = APIRouter(prefix="/api/workflows", tags=["workflows"])
State = Annotated[ServerState, Depends(state)]


def _out(entry: WorkflowEntry, shadowed: bool) -> WorkflowOut:
    meta = entry.script.meta if entry.script else None
    return WorkflowOut(
        name=entry.name,
        description=meta.description if meta else None,
        when_to_use=meta.when_to_use if meta else None,
        source=entry.source,
        path=str(entry.path),
        phases=[PhaseMetaOut(title=p.title, detail=p.detail, model=p.model) for p in meta.phases]
        if meta
        else [],
        shadowed=shadowed,
        error=entry.error,
    )


async def _entries(st: ServerState) -> list[tuple[WorkflowEntry, bool]]:
    seen: set[str] = set()
    found = []
    entries = await asyncio.to_thread(discover, st.server.project, st.server.settings.home)
    for entry in entries:
        shadowed = entry.script is not None and entry.name in seen
        if entry.script is not None:
            seen.add(entry.name)
        found.append((entry, shadowed))
    return found


@router.get("", response_model=list[WorkflowOut], summary="List workflows")
async def list_workflows(st: State) -> list[WorkflowOut]:
    """Every script discovery finds, in precedence order (shadowed and invalid ones included)."""
    return [_out(entry, shadowed) for entry, shadowed in await _entries(st)]


@router.get(
    "/{name}",
    response_model=WorkflowDetailOut,
    responses={404: {"model": ErrorOut}},
    summary="Show a workflow",
)
async def show_workflow(name: str, st: State) -> WorkflowDetailOut:
    """The workflow that `name` runs: its meta and script."""
    for entry, shadowed in await _entries(st):
        if entry.script is not None and entry.name == name and not shadowed:
            return WorkflowDetailOut(**_out(entry, shadowed).model_dump(), script=entry.script.source)
    raise HTTPException(404, f"unknown workflow {name!r}")
