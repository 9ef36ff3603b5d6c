"""Behaviour both providers share, each over real HTTP against the fake server."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import pytest

from boocode.errors import UnsupportedInputError
from boocode.llm.anthropic_provider import AnthropicProvider
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.provider import Capabilities, Provider
from boocode.llm.retry import retry_after_of
from boocode.llm.types import (
    ImagePart,
    Message,
    ModelRequest,
    ReasoningDelta,
    ReasoningPart,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolSpec,
    Usage,
)
from boocode.testing.fake_llm import FakeError, FakeLLMServer, FakeReply, FakeToolCall, FakeUsage

if TYPE_CHECKING:
    from conftest import Collect, Fail, MakeProvider

READ = ToolSpec("read", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}})


def ask(text: str, **kwargs: Any) -> ModelRequest:
    return ModelRequest(model="", messages=[Message("user", [TextPart(text)])], **kwargs)


async def test_streams_text_then_one_done(fake: FakeLLMServer, provider: Provider, collect: Collect) -> None:
    events, response = await collect(provider, ask("hello there", system="be brief"))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == "done: hello there"
    assert response.message == Message("assistant", [TextPart("done: hello there")])
    assert (response.stop_reason, response.model) == ("end", provider.default_model)
    sent = fake.requests[0]
    assert (sent.model, sent.system, sent.last_user_text, sent.stream) == (
        provider.default_model,
        "be brief",
        "hello there",
        True,
    )


async def test_reasoning_streams_as_reasoning(
    fake: FakeLLMServer, provider: Provider, collect: Collect
) -> None:
    fake.responder = lambda r: FakeReply(text="42", reasoning="six times seven")
    events, response = await collect(provider, ask("answer?"))
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "six times seven"
    assert response.message.parts == [ReasoningPart("six times seven"), TextPart("42")]


async def test_several_tool_calls_in_one_turn(
    fake: FakeLLMServer, provider: Provider, collect: Collect
) -> None:
    fake.responder = lambda r: FakeReply(
        text="Reading.",
        tool_calls=[
            FakeToolCall("read", {"path": "a.py"}, "id-a"),
            FakeToolCall("read", {"path": "b.py"}, "id-b"),
        ],
    )
    _, response = await collect(provider, ask("read both", tools=[READ]))
    assert response.stop_reason == "tool_calls"
    assert response.message.text == "Reading."
    assert response.message.tool_calls == [
        ToolCallPart("id-a", "read", {"path": "a.py"}),
        ToolCallPart("id-b", "read", {"path": "b.py"}),
    ]
    assert fake.requests[0].tools == ["read"]


async def test_malformed_tool_arguments_are_kept_raw(
    fake: FakeLLMServer, provider: Provider, collect: Collect
) -> None:
    fake.responder = lambda r: FakeReply(tool_calls=[FakeToolCall("read", '{"path": "a.py"')])
    _, response = await collect(provider, ask("read", tools=[READ]))
    assert response.message.tool_calls[0].arguments == {"_raw": '{"path": "a.py"'}


async def test_max_tokens_stop(fake: FakeLLMServer, provider: Provider, collect: Collect) -> None:
    fake.responder = lambda r: FakeReply(text="trunc", stop="max_tokens")
    _, response = await collect(provider, ask("hi"))
    assert response.stop_reason == "max_tokens"


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_images_to_a_provider_without_image_support(
    fake: FakeLLMServer, make_provider: MakeProvider, api: str
) -> None:
    provider = make_provider(api, capabilities=Capabilities(images=False))
    request = ModelRequest(
        model="", messages=[Message("user", [TextPart("see"), ImagePart(b"png", "image/png")])]
    )
    with pytest.raises(UnsupportedInputError):
        async for _ in provider.stream(request, timeout=10):
            pass
    assert fake.requests == []


@pytest.mark.parametrize(
    ("reported", "normalised"),
    [
        (
            FakeUsage(input=1000, output=20, cached=800, cache_write=150, reasoning=5),
            Usage(input_total=1000, cache_read=800, cache_write=150, output=20, reasoning=5),
        ),
        (FakeUsage(input=30, output=4), Usage(input_total=30, output=4)),
        (None, Usage()),
    ],
)
async def test_usage_is_normalised(
    fake: FakeLLMServer, provider: Provider, collect: Collect, reported: FakeUsage | None, normalised: Usage
) -> None:
    fake.responder = lambda r: FakeReply(text="ok", usage=reported, report_usage=reported is not None)
    _, response = await collect(provider, ask("hi"))
    assert response.usage == normalised


# --- Failures -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, "7"), (408, None), (409, None), (500, None), (503, "2.5"), (529, None)]
)
async def test_retryable_statuses(
    fake: FakeLLMServer, provider: Provider, fail: Fail, status: int, retry_after: str | None
) -> None:
    fake.responder = lambda r: FakeReply(error=FakeError(status, "try later", retry_after=retry_after))
    error = await fail(provider, ask("hi"))
    assert error.retryable and error.status == status
    assert retry_after_of(error) == (float(retry_after) if retry_after else None)
    assert "try later" in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_final_and_never_show_the_key(
    fake: FakeLLMServer, provider: Provider, fail: Fail, status: int, api_key: str
) -> None:
    fake.responder = lambda r: FakeReply(error=FakeError(status, f"Incorrect API key provided: {api_key}."))
    error = await fail(provider, ask("hi"))
    message = str(error)
    assert not error.retryable and error.status == status
    assert api_key not in message and "\n" not in message
    assert message.startswith(f"{provider.name} at {fake.url}")
    assert f"HTTP {status}" in message and provider.default_model in message
    assert "Incorrect API key provided" in message


async def test_cut_stream_is_retryable(fake: FakeLLMServer, provider: Provider, fail: Fail) -> None:
    fake.responder = lambda r: FakeReply(text="a long answer that never ends", cut_after=4)
    error = await fail(provider, ask("hi"))
    assert error.retryable and error.status is None


async def test_timeout_is_retryable(fake: FakeLLMServer, provider: Provider, fail: Fail) -> None:
    fake.responder = lambda r: FakeReply(text="late", delay=30)
    error = await fail(provider, ask("hi"), seconds=0.3)
    assert error.retryable and "timed out" in str(error)


@pytest.mark.parametrize("kind", [OpenAIProvider, AnthropicProvider])
async def test_refused_connection_is_retryable(
    fail: Fail, api_key: str, kind: type[OpenAIProvider | AnthropicProvider]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = kind(f"http://127.0.0.1:{port}", api_key, "m")
    error = await fail(provider, ask("hi"))
    await provider.aclose()
    assert error.retryable and "connection error" in str(error)


async def test_requests_reuse_one_connection(
    fake: FakeLLMServer, provider: Provider, collect: Collect
) -> None:
    for _ in range(3):
        await collect(provider, ask("hi"))
    peers = {r.peer for r in fake.requests}
    assert len(peers) == 1 and "" not in peers
