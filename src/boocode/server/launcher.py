"""Runs started through the server: they run as tasks of the server's process, outliving the HTTP request
that started them, each with its own runtime (store and provider) for its project."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from boocode.api import run_project
from boocode.config import Settings
from boocode.runtime import open_runtime
from boocode.store.runs import RunRecords
from boocode.workflow.events import RunEvent
from boocode.workflow.journal import ResumeMode
from boocode.workflow.lease import stop_run
from boocode.workflow.manager import RunResult, WorkflowRunner
from boocode.workflow.script import WorkflowScript

_log = logging.getLogger(__name__)
Drive = Callable[[WorkflowRunner], Awaitable[RunResult]]


class RunLauncher:
    """Starts, resumes and stops runs in this process."""

    def __init__(self, settings: Settings, records: RunRecords) -> None:
        self.settings = settings
        self.records = records
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    async def start(self, script: WorkflowScript, project: Path, *, args: Any, budget: int | None) -> str:
        """Start `script` in `project`; returns the run id once the run exists."""
        return await self._launch(project, lambda runner: runner.run(script, args=args, budget=budget))

    async def resume(self, run_id: str, *, mode: ResumeMode, args: Any) -> str:
        """Resume `run_id` in its own project (errors as `WorkflowRunner.resume` raises them)."""
        root = await run_project(self.settings, run_id, None)
        return await self._launch(root, lambda runner: runner.resume(run_id, mode=mode, args=args))

    async def _launch(self, project: Path, drive: Drive) -> str:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[str] = loop.create_future()

        def listen(event: RunEvent) -> None:
            if event.kind == "run_started" and not started.done():
                started.set_result(event.run_id)

        async def main() -> RunResult:
            async with open_runtime(self.settings, project) as runtime:  # the runner stores the events
                return await drive(WorkflowRunner(runtime, listen))

        task = loop.create_task(main())
        waiting: set[asyncio.Future[Any]] = {started, task}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            task.result()  # raises the error that ended it before it started
            raise RuntimeError("the run ended before it started")
        run_id = started.result()
        self._tasks[run_id] = task
        task.add_done_callback(lambda done: self._ended(run_id, done))
        return run_id

    def _ended(self, run_id: str, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(run_id) is task:
            del self._tasks[run_id]
        if not task.cancelled() and task.exception() is not None:
            _log.error("run %s ended with an error", run_id, exc_info=task.exception())

    def running(self, run_id: str) -> bool:
        """Whether this process runs `run_id`."""
        return run_id in self._tasks

    async def stop(self, run_id: str) -> str:
        """Stop a run, whichever process runs it; returns how it ended (see `stop_run`)."""
        task = self._tasks.get(run_id)
        if task is None:
            return await stop_run(self.records, run_id, self.settings.run_lease_seconds)
        await self.records.request_stop(run_id)
        task.cancel()  # the runner records the run as stopped and its unfinished agents as interrupted
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(task, return_exceptions=True)
        run = await self.records.get_run(run_id)
        return str(run["status"]) if run else "stopped"

    async def aclose(self) -> None:
        """Stop every run of this process (they can be resumed later)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
