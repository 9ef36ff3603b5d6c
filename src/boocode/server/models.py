"""Request and response bodies of the HTTP API (they make the OpenAPI spec precise)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from boocode.cache_shape import CacheShape
from boocode.store.trace import UsageTotals


class ErrorOut(BaseModel):
    """An error: what went wrong, in one sentence."""

    detail: str


class CacheShapeOut(BaseModel):
    """How much of the prompt input the provider served from its cache, summed over calls.

    `input_tokens`, `cache_read`, `cache_write` and `uncached` cover the calls that reported cache figures;
    `unreported_input` is the input of counted calls that did not. `read_share` is null ("n/a") when no call
    reported cache figures; `label` is the badge text ("73%", "73%*" when partial, "n/a").
    """

    calls: int
    reported_calls: int
    input_tokens: int
    cache_read: int
    cache_write: int
    uncached: int
    unreported_input: int
    read_share: float | None
    label: str

    @classmethod
    def of(cls, shape: CacheShape) -> CacheShapeOut:
        return cls(**shape.as_json())


class UsageOut(BaseModel):
    """Summed usage of inference calls: tokens (null when no call reported them) and the cache shape."""

    calls: int
    input_tokens: int | None
    output_tokens: int | None
    cache: CacheShapeOut

    @classmethod
    def of(cls, usage: UsageTotals) -> UsageOut:
        return cls(
            calls=usage.calls,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache=CacheShapeOut.of(usage.cache),
        )


class PhaseMetaOut(BaseModel):
    title: str
    detail: str | None = None
    model: str | None = None


class WorkflowOut(BaseModel):
    """A workflow script found by discovery; an invalid one has `error` and no meta."""

    name: str
    description: str | None
    when_to_use: str | None
    source: str
    path: str
    phases: list[PhaseMetaOut]
    shadowed: bool
    error: str | None


class WorkflowDetailOut(WorkflowOut):
    script: str


class StartRunIn(BaseModel):
    """Start a run: give `workflow` (a name from GET /api/workflows) or `script` (the script's text)."""

    model_config = ConfigDict(extra="forbid")

    workflow: str | None = Field(None, min_length=1, max_length=200)
    script: str | None = Field(None, min_length=1, max_length=1_000_000)
    args: Any = Field(None, description="The script's `args` (any JSON value); absent: undefined.")
    budget: int | None = Field(None, ge=1, le=1_000_000_000, description="Output-token budget of the run.")

    @model_validator(mode="after")
    def _one_source(self) -> StartRunIn:
        if (self.workflow is None) == (self.script is None):
            raise ValueError("give exactly one of `workflow` or `script`")
        return self


class ResumeRunIn(BaseModel):
    """Resume a run under its id; `args` (when present) replace the stored ones."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["content", "prefix"] = "content"
    args: Any = None


class RunStartedOut(BaseModel):
    """A run now running in the server's process."""

    run_id: str
    status: str


class StopOut(BaseModel):
    """How a stopped run ended (`stopped`, unless it ended otherwise first)."""

    run_id: str
    status: str


class FailureOut(BaseModel):
    label: str
    error: str


class RunOut(BaseModel):
    """A run with its totals over its agents (nested runs' included)."""

    id: str
    name: str
    description: str
    status: str
    parent_run_id: str | None
    started_at: datetime
    finished_at: datetime | None
    elapsed_seconds: float | None
    resume_count: int
    agents_total: int
    agents_done: int
    agents_failed: int
    usage: UsageOut


class PhaseOut(BaseModel):
    """The agents of one phase (null: agents outside any phase)."""

    phase: str | None
    agents: int
    finished: int
    elapsed_seconds: float | None
    usage: UsageOut


class RunDetailOut(RunOut):
    args: Any
    result: Any
    error: str | None
    failures: list[FailureOut]
    logs: list[str]
    phases: list[PhaseOut]
    budget_total: int | None
    script_path: str | None
    nested_runs: list[str]
    last_event_id: int = Field(
        description="The newest event of the run when this was read (read first): a stream opened after it "
        "misses no change since."
    )


class AgentOut(BaseModel):
    """One `agent()` call of a run, with the usage of its inference calls."""

    id: str
    run_id: str
    idx: int
    label: str
    phase: str | None
    status: str
    model: str | None
    session_id: str | None
    cached: bool
    attempts: int
    prompt: str
    error: str | None
    result: Any
    started_at: datetime | None
    finished_at: datetime | None
    elapsed_seconds: float | None
    tool_calls: int
    usage: UsageOut


class InferenceCallOut(BaseModel):
    """One provider request, with its stored usage (null: not reported) and cache shape."""

    id: str
    session_id: str
    chat_id: str
    agent_id: str | None
    label: str | None
    run_id: str | None
    turn: int
    attempt: int
    provider: str
    model: str
    status: str
    error: str | None
    stop_reason: str | None
    started_at: datetime
    latency_ms: float | None
    ttft_ms: float | None
    input_total: int | None
    cache_read: int | None
    cache_write: int | None
    output: int | None
    reasoning: int | None
    cache: CacheShapeOut


class SessionOut(BaseModel):
    id: str
    kind: str
    title: str
    status: str
    provider: str
    model: str
    agent_type: str | None
    parent_session_id: str | None
    created_at: datetime
    finished_at: datetime | None
    turns: int
    tool_calls: int
    error: str | None
    result: Any


class PartOut(BaseModel):
    """A message part: text, reasoning, image (`image_url`), tool_call (`data`: its arguments) or
    tool_result (`text`: its content)."""

    id: str
    seq: int
    kind: str
    text: str | None
    tool_call_id: str | None
    tool_name: str | None
    data: Any
    is_error: bool | None
    media_type: str | None
    image_url: str | None


class MessageOut(BaseModel):
    id: str
    seq: int
    role: str
    created_at: datetime
    parts: list[PartOut]


class ChatOut(BaseModel):
    """One attempt of the session's conversation (a stalled attempt is followed by a new chat)."""

    id: str
    attempt: int
    system_prompt: str | None
    created_at: datetime
    messages: list[MessageOut]


class TranscriptOut(BaseModel):
    session: SessionOut
    chats: list[ChatOut]


class RunEventOut(BaseModel):
    """One stored run event, as each server-sent event's `data` carries it (the SSE id is `id`)."""

    id: int
    run_id: str
    kind: str
    data: dict[str, Any]
    created_at: datetime


class InfoOut(BaseModel):
    version: str
    project: str
    database: str
    token_required: bool
