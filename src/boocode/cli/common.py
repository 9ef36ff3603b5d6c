"""Helpers shared by the CLI commands."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

import click

from boocode.config import Settings, load_settings
from boocode.errors import BoocodeError, InputError, ToolError, UnsupportedInputError

# Errors in what the user gave exit 2 (like click's usage errors); failures of the work itself exit 1.
_INPUT_ERRORS = (InputError, ToolError, UnsupportedInputError)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one error line and exit."""
    click.echo(f"boocode: error: {message}", err=True)
    sys.exit(code)


async def _stoppable(main: Callable[[], Coroutine[Any, Any, int]], received: list[int]) -> int:
    """Run `main`, cancelling it on SIGINT or SIGTERM so agents record that they were stopped."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        received.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    return await main()


def run_async(main: Callable[[], Coroutine[Any, Any, int]]) -> NoReturn:
    """Run a command's coroutine: errors become one line; Ctrl-C or SIGTERM cancels the work cleanly and
    exits 130 (or 143)."""
    received: list[int] = []
    try:
        code = asyncio.run(_stoppable(main, received))
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("boocode: stopped", err=True)
        sys.exit(128 + (received[0] if received else signal.SIGINT))
    except BoocodeError as exc:
        fail(str(exc), 2 if isinstance(exc, _INPUT_ERRORS) else 1)
    sys.exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except BoocodeError as exc:
        fail(str(exc), 2)


def progress_line(text: str) -> None:
    """A progress line on stderr (model download, server start, tool calls)."""
    click.echo(f"boocode: {text}", err=True)
