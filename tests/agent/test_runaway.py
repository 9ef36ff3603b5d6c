"""Runaway replies: a reply repeating one unit is stopped as it streams, not left to run to the cap."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from boocode.agent.loop import AgentEvent, AgentRuntime, AgentSpec, run_agent
from boocode.agent.runaway import MIN_REPEATS, RepetitionGuard, RunawayReply, repeated_unit
from boocode.config import load_settings
from boocode.llm.openai_provider import OpenAIProvider
from boocode.testing.fake_llm import FakeLLMServer, FakeReply

MakeRuntime = Callable[..., Awaitable[AgentRuntime]]
# What Qwen2.5-Coder-0.5B wrote as a searcher (bench/quality): the query's last words, over and over.
RUNAWAY = '{"tool": "search_docs", "arguments": {"query": "bridge inspection' + " bridge inspection" * 400
LEGIT_CODE = (Path(__file__).parents[2] / "src/boocode/agent/loop.py").read_text()


def _streamed(text: str, guard: RepetitionGuard, piece: int = 7) -> None:
    for start in range(0, len(text), piece):
        guard.feed(text[start : start + piece])


def test_a_repeated_query_string_is_a_runaway() -> None:
    guard = RepetitionGuard(1500)
    with pytest.raises(RunawayReply) as caught:
        _streamed(RUNAWAY, guard)
    assert caught.value.unit.strip() == "bridge inspection"
    assert 1500 <= caught.value.chars < 1500 + 200  # stopped soon after the repetition grew that long
    assert "kept repeating" in str(caught.value) and "BOOCODE_RUNAWAY_CHARS" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        LEGIT_CODE,  # real code, repeated idioms and all
        "\n".join(f"| row {i} | value {i * i} | ok |" for i in range(300)),  # a table of similar lines
        "-" * 1400 + "\nthen text",  # a long rule that stops short of the span
    ],
    ids=["source file", "table", "short rule"],
)
def test_text_written_on_purpose_is_not_a_runaway(text: str) -> None:
    guard = RepetitionGuard(1500)
    _streamed(text, guard)  # raises if it were taken for a runaway
    assert guard.chars == len(text)


def test_periodic_data_is_flagged_when_its_unit_is_short_enough() -> None:
    """The guard's known limit: data that is truly periodic (a unit of 30 characters, 80 times) counts."""
    data = "".join(f"{i % 10}, " for i in range(800))
    assert repeated_unit(data, 1500) == data[-30:]
    assert repeated_unit(data, 50) is None  # a span of 50 allows units up to 25 characters
    assert repeated_unit("ab" * 10, 16) == "ab"
    assert repeated_unit("ab" * 8, 16) is None  # no copy before the span


def test_the_guard_is_off_at_zero() -> None:
    off = RepetitionGuard(0)
    _streamed(RUNAWAY, off)
    assert off.chars == 0


def test_a_repeated_paragraph_is_a_runaway_once_it_has_eight_copies() -> None:
    """What a 0.5B searcher wrote into its query: a 265-character explanation, over and over."""
    paragraph = (
        " The bug was caused by a mismatch between the firmware version and the network configuration."
        " This fix was made to ensure that the firmware was always up-to-date and that it could connect"
        " to the network without crashing. The bug was also fixed in version 3.3."
    )
    guard = RepetitionGuard(1500)
    with pytest.raises(RunawayReply) as caught:
        _streamed('{"tool": "search_docs", "arguments": {"query": "Kestrel 3.2' + paragraph * 40, guard)
    assert len(caught.value.unit) == len(paragraph)
    assert MIN_REPEATS * len(paragraph) <= caught.value.chars < (MIN_REPEATS + 2) * len(paragraph)


def test_a_unit_longer_than_the_span_allows_is_not_flagged() -> None:
    unit = "".join(chr(ord("a") + i % 26) for i in range(1500 // 2 + 1))  # one too long
    guard = RepetitionGuard(1500)
    _streamed(unit * 20, guard)
    assert guard.chars == len(unit) * 20


async def test_a_runaway_reply_is_asked_again_once_then_fails_the_agent_with_its_reason(
    runtime: AgentRuntime, fake: FakeLLMServer
) -> None:
    fake.responder = lambda r: FakeReply(text=RUNAWAY)
    events: list[AgentEvent] = []
    result = await run_agent(AgentSpec("search", tools=[]), runtime, events.append)
    warnings = [e.data["message"] for e in events if e.kind == "warning"]
    assert result.status == "failed" and result.failure == "runaway"
    unit = " bridge inspection"
    rotations = {repr(unit[i:] + unit[:i]) for i in range(len(unit))}  # where the cut falls decides which
    assert result.error is not None and any(f"kept repeating {r}" in result.error for r in rotations)
    calls = await runtime.store.inference_calls(result.session_id)
    assert [c["status"] for c in calls] == ["error", "error"]  # asked once more, then failed
    assert all("kept repeating" in c["error"] for c in calls)
    assert len(warnings) == 1 and "asking again" in warnings[0]
    again = fake.requests[1]
    assert "Your last reply was stopped: it kept repeating" in again.last_user_text
    assert "bridge inspection bridge inspection" not in json.dumps(again.messages)  # the runaway is not sent


async def test_a_reply_asked_again_after_a_runaway_can_complete_the_agent(
    runtime: AgentRuntime, fake: FakeLLMServer
) -> None:
    fake.responder = lambda r: FakeReply(text=RUNAWAY if len(fake.requests) == 1 else "bridges are inspected")
    result = await run_agent(AgentSpec("search", tools=[]), runtime)
    assert (result.status, result.output) == ("completed", "bridges are inspected")
    transcript = await runtime.store.transcript(result.session_id)
    assert transcript is not None
    ((_chat, messages),) = transcript.chats
    assert [m.role for m in messages] == ["user", "user", "assistant"]  # the stopped reply is not kept


class _CountedChunks(list[object]):
    """Stream events that count how many the server sent, and note when it stopped sending."""

    def __init__(self, events: list[object]) -> None:
        super().__init__(events)
        self.sent = 0
        self.ended = threading.Event()

    def __iter__(self) -> Iterator[object]:
        try:
            for event in super().__iter__():
                self.sent += 1
                yield event
        finally:
            self.ended.set()


async def test_the_stream_of_a_runaway_reply_is_closed_long_before_its_end(
    fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    head = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake-model"}
    pieces = [RUNAWAY[:60]] + [" bridge inspection"] * 2000
    events = [{**head, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    streams: list[_CountedChunks] = []

    def respond(request: object) -> FakeReply:
        streams.append(_CountedChunks([*events, "data: [DONE]\n\n"]))
        return FakeReply(chunks=streams[-1], gap=0.001)  # type: ignore[arg-type]

    fake.responder = respond
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider)
    result = await run_agent(AgentSpec("search", tools=[]), runtime)
    await provider.aclose()
    assert result.failure == "runaway"
    assert len(streams) == 2  # the reply asked again ran away too
    for chunks in streams:
        await asyncio.to_thread(chunks.ended.wait, 10)
        assert chunks.ended.is_set()
        assert chunks.sent < 500  # of 2002: the client hung up once the repetition reached 1500 characters


def test_the_setting_reads_from_the_environment() -> None:
    assert load_settings(env={"BOOCODE_HOME": "/tmp/x"}).runaway_chars == 1500
    assert load_settings(env={"BOOCODE_HOME": "/tmp/x", "BOOCODE_RUNAWAY_CHARS": "0"}).runaway_chars == 0
    with pytest.raises(Exception, match="BOOCODE_RUNAWAY_CHARS"):
        load_settings(env={"BOOCODE_HOME": "/tmp/x", "BOOCODE_RUNAWAY_CHARS": "-1"})


def _brute_force_unit(text: str, span: int) -> str | None:
    """The definition of `repeated_unit`, checked one unit size after another."""
    for size in range(1, span // 2 + 1):
        covered = max(span, MIN_REPEATS * size)
        if len(text) < covered + size:
            return None
        if text[-covered:] == text[-covered - size : -size]:
            return text[-size:]
    return None


def test_the_fast_search_finds_what_the_definition_says() -> None:
    rng = random.Random(7)
    cases = 0
    for _ in range(400):
        unit = "".join(rng.choice("ab c") for _ in range(rng.randint(1, 60)))
        text = "".join(rng.choice("abcd ") for _ in range(rng.randint(0, 50)))
        text += unit * rng.randint(0, 40)
        text += "".join(rng.choice("ab") for _ in range(rng.randint(0, 3)))  # sometimes a ragged end
        span = rng.choice([16, 64, 100])
        expected = _brute_force_unit(text, span)
        assert repeated_unit(text, span) == expected, (text, span)
        cases += expected is not None
    assert 50 < cases < 350  # both outcomes were exercised
