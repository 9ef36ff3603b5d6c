"""Tool use for models without reliable native tool calling (small local models).

`JsonActionProvider` wraps a provider that enforces JSON schemas (llama.cpp does, by grammar). A request
with tools is sent without them: the system prompt lists the tools, and the reply is constrained to one
JSON object, either `{"tool": NAME, "arguments": {...}}` or `{"answer": TEXT}`, which is turned back into
a tool call or the final text; a request for text with no tools after tool calls (the agent loop's answer
phase) is held to `{"answer": TEXT}` alone. Earlier tool calls and results in the history are sent as that
same text, since these models follow it far better than their chat template's tool turns (measured with
Qwen2.5-Coder-0.5B: native tool turns made it repeat the call until the token cap; this answered).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from boocode.llm.provider import Provider
from boocode.llm.types import (
    Message,
    ModelRequest,
    ModelResponse,
    Part,
    ResponseDone,
    StreamEvent,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from boocode.store.ids import new_id

PROTOCOL = (
    "You cannot see files except through tools. "
    'Reply with one JSON object per turn: {"tool": "<name>", "arguments": {...}} calls a tool and you will '
    'see its result; {"answer": "..."} ends the task with that result.\n'
    # Two worked examples: without them the 0.5B model answered from the prompt alone in 1 of 4 runs, or
    # called tools for a task needing none; with them, 8 of 8 runs were right (see the issue notes). (The
    # 0.5B once copied the second one, answering "Call the git_changes tool ..." with {"answer": "OK"}; with a
    # number there instead, it stopped calling read_file in the tool round-trip test: kept as measured.)
    "Examples:\n"
    'Task: Read notes.txt and reply with its first word. -> {"tool": "read_file", "arguments": {"path": '
    '"notes.txt"}} -> (you see the file) -> {"answer": "Hello"}\n'
    'Task: Reply with exactly one word: OK -> {"answer": "OK"}'
)


def _required_only(parameters: dict[str, Any]) -> dict[str, Any]:
    """The tool's parameter schema without its optional properties: small models given optional ones
    fill them in with made-up values (measured: `offset: 10, limit: 5` on a one-line file)."""
    required = parameters.get("required", [])
    properties = {k: v for k, v in parameters.get("properties", {}).items() if k in required}
    return {**parameters, "properties": properties, "required": list(required)}


def action_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """One JSON object: a call of one of `tools` with its required arguments, or the answer."""
    calls = [
        {
            "type": "object",
            "properties": {"tool": {"const": tool.name}, "arguments": _required_only(tool.parameters)},
            "required": ["tool", "arguments"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    answer = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    return {"anyOf": [*calls, answer]}


def tools_prompt(tools: list[ToolSpec]) -> str:
    """The tools as `name(arg: type, ...): description` lines, with the arguments the schema allows."""
    lines = ["Tools:"]
    for tool in tools:
        required = _required_only(tool.parameters)["properties"]
        params = ", ".join(f"{name}: {spec.get('type', 'any')}" for name, spec in required.items())
        lines.append(f"- {tool.name}({params}): {tool.description}")
    return "\n".join(lines)


def _as_text(message: Message) -> Message:
    """A history message with tool calls and results written as the protocol's plain text."""
    texts: list[str] = []
    kept: list[Part] = []
    for part in message.parts:
        if isinstance(part, ToolCallPart):
            texts.append(json.dumps({"tool": part.name, "arguments": part.arguments}))
        elif isinstance(part, ToolResultPart):
            texts.append(f"{'Error from' if part.is_error else 'Result of'} {part.name}:\n{part.content}")
        else:
            kept.append(part)
    if not texts:
        return message
    return Message(
        "assistant" if message.role == "assistant" else "user", [*kept, TextPart("\n\n".join(texts))]
    )


def _read_action(response: ModelResponse, offered: set[str]) -> ModelResponse:
    try:
        action = json.loads(response.message.text)
    except ValueError:
        return response  # cut short (token cap): leave the text for the caller to judge
    if (
        isinstance(action, dict)
        and action.get("tool") in offered
        and isinstance(action.get("arguments"), dict)
    ):
        call = ToolCallPart(new_id("call"), action["tool"], action["arguments"])
        return replace(response, message=Message("assistant", [call]), stop_reason="tool_calls")
    if isinstance(action, dict) and isinstance(action.get("answer"), str):
        return replace(response, message=Message("assistant", [TextPart(action["answer"])]))
    return response


class JsonActionProvider:
    """A provider that gives `inner` tools through schema-constrained JSON replies (see the module doc)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.default_model = inner.default_model
        self.capabilities = replace(inner.capabilities, native_tools=False)

    async def stream(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 (the Provider protocol hands it on)
    ) -> AsyncIterator[StreamEvent]:
        history = [_as_text(m) for m in request.messages]
        # A text answer asked for with no tools after tool use (the agent loop's answer phase): the model has
        # replied in the protocol's JSON so far, so this reply is held to {"answer": TEXT} too, and unwrapped.
        used_tools = any(isinstance(p, ToolCallPart) for m in request.messages for p in m.parts)
        answer_only = not request.tools and request.json_schema is None and used_tools
        if request.tools:
            system = "\n\n".join(s for s in (request.system, PROTOCOL, tools_prompt(request.tools)) if s)
            sent = replace(
                request, messages=history, system=system, tools=[], json_schema=action_schema(request.tools)
            )
        elif answer_only:
            sent = replace(request, messages=history, json_schema=action_schema([]))
        else:
            sent = replace(request, messages=history)
        offered = {tool.name for tool in request.tools}
        async for event in self.inner.stream(sent, timeout=timeout):
            if isinstance(event, ResponseDone) and (offered or answer_only):
                yield ResponseDone(_read_action(event.response, offered))
            else:
                yield event

    async def aclose(self) -> None:
        await self.inner.aclose()
