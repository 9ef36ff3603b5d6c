"""The repeat guard: an agent's second identical read gets the first output again and ends its tool phase,
until something was written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from boocode.config import Settings
from boocode.llm.types import ToolCallPart
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.policy import ToolPolicy
from boocode.tools.registry import execute_tool_call, tools_for
from boocode.tools.repeats import REPEAT_NOTE, guard_repeats


async def test_a_tool_that_may_change_things_is_never_refused(root: Path, ctx: ToolContext) -> None:
    tools = tools_for(Settings(home=root, db_url="sqlite+aiosqlite://"))
    for _ in range(3):
        result = await call(ctx, tools, "bash", command="echo hi >> log; wc -l < log")
        assert not result.is_error
    assert (root / "log").read_text() == "hi\nhi\nhi\n"


async def call(ctx: ToolContext, tools: Any, name: str, **arguments: Any) -> Any:
    return await execute_tool_call(ToolCallPart(call_id="c", name=name, arguments=arguments), tools, ctx)


async def test_the_same_read_gives_the_first_output_again_and_ends_the_tool_phase(
    root: Path, ctx: ToolContext
) -> None:
    (root / "a.txt").write_text("alpha\n")
    tools = tools_for(Settings(home=root, db_url="sqlite+aiosqlite://"))
    first = await call(ctx, tools, "read_file", path="a.txt")
    assert first.content == "     1\talpha" and not first.is_error
    (root / "a.txt").write_text("changed behind the agent's back\n")  # not read again: the first output
    again = await call(ctx, tools, "read_file", path="a.txt")
    assert again.content == f"{REPEAT_NOTE}\n     1\talpha" and not again.is_error
    assert again.ends_tool_phase and not first.ends_tool_phase  # the agent loop asks for the answer next
    other = await call(ctx, tools, "read_file", path="a.txt", offset=1)  # other arguments: a new call
    assert other.content == "     1\tchanged behind the agent's back"


async def test_a_write_makes_reading_again_legitimate(root: Path, ctx: ToolContext) -> None:
    (root / "a.txt").write_text("alpha\n")
    tools = tools_for(Settings(home=root, db_url="sqlite+aiosqlite://"))
    await call(ctx, tools, "read_file", path="a.txt")
    await call(ctx, tools, "write_file", path="a.txt", content="beta\n")
    assert (await call(ctx, tools, "read_file", path="a.txt")).content == "     1\tbeta"


async def test_each_agent_has_its_own_record(root: Path, ctx: ToolContext) -> None:
    """Each agent has its own ToolContext (and so its own record of calls)."""
    (root / "a.txt").write_text("alpha\n")
    tools = tools_for(Settings(home=root, db_url="sqlite+aiosqlite://"))
    await call(ctx, tools, "read_file", path="a.txt")
    fresh = replace(ctx, extras={})  # another agent's context
    assert not (await call(fresh, tools, "read_file", path="a.txt")).is_error


async def test_tools_that_do_not_only_read_files_are_not_refused(ctx: ToolContext) -> None:
    polls: list[int] = []

    async def status(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        polls.append(1)
        return ToolOutput(f"poll {len(polls)}")

    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    tools = guard_repeats({"status": Tool("status", "A status poll.", schema, status)})
    ctx = replace(ctx, policy=ToolPolicy(allowed=frozenset({"status"})))
    assert [(await call(ctx, tools, "status")).content for _ in range(3)] == ["poll 1", "poll 2", "poll 3"]
