"""What a workflow script's calls do on the host: `agent()` admission and execution, phases, logs,
failure records and nested `workflow()` runs. The sandbox hands every call here as (op, args)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import RowMapping

from boocode.agent.loop import AgentEvent, AgentResult, AgentRuntime, AgentSpec, run_agent
from boocode.agent.structured import check_schema
from boocode.agent.types import find_agent_type
from boocode.errors import BoocodeError
from boocode.llm.images import load_image
from boocode.store.runs import RunRecords
from boocode.store.store import utcnow
from boocode.tools.registry import workflow_agent_tools
from boocode.workflow.budget import Budget, BudgetExhausted
from boocode.workflow.events import Listener, RunEvent
from boocode.workflow.journal import Journal
from boocode.workflow.keys import agent_key
from boocode.workflow.sandbox import ScriptHostError
from boocode.workflow.worktree import REMINDER, worktree

MAX_AGENTS = 1000
EFFORTS = ("low", "medium", "high", "xhigh", "max")
# Failures after which agent() throws; the others (provider errors, caps) make it return null.
THROWING_FAILURES = ("structured", "stall")


@dataclass
class SharedRun:
    """What a run shares with its nested workflows: concurrency, agent count, budget, failures."""

    runtime: AgentRuntime
    records: RunRecords
    budget: Budget
    semaphore: asyncio.Semaphore
    emit: Listener
    journal: Journal
    failures: list[dict[str, str]] = field(default_factory=list)
    started: int = 0

    def fail(self, run_id: str, label: str, error: str) -> None:
        self.failures.append({"label": label, "error": error})
        self.emit(RunEvent("failure", run_id, {"label": label, "error": error}))


NestedRunner = Callable[[Any, Any], Awaitable[Any]]


def default_label(prompt: str) -> str:
    first = prompt.strip().splitlines()[0] if prompt.strip() else "agent"
    return first[:40] + ("…" if len(first) > 40 else "")


def _text(args: Any, key: str) -> str:
    value = args.get(key) if isinstance(args, dict) else args
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class RunHost:
    """Answers one run's host calls. `nested` runs a child workflow (None inside a child: one level)."""

    def __init__(self, shared: SharedRun, run_id: str, nested: NestedRunner | None) -> None:
        self.shared = shared
        self.run_id = run_id
        self.nested = nested
        self.phase: str | None = None
        self.occurrences: Counter[str] = Counter()

    async def __call__(self, op: str, args: Any) -> Any:
        if op == "agent":
            return await self.agent(args.get("prompt"), args.get("opts") or {})
        if op == "log":
            message = _text(args, "message")
            await self.shared.records.add_log(self.run_id, message)
            self.shared.emit(RunEvent("log", self.run_id, {"message": message}))
        elif op == "phase":
            self.phase = _text(args, "title")
            self.shared.emit(RunEvent("phase", self.run_id, {"title": self.phase}))
        elif op == "failure":
            self.shared.fail(self.run_id, str(args.get("where")), str(args.get("error")))
        elif op == "workflow":
            if self.nested is None:
                raise ScriptHostError(
                    "workflow() cannot be nested: a child workflow cannot start another one"
                )
            return await self.nested(args.get("ref"), args.get("args"))
        else:
            raise ScriptHostError(f"unknown host operation {op!r}")
        return None

    def _spec(self, prompt: Any, opts: dict[str, Any]) -> AgentSpec:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ScriptHostError("agent() needs a non-empty prompt string")
        effort = opts.get("effort")
        if effort is not None and effort not in EFFORTS:
            raise ScriptHostError(f"agent(): effort must be one of {', '.join(EFFORTS)}, got {effort!r}")
        isolation = opts.get("isolation")
        if isolation not in (None, "worktree"):
            raise ScriptHostError(f"agent(): isolation must be 'worktree', got {isolation!r}")
        schema = opts.get("schema")
        root = self.shared.runtime.project_root
        type_name = opts.get("agentType")
        try:
            if schema is not None:
                check_schema(schema)
            images = [load_image(str(p), root) for p in opts.get("images") or []]
            kind = None
            if type_name is not None:
                kind = find_agent_type(str(type_name), root, self.shared.runtime.settings.home)
        except BoocodeError as exc:
            raise ScriptHostError(f"agent(): {exc}") from None
        return AgentSpec(
            prompt=prompt,
            schema=schema,
            model=opts.get("model") or (kind.model if kind else None),
            effort=effort,
            images=images,
            agent_type=type_name,
            system=kind.system_prompt if kind else None,
            # Never the subagent or workflow tools: the script orchestrates (Claude Code's rule too).
            tools=workflow_agent_tools(kind.tools if kind else None, self.shared.runtime.tools),
        )

    async def agent(self, prompt: Any, opts: dict[str, Any]) -> Any:
        spec = self._spec(prompt, opts)
        shared = self.shared
        if shared.started >= MAX_AGENTS:
            raise ScriptHostError(
                f"agent limit reached: a workflow run can start at most {MAX_AGENTS} agents "
                "(a loop on budget.remaining() needs a budget.total guard)"
            )
        idx = shared.started
        shared.started += 1
        label = str(opts.get("label") or default_label(spec.prompt))
        phase = opts.get("phase") or self.phase
        key = agent_key(spec.prompt, opts)
        occurrence = self.occurrences[key]
        self.occurrences[key] += 1
        stored = shared.journal.cached_result(self.run_id, key, occurrence, idx, label, phase)
        if stored is not None:
            return self._cached(stored, idx, label, phase)
        options = {k: opts[k] for k in ("schema", "model", "effort", "agentType", "isolation") if k in opts}
        row = await shared.journal.admit(
            self.run_id,
            key,
            occurrence,
            idx=idx,
            label=label,
            phase=phase,
            prompt=spec.prompt,
            options=options or None,
            status="queued",
        )
        info = {"agent_id": row, "label": label, "phase": phase}
        shared.emit(RunEvent("agent_queued", self.run_id, info))
        isolated = opts.get("isolation") == "worktree"
        try:
            result = await self._execute(spec, row, {**info, "idx": idx}, isolated)
        except asyncio.CancelledError:
            await asyncio.shield(shared.records.update_agent(row, status="interrupted", finished_at=utcnow()))
            raise
        return self._outcome(result, label)

    def _cached(self, stored: RowMapping, idx: int, label: str, phase: str | None) -> Any:
        """A call served from the journal: its stored result, with no concurrency slot, budget or request."""
        info = {"agent_id": stored["id"], "label": label, "phase": phase, "idx": idx, "cached": True}
        self.shared.emit(RunEvent("agent_queued", self.run_id, info))
        finished = {"status": "completed", "error": None, "output_tokens": 0, "input_tokens": 0}
        finished |= {"cache_read_tokens": 0, "tool_calls": 0, "model": stored["model"]}
        self.shared.emit(RunEvent("agent_finished", self.run_id, {**info, **finished}))
        return stored["result"]

    async def _execute(self, spec: AgentSpec, row: str, info: dict[str, Any], isolated: bool) -> AgentResult:
        shared = self.shared
        cap = spec.max_output_tokens or shared.runtime.settings.max_output_tokens
        try:
            granted = await shared.budget.reserve(cap)
        except BudgetExhausted as exc:
            await shared.records.update_agent(row, status="failed", error=str(exc), finished_at=utcnow())
            raise ScriptHostError(str(exc)) from None
        used = 0
        notes: list[str] = []  # the agent's warnings, for the run log once it ends
        try:
            async with shared.semaphore:
                await shared.records.start_agent(row)
                shared.emit(RunEvent("agent_started", self.run_id, info))

                def progress(event: AgentEvent) -> None:
                    if event.kind in ("started", "tool_call", "turn"):
                        shared.emit(RunEvent("agent_progress", self.run_id, {**info, event.kind: event.data}))
                    elif event.kind in ("warning", "stall"):
                        message = f"[{info['label']}] {event.data['message']}"
                        notes.append(message)
                        shared.emit(RunEvent("log", self.run_id, {"message": message}))

                spec.max_output_tokens = granted
                if isolated:
                    result = await self._run_isolated(spec, info["idx"], progress)
                else:
                    # Not durable here: `_record` below is an awaited write, committed after the agent's rows.
                    result = await run_agent(spec, shared.runtime, progress, durable=False)
            used = result.usage.output or 0
        finally:
            await asyncio.shield(shared.budget.settle(granted if shared.budget.total else 0, used))
        for message in notes:
            await shared.records.add_log(self.run_id, message)
        await self._record(row, result, info)
        return result

    async def _run_isolated(
        self, spec: AgentSpec, idx: int, progress: Callable[[AgentEvent], None]
    ) -> AgentResult:
        """Run the agent in a fresh git worktree; a changed worktree is kept and reported in the run log."""
        runtime = self.shared.runtime
        target = runtime.settings.home / "worktrees" / self.run_id / self.shared.journal.worktree_name(idx)
        try:
            async with worktree(runtime.project_root, target) as tree:
                spec.root = tree.path
                reminder = REMINDER.format(path=tree.path)
                spec.system = f"{spec.system}\n\n{reminder}" if spec.system else reminder
                result = await run_agent(spec, runtime, progress, durable=False)  # as in `_execute`
        except BoocodeError as exc:
            raise ScriptHostError(f"agent(): {exc}") from None
        if tree.changed:
            shown = ", ".join(tree.changed[:10]) + (" …" if len(tree.changed) > 10 else "")
            message = f"worktree kept for review: {tree.path} ({len(tree.changed)} changed: {shown})"
            await self.shared.records.add_log(self.run_id, message)
            self.shared.emit(RunEvent("log", self.run_id, {"message": message}))
        return result

    async def _record(self, row: str, result: AgentResult, info: dict[str, Any]) -> None:
        # The run's totals are summed from these rows at its end (`RunRecords.usage`), over all attempts.
        await self.shared.records.update_agent(
            row,
            status=result.status,
            session_id=result.session_id,
            result=result.output,
            error=result.error,
            model=result.model,
            input_tokens=result.usage.input_total,
            output_tokens=result.usage.output,
            cache_read_tokens=result.usage.cache_read,
            tool_uses=result.tool_calls,
            finished_at=utcnow(),
        )
        self.shared.emit(
            RunEvent(
                "agent_finished",
                self.run_id,
                {
                    **info,
                    "status": result.status,
                    "error": result.error,
                    "output_tokens": result.usage.output,
                    "input_tokens": result.usage.input_total,
                    "cache_read_tokens": result.usage.cache_read,
                    "tool_calls": result.tool_calls,
                    "model": result.model,
                },
            )
        )

    def _outcome(self, result: AgentResult, label: str) -> Any:
        if result.status == "completed":
            return result.output
        if result.failure in THROWING_FAILURES:
            raise ScriptHostError(result.error or "agent failed")
        self.shared.fail(self.run_id, label, result.error or "failed")
        return None
