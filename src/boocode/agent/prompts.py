"""System prompts: the framing every agent gets, and the structured-output instructions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STRUCTURED_TOOL = "StructuredOutput"


def system_prompt(root: Path, tool_names: list[str], extra: str | None, schema: dict[str, Any] | None) -> str:
    """The system prompt of one agent: where it works, how to answer, then any agent-type prompt."""
    lines = [
        "You are a coding agent working in the project directory " + str(root) + ".",
        "Paths you give to tools are relative to that directory; you cannot leave it.",
    ]
    if tool_names:
        lines.append("Use the tools (" + ", ".join(tool_names) + ") to read, search and change files.")
    lines.append(
        "Your final message is returned verbatim to the program that started you, not shown to a person: "
        "give the literal result, with no preamble such as 'Done.' and no closing remarks."
    )
    if schema is not None:
        lines.append(structured_instruction(schema, STRUCTURED_TOOL in tool_names))
    if extra:
        lines += ["", extra.strip()]
    return "\n".join(lines)


def structured_instruction(schema: dict[str, Any], via_tool: bool) -> str:
    if via_tool:
        return (
            f"When you have the result, call the {STRUCTURED_TOOL} tool exactly once with it as the "
            "arguments; the program reads only that call."
        )
    return "Your final answer must be only a JSON object matching this JSON schema:\n" + json.dumps(schema)


def final_answer_request(schema: dict[str, Any]) -> str:
    """The user turn asking for the schema-shaped answer after the agent finished working."""
    return (
        "Now give your final result as a JSON object matching this schema, and nothing else:\n"
        + json.dumps(schema)
    )


REPEATED_CALL = "You called a tool again with the same arguments, so your tool work is done."
TURN_CAP = "You have used all your turns, so your tool work is done."


def answer_now(reason: str, schema: dict[str, Any] | None, via_tool: bool, summary: bool = False) -> str:
    """The user turn that ends an agent's tool phase (`reason`: `REPEATED_CALL` or `TURN_CAP`): no more tools,
    give the answer from the tool outputs above, in the shape the agent answers in; with `summary`, first in
    plain words (the JSON is asked for next)."""
    lead = f"{reason} No more tools are available: answer from the tool outputs above."
    if summary:
        return (
            f"{lead} First state your result in plain words: each thing you found, with its file and line "
            "where that applies, or that you found nothing. You will then be asked for it as JSON."
        )
    if schema is None:
        return f"{lead} Answer now, in plain text."
    if via_tool:
        return f"{lead} Call the {STRUCTURED_TOOL} tool now with your final result."
    return f"{lead}\n{final_answer_request(schema)}"


def retry_after_invalid(error: str) -> str:
    return f"That output does not match the schema ({error}). Reply again with only a corrected JSON object."


def after_runaway(unit: str) -> str:
    """The user turn after a reply that was stopped for repeating itself (`boocode.agent.runaway`)."""
    shown = unit.strip()[:80]
    return (
        f"Your last reply was stopped: it kept repeating {shown!r}. Reply again, briefly, "
        "without repeating yourself."
    )


def stall_note(seconds: float, attempt: int, attempts: int) -> str:
    return f"stalled (no progress for {seconds:g}s), restarting ({attempt}/{attempts - 1})"
