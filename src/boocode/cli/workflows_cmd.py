"""`boocode workflows`: the workflows this project can run."""

from __future__ import annotations

import click

from boocode.cli.common import fail, settings_or_exit
from boocode.project import project_root


@click.group(invoke_without_command=True)
@click.option("--project", type=click.Path(), help="Project directory (default: here).")
@click.pass_context
def workflows(ctx: click.Context, project: str | None) -> None:
    """List workflows: name, description and where each comes from (invalid scripts are reported)."""
    ctx.obj = project
    if ctx.invoked_subcommand is not None:
        return
    from boocode.workflow.discovery import discover

    settings = settings_or_exit()
    seen: set[str] = set()
    for entry in discover(project_root(project), settings.home):
        if entry.script is None:
            click.echo(f"INVALID  {entry.path}: {entry.error}")
            continue
        shadowed = entry.name in seen
        seen.add(entry.name)
        note = "  (shadowed)" if shadowed else ""
        click.echo(
            f"{entry.name:<24} {entry.script.meta.description[:70]:<70}  {entry.source}: {entry.path}{note}"
        )


@workflows.command()
@click.argument("name")
@click.pass_obj
def show(project: str | None, name: str) -> None:
    """Show a workflow's meta (phases, when to use) and where it is."""
    from boocode.workflow.discovery import resolve

    settings = settings_or_exit()
    try:
        script = resolve(name, project_root(project), settings.home)
    except Exception as exc:  # an InputError or ScriptError: one line
        fail(str(exc), 2)
    meta = script.meta
    click.echo(f"name: {meta.name}\ndescription: {meta.description}\nfile: {script.filename}")
    if meta.when_to_use:
        click.echo(f"when to use: {meta.when_to_use}")
    for phase in meta.phases:
        extra = "".join(f" ({x})" for x in (phase.model, phase.detail) if x)
        click.echo(f"phase: {phase.title}{extra}")
