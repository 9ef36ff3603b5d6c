"""`boocode run`: run a workflow script and print its result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from boocode.cli.common import progress_line, run_async, settings_or_exit
from boocode.errors import InputError
from boocode.project import project_root

if TYPE_CHECKING:
    from boocode.workflow.manager import RunResult


def parse_args_json(text: str | None) -> Any:
    from boocode.workflow.sandbox import UNDEFINED

    if text is None:
        return UNDEFINED
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"--args: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


def report_outcome(outcome: RunResult, as_json: bool, out: str | None = None) -> int:
    """Print a run's outcome as `boocode run` does (and write `--out`); return the exit code."""
    if as_json:
        click.echo(json.dumps(outcome.as_json(), ensure_ascii=False))
    elif outcome.status == "completed" and outcome.result is not None:
        result = outcome.result
        click.echo(result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, indent=2))
    if out is not None:
        if outcome.status == "completed":
            from boocode.tools.files import _atomic_write

            _atomic_write(Path(out), out, markdown_of(outcome.result))
        else:
            click.echo(f"boocode: {out} not written: the run {outcome.status}", err=True)
    if outcome.status == "failed" and not as_json:
        click.echo(f"boocode: error: run {outcome.run_id} failed: {outcome.error}", err=True)
    return {"completed": 0, "failed": 1}.get(outcome.status, 130)


def markdown_of(result: Any) -> str:
    """The Markdown `--out` writes: a result's `markdown` string when it has one (the catalog workflows
    return `{report, markdown}`), a string result as it is, anything else as JSON in a fenced block."""
    if isinstance(result, dict) and isinstance(result.get("markdown"), str):
        return str(result["markdown"])
    if isinstance(result, str):
        return result
    return "```json\n" + json.dumps(result, ensure_ascii=False, indent=2) + "\n```\n"


@click.command()
@click.argument("workflow")
@click.option("--args", "args_json", help="The script's `args` as JSON (any JSON value).")
@click.option("--budget", type=click.IntRange(min=1), help="Output-token budget for the whole run.")
@click.option("--project", type=click.Path(), help="Project directory the agents work in (default: here).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: run_id, status, result, ...")
@click.option("--no-live", is_flag=True, help="Plain progress lines on stderr, even on a terminal.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Also write the result as Markdown to this file (atomically).",
)
def run(
    workflow: str,
    args_json: str | None,
    budget: int | None,
    project: str | None,
    as_json: bool,
    no_live: bool,
    out: str | None,
) -> None:
    """Run WORKFLOW (a name from `boocode workflows`, or a path to a .js script)."""
    from boocode.cli.progress import progress_for
    from boocode.runtime import open_runtime
    from boocode.workflow.discovery import resolve
    from boocode.workflow.manager import WorkflowRunner

    settings = settings_or_exit()

    async def main() -> int:
        root = project_root(project)
        script = resolve(workflow, root, settings.home)
        args = parse_args_json(args_json)
        async with open_runtime(settings, root, progress=progress_line) as runtime:
            with progress_for(sys.stderr, live=not no_live) as listener:
                outcome = await WorkflowRunner(runtime, listener).run(script, args=args, budget=budget)
        return report_outcome(outcome, as_json, out)

    run_async(main)
