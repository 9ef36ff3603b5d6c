"""The project directory: where agents work and project workflows are found.

Kept apart from `boocode.runtime` so commands that only need the directory do not load the agent stack.
"""

from __future__ import annotations

from pathlib import Path

from boocode.errors import ConfigError


def project_root(directory: str | Path | None) -> Path:
    """The project directory agents work in (default: the current directory); it must exist."""
    root = Path(directory or ".").expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"project directory not found: {root}")
    return root
