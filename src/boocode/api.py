"""boocode from Python: run a workflow (by name, path or script text), or resume a run, and get the same
result object `boocode run --json` prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from boocode.config import Settings, load_settings
from boocode.errors import InputError
from boocode.project import project_root
from boocode.runtime import open_runtime
from boocode.store.runs import RunRecords
from boocode.store.store import opened_store
from boocode.workflow.discovery import read_script, resolve
from boocode.workflow.events import Listener
from boocode.workflow.journal import ResumeMode
from boocode.workflow.lease import stop_run
from boocode.workflow.manager import RunResult, WorkflowRunner
from boocode.workflow.sandbox import UNDEFINED
from boocode.workflow.script import WorkflowScript, load_script


async def run_workflow(
    workflow: str | Path | None = None,
    *,
    script: str | None = None,
    args: Any = UNDEFINED,
    budget: int | None = None,
    project: str | Path | None = None,
    settings: Settings | None = None,
    on_event: Listener | None = None,
    **overrides: Any,
) -> RunResult:
    """Run a workflow to its end.

    Give `workflow` (a name from discovery or a path to a .js file) or `script` (the script text). Settings
    come from the environment and config file unless given; keyword `overrides` replace single settings
    (e.g. `provider="openai", base_url=..., model=...`).
    """
    if (workflow is None) == (script is None):
        raise TypeError("give exactly one of `workflow` or `script`")
    settings = settings or load_settings(**overrides)
    root = project_root(project)
    loaded = (
        load_script(script, "<script>") if script is not None else resolve(str(workflow), root, settings.home)
    )
    async with open_runtime(settings, root) as runtime:
        return await WorkflowRunner(runtime, on_event).run(loaded, args=args, budget=budget)


async def resume_workflow(
    run_id: str,
    *,
    mode: ResumeMode = "content",
    workflow: str | Path | None = None,
    script: str | None = None,
    args: Any = UNDEFINED,
    project: str | Path | None = None,
    settings: Settings | None = None,
    on_event: Listener | None = None,
    **overrides: Any,
) -> RunResult:
    """Resume run `run_id` (in this or any other process) under the same id and run it to its end.

    Calls that completed before return their stored result: in mode "content" wherever they are in the
    script, in mode "prefix" only within the longest unchanged completed prefix in start order (Claude
    Code's rule). The stored script and args run again unless an edited script (`workflow`: a path to a .js
    file, or `script`: its text) or new `args` are given. The agents work in the run's project unless
    `project` is given. Raises `InputError` ("nothing to resume") for an unknown run and `RunBusyError`
    while another live process runs it.
    """
    if workflow is not None and script is not None:
        raise TypeError("give at most one of `workflow` or `script`")
    settings = settings or load_settings(**overrides)
    root = await run_project(settings, run_id, project)
    edited = edited_script(workflow, script)
    async with open_runtime(settings, root) as runtime:
        return await WorkflowRunner(runtime, on_event).resume(run_id, mode=mode, script=edited, args=args)


async def run_project(settings: Settings, run_id: str, project: str | Path | None) -> Path:
    """The project directory to resume `run_id` in: `project` if given, else the run's own."""
    if project is not None:
        return project_root(project)
    async with opened_store(settings.db_url) as store:
        root = await RunRecords(store).project_root(run_id)
    if root is None:
        raise InputError(f"nothing to resume: there is no run {run_id!r} (see `boocode runs`)")
    return project_root(root)


def edited_script(path: str | Path | None, text: str | None = None) -> WorkflowScript | None:
    """The edited script a resume runs instead of the stored one: from a file `path` or from `text`."""
    if path is not None:
        return read_script(Path(path).expanduser())
    return None if text is None else load_script(text, "<script>")


async def stop_workflow(run_id: str, *, settings: Settings | None = None, **overrides: Any) -> str:
    """Stop run `run_id`, run by this or any other process on the same database; wait until it has ended
    and return its status (`stopped`, unless it ended otherwise first).

    Raises `InputError` for an unknown run and `RunNotRunningError` for a run that is not running."""
    settings = settings or load_settings(**overrides)
    async with opened_store(settings.db_url) as store:
        return await stop_run(RunRecords(store), run_id, settings.run_lease_seconds)
