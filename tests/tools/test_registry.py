from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from boocode.errors import ToolError
from boocode.llm.types import ImagePart, ToolCallPart
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.policy import ToolPolicy
from boocode.tools.registry import ALL_TOOLS, execute_tool_call

IMAGE = ImagePart(data=b"GIF89a", media_type="image/gif")
TEST_TOOLS = frozenset({"count", "refuse", "crash", "wait"})


@pytest.fixture
def ctx(ctx: ToolContext) -> ToolContext:
    """The shared context, with the test tools of this module allowed as well."""
    return replace(ctx, policy=ToolPolicy(allowed=ctx.policy.allowed | TEST_TOOLS))


def make_tool(name: str, run: Any) -> Tool:
    return Tool(
        name=name,
        description="A test tool.",
        parameters={
            "type": "object",
            "properties": {
                "count": {"type": "integer", "minimum": 0, "description": "How many."},
                "label": {"type": "string", "description": "A label."},
            },
            "required": ["count"],
            "additionalProperties": False,
        },
        run=run,
    )


class Recorder:
    """A tool runner that records its calls and answers with text and an image."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        self.calls.append(args)
        return ToolOutput(f"counted {args['count']}", images=(IMAGE,))


async def call(ctx: ToolContext, tools: dict[str, Tool], name: str, **arguments: Any) -> Any:
    return await execute_tool_call(ToolCallPart(call_id="c1", name=name, arguments=arguments), tools, ctx)


def test_all_tools_have_proper_schemas() -> None:
    assert set(ALL_TOOLS) == {
        "read_file",
        "list_files",
        "grep",
        "write_file",
        "edit_file",
        "bash",
        "web_fetch",
        "spawn_subagent",
        "subagent_status",
        "subagent_result",
        "cancel_subagent",
        "workflow",
    }
    for name, tool in ALL_TOOLS.items():
        assert tool.name == name
        assert tool.description and len(tool.description) < 300
        schema = tool.parameters
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])
        assert all(prop.get("description") for prop in schema["properties"].values()), name
    writers = {name for name, tool in ALL_TOOLS.items() if not tool.read_only}
    assert writers == {"write_file", "edit_file", "bash"}


async def test_success_carries_ids_content_and_images(ctx: ToolContext) -> None:
    runner = Recorder()
    result = await call(ctx, {"count": make_tool("count", runner)}, "count", count=3)
    assert (result.call_id, result.name, result.content) == ("c1", "count", "counted 3")
    assert not result.is_error
    assert result.images == (IMAGE,)
    assert runner.calls == [{"count": 3}]


async def test_unknown_tool_lists_the_offered_ones(ctx: ToolContext) -> None:
    result = await call(ctx, ALL_TOOLS, "delete_everything")
    assert result.is_error
    assert result.content == (
        "unknown tool 'delete_everything'; the tools offered are: "
        "bash, cancel_subagent, edit_file, grep, list_files, read_file, spawn_subagent, subagent_result, "
        "subagent_status, web_fetch, workflow, write_file"
    )
    assert (await call(ctx, {}, "x")).content == "unknown tool 'x'; the tools offered are: none"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "invalid arguments for count: 'count' is a required property"),
        ({"count": "3"}, "invalid arguments for count: argument 'count': '3' is not of type 'integer'"),
        ({"count": -1}, "invalid arguments for count: argument 'count': -1 is less than the minimum of 0"),
        ({"count": 1, "extra": True}, "('extra' was unexpected)"),
    ],
)
async def test_invalid_arguments_are_named(ctx: ToolContext, arguments: dict[str, Any], message: str) -> None:
    runner = Recorder()
    result = await call(ctx, {"count": make_tool("count", runner)}, "count", **arguments)
    assert result.is_error
    assert message in result.content
    assert result.content.endswith("Parameters: count (required), label")
    assert runner.calls == []


async def test_policy_refusal_does_not_run_the_tool(ctx: ToolContext, root: Path) -> None:
    strict = replace(ctx, policy=ToolPolicy())
    result = await call(strict, ALL_TOOLS, "bash", command="touch ran")
    assert result.is_error
    assert result.content.startswith("tool 'bash' is not allowed; allow it with --allow bash")
    assert not (root / "ran").exists()


async def test_tool_errors_and_crashes_become_error_results(ctx: ToolContext) -> None:
    async def refuse(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        raise ToolError("no such thing")

    async def crash(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        raise ValueError("boom")

    tools = {"refuse": make_tool("refuse", refuse), "crash": make_tool("crash", crash)}
    refused = await call(ctx, tools, "refuse", count=1)
    assert (refused.is_error, refused.content) == (True, "no such thing")
    crashed = await call(ctx, tools, "crash", count=1)
    assert (crashed.is_error, crashed.content) == (True, "ValueError: boom")


async def test_real_tool_error_comes_back_as_result(ctx: ToolContext) -> None:
    result = await call(ctx, ALL_TOOLS, "read_file", path="../../etc/passwd")
    assert result.is_error
    assert "outside the root" in result.content


async def test_cancellation_propagates(ctx: ToolContext) -> None:
    started = asyncio.Event()

    async def wait_forever(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    task = asyncio.create_task(call(ctx, {"wait": make_tool("wait", wait_forever)}, "wait", count=1))
    async with asyncio.timeout(5):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
