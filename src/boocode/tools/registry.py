"""The built-in tools by name, and running one tool call safely."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from boocode.config import Settings
from boocode.errors import ToolError
from boocode.llm.types import ToolCallPart, ToolResultPart
from boocode.tools.areas import REPO_AREAS
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.docs import doc_tools
from boocode.tools.files import EDIT_FILE, READ_FILE, WRITE_FILE
from boocode.tools.git import GIT_CHANGES, GIT_DIFF
from boocode.tools.repeats import guard_repeats
from boocode.tools.search import GREP, LIST_FILES
from boocode.tools.shell import BASH
from boocode.tools.subagents import SUBAGENT_TOOLS
from boocode.tools.web import WEB_FETCH
from boocode.tools.web_search import search_backend, web_search_tool
from boocode.tools.workflow_tool import WORKFLOW

ALL_TOOLS: dict[str, Tool] = {
    tool.name: tool for tool in (READ_FILE, LIST_FILES, GREP, WRITE_FILE, EDIT_FILE, BASH, WEB_FETCH)
}
# Background subagents and workflow runs (`boocode.tasks`); not allowed by the default policy.
ALL_TOOLS |= {tool.name: tool for tool in (*SUBAGENT_TOOLS, WORKFLOW)}

# Tools that start more agents. Agents a workflow script runs never get them: the script is the orchestration,
# and the run's concurrency, agent-count and budget caps would not cover agents its agents started.
ORCHESTRATION_TOOLS = frozenset({*(tool.name for tool in SUBAGENT_TOOLS), WORKFLOW.name})


def workflow_agent_tools(names: Iterable[str] | None, tools: Mapping[str, Tool]) -> list[str]:
    """The tools a workflow agent gets: `names` (None: all of `tools`) without the orchestration tools."""
    return [name for name in (tools if names is None else names) if name not in ORCHESTRATION_TOOLS]


def tools_for(settings: Settings) -> dict[str, Tool]:
    """The tools a runtime built from `settings` offers: the built-in ones, `git_changes`, `git_diff`,
    `repo_areas`, `search_docs` and `read_doc` (reading the project and `settings.source_dirs`), and
    `web_search` when a search backend is configured. An agent's second identical call to a tool that only
    reads files is refused (`boocode.tools.repeats`)."""
    tools = dict(ALL_TOOLS)
    for tool in (GIT_CHANGES, GIT_DIFF, REPO_AREAS, *doc_tools(settings.source_dirs)):
        tools[tool.name] = tool
    backend = search_backend(settings.search_backend, settings.search_url)
    if backend is not None:
        tools["web_search"] = web_search_tool(backend)
    return guard_repeats(tools)


async def execute_tool_call(
    call: ToolCallPart, tools: Mapping[str, Tool], ctx: ToolContext
) -> ToolResultPart:
    """Run `call` with the matching tool from `tools` and return its result.

    Never raises (except `asyncio.CancelledError`): an unknown tool, invalid arguments, a policy refusal
    and any failure of the tool become an error result the model can read and act on. A repeated read
    (`boocode.tools.repeats`) gives a result with `ends_tool_phase` set.
    """
    try:
        output = await _run(call, tools, ctx)
    except ToolError as exc:
        output = ToolOutput(str(exc), is_error=True)
    except Exception as exc:
        output = ToolOutput(f"{type(exc).__name__}: {exc}", is_error=True)
    return ToolResultPart(
        call_id=call.call_id,
        name=call.name,
        content=output.content,
        is_error=output.is_error,
        images=output.images,
        ends_tool_phase=output.ends_tool_phase,
    )


async def _run(call: ToolCallPart, tools: Mapping[str, Tool], ctx: ToolContext) -> ToolOutput:
    tool = tools.get(call.name)
    if tool is None:
        offered = ", ".join(sorted(tools)) or "none"
        raise ToolError(f"unknown tool {call.name!r}; the tools offered are: {offered}")
    _validate(tool, call.arguments)
    ctx.policy.check(tool.name, call.arguments)
    return await tool.run(call.arguments, ctx)


def _validate(tool: Tool, arguments: object) -> None:
    """Raise `ToolError` naming the first bad argument when `arguments` do not fit the tool's schema."""
    error = best_match(Draft202012Validator(tool.parameters).iter_errors(arguments))
    if error is None:
        return
    where = f"argument {'.'.join(map(str, error.absolute_path))!r}: " if error.absolute_path else ""
    expected = ", ".join(
        f"{name} (required)" if name in tool.parameters.get("required", ()) else name
        for name in tool.parameters.get("properties", {})
    )
    raise ToolError(f"invalid arguments for {tool.name}: {where}{error.message}. Parameters: {expected}")
