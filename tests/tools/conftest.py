"""Fixtures for the tool tests: a project root inside tmp_path and a context that allows every tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from boocode.tools.base import ToolContext
from boocode.tools.policy import ToolPolicy
from boocode.tools.registry import ALL_TOOLS


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The tool root; `tmp_path` around it is "outside"."""
    project = tmp_path / "project"
    project.mkdir()
    return project


@pytest.fixture
def ctx(root: Path) -> ToolContext:
    return ToolContext(root=root, policy=ToolPolicy(allowed=frozenset(ALL_TOOLS)))
