from __future__ import annotations

from pathlib import Path

import pytest

from boocode.agent.types import find_agent_type, parse_agent_file
from boocode.errors import InputError

REVIEWER = """---
name: reviewer
description: Reviews code
tools: Read, Grep, Glob
model: inherit
---
You are a careful reviewer.
"""


def test_claude_code_agent_file_is_understood(tmp_path: Path) -> None:
    path = tmp_path / "reviewer.md"
    path.write_text(REVIEWER)
    agent = parse_agent_file(path)
    assert (agent.name, agent.description, agent.model) == ("reviewer", "Reviews code", None)
    assert agent.tools == ("read_file", "grep", "list_files")
    assert agent.system_prompt == "You are a careful reviewer."


def test_lookup_order_and_errors(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    (project / ".git").mkdir(parents=True)
    (project / ".claude" / "agents").mkdir(parents=True)
    (project / ".claude" / "agents" / "r.md").write_text(REVIEWER)
    (project / ".boocode" / "agents").mkdir(parents=True)
    (project / ".boocode" / "agents" / "r.md").write_text(REVIEWER.replace("careful", "boocode"))
    found = find_agent_type("reviewer", project, tmp_path / "home")
    assert found is not None and "boocode reviewer" in found.system_prompt
    assert find_agent_type("general-purpose", project, tmp_path / "home") is None
    with pytest.raises(InputError, match="unknown agentType 'nope'; known types: general-purpose, reviewer"):
        find_agent_type("nope", project, tmp_path / "home")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "starts with a --- front matter"),
        ("---\nname: [unclosed\n---\nx", "invalid front matter"),
        ("---\ndescription: x\n---\nx", "needs a `name`"),
        ("---\nname: a\ntools: 3\n---\nx", "`tools` is a list"),
    ],
)
def test_bad_agent_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.md"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        parse_agent_file(path)
