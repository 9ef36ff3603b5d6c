"""boocode from Python: run a workflow (by name, path or script text) and get the same result object
`boocode run --json` prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from boocode.config import Settings, load_settings
from boocode.runtime import open_runtime, project_root
from boocode.workflow.discovery import resolve
from boocode.workflow.events import Listener
from boocode.workflow.manager import RunResult, WorkflowRunner
from boocode.workflow.sandbox import UNDEFINED
from boocode.workflow.script import load_script


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
