"""What is OpenAI-specific in the OpenAI provider, over real HTTP against the fake server."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any

import jsonschema

from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.provider import Capabilities, Provider
from boocode.llm.types import (
    ImagePart,
    Message,
    ModelRequest,
    ReplyProgress,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeToolCall

if TYPE_CHECKING:
    from conftest import Collect, Fail, MakeProvider

PNG = ImagePart(b"\x89PNG fake", "image/png")
WRITE = ToolSpec(
    "write_file", "Write a file.", {"type": "object", "properties": {"content": {"type": "string"}}}
)
DATA_URL = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORyBmYWtl"}}


def ask(text: str, **kwargs: Any) -> ModelRequest:
    return ModelRequest(model="", messages=[Message("user", [TextPart(text)])], **kwargs)


async def test_request_shape(
    fake: FakeLLMServer, openai_provider: Provider, collect: Collect, api_key: str
) -> None:
    await collect(openai_provider, ask("hi", system="be brief"))
    sent = fake.requests[0]
    assert sent.api == "openai"
    assert sent.messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    assert not {"temperature", "seed", "max_tokens", "reasoning_effort", "tools"} & set(sent.body)


async def test_request_options(fake: FakeLLMServer, make_provider: MakeProvider, collect: Collect) -> None:
    provider = make_provider(
        "openai", capabilities=Capabilities(reasoning_effort=True), extra_body={"cache_prompt": True}
    )
    await collect(provider, ask("hi", temperature=0.0, seed=42, max_output_tokens=64, effort="max"))
    body = fake.requests[0].body
    assert (body["temperature"], body["seed"], body["max_tokens"], body["reasoning_effort"]) == (
        0.0,
        42,
        64,
        "high",
    )
    assert body["cache_prompt"] is True


async def test_schema_output(fake: FakeLLMServer, openai_provider: Provider, collect: Collect) -> None:
    schema = {
        "type": "object",
        "properties": {"verdict": {"enum": ["yes", "no"]}, "reasons": {"type": "array", "minItems": 1}},
        "required": ["verdict", "reasons"],
    }
    _, response = await collect(openai_provider, ask("judge", json_schema=schema))
    jsonschema.validate(json.loads(response.message.text), schema)
    assert fake.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }


async def test_images_reach_the_server_as_data_urls(
    fake: FakeLLMServer, openai_provider: Provider, collect: Collect
) -> None:
    messages = [
        Message("user", [TextPart("what is it?"), PNG]),
        Message("assistant", [ToolCallPart("c1", "shot", {})]),
        Message("tool", [ToolResultPart("c1", "shot", "a screenshot", images=(PNG,))]),
    ]
    await collect(openai_provider, ModelRequest(model="", messages=messages))
    sent = fake.requests[0]
    assert sent.has_images
    assert sent.messages[0]["content"] == [{"type": "text", "text": "what is it?"}, DATA_URL]
    assert [m["role"] for m in sent.messages] == ["user", "assistant", "tool", "user"]
    assert sent.messages[2] == {"role": "tool", "tool_call_id": "c1", "content": "a screenshot"}
    assert sent.messages[3] == {"role": "user", "content": [DATA_URL]}


async def test_stream_ending_without_finish_reason_is_retryable(
    fake: FakeLLMServer, openai_provider: Provider, fail: Fail
) -> None:
    head = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    chunk = {**head, "choices": [{"index": 0, "delta": {"content": "half"}, "finish_reason": None}]}
    fake.responder = lambda r: FakeReply(chunks=[chunk, "data: [DONE]\n\n"])
    error = await fail(openai_provider, ask("hi"))
    assert error.retryable and "ended before the reply was complete" in str(error)


async def test_error_event_in_the_stream_is_retryable(
    fake: FakeLLMServer, openai_provider: Provider, fail: Fail
) -> None:
    fake.responder = lambda r: FakeReply(chunks=[{"error": {"message": "model crashed"}}])
    error = await fail(openai_provider, ask("hi"))
    assert error.retryable and "model crashed" in str(error)


async def test_prompt_reading_and_tool_call_arguments_show_as_progress(
    fake: FakeLLMServer, openai_provider: Provider, collect: Collect
) -> None:
    head = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    reading = {"role": "assistant", "content": None}
    prompt = [  # as llama.cpp streams them with `return_progress`
        {
            **head,
            "choices": [{"index": 0, "delta": reading}],
            "prompt_progress": {"total": 900, "processed": n},
        }
        for n in (512, 900)
    ]
    call = {"index": 0, "id": "c1", "function": {"name": "write_file", "arguments": '{"content": "x"}'}}
    chunks = [
        *prompt,
        {**head, "choices": [{"index": 0, "delta": {"content": "Writing."}}]},
        {**head, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        "data: [DONE]\n\n",
    ]
    fake.responder = lambda r: FakeReply(chunks=chunks)
    events, response = await collect(openai_provider, ask("write it", tools=[WRITE]))
    assert events[:-1] == [
        ReplyProgress("prompt", 512, 900),
        ReplyProgress("prompt", 900, 900),
        TextDelta("Writing."),
        ReplyProgress("output"),
    ]
    assert response.message.tool_calls[0].arguments == {"content": "x"}


async def test_an_event_longer_than_a_stream_buffer_arrives_whole(
    fake: FakeLLMServer, openai_provider: Provider, collect: Collect
) -> None:
    content = "x" * 400_000  # each streamed half is one event line of about 200 KB
    fake.responder = lambda r: FakeReply(tool_calls=[FakeToolCall("write_file", {"content": content})])
    _, response = await collect(openai_provider, ask("write it", tools=[WRITE]))
    (call,) = response.message.tool_calls
    assert call.arguments == {"content": content}


async def test_a_kept_alive_connection_closed_by_the_server_is_replaced(collect: Collect) -> None:
    """The server drops its kept-alive connection when the second request arrives on it, answering
    nothing: the request goes again on a new connection instead of failing."""
    answered: list[int] = []
    event = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}
    body = f"data: {json.dumps(event)}\n\ndata: [DONE]\n\n".encode()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for served in range(2):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            if served:  # a second request on this connection: closed unanswered
                break
            answered.append(1)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = OpenAIProvider(f"http://127.0.0.1:{port}/v1", "k", "m")
    try:
        for _ in range(2):
            _, response = await collect(provider, ask("hi"))
            assert response.message.text == "hi"
    finally:
        await provider.aclose()
        server.close()
    assert len(answered) == 2  # once on each connection
