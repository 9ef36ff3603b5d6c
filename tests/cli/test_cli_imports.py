"""The `boocode` command starts without importing what only some commands need: the server, migrations,
the agent runtime (providers, tools, JSON schema) and the live progress view."""

from __future__ import annotations

import subprocess
import sys

LAZY = ("fastapi", "uvicorn", "alembic", "boocode.runtime", "jsonschema", "rich")


def test_importing_the_cli_leaves_heavy_modules_unimported() -> None:
    code = f"import sys, boocode.cli.main; print(sorted(m for m in {LAZY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
