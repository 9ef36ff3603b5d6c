"""The `boocode` command."""

from __future__ import annotations

import click

from boocode.cli.agent_cmd import agent
from boocode.cli.config_cmd import config
from boocode.cli.model_cmd import model
from boocode.cli.resume_cmd import resume
from boocode.cli.run_cmd import run
from boocode.cli.runs_cmd import runs
from boocode.cli.serve_cmd import serve
from boocode.cli.sessions_cmd import sessions
from boocode.cli.stop_cmd import stop
from boocode.cli.tasks_cmd import tasks
from boocode.cli.workflows_cmd import workflows


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="boocode")
def cli() -> None:
    """boocode runs LLM coding agents and Claude Code style workflows, persisted and resumable.

    Settings come from BOOCODE_* environment variables and $BOOCODE_HOME/config.toml; see `boocode config`.
    """


for command in (run, resume, stop, workflows, runs, agent, sessions, tasks, serve, config, model):
    cli.add_command(command)


def main() -> None:
    cli()
