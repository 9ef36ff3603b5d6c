"""Running a workflow: the run row and its lease, the sandbox, nested workflows, resuming from the journal,
stop requests, cancellation, the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from boocode.agent.loop import AgentRuntime
from boocode.errors import BoocodeError, InputError
from boocode.store.runs import NO_ARGS, RunRecords
from boocode.store.store import utcnow
from boocode.workflow.budget import Budget
from boocode.workflow.discovery import resolve
from boocode.workflow.events import Listener, RunEvent
from boocode.workflow.host import RunHost, SharedRun
from boocode.workflow.journal import MODES, Journal, ResumeMode
from boocode.workflow.keys import workflow_key
from boocode.workflow.lease import Lease, owner_id, owner_is_dead
from boocode.workflow.observe import RunObserver
from boocode.workflow.sandbox import (
    UNDEFINED,
    Sandbox,
    ScriptHostError,
    ScriptLimitError,
    ScriptRuntimeError,
)
from boocode.workflow.script import WorkflowScript, load_script


class RunBusyError(BoocodeError):
    """The run is owned by another live process (resume refused)."""


class RunLostError(BoocodeError):
    """This process's lease on the run expired and another process took the run over."""


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


def _script_values(script: WorkflowScript) -> dict[str, Any]:
    return {
        "name": script.meta.name,
        "description": script.meta.description,
        "script": script.source,
        "script_sha256": script.sha256,
        "script_path": script.filename,
    }


def _cancelled_from_outside() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class WorkflowRunner:
    """Runs and resumes workflows for one project runtime."""

    def __init__(self, runtime: AgentRuntime, on_event: Listener | None = None) -> None:
        self.runtime = runtime
        self.records = RunRecords(runtime.store)
        # Every event also goes to the run event log (the server's live view) and, if set up, OpenTelemetry.
        self.observer = (
            on_event if isinstance(on_event, RunObserver) else RunObserver(runtime.store, on_event)
        )
        self.on_event: Listener = self.observer
        self.owner = owner_id()
        self.lease_seconds = runtime.settings.run_lease_seconds

    def _sandbox(self) -> Sandbox:
        settings = self.runtime.settings
        return Sandbox(heap_mb=settings.script_heap_mb, cpu_seconds=settings.script_cpu_seconds)

    def _lease_end(self) -> datetime:
        return utcnow() + timedelta(seconds=self.lease_seconds)

    async def run(
        self, script: WorkflowScript, *, args: Any = UNDEFINED, budget: int | None = None
    ) -> RunResult:
        """Run `script` to its end; a cancelled run is recorded as stopped and the cancellation propagates."""
        run_id = await self.records.create_run(
            project_id=self.runtime.project_id,
            args=NO_ARGS if args is UNDEFINED else args,
            budget_total=budget,
            owner=self.owner,
            lease_expires_at=self._lease_end(),
            **_script_values(script),
        )
        return await self._drive(script, run_id, args, budget, Journal(self.records))

    async def resume(
        self,
        run_id: str,
        *,
        mode: ResumeMode = "content",
        script: WorkflowScript | None = None,
        args: Any = UNDEFINED,
    ) -> RunResult:
        """Run `run_id` again under the same id: its stored script and args unless others are given (they are
        stored for the next resume). Calls that completed before return their stored result (see `Journal`
        for `mode`); failed and unfinished ones run again. Refused while another live process runs it."""
        if mode not in MODES:
            raise InputError(f"resume mode must be one of {', '.join(MODES)}, got {mode!r}")
        row = await self.records.get_run(run_id)
        if row is None:
            raise InputError(f"nothing to resume: there is no run {run_id!r} (see `boocode runs`)")
        if row["parent_run_id"] is not None:
            parent = row["parent_run_id"]
            raise InputError(
                f"nothing to resume: {run_id} is a nested workflow run; resume its parent {parent}"
            )
        if script is None:
            script = load_script(row["script"], row["script_path"] or f"{row['name']}.js")
        if args is UNDEFINED and row["has_args"]:
            args = row["args"]
        dead = row["owner"] if row["status"] == "running" and owner_is_dead(row["owner"]) else None
        claimed = await self.records.claim_run(
            run_id,
            self.owner,
            self.lease_seconds,
            dead_owner=dead,
            args=NO_ARGS if args is UNDEFINED else args,
            **_script_values(script),
        )
        if claimed is None:
            raise RunBusyError(
                f"run {run_id} is still running in another process ({row['owner']}); stop it with "
                f"`boocode stop {run_id}`, or resume it once that process has ended (the lease of a process "
                f"that died expires {self.lease_seconds:g} s after its last renewal)"
            )
        stored = await self.records.journal(run_id)
        journal = Journal(self.records, resume_no=claimed["resume_count"], mode=mode, stored=stored)
        return await self._drive(script, run_id, args, claimed["budget_total"], journal)

    async def _drive(
        self, script: WorkflowScript, run_id: str, args: Any, budget: int | None, journal: Journal
    ) -> RunResult:
        """Execute a claimed run to its end under a lease (stop requests end it as `stopped`)."""
        started = time.monotonic()
        shared = SharedRun(
            runtime=self.runtime,
            records=self.records,
            budget=Budget(budget),
            semaphore=asyncio.Semaphore(self.runtime.settings.max_concurrent_agents),
            emit=self.on_event,
            journal=journal,
        )
        phases = [p.title for p in script.meta.phases]
        data = {"name": script.meta.name, "phases": phases, "resume": journal.resume_no, "mode": journal.mode}
        self.on_event(RunEvent("run_started", run_id, data))
        work = asyncio.create_task(self._execute(script, run_id, shared, args, nested=True))
        lease = Lease(
            self.records, run_id, self.owner, self.lease_seconds, flush=journal.flush, emit=self.on_event
        )
        keeper = asyncio.create_task(lease.keep(work))
        status, result, error = "completed", None, None
        try:
            result = _json_value(await work)
        except (ScriptRuntimeError, ScriptLimitError, ScriptHostError) as exc:
            status, error = "failed", str(exc)
        except asyncio.CancelledError:
            if lease.ended is None or _cancelled_from_outside():  # Ctrl-C or SIGTERM in this process
                await asyncio.shield(self._finish(run_id, shared, "stopped", None, None, started))
                raise
            if lease.ended == "lost":
                raise RunLostError(
                    f"run {run_id} was taken over by another process after this one's lease expired"
                ) from None
            status = "stopped"
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        return await self._finish(run_id, shared, status, result, error, started)

    async def _execute(
        self, script: WorkflowScript, run_id: str, shared: SharedRun, args: Any, *, nested: bool
    ) -> Any:
        calls: Counter[str] = Counter()

        async def child(ref: Any, child_args: Any) -> Any:
            return await self._child(ref, child_args, run_id, shared, calls)

        host = RunHost(shared, run_id, child if nested else None)
        return await self._sandbox().run(
            script,
            args=args,
            host=host,
            budget_total=shared.budget.total,
            budget_spent=lambda: shared.budget.spent,
            wall_seconds=self.runtime.settings.run_timeout_seconds,
        )

    async def _child(
        self, ref: Any, args: Any, parent_id: str, shared: SharedRun, calls: Counter[str]
    ) -> Any:
        """`workflow(name | {scriptPath}, args)`: run another workflow inline, one level deep. Its run is the
        parent's journal entry for the call: a resume runs the same nested run again."""
        root, home = self.runtime.project_root, self.runtime.settings.home
        target = ref.get("scriptPath") if isinstance(ref, dict) else ref
        if not isinstance(target, str) or not target:
            raise ScriptHostError("workflow() takes a workflow name or {scriptPath: '...'}")
        try:
            script = resolve(target if not isinstance(ref, dict) else _as_path(target), root, home)
        except BoocodeError as exc:
            raise ScriptHostError(f"workflow(): {exc}") from None
        key = workflow_key(ref, args)
        occurrence = calls[key]
        calls[key] += 1
        values = {
            "args": args,
            "budget_total": shared.budget.total,
            "owner": self.owner,
            "lease_expires_at": self._lease_end(),
            **_script_values(script),
        }
        child_id = shared.journal.child(key, occurrence)
        if child_id is None:
            child_id = await self.records.create_run(
                project_id=self.runtime.project_id,
                parent_run_id=parent_id,
                call_key=key,
                call_occurrence=occurrence,
                **values,
            )
        else:
            await self.records.update_run(
                child_id, status="running", finished_at=None, result=None, error=None, **values
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
        duration_ms = round((time.monotonic() - started) * 1000)  # of this attempt
        await shared.journal.flush()
        owned = await self.records.finish_run(
            run_id, owner=self.owner, status=status, result=result, error=error, failures=shared.failures
        )
        if not owned:
            raise RunLostError(
                f"run {run_id} was taken over by another process after this one's lease expired"
            )
        # The run's usage over all its attempts: a call served from the journal spent nothing now, but its
        # tokens were spent by the attempt that ran it (`cached_agents` says how many this attempt reused).
        usage = {
            **await self.records.usage(run_id),
            "cached_agents": shared.journal.cached,
            "duration_ms": duration_ms,
        }
        self.on_event(RunEvent("run_finished", run_id, {"status": status, "error": error}))
        await self.observer.flush()
        return RunResult(run_id, status, result, list(shared.failures), usage, error)


def _as_path(target: str) -> str:
    """A `scriptPath` is always a path, even without a slash or `.js`."""
    return target if target.endswith(".js") or "/" in target else f"./{target}"
