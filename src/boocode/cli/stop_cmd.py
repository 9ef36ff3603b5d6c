"""`boocode stop`: stop a run, whichever process on this database runs it."""

from __future__ import annotations

import click

from boocode.cli.common import run_async, settings_or_exit


@click.command()
@click.argument("run_id")
def stop(run_id: str) -> None:
    """Stop RUN_ID and wait until it has ended: it ends `stopped` and its unfinished agents `interrupted`
    (not failed); `boocode resume` runs them again."""
    from boocode.api import stop_workflow

    settings = settings_or_exit()

    async def main() -> int:
        status = await stop_workflow(run_id, settings=settings)
        if status != "stopped":
            click.echo(f"boocode: run {run_id} ended {status} before it could be stopped", err=True)
            return 1
        click.echo(f"boocode: run {run_id} stopped", err=True)
        return 0

    run_async(main)
