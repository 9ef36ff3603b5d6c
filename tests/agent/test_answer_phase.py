"""The end of the tool phase: after a read repeated with the same arguments, or at the turn cap, the agent's
next request offers no tools and asks for the answer (fake server in both wire formats, real store)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from boocode.agent import prompts
from boocode.agent.loop import AgentRuntime, AgentSpec, run_agent
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.types import TextPart, ToolResultPart
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest, FakeToolCall
from boocode.tools.registry import ALL_TOOLS
from boocode.tools.repeats import REPEAT_NOTE, guard_repeats

MakeRuntime = Callable[..., Awaitable[AgentRuntime]]
HELLO = "     1\thello from the file"  # read_file's output of the conftest's hello.txt
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def _guarded(runtime: AgentRuntime) -> AgentRuntime:
    """The runtime with the repeat guard around its tools, as `tools_for()` builds them."""
    return dataclasses.replace(runtime, tools=guard_repeats(ALL_TOOLS))


def _read_again(request: FakeRequest) -> FakeReply:
    """A looping model: whenever it may, it reads hello.txt (again)."""
    return FakeReply(tool_calls=[FakeToolCall("read_file", {"path": "hello.txt"})])


def _assert_wire(request: FakeRequest, lead: str) -> None:
    """The request ends with the repeated call's result, then the user turn asking for the answer, in a shape
    each API takes: OpenAI a tool message then a user message; Anthropic one user message whose
    tool_result block comes before the text."""
    if request.api == "openai":
        call, result, user = request.messages[-3:]
        assert [m["role"] for m in (call, result, user)] == ["assistant", "tool", "user"]
        assert call["tool_calls"][0]["id"] == result["tool_call_id"]
        assert result["content"] == f"{REPEAT_NOTE}\n{HELLO}"
    else:
        call, user = request.messages[-2:]
        assert [b["type"] for b in call["content"]] == ["tool_use"]
        assert [b["type"] for b in user["content"]] == ["tool_result", "text"]
        assert user["content"][0]["tool_use_id"] == call["content"][0]["id"]
        assert user["content"][0]["content"][0]["text"] == f"{REPEAT_NOTE}\n{HELLO}"
    assert request.last_user_text.startswith(lead)


async def test_a_repeated_call_ends_the_tool_phase_of_a_schema_agent(
    runtime: AgentRuntime, fake: FakeLLMServer
) -> None:
    native = runtime.provider.capabilities.native_json_schema  # OpenAI yes; Anthropic: StructuredOutput

    def responder(request: FakeRequest) -> FakeReply:
        if "read_file" in request.tools:
            return _read_again(request)
        if request.json_schema is not None:
            return FakeReply(text=json.dumps({"n": 7}))
        if "StructuredOutput" in request.tools:
            return FakeReply(tool_calls=[FakeToolCall("StructuredOutput", {"n": 7})])
        return FakeReply(text="I counted seven.")  # the result in plain words

    fake.responder = responder
    result = await run_agent(AgentSpec("count", schema=SCHEMA), _guarded(runtime))
    assert (result.status, result.output) == ("completed", {"n": 7})
    first, second, *answers = fake.requests
    assert "read_file" in first.tools and "read_file" in second.tools
    if native:  # first the result in words (no tools, no format), then as JSON
        summary, answer = answers
        assert (summary.tools, summary.json_schema) == ([], None)
        assert summary.last_user_text.endswith("You will then be asked for it as JSON.")
        _assert_wire(summary, prompts.REPEATED_CALL)
        assert (answer.tools, answer.json_schema) == ([], SCHEMA)
        assert answer.messages[-2]["content"] == "I counted seven."
        assert answer.last_user_text == prompts.final_answer_request(SCHEMA)
    else:  # a provider without native JSON schema answers through StructuredOutput at once
        [answer] = answers
        assert (answer.tools, answer.json_schema) == (["StructuredOutput"], None)
        assert answer.last_user_text.endswith("Call the StructuredOutput tool now with your final result.")
        _assert_wire(answer, prompts.REPEATED_CALL)
    assert result.turns == len(fake.requests)
    transcript = await runtime.store.transcript(result.session_id)
    assert transcript is not None
    [(_, messages)] = transcript.chats
    results = [p for m in messages for p in m.parts if isinstance(p, ToolResultPart)]
    assert [r.content for r in results] == [HELLO, f"{REPEAT_NOTE}\n{HELLO}"]  # the output again
    nudge = messages[5]  # prompt, call, result, call, the result again, nudge, answer
    assert nudge.role == "user" and isinstance(nudge.parts[0], TextPart)
    assert nudge.text.startswith(prompts.REPEATED_CALL)


async def test_a_repeated_call_ends_the_tool_phase_of_a_text_agent(
    runtime: AgentRuntime, fake: FakeLLMServer
) -> None:
    def responder(request: FakeRequest) -> FakeReply:
        if request.tools:
            return _read_again(request)
        return FakeReply(text="it says hello")

    fake.responder = responder
    result = await run_agent(AgentSpec("what does hello.txt say?"), _guarded(runtime))
    assert (result.status, result.output, result.turns, result.tool_calls) == (
        "completed",
        "it says hello",
        3,
        2,
    )
    answer = fake.requests[2]
    assert (answer.tools, answer.json_schema) == ([], None)
    assert answer.last_user_text == prompts.answer_now(prompts.REPEATED_CALL, None, False)
    assert answer.last_user_text.endswith("in plain text.")
    _assert_wire(answer, prompts.REPEATED_CALL)


async def test_at_the_turn_cap_a_final_answer_turn_without_tools(
    fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    fake.responder = lambda r: (
        FakeReply(tool_calls=[FakeToolCall("list_files", {})]) if r.tools else FakeReply(text="three files")
    )
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider, max_turns=3)
    result = await run_agent(AgentSpec("look around"), runtime)
    await provider.aclose()
    assert (result.status, result.output, result.turns, result.tool_calls) == (
        "completed",
        "three files",
        4,
        3,
    )
    assert [r.tools == [] for r in fake.requests] == [False, False, False, True]
    final = fake.requests[3]
    assert final.last_user_text == prompts.answer_now(prompts.TURN_CAP, None, False)
    assert [m["role"] for m in final.messages[-3:]] == ["assistant", "tool", "user"]


async def test_at_the_turn_cap_a_schema_agent_answers_in_its_schema(
    fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    def responder(request: FakeRequest) -> FakeReply:
        if request.tools:
            return FakeReply(tool_calls=[FakeToolCall("list_files", {})])
        return FakeReply(text=json.dumps({"n": 3}))

    fake.responder = responder
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider, max_turns=2)
    result = await run_agent(AgentSpec("count the files", schema=SCHEMA), runtime)
    await provider.aclose()
    assert (result.status, result.output, result.turns) == ("completed", {"n": 3}, 3)
    final = fake.requests[2]
    assert (final.tools, final.json_schema) == ([], SCHEMA)
    assert final.last_user_text == prompts.answer_now(prompts.TURN_CAP, SCHEMA, False)


async def test_at_the_turn_cap_an_invalid_final_answer_fails_the_agent(
    fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    def responder(request: FakeRequest) -> FakeReply:
        if request.tools:
            return FakeReply(tool_calls=[FakeToolCall("list_files", {})])
        return FakeReply(text='{"n": "many"}')

    fake.responder = responder
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider, max_turns=2)
    result = await run_agent(AgentSpec("count the files", schema=SCHEMA), runtime)
    await provider.aclose()
    assert (result.status, result.failure, result.turns) == ("failed", "turns", 3)
    assert result.error == "agent reached the turn cap (2) without finishing"
    assert [r.tools == [] for r in fake.requests] == [False, False, True]


async def test_an_agent_that_already_answered_without_tools_gets_no_extra_turn(
    fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    replies: list[Any] = []

    def responder(request: FakeRequest) -> FakeReply:
        replies.append(request.tools)
        return FakeReply(text="not json")  # each reply asks for another: the answer phase never ends

    fake.responder = responder
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider, max_turns=3, structured_attempts=10)
    result = await run_agent(AgentSpec("count", schema=SCHEMA), runtime)
    await provider.aclose()
    assert (result.failure, result.turns) == ("turns", 3)
    assert [bool(tools) for tools in replies] == [True, False, False]
