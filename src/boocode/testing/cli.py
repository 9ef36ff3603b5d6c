"""The `boocode` command line as a subprocess, for end-to-end tests: run a command to its end, start one in
the background, read a `--json` command's output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def boocode(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`boocode ARGS` run to its end in `cwd` with exactly `env`, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "boocode", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spawn(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """`boocode ARGS` in the background, stdout and stderr piped (read its progress lines from stderr)."""
    return subprocess.Popen(
        [sys.executable, "-m", "boocode", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def json_out(done: subprocess.CompletedProcess[str]) -> Any:
    """The parsed stdout of a `--json` command, whatever its exit code (a failed run prints JSON too); a
    command that printed nothing fails the test with its stderr."""
    assert done.stdout, done.stderr
    return json.loads(done.stdout)
