"""Running a workflow: the run row, the sandbox, nested workflows, cancellation, the outcome."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from boocode.agent.loop import AgentRuntime
from boocode.errors import BoocodeError
from boocode.store.runs import RunRecords
from boocode.workflow.budget import Budget
from boocode.workflow.discovery import resolve
from boocode.workflow.events import Listener, RunEvent
from boocode.workflow.host import RunHost, SharedRun
from boocode.workflow.sandbox import (
    UNDEFINED,
    Sandbox,
    ScriptHostError,
    ScriptLimitError,
    ScriptRuntimeError,
)
from boocode.workflow.script import WorkflowScript


@dataclass
class RunResult:
    """The outcome of a run, as `boocode run --json` prints it."""

    run_id: str
    status: str
    result: Any
    failures: list[dict[str, str]]
    usage: dict[str, int | None]
    error: str | None = None
    logs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "result": self.result,
            "failures": self.failures,
            "usage": self.usage,
            **({"error": self.error} if self.error else {}),
        }


def _json_value(value: Any) -> Any:
    return None if value is UNDEFINED else value


class WorkflowRunner:
    """Runs workflows for one project runtime."""

    def __init__(self, runtime: AgentRuntime, on_event: Listener | None = None) -> None:
        self.runtime = runtime
        self.records = RunRecords(runtime.store)
        self.on_event = on_event or (lambda _e: None)

    def _sandbox(self) -> Sandbox:
        settings = self.runtime.settings
        return Sandbox(heap_mb=settings.script_heap_mb, cpu_seconds=settings.script_cpu_seconds)

    async def run(
        self, script: WorkflowScript, *, args: Any = UNDEFINED, budget: int | None = None
    ) -> RunResult:
        """Run `script` to its end; a cancelled run is recorded as stopped and the cancellation propagates."""
        settings = self.runtime.settings
        started = time.monotonic()
        run_id = await self.records.create_run(
            project_id=self.runtime.project_id,
            name=script.meta.name,
            description=script.meta.description,
            script=script.source,
            script_sha256=script.sha256,
            script_path=script.filename,
            args=_json_value(args),
            budget_total=budget,
        )
        shared = SharedRun(
            runtime=self.runtime,
            records=self.records,
            budget=Budget(budget),
            semaphore=asyncio.Semaphore(settings.max_concurrent_agents),
            emit=self.on_event,
        )
        self.on_event(
            RunEvent(
                "run_started",
                run_id,
                {"name": script.meta.name, "phases": [p.title for p in script.meta.phases]},
            )
        )
        status, result, error = "completed", None, None
        try:
            value = await self._execute(script, run_id, shared, args, nested=True)
            result = _json_value(value)
        except (ScriptRuntimeError, ScriptLimitError, ScriptHostError) as exc:
            status, error = "failed", str(exc)
        except asyncio.CancelledError:
            status = "stopped"
            await asyncio.shield(self._finish(run_id, shared, status, None, None, started))
            raise
        return await self._finish(run_id, shared, status, result, error, started)

    async def _execute(
        self, script: WorkflowScript, run_id: str, shared: SharedRun, args: Any, *, nested: bool
    ) -> Any:
        async def child(ref: Any, child_args: Any) -> Any:
            return await self._child(ref, child_args, run_id, shared)

        host = RunHost(shared, run_id, child if nested else None)
        return await self._sandbox().run(
            script,
            args=args,
            host=host,
            budget_total=shared.budget.total,
            budget_spent=lambda: shared.budget.spent,
            wall_seconds=self.runtime.settings.run_timeout_seconds,
        )

    async def _child(self, ref: Any, args: Any, parent_id: str, shared: SharedRun) -> Any:
        """`workflow(name | {scriptPath}, args)`: run another workflow inline, one level deep."""
        root, home = self.runtime.project_root, self.runtime.settings.home
        target = ref.get("scriptPath") if isinstance(ref, dict) else ref
        if not isinstance(target, str) or not target:
            raise ScriptHostError("workflow() takes a workflow name or {scriptPath: '...'}")
        try:
            script = resolve(target if not isinstance(ref, dict) else _as_path(target), root, home)
        except BoocodeError as exc:
            raise ScriptHostError(f"workflow(): {exc}") from None
        child_id = await self.records.create_run(
            project_id=self.runtime.project_id,
            parent_run_id=parent_id,
            name=script.meta.name,
            description=script.meta.description,
            script=script.source,
            script_sha256=script.sha256,
            script_path=script.filename,
            args=args,
            budget_total=shared.budget.total,
        )
        try:
            value = await self._execute(
                script, child_id, shared, UNDEFINED if args is None else args, nested=False
            )
        except (ScriptRuntimeError, ScriptLimitError, ScriptHostError) as exc:
            await self.records.finish_run(child_id, status="failed", error=str(exc))
            raise ScriptHostError(f"workflow {script.meta.name!r} failed: {exc}") from None
        except asyncio.CancelledError:
            await asyncio.shield(self.records.finish_run(child_id, status="stopped"))
            raise
        await self.records.finish_run(child_id, status="completed", result=_json_value(value))
        return value

    async def _finish(
        self, run_id: str, shared: SharedRun, status: str, result: Any, error: str | None, started: float
    ) -> RunResult:
        totals = shared.totals
        usage = {
            "agent_count": totals.agent_count,
            "input_tokens": totals.usage.input_total,
            "output_tokens": totals.usage.output,
            "cache_read_tokens": totals.usage.cache_read,
            "tool_uses": totals.tool_uses,
            "duration_ms": round((time.monotonic() - started) * 1000),
        }
        await self.records.finish_run(
            run_id, status=status, result=result, error=error, failures=shared.failures
        )
        self.on_event(RunEvent("run_finished", run_id, {"status": status, "error": error}))
        return RunResult(run_id, status, result, list(shared.failures), usage, error)


def _as_path(target: str) -> str:
    """A `scriptPath` is always a path, even without a slash or `.js`."""
    return target if target.endswith(".js") or "/" in target else f"./{target}"
