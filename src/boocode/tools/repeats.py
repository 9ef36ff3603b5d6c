"""Stopping an agent from repeating one read-only tool call forever.

Small local models at temperature 0 often call the same tool with the same arguments again and again until
the turn cap (measured: Qwen2.5-Coder-0.5B reviewing a diff called `git_diff` 50 times). A short refusal
breaks most such loops where a repeated output or a note does not (measured: given the output again, told
"same call as before, now answer" without an error, refused with an error that repeats the output, or
refused with "use the previous output and answer now", the model went on repeating to the turn cap; refused
with this module's error at the first repeat, it answered in 5 of 6 reviews). A refusal alone does not end
the loop for every model, though: some went on calling tools until the turn cap, or answered with nothing.

So an agent's second identical call (same tool, same arguments) to a tool that only reads files
(`READERS`) is refused with `RepeatedCall`, and that ends the agent's tool phase: the refusal goes into the
chat as the call's result (`ToolResultPart.ends_tool_phase` set), and the agent loop's next request offers no
tools and asks for the answer from the outputs above (a schema agent gets its native JSON schema, or only the
StructuredOutput tool on a provider without one; a text agent is asked for plain text). A call to a tool
that may change something (a write, an edit, bash) clears the record: reading again after a change is
legitimate. Other tools (status polls, the web) are never refused.
The record lives in the agent's own `ToolContext`, so agents never affect one another (an agent restarted
after a stall keeps it: its new chat gets the refusal instead of an output it no longer has)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from boocode.errors import ToolError
from boocode.tools.base import Tool, ToolContext, ToolOutput

READERS = frozenset(
    {"read_file", "list_files", "grep", "git_changes", "git_diff", "repo_areas", "search_docs", "read_doc"}
)
_CALLS = "reader_calls"


class RepeatedCall(ToolError):
    """An agent's repeated read-only call, refused: it ends the agent's tool phase."""


def guard_repeats(tools: Mapping[str, Tool]) -> dict[str, Tool]:
    """`tools` with the repeat guard around the readers and the tools that may change something."""
    return {
        name: _guarded(tool) if name in READERS or not tool.read_only else tool
        for name, tool in tools.items()
    }


def _guarded(tool: Tool) -> Tool:
    async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        calls: set[str] = ctx.extras.setdefault(_CALLS, set())
        if not tool.read_only:
            calls.clear()
            return await tool.run(args, ctx)
        key = f"{tool.name} {json.dumps(args, sort_keys=True)}"
        if key in calls:
            raise RepeatedCall(
                f"you already called {tool.name} with these arguments; its output is above. Do not call it "
                "again: give your answer now"
            )
        calls.add(key)
        return await tool.run(args, ctx)

    return replace(tool, run=run)
