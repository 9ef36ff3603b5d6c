"""JSON-action tool use (for small local models) through the real agent loop and a fake server."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from boocode.agent.loop import AgentResult, AgentRuntime, AgentSpec, run_agent
from boocode.config import load_settings
from boocode.llm.json_actions import JsonActionProvider, action_schema
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.retry import RetryPolicy
from boocode.llm.types import ToolCallPart, ToolSpec
from boocode.store.store import Store
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest, Responder
from boocode.tools.base import Tool
from boocode.tools.registry import ALL_TOOLS
from boocode.tools.repeats import REPEAT_NOTE, guard_repeats


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


async def ask_for_the_password(
    server: FakeLLMServer, responder: Responder, store: Store, root: Path, tools: Mapping[str, Tool]
) -> AgentResult:
    """An agent asked what secret.txt says, through the JSON-action wrapper, answered by `responder`."""
    server.reset()
    server.responder = responder
    provider = JsonActionProvider(OpenAIProvider(server.openai_base_url, "k", "fake-model"))
    settings = load_settings(env={"BOOCODE_HOME": str(root / "home")})
    project_id = await store.ensure_project(root)
    runtime = AgentRuntime(settings, store, provider, root, project_id, tools=tools, retry=RetryPolicy(0))
    try:
        return await run_agent(AgentSpec("What is the password in secret.txt?"), runtime)
    finally:
        await provider.aclose()


def test_action_schema_keeps_only_required_arguments() -> None:
    spec = ToolSpec(
        "read_file",
        "Read",
        {
            "type": "object",
            "properties": {"path": {"type": "string"}, "offset": {"type": "integer"}},
            "required": ["path"],
            "additionalProperties": False,
        },
    )
    [call, answer] = action_schema([spec])["anyOf"]
    assert call["properties"]["tool"] == {"const": "read_file"}
    assert set(call["properties"]["arguments"]["properties"]) == {"path"}
    assert answer["required"] == ["answer"]


async def test_tool_call_and_answer_as_constrained_json(
    server: FakeLLMServer, store: Store, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("The password is TANGERINE.\n")
    seen: list[FakeRequest] = []

    def responder(request: FakeRequest) -> FakeReply:
        seen.append(request)
        history = json.dumps(request.messages)
        if "Result of read_file" not in history:
            return FakeReply(text=json.dumps({"tool": "read_file", "arguments": {"path": "secret.txt"}}))
        return FakeReply(text=json.dumps({"answer": "TANGERINE"}))

    result = await ask_for_the_password(server, responder, store, tmp_path, ALL_TOOLS)
    assert (result.status, result.output, result.tool_calls) == ("completed", "TANGERINE", 1)
    first, second = seen
    assert first.tools == [] and first.json_schema is not None and "anyOf" in first.json_schema
    assert "read_file(path: string)" in first.system
    assert second.messages[-2] == {
        "role": "assistant",
        "content": json.dumps({"tool": "read_file", "arguments": {"path": "secret.txt"}}),
    }
    assert second.messages[-1] == {
        "role": "user",
        "content": "Result of read_file:\n     1\tThe password is TANGERINE.",
    }
    transcript = await store.transcript(result.session_id)
    assert transcript is not None
    stored = [p for m in transcript.chats[0][1] for p in m.parts]
    assert any(isinstance(p, ToolCallPart) and p.name == "read_file" for p in stored)


async def test_the_answer_phase_after_tool_use_is_held_to_an_answer(
    server: FakeLLMServer, store: Store, tmp_path: Path
) -> None:
    """A looping model's repeated read gets its output again and ends the tools; the no-tools request that
    follows still gets the protocol's JSON, answer only, and the text agent returns the unwrapped answer."""
    (tmp_path / "secret.txt").write_text("The password is TANGERINE.\n")
    read = json.dumps({"tool": "read_file", "arguments": {"path": "secret.txt"}})

    def responder(request: FakeRequest) -> FakeReply:
        schema = request.json_schema or {}
        if len(schema.get("anyOf", [])) > 1:  # tools offered: read (again)
            return FakeReply(text=read)
        return FakeReply(text=json.dumps({"answer": "TANGERINE"}))

    result = await ask_for_the_password(server, responder, store, tmp_path, guard_repeats(ALL_TOOLS))
    assert (result.status, result.output, result.turns) == ("completed", "TANGERINE", 3)
    answer = server.requests[2]
    assert answer.json_schema == action_schema([]) and answer.tools == []
    again, nudge = answer.messages[-2:]
    assert again["role"] == "user"
    assert again["content"] == f"Result of read_file:\n{REPEAT_NOTE}\n     1\tThe password is TANGERINE."
    assert nudge["role"] == "user" and nudge["content"].endswith("in plain text.")
