"""`boocode config`: the effective settings and where each comes from."""

from __future__ import annotations

import click

from boocode.cli.common import settings_or_exit


@click.command()
def config() -> None:
    """Show the effective settings (secrets masked) and where each one comes from."""
    settings = settings_or_exit()
    rows = settings.describe()
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        click.echo(f"{name:<{width}}  {value or '-'}  ({source})")
