from __future__ import annotations

import re
from pathlib import Path

import pytest

import boocode
from boocode.agent.loop import AgentRuntime, AgentSpec, run_agent
from boocode.agent.types import PACKAGED_DIR, agent_dirs, find_agent_type, parse_agent_file
from boocode.config import Settings
from boocode.errors import InputError
from boocode.testing.fake_llm import FakeLLMServer
from boocode.tools.registry import ALL_TOOLS, tools_for

CATALOG = Path(boocode.__file__).parent / "workflow" / "catalog"

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


def test_claude_code_subagent_and_workflow_tools_map_to_boocode_tools(tmp_path: Path) -> None:
    path = tmp_path / "lead.md"
    path.write_text("---\nname: lead\ntools: Read, Agent, Task, Workflow, WebSearch, LS, Glob\n---\nLead.\n")
    subagents = ("spawn_subagent", "subagent_status", "subagent_result", "cancel_subagent")
    expected = ("read_file", *subagents, "workflow", "web_search", "list_files")
    assert parse_agent_file(path).tools == expected
    assert set(expected) <= {*ALL_TOOLS, "web_search"}  # real tool names (web_search needs a backend)


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
    with pytest.raises(InputError, match="unknown agentType 'nope'; known types: ") as raised:
        find_agent_type("nope", project, tmp_path / "home")
    known = str(raised.value).split("known types: ")[1].split(", ")
    assert {"general-purpose", "reviewer", "code-reader", "text-only"} <= set(known)
    assert known == sorted(known)


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


def test_packaged_types_come_last_and_a_project_file_overrides_them(tmp_path: Path) -> None:
    project, home = tmp_path / "repo", tmp_path / "home"
    (project / ".git").mkdir(parents=True)
    packaged = find_agent_type("code-reader", project, home)
    assert packaged is not None and packaged.path == PACKAGED_DIR / "code-reader.md"
    assert (packaged.tools, packaged.model) == (("read_file", "git_diff", "grep"), None)
    assert packaged.system_prompt.startswith("You review code for real defects.")
    agents = project / ".boocode" / "agents"
    agents.mkdir(parents=True)
    (agents / "mine.md").write_text("---\nname: code-reader\ntools: [read_file]\n---\nMy own reader.\n")
    mine = find_agent_type("code-reader", project, home)
    assert mine is not None and (mine.path, mine.tools) == (agents / "mine.md", ("read_file",))
    assert agent_dirs(project, home)[-1] == PACKAGED_DIR


def test_packaged_types_name_real_tools_and_an_empty_list_means_none(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, db_url="sqlite+aiosqlite://", search_url="http://127.0.0.1:9")
    real = set(tools_for(settings))
    types = [parse_agent_file(path) for path in sorted(PACKAGED_DIR.glob("*.md"))]
    assert len(types) >= 8 and all(t.description and t.system_prompt for t in types)
    for kind in types:
        assert kind.path.stem == kind.name
        assert kind.tools is not None and set(kind.tools) <= real, kind.name
    text_only = next(t for t in types if t.name == "text-only")
    assert text_only.tools == ()  # `tools: []`: no tools at all, not every tool


def test_every_agent_type_of_the_catalog_workflows_is_packaged(tmp_path: Path) -> None:
    used = {
        name
        for script in CATALOG.glob("*.js")
        for name in re.findall(r"agentType: '([a-z-]+)'", script.read_text())
    }
    assert used == {
        "change-scout",
        "area-scout",
        "code-reader",
        "code-verifier",
        "doc-searcher",
        "doc-reader",
        "claim-checker",
        "text-only",
    }
    for name in used:
        kind = find_agent_type(name, tmp_path, tmp_path / "home")
        assert kind is not None and kind.path.parent == PACKAGED_DIR


async def test_an_agent_type_without_tools_sends_no_tool_specs(
    runtime: AgentRuntime, fake: FakeLLMServer, tmp_path: Path
) -> None:
    kind = find_agent_type("text-only", tmp_path, tmp_path / "home")
    assert kind is not None
    spec = AgentSpec("say hi", tools=kind.tools, system=kind.system_prompt, agent_type=kind.name)
    result = await run_agent(spec, runtime)
    assert result.status == "completed"
    [request] = fake.requests
    assert request.tools == [] and "you have no tools" in request.system
    assert "Use the tools" not in request.system
