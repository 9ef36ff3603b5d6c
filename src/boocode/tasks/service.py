"""The background task service: subagents and workflow runs that agents start, keep working beside, and
collect later.

A `TaskService` belongs to one `AgentRuntime` and is its agent hook (`AgentRuntime.hook`): every agent of the
runtime gets a `TaskHost` in its tools' `extras` (what `spawn_subagent`, `subagent_status`, `subagent_result`,
`cancel_subagent` and `workflow` call) and, before each turn, a note for every task of its own that ended
meanwhile. A subagent is an ordinary `run_agent` session with `parent_session_id` set; a workflow task is a
`WorkflowRunner` run. Each task is an asyncio task of this service and a row of `tasks` (the store is the
truth: a note is only a convenience), kept under a lease so that a task whose process died reads as
`interrupted` and is marked so by the next runtime that opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.exc import SQLAlchemyError

from boocode.agent.loop import AgentEvent, AgentRuntime, AgentSpec, run_agent
from boocode.agent.structured import check_schema
from boocode.agent.types import find_agent_type
from boocode.errors import BoocodeError, InputError, ToolError
from boocode.llm.types import Usage
from boocode.store.store import utcnow
from boocode.tasks.records import TaskRecords, new_task_id
from boocode.tools.subagents import TASKS_KEY, TaskInfo
from boocode.workflow.lease import owner_id, owner_is_dead

if TYPE_CHECKING:
    from boocode.tasks.workflows import WorkflowLaunch
    from boocode.workflow.events import RunEvent

_log = logging.getLogger(__name__)

# The task whose agent `run_agent` is about to start in this context (read by the hook, then cleared).
_STARTING: ContextVar[_Task | None] = ContextVar("boocode_task_starting", default=None)


@dataclass
class _Tree:
    """The tasks started under one top-level agent, for the `subagents_total` limit."""

    started: int = 0


@dataclass(eq=False)
class _Scope:
    """One agent of the runtime while it runs: its depth, its tasks, and those that ended untold."""

    session_id: str
    depth: int
    root: Path
    tree: _Tree
    children: dict[str, _Task] = field(default_factory=dict)
    pending: list[_Task] = field(default_factory=list)
    ended: bool = False


@dataclass(eq=False)
class _Task:
    """A task running (or run) in this process."""

    id: str
    kind: Literal["agent", "workflow"]
    label: str
    depth: int
    tree: _Tree
    parent: _Scope | None
    detached: bool
    done: asyncio.Event = field(default_factory=asyncio.Event)
    job: asyncio.Task[None] | None = None
    status: str = "queued"
    result: Any = None
    error: str | None = None
    turns: int = 0
    tool_calls: int = 0
    last_tool: str | None = None
    usage: Usage = field(default_factory=Usage)
    detail: dict[str, Any] = field(default_factory=dict)
    told: bool = False  # the parent knows how it ended (it cancelled it, or collected the result)
    ending: bool = False  # its end is being recorded
    stop_reason: str = "cancelled"

    def info(self) -> TaskInfo:
        return TaskInfo(
            id=self.id,
            kind=self.kind,
            label=self.label,
            status=self.status,
            turns=self.turns,
            tool_calls=self.tool_calls,
            last_tool=self.last_tool,
            tokens=(self.usage.input_total or 0) + (self.usage.output or 0),
            result=self.result,
            error=self.error,
            detail=dict(self.detail),
        )

    def usage_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.usage.input_total,
            "output_tokens": self.usage.output,
            "cache_read_tokens": self.usage.cache_read,
            **{k: v for k, v in self.detail.items() if k in ("agent_count", "duration_ms")},
        }

    def on_agent_event(self, event: AgentEvent) -> None:
        if event.kind == "turn":
            self.turns = event.data["turn"]
            self.usage = self.usage.add(event.data["usage"])
        elif event.kind == "tool_call":
            self.tool_calls += 1
            self.last_tool = str(event.data["name"])

    def on_run_event(self, event: RunEvent) -> None:
        if event.kind == "agent_finished" and not event.data.get("cached"):
            data = event.data
            self.detail["agent_count"] = self.detail.get("agent_count", 0) + 1
            self.tool_calls += data.get("tool_calls") or 0
            usage = Usage(input_total=data.get("input_tokens"), output=data.get("output_tokens"))
            self.usage = self.usage.add(usage)
            self.last_tool = f"agent {data.get('label')}"


def _label(prompt: str) -> str:
    first = prompt.strip().splitlines()[0] if prompt.strip() else "subagent"
    return first[:40] + ("…" if len(first) > 40 else "")


class TaskService:
    """Background tasks of one runtime, and the runtime's agent hook. Open it with `TaskService.attached`."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.records = TaskRecords(runtime.store)
        self.owner = owner_id()
        self._scopes: dict[str, _Scope] = {}
        self._live: dict[str, _Task] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._recording: set[asyncio.Task[None]] = set()
        self._closing = False

    @classmethod
    @contextlib.asynccontextmanager
    async def attached(cls, runtime: AgentRuntime) -> AsyncIterator[TaskService]:
        """A service set as `runtime.hook` for the block: tasks a dead process left running are marked
        interrupted first, and tasks still running at the end are interrupted (they can be re-run)."""
        service = cls(runtime)
        await service.recover()
        runtime.hook = service
        try:
            yield service
        finally:
            await service.aclose()
            runtime.hook = None

    async def recover(self) -> int:
        """Mark as interrupted the tasks left queued or running by processes that are gone (lease expired,
        or a process of this machine that no longer exists); returns how many."""
        owners = await self.records.active_owners()
        if not owners:  # nothing queued or running anywhere: no write
            return 0
        return await self.records.interrupt_orphans([owner for owner in owners if owner_is_dead(owner)])

    async def aclose(self) -> None:
        """Interrupt every task still running (recorded, never lost) and stop the lease."""
        self._closing = True
        running = list(self._live.values())
        for task in running:
            self._stop(task, "interrupted: the runtime closed before it finished")
        await asyncio.gather(*(task.done.wait() for task in running))
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat

    # --- the agent hook ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def agent(self, session_id: str, spec: AgentSpec, extras: dict[str, Any]) -> AsyncIterator[None]:
        """Around every agent: its scope and `TaskHost`; when it ends, its tasks end too unless detached."""
        task = _STARTING.get()
        _STARTING.set(None)
        root = spec.root or self.runtime.project_root
        if task is None:
            scope = _Scope(session_id, 0, root, _Tree())
        else:
            scope = _Scope(session_id, task.depth, root, task.tree)
            await self.records.update(task.id, wait=False, session_id=session_id)
        self._scopes[session_id] = scope
        extras[TASKS_KEY] = AgentTasks(self, scope)
        try:
            yield
        finally:
            scope.ended = True
            del self._scopes[session_id]
            left = [t for t in scope.children.values() if not t.done.is_set() and not t.detached]
            for child in left:
                self._stop(child, "cancelled: its parent agent finished")
            await asyncio.shield(asyncio.gather(*(child.done.wait() for child in left)))

    async def notes(self, session_id: str) -> list[str]:
        """Notes on the agent's tasks that ended since its last turn, each claimed in the store once."""
        scope = self._scopes.get(session_id)
        if scope is None or not scope.pending:
            return []
        ended, scope.pending = scope.pending, []
        claimed = await self.records.claim_notes([task.id for task in ended])
        return [self._note(task) for task in ended if task.id in claimed]

    def _note(self, task: _Task) -> str:
        from boocode.tasks.workflows import agent_note

        if task.kind == "workflow" and "notification" in task.detail:
            return str(task.detail["notification"])
        return agent_note(task.id, task.label, task.status, task.result, task.error)

    # --- starting tasks ---------------------------------------------------------------------------

    def _admit(self, scope: _Scope) -> None:
        """Refuse a new task of `scope` over a limit, with the setting that raises it."""
        if self._closing:
            raise ToolError("cannot start a background task: the runtime is closing")
        limit = self.settings.subagent_depth
        if scope.depth + 1 > limit:
            raise ToolError(
                f"cannot start a background task: nesting depth limit reached (this agent is at depth "
                f"{scope.depth}, the limit is {limit}: BOOCODE_SUBAGENT_DEPTH); do the work yourself"
            )
        running = sum(not t.done.is_set() for t in scope.children.values())
        per_parent = self.settings.subagents_per_parent
        if running >= per_parent:
            raise ToolError(
                f"cannot start a background task: {running} of yours are still running (limit "
                f"{per_parent}: BOOCODE_SUBAGENTS_PER_PARENT); collect or cancel one first"
            )
        total = self.settings.subagents_total
        if scope.tree.started >= total:
            raise ToolError(
                f"cannot start a background task: {scope.tree.started} were started under this top-level "
                f"agent (limit {total}: BOOCODE_SUBAGENTS_TOTAL)"
            )
        scope.tree.started += 1

    def _lease_end(self) -> Any:
        return utcnow() + timedelta(seconds=self.settings.run_lease_seconds)

    async def _create(self, task: _Task, **values: Any) -> None:
        """Store a new task; it counts among its parent's tasks at once (before the write), so that calls
        admitted concurrently see each other."""
        parent = task.parent
        if parent is not None:
            parent.children[task.id] = task
        try:
            await self.records.create(
                id=task.id,
                project_id=self.runtime.project_id,
                kind=task.kind,
                parent_session_id=parent.session_id if parent else None,
                depth=task.depth,
                detached=task.detached,
                label=task.label,
                status="queued",
                owner=self.owner,
                lease_expires_at=self._lease_end(),
                **values,
            )
        except BaseException:
            if parent is not None:
                del parent.children[task.id]
            raise

    def _start(self, task: _Task, work: Coroutine[Any, Any, None]) -> None:
        task.job = asyncio.create_task(work, name=f"boocode-{task.id}")
        task.job.add_done_callback(lambda _job: self._job_ended(task))
        self._live[task.id] = task
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._keep_lease(), name="boocode-task-lease")

    def _job_ended(self, task: _Task) -> None:
        """A job cancelled before it ran recorded nothing: record it now."""
        if not task.ending:
            recording = asyncio.get_running_loop().create_task(
                self._finish(task, self._stopped(), error=task.stop_reason)
            )
            self._recording.add(recording)
            recording.add_done_callback(self._recording.discard)

    def _stopped(self) -> str:
        return "interrupted" if self._closing else "cancelled"

    def _stop(self, task: _Task, reason: str) -> None:
        if task.job is not None and not task.done.is_set():
            task.stop_reason = reason
            task.job.cancel()

    async def spawn(
        self,
        scope: _Scope,
        prompt: str,
        *,
        agent_type: str | None = None,
        model: str | None = None,
        schema: dict[str, Any] | None = None,
        label: str | None = None,
        detached: bool = False,
    ) -> _Task:
        """Start a subagent of `scope`'s agent; `ToolError` for bad input or a limit."""
        try:
            if schema is not None:
                check_schema(schema)
            kind = find_agent_type(agent_type, scope.root, self.settings.home) if agent_type else None
        except BoocodeError as exc:
            raise ToolError(str(exc)) from None
        spec = AgentSpec(
            prompt=prompt,
            schema=schema,
            model=model or (kind.model if kind else None),
            agent_type=agent_type,
            system=kind.system_prompt if kind else None,
            tools=kind.tools if kind else None,
            parent_session_id=scope.session_id,
            root=scope.root,
        )
        self._admit(scope)
        task = _Task(
            new_task_id(), "agent", label or _label(prompt), scope.depth + 1, scope.tree, scope, detached
        )
        await self._create(task, prompt=prompt, agent_type=agent_type, model=model, json_schema=schema)
        self._start(task, self._run_agent(task, spec))
        return task

    async def rerun(self, task_id: str) -> _Task:
        """Run an ended agent task again as a new task of no parent (`rerun_of` links the two)."""
        if self._closing:
            raise InputError("the runtime is closing")
        row = await self.records.get(task_id)
        if row is None:
            raise InputError(f"there is no task {task_id!r} (see `boocode tasks --all`)")
        if row["kind"] != "agent":
            raise InputError(f"{task_id} is a workflow run: resume it with `boocode resume {row['run_id']}`")
        if row["status"] in ("queued", "running"):
            raise InputError(f"{task_id} is still {row['status']}")
        agent_type = row["agent_type"]
        kind = (
            find_agent_type(agent_type, self.runtime.project_root, self.settings.home) if agent_type else None
        )
        spec = AgentSpec(
            prompt=row["prompt"],
            schema=row["json_schema"],
            model=row["model"] or (kind.model if kind else None),
            agent_type=row["agent_type"],
            system=kind.system_prompt if kind else None,
            tools=kind.tools if kind else None,
        )
        task = _Task(new_task_id(), "agent", row["label"] or _label(row["prompt"]), 1, _Tree(1), None, True)
        await self._create(
            task,
            prompt=row["prompt"],
            agent_type=row["agent_type"],
            model=row["model"],
            json_schema=row["json_schema"],
            rerun_of=task_id,
        )
        self._start(task, self._run_agent(task, spec))
        return task

    async def wait(self, task_id: str) -> TaskInfo:
        """Wait for a task of this process to end, without telling its parent."""
        task = self._live.get(task_id) or self._find(task_id)
        await task.done.wait()
        return task.info()

    def _find(self, task_id: str) -> _Task:
        for scope in self._scopes.values():
            if task_id in scope.children:
                return scope.children[task_id]
        raise InputError(f"task {task_id!r} is not running in this process")

    async def _run_agent(self, task: _Task, spec: AgentSpec) -> None:
        _STARTING.set(task)
        try:
            task.status = "running"
            await self.records.update(task.id, wait=False, status="running", started_at=utcnow())
            result = await run_agent(spec, self.runtime, task.on_agent_event)
        except asyncio.CancelledError:
            await asyncio.shield(self._finish(task, self._stopped(), error=task.stop_reason))
            raise
        except Exception as exc:  # input run_agent refused (BoocodeError), or a bug: recorded either way
            message = str(exc) if isinstance(exc, BoocodeError) else f"{type(exc).__name__}: {exc}"
            await self._finish(task, "failed", error=message)
        else:
            task.usage = result.usage
            await self._finish(task, result.status, result=result.output, error=result.error)

    async def _finish(
        self, task: _Task, status: str, *, result: Any = None, error: str | None = None
    ) -> None:
        """Record how the task ended, then wake whoever waits for it and queue the parent's note."""
        if task.ending:
            return
        task.ending = True
        task.status, task.result, task.error = status, result, error
        now = utcnow()
        values: dict[str, Any] = {
            "status": status,
            "result": result,
            "error": error,
            "turns": task.turns,
            "tool_calls": task.tool_calls,
            "last_tool": task.last_tool,
            "usage": task.usage_json(),
            "finished_at": now,
            "lease_expires_at": None,
        }
        if task.told:
            values["notified_at"] = now
        try:
            await self.records.update(task.id, **values)
        except (
            SQLAlchemyError,
            OSError,
        ):  # the row stays active and reads as interrupted once its lease ends
            _log.exception("cannot record the end of task %s", task.id)
        finally:
            self._live.pop(task.id, None)
            task.done.set()
            parent = task.parent
            if parent is not None and not parent.ended and not task.told:
                parent.pending.append(task)

    async def _keep_lease(self) -> None:
        """Renew the lease on this process's tasks, store their progress, and act on cancel requests made
        from other processes, every third of the lease while any task runs."""
        lease = self.settings.run_lease_seconds
        while self._live:
            await asyncio.sleep(lease / 3)
            progress = [
                {
                    "row": task.id,
                    "turns": task.turns,
                    "tool_calls": task.tool_calls,
                    "last_tool": task.last_tool,
                    "usage": task.usage_json(),
                }
                for task in self._live.values()
            ]
            try:
                asked = await self.records.renew(self.owner, lease, progress)
            except (SQLAlchemyError, OSError) as exc:  # the database may come back before the lease ends
                _log.warning("cannot renew the lease on background tasks: %s", exc)
                continue
            for task_id in asked:
                if task_id in self._live:
                    self._stop(self._live[task_id], "cancelled from another process (boocode tasks cancel)")

    # --- workflows --------------------------------------------------------------------------------

    async def launch_workflow(self, scope: _Scope, request: dict[str, Any]) -> dict[str, Any]:
        """The `workflow` tool: check the input, start the run in the background once its run row exists,
        keep the script, and answer at once (`error` set, and nothing running, when it cannot start)."""
        from boocode.store.runs import RunRecords
        from boocode.tasks.workflows import keep_script, parse_launch

        out: dict[str, Any] = {"status": "async_launched"}
        try:
            launch = parse_launch(request, scope.root, self.settings.home)
            if launch.script is not None:
                meta = launch.script.meta
                name, description, source = meta.name, meta.description, launch.script.source
                if launch.resume:
                    await self._resumable(launch.resume)
            else:
                name, description, source = await self._resumable(str(launch.resume))
            out.update(workflowName=name, summary=description)
            self._admit(scope)
        except (BoocodeError, ToolError) as exc:
            return {**out, "error": str(exc)}
        task = _Task(new_task_id(), "workflow", name, scope.depth + 1, scope.tree, scope, False)
        task.detail.update(workflowName=name, summary=description)
        await self._create(task, prompt=description)
        started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._start(task, self._run_workflow(task, launch, scope.root, started))
        assert task.job is not None
        either: set[asyncio.Future[Any]] = {started, task.job}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():  # refused before its run started (another process runs it, say)
            started.cancel()
            await task.done.wait()
            return {**out, "taskId": task.id, "error": task.error or "the run ended before it started"}
        run_id = started.result()
        path = keep_script(self.settings.home, name, run_id, source)
        task.detail.update(runId=run_id, scriptPath=str(path))
        await self.records.update(task.id, run_id=run_id, script_path=str(path))
        await RunRecords(self.runtime.store).update_run(run_id, script_path=str(path))
        return {
            **out,
            "taskId": task.id,
            "taskType": "local_workflow",
            "runId": run_id,
            "scriptPath": str(path),
        }

    async def _resumable(self, run_id: str) -> tuple[str, str, str]:
        """The stored run a resume continues (name, description, script); `InputError` when it cannot be
        resumed from here."""
        from boocode.store.runs import RunRecords

        row = await RunRecords(self.runtime.store).get_run(run_id)
        if row is None or row["project_id"] != self.runtime.project_id:
            raise InputError(f"nothing to resume: there is no run {run_id!r} in this project")
        if row["parent_run_id"] is not None:
            raise InputError(f"{run_id} is a nested workflow run; resume its parent {row['parent_run_id']}")
        if row["status"] == "running":
            raise InputError(f"run {run_id} is still running; it can be resumed once it has ended")
        return str(row["name"]), str(row["description"]), str(row["script"])

    async def _run_workflow(
        self, task: _Task, launch: WorkflowLaunch, root: Path, started: asyncio.Future[str]
    ) -> None:
        from boocode.tasks.workflows import RunOutcome, notification
        from boocode.workflow.manager import RunResult, WorkflowRunner

        def on_event(event: RunEvent) -> None:
            if event.kind == "run_started" and not started.done():
                started.set_result(event.run_id)
            task.on_run_event(event)

        runtime = self.runtime
        if root != runtime.project_root:
            runtime = dataclasses.replace(runtime, project_root=root)
        runner = WorkflowRunner(runtime, on_event)
        try:
            task.status = "running"
            await self.records.update(task.id, wait=False, status="running", started_at=utcnow())
            if launch.resume:
                result: RunResult = await runner.resume(launch.resume, script=launch.script, args=launch.args)
            else:
                assert launch.script is not None
                result = await runner.run(launch.script, args=launch.args)
        except asyncio.CancelledError:
            await asyncio.shield(self._finish(task, self._stopped(), error=task.stop_reason))
            raise
        except Exception as exc:  # refused before it started (busy, lost), or a bug: recorded either way
            message = str(exc) if isinstance(exc, BoocodeError) else f"{type(exc).__name__}: {exc}"
            task.told = not started.done()  # then the tool call answers with the error
            await self._finish(task, "failed", error=message)
            return
        # Its final counts are the run's, over all attempts (its progress counted this attempt's agents).
        totals = result.usage
        task.usage = Usage(
            input_total=totals["input_tokens"],
            output=totals["output_tokens"],
            cache_read=totals["cache_read_tokens"],
        )
        task.tool_calls = totals["tool_uses"] or 0
        task.detail.update(agent_count=totals["agent_count"], duration_ms=totals["duration_ms"])
        outcome = RunOutcome(
            task_id=task.id,
            run_id=result.run_id,
            status=result.status,
            description=str(task.detail["summary"]),
            result=result.result,
            failures=result.failures,
            usage=result.usage,
            error=result.error,
        )
        task.detail["notification"] = notification(outcome, self.settings.home / "tasks")
        status = {"completed": "completed", "failed": "failed"}.get(result.status, "cancelled")
        await self._finish(task, status, result=result.result, error=result.error)


class AgentTasks:
    """The `TaskHost` of one agent: its own tasks only."""

    def __init__(self, service: TaskService, scope: _Scope) -> None:
        self.service = service
        self.scope = scope

    @property
    def max_wait(self) -> float:
        """Waiting longer would count as a stall (no progress) of the waiting agent."""
        return self.service.settings.stall_seconds / 2

    def _own(self, task_id: str) -> _Task:
        task = self.scope.children.get(task_id.strip())
        if task is None:
            yours = ", ".join(self.scope.children) or "none yet"
            raise ToolError(f"no task {task_id!r} among the ones you started (yours: {yours})")
        return task

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
        task = await self.service.spawn(
            self.scope,
            prompt,
            agent_type=agent_type,
            model=model,
            schema=schema,
            label=label,
            detached=detached,
        )
        return task.info()

    async def status(self, task_id: str | None) -> list[TaskInfo]:
        tasks = list(self.scope.children.values()) if task_id is None else [self._own(task_id)]
        return [task.info() for task in tasks]

    async def result(self, task_id: str, wait_seconds: float) -> TaskInfo:
        task = self._own(task_id)
        if not task.done.is_set() and wait_seconds > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_seconds):
                    await task.done.wait()
        if task.done.is_set() and not task.told:
            task.told = True
            if task in self.scope.pending:
                self.scope.pending.remove(task)
            await self.service.records.claim_notes([task.id])
        return task.info()

    async def cancel(self, task_id: str) -> TaskInfo:
        task = self._own(task_id)
        if not task.done.is_set():
            task.told = True
            self.service._stop(task, "cancelled by its parent agent")
            await asyncio.shield(task.done.wait())
        return task.info()

    async def launch_workflow(self, request: dict[str, Any]) -> dict[str, Any]:
        return await self.service.launch_workflow(self.scope, request)
