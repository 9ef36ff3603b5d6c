"""The agent loop end to end over real HTTP (fake server in the real wire formats) and a real store."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from boocode.agent.loop import AgentRuntime, AgentSpec, run_agent
from boocode.errors import SchemaError, UnsupportedInputError
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.provider import Capabilities
from boocode.llm.types import ImagePart, ToolCallPart, ToolResultPart
from boocode.store import schema as t
from boocode.store.store import Store
from boocode.testing.fake_llm import FakeError, FakeLLMServer, FakeReply, FakeRequest, FakeToolCall, FakeUsage

MakeRuntime = Callable[..., Awaitable[AgentRuntime]]
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _tool_results(request: FakeRequest) -> list[str]:
    """The text of every tool result sent back to the model, in either wire format."""
    found: list[str] = []
    for m in request.messages:
        if m.get("role") == "tool":
            found.append(str(m["content"]))
        for block in m.get("content") if isinstance(m.get("content"), list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                content = block["content"]
                found.append(
                    content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
                )
    return found


async def _count(store: Store, table: t.Table) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_text_answer_is_returned_and_persisted(runtime: AgentRuntime, fake: FakeLLMServer) -> None:
    fake.responder = lambda r: FakeReply(text="done: " + r.last_user_text, usage=FakeUsage(100, 5, cached=60))
    result = await run_agent(AgentSpec("say hi"), runtime)
    assert (result.status, result.output) == ("completed", "done: say hi")
    transcript = await runtime.store.transcript(result.session_id)
    assert transcript is not None and transcript.session["status"] == "completed"
    [(_, messages)] = transcript.chats
    assert [(m.role, m.text) for m in messages] == [("user", "say hi"), ("assistant", "done: say hi")]
    [call] = await runtime.store.inference_calls(result.session_id)
    assert (call["status"], call["input_total"], call["cache_read"], call["output"]) == ("ok", 100, 60, 5)
    assert call["ttft_ms"] is not None and call["latency_ms"] >= call["ttft_ms"]
    assert fake.requests[0].last_user_text == "say hi"  # the prompt is the first user message as given


async def test_tool_round_trip(runtime: AgentRuntime, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        results = _tool_results(r)
        if not results:
            return FakeReply(tool_calls=[FakeToolCall("read_file", {"path": "hello.txt"})])
        return FakeReply(text="file says: " + results[0])

    fake.responder = responder
    result = await run_agent(AgentSpec("read hello.txt"), runtime)
    assert result.status == "completed"
    assert "hello from the file" in result.output
    assert result.tool_calls == 1 and result.turns == 2
    transcript = await runtime.store.transcript(result.session_id)
    assert transcript is not None
    parts = [p for m in transcript.chats[0][1] for p in m.parts]
    assert any(isinstance(p, ToolCallPart) and p.arguments == {"path": "hello.txt"} for p in parts)
    assert any(isinstance(p, ToolResultPart) and "hello from the file" in p.content for p in parts)


async def test_several_tool_calls_in_one_turn_and_errors_go_back_to_the_model(
    runtime: AgentRuntime, fake: FakeLLMServer
) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        results = _tool_results(r)
        if not results:
            return FakeReply(
                tool_calls=[
                    FakeToolCall("read_file", {"path": "hello.txt"}),
                    FakeToolCall("read_file", {"path": "../outside.txt"}),
                    FakeToolCall("bash", {"command": "echo hi"}),
                ]
            )
        return FakeReply(text=json.dumps(results))

    fake.responder = responder
    result = await run_agent(AgentSpec("do three things"), runtime)
    first, outside, bash = json.loads(result.output)
    assert "hello from the file" in first
    assert "outside" in outside and "hello" not in outside
    assert "unknown tool 'bash'" in bash  # not offered: the policy does not allow it
    assert result.tool_calls == 3


async def test_small_model_json_text_tool_call_is_executed(
    runtime: AgentRuntime, fake: FakeLLMServer
) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        results = _tool_results(r)
        if not results:
            return FakeReply(text='```json\n{"name": "read_file", "arguments": {"path": "hello.txt"}}\n```')
        return FakeReply(text="got " + results[0])

    fake.responder = responder
    result = await run_agent(AgentSpec("read it"), runtime)
    assert "hello from the file" in result.output and result.tool_calls == 1


async def test_schema_answer_is_a_validated_object(runtime: AgentRuntime, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        if "StructuredOutput" in r.tools:  # providers without native JSON schema get the tool
            return FakeReply(tool_calls=[FakeToolCall("StructuredOutput", {"n": 7})])
        if r.json_schema is not None:
            return FakeReply(text=json.dumps({"n": 7}))
        return FakeReply(text="I counted them.")

    fake.responder = responder
    result = await run_agent(AgentSpec("count", schema=SCHEMA), runtime)
    assert (result.status, result.output) == ("completed", {"n": 7})
    session = await runtime.store.get_session(result.session_id)
    assert session is not None and session["result"] == {"n": 7}


async def test_structured_output_gives_up_after_the_cap(runtime: AgentRuntime, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        if "StructuredOutput" in r.tools:
            return FakeReply(tool_calls=[FakeToolCall("StructuredOutput", {"n": "many"})])
        return FakeReply(text='{"n": "many"}')

    fake.responder = responder
    result = await run_agent(AgentSpec("count", schema=SCHEMA), runtime)
    assert (result.status, result.failure) == ("failed", "structured")
    assert "retry cap (5) exceeded" in (result.error or "")
    assert "'many' is not of type 'integer'" in (result.error or "")
    session = await runtime.store.get_session(result.session_id)
    assert session is not None and session["status"] == "failed"


async def test_retryable_errors_are_retried_and_every_attempt_recorded(
    runtime: AgentRuntime, fake: FakeLLMServer
) -> None:
    replies = iter(
        [FakeReply(error=FakeError(500)), FakeReply(text="x", cut_after=1), FakeReply(text="fine")]
    )
    fake.responder = lambda r: next(replies)
    result = await run_agent(AgentSpec("retry me"), runtime)
    assert (result.status, result.output) == ("completed", "fine")
    calls = await runtime.store.inference_calls(result.session_id)
    assert [(c["attempt"], c["status"]) for c in calls] == [(1, "error"), (2, "error"), (3, "ok")]
    transcript = await runtime.store.transcript(result.session_id)
    assert transcript is not None
    assert [m.text for m in transcript.chats[0][1]] == ["retry me", "fine"]  # no leftover of the cut stream


async def test_client_error_fails_the_agent_at_once(runtime: AgentRuntime, fake: FakeLLMServer) -> None:
    fake.responder = lambda r: FakeReply(error=FakeError(400, "model does not exist"))
    result = await run_agent(AgentSpec("anything"), runtime)
    assert (result.status, result.failure) == ("failed", "provider")
    assert "400" in (result.error or "") and "model does not exist" in (result.error or "")
    assert "test-key" not in (result.error or "")
    assert len(await runtime.store.inference_calls(result.session_id)) == 1


async def test_turn_cap(fake: FakeLLMServer, make_runtime: MakeRuntime) -> None:
    fake.responder = lambda r: FakeReply(tool_calls=[FakeToolCall("list_files", {})])
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider, max_turns=3)
    result = await run_agent(AgentSpec("loop forever"), runtime)
    # Three tool turns, then one answer turn with no tools, whose reply (another call) is no answer.
    assert (result.failure, result.turns) == ("turns", 4)
    assert "turn cap (3)" in (result.error or "")
    assert [r.tools == [] for r in fake.requests] == [False, False, False, True]


async def test_stalled_attempts_restart_then_fail(fake: FakeLLMServer, make_runtime: MakeRuntime) -> None:
    fake.responder = lambda r: FakeReply(text="late", delay=30)
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider, stall_seconds=0.3, stall_attempts=2)
    events: list[str] = []
    result = await run_agent(AgentSpec("hang"), runtime, lambda e: events.append(e.kind))
    assert result.failure == "stall"
    assert result.error == "agent stalled on all 2 attempts (no progress for 0.3s each)"
    assert events.count("stall") == 1
    transcript = await runtime.store.transcript(result.session_id)
    assert transcript is not None and [c["attempt"] for c, _ in transcript.chats] == [1, 2]
    calls = await runtime.store.inference_calls(result.session_id)
    assert [c["status"] for c in calls] == ["cancelled", "cancelled"]


HEAD = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake-model"}


def _chunk(delta: dict[str, object], **extra: object) -> dict[str, object]:
    return {**HEAD, "choices": [{"index": 0, "delta": delta}], **extra}


SLOW_STARTS = {  # six events 0.25 s apart before the answer: 1.5 s, over the 1 s stall limit
    "prompt read": [_chunk({}, prompt_progress={"total": 600, "processed": 100 * n}) for n in range(1, 7)],
    "reasoning": [_chunk({"reasoning_content": f"step {n}. "}) for n in range(6)],
}


@pytest.mark.parametrize("start", SLOW_STARTS)
async def test_a_slow_reply_that_shows_progress_is_not_a_stall(
    fake: FakeLLMServer, make_runtime: MakeRuntime, start: str
) -> None:
    answer = [
        _chunk({"content": "answer"}),
        {**_chunk({}), "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    fake.responder = lambda r: FakeReply(chunks=[*SLOW_STARTS[start], *answer, "data: [DONE]\n\n"], gap=0.25)
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider, stall_seconds=1.0, stall_attempts=2)
    events: list[str] = []
    result = await run_agent(AgentSpec("think long", tools=[]), runtime, lambda e: events.append(e.kind))
    assert (result.status, result.output) == ("completed", "answer")
    assert "stall" not in events and len(fake.requests) == 1


async def test_cancelling_an_agent_records_it(
    store: Store, fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    arrived = threading.Event()

    def responder(r: FakeRequest) -> FakeReply:
        arrived.set()
        return FakeReply(text="never", delay=30)

    fake.responder = responder
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider)
    task = asyncio.create_task(run_agent(AgentSpec("wait"), runtime))
    await asyncio.to_thread(arrived.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [session] = await store.list_sessions()
    assert session["status"] == "cancelled"
    [call] = await store.inference_calls(session["id"])
    assert call["status"] == "cancelled"


async def test_images_reach_the_provider(runtime: AgentRuntime, fake: FakeLLMServer) -> None:
    image = ImagePart(PNG, "image/png", "pic.png")
    result = await run_agent(AgentSpec("what is this", images=[image]), runtime)
    assert result.status == "completed"
    assert fake.requests[0].has_images
    transcript = await runtime.store.transcript(result.session_id)
    assert transcript is not None and transcript.chats[0][1][0].parts[1] == image


async def test_bad_input_writes_no_rows(store: Store, fake: FakeLLMServer, make_runtime: MakeRuntime) -> None:
    blind = OpenAIProvider(fake.openai_base_url, "k", "m", capabilities=Capabilities(images=False))
    runtime = await make_runtime(blind)
    with pytest.raises(UnsupportedInputError, match="cannot take images"):
        await run_agent(AgentSpec("see", images=[ImagePart(PNG, "image/png")]), runtime)
    with pytest.raises(SchemaError, match="contradictory"):
        bad = {"type": "object", "required": ["x"], "properties": {}, "additionalProperties": False}
        await run_agent(AgentSpec("x", schema=bad), runtime)
    assert await _count(store, t.sessions) == 0
    assert fake.requests == []


async def test_streamed_reply_is_written_in_batches(
    store: Store, fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    words = [f"w{i} " for i in range(200)]
    fake.responder = lambda r: FakeReply(text="".join(words))
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider)
    writes: list[str] = []
    original = store.replace_parts

    async def counting(message_id: str, parts: object) -> None:
        writes.append(message_id)
        await original(message_id, parts)  # type: ignore[arg-type]

    store.replace_parts = counting  # type: ignore[method-assign]
    result = await run_agent(AgentSpec("talk"), runtime)
    assert result.output == "".join(words)
    assert len(writes) <= 2  # the final write, and at most one batch meanwhile: not one per token


async def test_reply_cut_at_the_output_cap_fails(fake: FakeLLMServer, make_runtime: MakeRuntime) -> None:
    fake.responder = lambda r: FakeReply(text="a long story", stop="max_tokens")
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    result = await run_agent(
        AgentSpec("tell me everything"), await make_runtime(provider, max_output_tokens=50)
    )
    assert (result.status, result.failure) == ("failed", "output_cap")
    assert "output-token cap (50 per agent)" in (result.error or "")
    assert fake.requests[0].body["max_tokens"] == 50


async def test_images_from_tools_are_withheld_from_a_model_without_vision(
    fake: FakeLLMServer, make_runtime: MakeRuntime, project: Path
) -> None:
    (project / "pic.png").write_bytes(PNG)

    def responder(r: FakeRequest) -> FakeReply:
        results = _tool_results(r)
        if not results:
            return FakeReply(tool_calls=[FakeToolCall("read_file", {"path": "pic.png"})])
        return FakeReply(text=results[0])

    fake.responder = responder
    blind = OpenAIProvider(fake.openai_base_url, "k", "fake-model", capabilities=Capabilities(images=False))
    result = await run_agent(AgentSpec("look at pic.png"), await make_runtime(blind))
    assert result.status == "completed"
    assert "image(s) not shown: model fake-model cannot take images" in result.output
    assert not any(r.has_images for r in fake.requests)


async def test_waiting_for_a_provider_slot_is_not_a_stall(
    fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    fake.responder = lambda r: FakeReply(text="ok " + r.last_user_text, delay=0.2)
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider, stall_seconds=0.35)
    runtime.provider_slots = asyncio.Semaphore(1)
    results = await asyncio.gather(*(run_agent(AgentSpec(f"task {i}", tools=[]), runtime) for i in range(3)))
    assert [r.output for r in results] == ["ok task 0", "ok task 1", "ok task 2"]
    assert len(fake.requests) == 3  # nobody was restarted although the last one queued for ~0.4 s
