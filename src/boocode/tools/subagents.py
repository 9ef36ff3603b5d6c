"""Background subagents: `spawn_subagent`, `subagent_status`, `subagent_result`, `cancel_subagent`.

The tools only talk to a `TaskHost`, which the runtime's task service (`boocode.tasks`) puts into the calling
agent's `ToolContext.extras`; the host acts on behalf of that agent (its own tasks, its depth and limits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from boocode.errors import ToolError
from boocode.tools.base import Tool, ToolContext, ToolOutput

TASKS_KEY = "tasks"
"""Where the task host sits in `ToolContext.extras`."""

# How much of a result `subagent_status` shows; `subagent_result` gives all of it.
_PREVIEW_CHARS = 300


@dataclass(frozen=True)
class TaskInfo:
    """A background task as its parent sees it."""

    id: str
    kind: str
    label: str
    status: str
    turns: int = 0
    tool_calls: int = 0
    last_tool: str | None = None
    tokens: int = 0
    result: Any = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    """For a workflow: `runId`, `workflowName`, and once it ended the notification text (`notification`)."""

    @property
    def finished(self) -> bool:
        return self.status not in ("queued", "running")


class TaskHost(Protocol):
    """What the subagent and workflow tools ask of the task service, for the calling agent."""

    async def spawn(
        self,
        prompt: str,
        *,
        agent_type: str | None,
        model: str | None,
        schema: dict[str, Any] | None,
        label: str | None,
        detached: bool,
    ) -> TaskInfo:
        """Start a subagent; `ToolError` when a limit or the input refuses it."""
        ...

    async def status(self, task_id: str | None) -> list[TaskInfo]:
        """One of the caller's tasks, or all of them (None), oldest first."""
        ...

    async def result(self, task_id: str, wait_seconds: float) -> TaskInfo:
        """The task once it has ended, or as it is when `wait_seconds` ran out."""
        ...

    async def cancel(self, task_id: str) -> TaskInfo:
        """Cancel the task (and what it started) and return it as it ended."""
        ...

    async def launch_workflow(self, request: dict[str, Any]) -> dict[str, Any]:
        """Validate and launch a workflow run in the background (see `boocode.tools.workflow_tool`)."""
        ...

    @property
    def max_wait(self) -> float:
        """The longest a tool may wait here without the agent counting as stalled."""
        ...


def task_host(ctx: ToolContext) -> TaskHost:
    host: TaskHost | None = ctx.extras.get(TASKS_KEY)
    if host is None:
        raise ToolError("background tasks are not available here: this agent's runtime has no task service")
    return host


def _preview(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit} more characters)"


def describe(info: TaskInfo) -> str:
    """One line: id, label, status and progress."""
    line = f"{info.id} [{info.label}] {info.status}"
    if info.kind == "workflow":
        progress = f"run {info.detail.get('runId', '-')}, {info.detail.get('agent_count', 0)} agents done"
        progress += f", {info.tool_calls} tool calls"
    else:
        progress = f"{info.turns} turns, {info.tool_calls} tool calls"
    if info.last_tool:
        progress += f" (last: {info.last_tool})"
    line += f": {progress}, {info.tokens} tokens"
    if info.error:
        line += f"; error: {info.error}"
    return line


def _result_text(info: TaskInfo) -> str:
    if info.kind == "workflow" and info.detail.get("notification"):
        return str(info.detail["notification"])
    if info.status == "completed":
        value = info.result
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"{info.id} [{info.label}] {info.status}: {info.error or 'no result'}"


async def _spawn(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    prompt = str(args["prompt"])
    if not prompt.strip():
        raise ToolError("spawn_subagent needs a non-empty prompt")
    info = await task_host(ctx).spawn(
        prompt,
        agent_type=args.get("agent_type"),
        model=args.get("model"),
        schema=args.get("schema"),
        label=args.get("label"),
        detached=bool(args.get("detached", False)),
    )
    # Short and plain, with the next call spelled out: longer wording made small local models answer at
    # once instead (measured with Qwen2.5-Coder-1.5B in JSON-action mode).
    return ToolOutput(
        f"Subagent {info.id} started in the background; its result is not known yet. Get it by calling "
        f'subagent_result with id "{info.id}". You will also get a short note when it ends.'
    )


async def _status(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    wanted = str(args["id"])
    infos = await task_host(ctx).status(None if wanted == "all" else wanted)
    if not infos:
        return ToolOutput("You have started no background tasks.")
    lines = []
    for info in infos:
        line = describe(info)
        if info.status == "completed" and info.kind == "agent":
            line += "; result: " + _preview(info.result, _PREVIEW_CHARS)
        lines.append(line)
    return ToolOutput("\n".join(lines))


async def _result(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    host = task_host(ctx)
    wait = min(float(args.get("wait_seconds", host.max_wait)), host.max_wait)
    info = await host.result(str(args["id"]), max(wait, 0.0))
    if not info.finished:
        return ToolOutput(
            f"{info.id} is still running after waiting {wait:g} s ({describe(info)}). Carry on and check "
            "again later, or call subagent_result again to keep waiting."
        )
    return ToolOutput(_result_text(info), is_error=info.status != "completed")


async def _cancel(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    info = await task_host(ctx).cancel(str(args["id"]))
    return ToolOutput(describe(info))


_ID = {"type": "string", "description": "The task id spawn_subagent (or workflow) returned."}

SPAWN_SUBAGENT = Tool(
    name="spawn_subagent",
    description=(
        "Start a subagent in the background on a self-contained task and get its id at once; keep working "
        "and collect its result later with subagent_result. It starts with a clean context: the prompt "
        "must say everything it needs."
    ),
    parameters={
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "description": "The complete task for the subagent."},
            "agent_type": {"type": "string", "description": "An agent type (agent file name) to use."},
            "model": {"type": "string", "description": "A model other than your own."},
            "schema": {"type": "object", "description": "JSON schema its final answer must match."},
            "label": {"type": "string", "description": "A short name for the task."},
            "detached": {
                "type": "boolean",
                "description": "Keep it running after you finish (default: it is cancelled when you finish).",
            },
        },
        "required": ["prompt"],
        "additionalProperties": False,
    },
    run=_spawn,
)

SUBAGENT_STATUS = Tool(
    name="subagent_status",
    description="Status and progress (turns, tool calls, last tool, tokens) of a background task, or all.",
    parameters={
        "type": "object",
        "properties": {"id": {"type": "string", "description": 'A task id, or "all" for every task.'}},
        "required": ["id"],
        "additionalProperties": False,
    },
    run=_status,
)

SUBAGENT_RESULT = Tool(
    name="subagent_result",
    description=(
        "The result of a background task, waiting for it to end (for a while at most); says it is still "
        "running if it has not ended by then."
    ),
    parameters={
        "type": "object",
        "properties": {
            "id": _ID,
            "wait_seconds": {
                "type": "number",
                "minimum": 0,
                "description": "How long to wait for it at most (default: as long as allowed, half the "
                "stall limit, 90 s unless configured).",
            },
        },
        "required": ["id"],
        "additionalProperties": False,
    },
    run=_result,
)

CANCEL_SUBAGENT = Tool(
    name="cancel_subagent",
    description="Cancel a background task and everything it started; returns its final status.",
    parameters={
        "type": "object",
        "properties": {"id": _ID},
        "required": ["id"],
        "additionalProperties": False,
    },
    run=_cancel,
)

SUBAGENT_TOOLS = (SPAWN_SUBAGENT, SUBAGENT_STATUS, SUBAGENT_RESULT, CANCEL_SUBAGENT)
