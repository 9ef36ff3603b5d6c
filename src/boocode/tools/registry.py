"""The built-in tools by name, and running one tool call safely."""

from __future__ import annotations

from collections.abc import Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from boocode.errors import ToolError
from boocode.llm.types import ToolCallPart, ToolResultPart
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.files import EDIT_FILE, READ_FILE, WRITE_FILE
from boocode.tools.search import GREP, LIST_FILES
from boocode.tools.shell import BASH
from boocode.tools.web import WEB_FETCH

ALL_TOOLS: dict[str, Tool] = {
    tool.name: tool for tool in (READ_FILE, LIST_FILES, GREP, WRITE_FILE, EDIT_FILE, BASH, WEB_FETCH)
}


async def execute_tool_call(
    call: ToolCallPart, tools: Mapping[str, Tool], ctx: ToolContext
) -> ToolResultPart:
    """Run `call` with the matching tool from `tools` and return its result.

    Never raises (except `asyncio.CancelledError`): an unknown tool, invalid arguments, a policy refusal
    and any failure of the tool become an error result the model can read and act on.
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
