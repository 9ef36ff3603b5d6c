"""Stopping an agent from repeating one read-only tool call forever.

Small local models at temperature 0 often call the same tool with the same arguments again and again until
the turn cap (measured: Qwen2.5-Coder-0.5B reviewing a diff called `git_diff` 50 times). Neither the output
again, nor a note, nor a refusal reliably stopped that (a refusal did in 5 of 6 reviews; the rest went on to
the turn cap or answered with nothing): what stops it is taking the tools away.

So an agent's second identical call (same tool, same arguments) to a tool that only reads files
(`READERS`) does not run again: it gets the first call's output again, marked as a repeat, and that ends the
agent's tool phase (`ToolOutput.ends_tool_phase`): the agent loop's next request offers no tools and asks
for the answer (a schema agent gets its native JSON schema, or only the StructuredOutput tool on a provider
without one; a text agent is asked for plain text). Giving the output again rather than a refusal puts what
the answer needs next to the request for it (measured on Qwen2.5-Coder-0.5B: after a refusal, the answer
turn returned `{"areas": []}` although the `repo_areas` output two messages up listed two areas).
A call to a tool that may change something (a write, an edit, bash) clears the record: reading again after
a change is legitimate. Other tools (status polls, the web) are never guarded.
The record lives in the agent's own `ToolContext`, so agents never affect one another (an agent restarted
after a stall keeps it: its new chat gets the output again, and its answer turn)."""

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


REPEAT_NOTE = "(You already made this call. Its output again, and your tool work is done:)"


def guard_repeats(tools: Mapping[str, Tool]) -> dict[str, Tool]:
    """`tools` with the repeat guard around the readers and the tools that may change something."""
    return {
        name: _guarded(tool) if name in READERS or not tool.read_only else tool
        for name, tool in tools.items()
    }


def _guarded(tool: Tool) -> Tool:
    async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        outputs: dict[str, ToolOutput] = ctx.extras.setdefault(_CALLS, {})
        if not tool.read_only:
            outputs.clear()
            return await tool.run(args, ctx)
        key = f"{tool.name} {json.dumps(args, sort_keys=True)}"
        previous = outputs.get(key)
        if previous is not None:
            return replace(previous, content=f"{REPEAT_NOTE}\n{previous.content}", ends_tool_phase=True)
        try:
            output = await tool.run(args, ctx)
        except ToolError as exc:  # a failed read fails the same way again
            outputs[key] = ToolOutput(str(exc), is_error=True)
            raise
        outputs[key] = output
        return output

    return replace(tool, run=run)
