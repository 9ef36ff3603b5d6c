"""Helpers shared by the CLI commands."""

from __future__ import annotations

import asyncio
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


def run_async(main: Callable[[], Coroutine[Any, Any, int]]) -> NoReturn:
    """Run a command's coroutine: errors become one line, Ctrl-C cancels the work cleanly (exit 130)."""
    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        click.echo("boocode: stopped", err=True)
        sys.exit(130)
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
