"""`boocode resume`: run a stored run again under its id; agents that completed before are not sent again."""

from __future__ import annotations

import sys
from typing import cast

import click

from boocode.cli.common import progress_line, run_async, settings_or_exit
from boocode.cli.run_cmd import parse_args_json, report_outcome
from boocode.workflow.journal import MODES, ResumeMode


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
    from boocode.cli.progress import progress_for
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
        return report_outcome(outcome, as_json)

    run_async(main)
