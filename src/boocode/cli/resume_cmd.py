"""`boocode resume`: run a stored run again under its id; agents that completed before are not sent again."""

from __future__ import annotations

import json
import sys
from typing import cast

import click

from boocode.cli.common import progress_line, run_async, settings_or_exit
from boocode.cli.progress import progress_for
from boocode.cli.run_cmd import parse_args_json
from boocode.workflow.journal import MODES, ResumeMode
from boocode.workflow.manager import RunResult


def print_outcome(outcome: RunResult, as_json: bool) -> int:
    """Print a run's result as `boocode run` does and return the exit code."""
    if as_json:
        click.echo(json.dumps(outcome.as_json(), ensure_ascii=False))
    elif outcome.status == "completed" and outcome.result is not None:
        result = outcome.result
        click.echo(result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, indent=2))
    if outcome.status == "failed" and not as_json:
        click.echo(f"boocode: error: run {outcome.run_id} failed: {outcome.error}", err=True)
    return {"completed": 0, "failed": 1}.get(outcome.status, 130)


@click.command()
@click.argument("run_id")
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="content",
    show_default=True,
    help="content: every call that completed before is served from the journal, wherever it is; "
    "prefix: only the longest unchanged completed prefix in start order (Claude Code's rule).",
)
@click.option(
    "--script",
    "script_path",
    metavar="PATH",
    help="An edited script (.js file) to run instead of the stored one.",
)
@click.option("--args", "args_json", help="New `args` as JSON (default: the run's own).")
@click.option(
    "--project", type=click.Path(), help="Project directory the agents work in (default: the run's)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: run_id, status, result, ...")
@click.option("--no-live", is_flag=True, help="Plain progress lines on stderr, even on a terminal.")
def resume(
    run_id: str,
    mode: str,
    script_path: str | None,
    args_json: str | None,
    project: str | None,
    as_json: bool,
    no_live: bool,
) -> None:
    """Resume RUN_ID (stopped, failed, interrupted or even completed) in this process, under the same id.

    Agents that completed before return their stored result at once and cost nothing; failed and
    unfinished ones run again. Refused while another live process runs it. Prints what `boocode run` prints.
    """
    from boocode.api import edited_script, run_project
    from boocode.runtime import open_runtime
    from boocode.workflow.manager import WorkflowRunner

    settings = settings_or_exit()

    async def main() -> int:
        args = parse_args_json(args_json)
        script = edited_script(script_path)
        root = await run_project(settings, run_id, project)
        async with open_runtime(settings, root, progress=progress_line) as runtime:
            with progress_for(sys.stderr, live=not no_live) as listener:
                runner = WorkflowRunner(runtime, listener)
                outcome = await runner.resume(run_id, mode=cast(ResumeMode, mode), script=script, args=args)
        return print_outcome(outcome, as_json)

    run_async(main)
