"""What is Anthropic-specific in the Anthropic provider, over real HTTP against the fake server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from boocode.errors import UnsupportedInputError
from boocode.llm.provider import Capabilities, Provider
from boocode.llm.types import (
    ImagePart,
    Message,
    ModelRequest,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from boocode.testing.fake_llm import FakeLLMServer, FakeReply

if TYPE_CHECKING:
    from conftest import Collect, Fail, MakeProvider

PNG = ImagePart(b"\x89PNG fake", "image/png")
IMAGE_BLOCK = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORyBmYWtl"},
}


def ask(text: str, **kwargs: Any) -> ModelRequest:
    return ModelRequest(model="", messages=[Message("user", [TextPart(text)])], **kwargs)


async def test_request_shape(
    fake: FakeLLMServer, anthropic_provider: Provider, collect: Collect, api_key: str
) -> None:
    tool = ToolSpec("read", "Read a file", {"type": "object"})
    await collect(anthropic_provider, ask("hi", system="be brief", tools=[tool], temperature=0.2, seed=1))
    sent = fake.requests[0]
    assert sent.api == "anthropic"
    assert sent.body["system"] == [
        {"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}
    ]
    assert sent.messages == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert sent.body["tools"] == [
        {"name": "read", "description": "Read a file", "input_schema": {"type": "object"}}
    ]
    assert (sent.body["max_tokens"], sent.body["temperature"]) == (4096, 0.2)
    assert "seed" not in sent.body and "output_config" not in sent.body
    assert sent.headers.get("x-api-key") == api_key
    assert sent.headers.get("anthropic-version") == "2023-06-01"


async def test_max_output_tokens_and_effort(
    fake: FakeLLMServer, make_provider: MakeProvider, collect: Collect
) -> None:
    provider = make_provider(
        "anthropic", capabilities=Capabilities(native_json_schema=False, reasoning_effort=True)
    )
    await collect(provider, ask("hi", max_output_tokens=100, effort="xhigh"))
    body = fake.requests[0].body
    assert (body["max_tokens"], body["output_config"]) == (100, {"effort": "xhigh"})


async def test_images_reach_the_server_as_base64_blocks(
    fake: FakeLLMServer, anthropic_provider: Provider, collect: Collect
) -> None:
    messages = [
        Message("user", [TextPart("what is it?"), PNG]),
        Message("assistant", [ToolCallPart("c1", "shot", {})]),
        Message("tool", [ToolResultPart("c1", "shot", "a screenshot", images=(PNG,))]),
    ]
    await collect(anthropic_provider, ModelRequest(model="", messages=messages))
    sent = fake.requests[0]
    assert sent.has_images
    assert sent.messages[0]["content"] == [{"type": "text", "text": "what is it?"}, IMAGE_BLOCK]
    assert sent.messages[2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "c1",
                "content": [{"type": "text", "text": "a screenshot"}, IMAGE_BLOCK],
            }
        ],
    }


async def test_schema_output_when_enabled(
    fake: FakeLLMServer, make_provider: MakeProvider, collect: Collect
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}, "required": ["n"]}
    provider = make_provider("anthropic", capabilities=Capabilities())
    _, response = await collect(provider, ask("count", json_schema=schema))
    jsonschema.validate(json.loads(response.message.text), schema)
    assert fake.requests[0].body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


async def test_schema_without_native_support_is_refused(
    fake: FakeLLMServer, anthropic_provider: Provider
) -> None:
    with pytest.raises(UnsupportedInputError):
        async for _ in anthropic_provider.stream(ask("count", json_schema={"type": "object"}), timeout=10):
            pass
    assert fake.requests == []


async def test_overloaded_event_inside_the_stream_is_retryable(
    fake: FakeLLMServer, anthropic_provider: Provider, fail: Fail
) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    fake.responder = lambda r: FakeReply(chunks=[overloaded])
    error = await fail(anthropic_provider, ask("hi"))
    assert error.retryable and error.status == 529 and "Overloaded" in str(error)


async def test_stream_ending_without_stop_reason_is_retryable(
    fake: FakeLLMServer, anthropic_provider: Provider, fail: Fail
) -> None:
    message = {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
    }
    start = {
        "type": "message_start",
        "message": {**message, "usage": {"input_tokens": 3, "output_tokens": 1}},
    }
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "half"}}
    fake.responder = lambda r: FakeReply(chunks=[start, block, delta])
    error = await fail(anthropic_provider, ask("hi"))
    assert error.retryable and "ended before the reply was complete" in str(error)
