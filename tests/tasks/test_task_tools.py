"""The subagent and workflow tools as tools: registered, well-formed for every provider (small local models
see only their required arguments), withheld from workflow agents, and clear without a task service."""

from __future__ import annotations

from pathlib import Path

from jsonschema import Draft202012Validator

from boocode.llm.json_actions import action_schema, tools_prompt
from boocode.llm.types import ToolCallPart
from boocode.tools.base import ToolContext
from boocode.tools.policy import ToolPolicy
from boocode.tools.registry import ALL_TOOLS, ORCHESTRATION_TOOLS, execute_tool_call, workflow_agent_tools

NAMES = {"spawn_subagent", "subagent_status", "subagent_result", "cancel_subagent", "workflow"}


def test_the_tools_are_registered_and_well_formed() -> None:
    assert set(ALL_TOOLS) >= NAMES and ORCHESTRATION_TOOLS == NAMES
    for name in NAMES:
        tool = ALL_TOOLS[name]
        assert tool.read_only  # several calls in one turn run together
        assert tool.description and len(tool.description) < 300
        Draft202012Validator.check_schema(tool.parameters)
        assert tool.parameters["additionalProperties"] is False
        assert set(tool.parameters["required"]) <= set(tool.parameters["properties"])
        assert all(p.get("description") for p in tool.parameters["properties"].values()), name


def test_small_models_see_only_the_required_arguments() -> None:
    specs = [ALL_TOOLS[name].spec for name in sorted(NAMES)]
    prompt = tools_prompt(specs)
    assert "- spawn_subagent(prompt: string):" in prompt
    assert "- subagent_result(id: string):" in prompt and "wait_seconds" not in prompt
    schema = action_schema(specs)
    spawn = next(c for c in schema["anyOf"] if c["properties"].get("tool") == {"const": "spawn_subagent"})
    assert list(spawn["properties"]["arguments"]["properties"]) == ["prompt"]


def test_workflow_agents_get_no_orchestration_tools() -> None:
    assert set(workflow_agent_tools(None, ALL_TOOLS)) == set(ALL_TOOLS) - NAMES
    assert workflow_agent_tools(["read_file", "workflow", "spawn_subagent"], ALL_TOOLS) == ["read_file"]


async def test_without_a_task_service_the_tools_say_so(tmp_path: Path) -> None:
    ctx = ToolContext(root=tmp_path, policy=ToolPolicy(allowed=frozenset(NAMES)))
    call = ToolCallPart("c1", "spawn_subagent", {"prompt": "x"})
    result = await execute_tool_call(call, ALL_TOOLS, ctx)
    assert result.is_error
    assert (
        result.content == "background tasks are not available here: this agent's runtime has no task service"
    )
