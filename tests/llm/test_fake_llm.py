"""The fake LLM server itself: wire shapes, recording, defaults, and running as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx
import jsonschema
import pytest

from boocode.testing.fake_llm import (
    FakeError,
    FakeLLMServer,
    FakeReply,
    FakeRequest,
    FakeToolCall,
    FakeUsage,
    default_responder,
    minimal_instance,
)

OPENAI_BODY = {
    "model": "m",
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
}
ANTHROPIC_BODY = {
    "model": "m",
    "max_tokens": 10,
    "system": "sys",
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.mark.parametrize(
    "schema",
    [
        {},
        {"type": "object"},
        {"type": "object", "properties": {"a": {"type": "string", "minLength": 3}}, "required": ["a"]},
        {"type": "array", "items": {"type": "integer", "minimum": 5}, "minItems": 2},
        {"type": "number", "exclusiveMinimum": 1.5},
        {"type": "integer", "minimum": -10, "maximum": -3},
        {"type": "number", "exclusiveMaximum": -2},
        {"type": "boolean"},
        {"type": "null"},
        {"type": ["string", "null"]},
        {"enum": ["red", "green"]},
        {"const": {"k": 1}},
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        {
            "oneOf": [
                {"type": "object", "required": ["x"], "properties": {"x": {"const": 1}}},
                {"type": "null"},
            ]
        },
        {
            "type": "object",
            "properties": {
                "summary": {"type": "string"},
                "files": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {"path": {"type": "string", "minLength": 1}, "ok": {"type": "boolean"}},
                        "required": ["path", "ok"],
                    },
                },
            },
            "required": ["summary", "files"],
            "additionalProperties": False,
        },
    ],
)
def test_minimal_instance_is_valid(schema: dict[str, Any]) -> None:
    jsonschema.validate(minimal_instance(schema), schema)


def test_openai_plain_reply(fake: FakeLLMServer) -> None:
    fake.responder = lambda r: FakeReply(
        text="hello",
        tool_calls=[FakeToolCall("read", {"path": "a"})],
        usage=FakeUsage(input=100, output=7, cached=60, cache_write=40),
    )
    reply = httpx.post(f"{fake.openai_base_url}/chat/completions", json=OPENAI_BODY).json()
    assert reply["object"] == "chat.completion"
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "hello"
    assert choice["message"]["tool_calls"] == [
        {"id": "call_0", "type": "function", "function": {"name": "read", "arguments": '{"path": "a"}'}}
    ]
    assert reply["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 7,
        "total_tokens": 107,
        "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 40},
    }


def test_openai_stream_wire_format(fake: FakeLLMServer) -> None:
    body = {**OPENAI_BODY, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{fake.openai_base_url}/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert (
        "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "done: hi"
    )
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] > 0


def test_openai_stream_without_include_usage_has_no_usage_chunk(fake: FakeLLMServer) -> None:
    with httpx.stream(
        "POST", f"{fake.openai_base_url}/chat/completions", json={**OPENAI_BODY, "stream": True}
    ) as r:
        chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    assert all(c["choices"] for c in chunks)


def test_anthropic_plain_reply(fake: FakeLLMServer) -> None:
    fake.responder = lambda r: FakeReply(
        text="hello",
        reasoning="hmm",
        tool_calls=[FakeToolCall("read", {"path": "a"})],
        usage=FakeUsage(100, 7, 60, 40),
    )
    reply = httpx.post(f"{fake.anthropic_base_url}/v1/messages", json=ANTHROPIC_BODY).json()
    assert reply["type"] == "message" and reply["stop_reason"] == "tool_use"
    assert [b["type"] for b in reply["content"]] == ["thinking", "text", "tool_use"]
    assert reply["content"][2] == {
        "type": "tool_use",
        "id": "toolu_0",
        "name": "read",
        "input": {"path": "a"},
    }
    assert reply["usage"] == {
        "input_tokens": 0,
        "output_tokens": 7,
        "cache_read_input_tokens": 60,
        "cache_creation_input_tokens": 40,
    }


def test_anthropic_stream_wire_format(fake: FakeLLMServer) -> None:
    fake.responder = lambda r: FakeReply(tool_calls=[FakeToolCall("read", {"path": "a.py"})])
    with httpx.stream(
        "POST", f"{fake.anthropic_base_url}/v1/messages", json={**ANTHROPIC_BODY, "stream": True}
    ) as r:
        lines = [line for line in r.iter_lines() if line]
    names = [line.removeprefix("event: ") for line in lines[0::2]]
    events = [json.loads(line.removeprefix("data: ")) for line in lines[1::2]]
    assert [e["type"] for e in events] == names
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "".join(e["delta"]["partial_json"] for e in events[2:4]) == '{"path": "a.py"}'
    assert events[5]["delta"]["stop_reason"] == "tool_use"


def test_errors_have_each_api_shape_and_retry_after(fake: FakeLLMServer) -> None:
    fake.responder = lambda r: FakeReply(error=FakeError(429, "slow down", retry_after="3"))
    openai = httpx.post(f"{fake.openai_base_url}/chat/completions", json=OPENAI_BODY)
    assert openai.status_code == 429 and openai.headers["retry-after"] == "3"
    assert openai.json()["error"]["message"] == "slow down"
    anthropic = httpx.post(f"{fake.anthropic_base_url}/v1/messages", json=ANTHROPIC_BODY)
    assert anthropic.status_code == 429
    assert anthropic.json() == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "slow down"},
    }


def test_requests_are_parsed_and_recorded(fake: FakeLLMServer) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    anthropic_body = {
        **ANTHROPIC_BODY,
        "system": [{"type": "text", "text": "sys"}],
        "tools": [{"name": "read", "input_schema": {"type": "object"}}],
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "messages": [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [image]}]},
        ],
    }
    httpx.post(f"{fake.openai_base_url}/chat/completions", json=OPENAI_BODY, headers={"X-Run": "r1"})
    httpx.post(f"{fake.anthropic_base_url}/v1/messages", json=anthropic_body)
    first, second = fake.requests
    assert (first.api, first.system, first.last_user_text, first.has_images) == ("openai", "sys", "hi", False)
    assert first.headers["x-run"] == "r1" and not first.stream
    assert (second.api, second.system, second.last_user_text) == ("anthropic", "sys", "first question")
    assert (second.tools, second.json_schema, second.has_images) == (["read"], {"type": "object"}, True)
    assert fake.count("first") == 1 and fake.count("hi") == 1 and fake.count("nothing") == 0


def test_malformed_requests_are_refused(fake: FakeLLMServer) -> None:
    no_max_tokens = {k: v for k, v in ANTHROPIC_BODY.items() if k != "max_tokens"}
    assert httpx.post(f"{fake.anthropic_base_url}/v1/messages", json=no_max_tokens).status_code == 400
    assert httpx.post(f"{fake.openai_base_url}/chat/completions", content=b"not json").status_code == 400
    assert fake.requests == []


def test_models_and_health() -> None:
    with FakeLLMServer(models=["a", "b"]) as fake:
        models = httpx.get(f"{fake.openai_base_url}/models").json()
        assert [m["id"] for m in models["data"]] == ["a", "b"]
        assert httpx.get(f"{fake.url}/health").json() == {"status": "ok"}


def test_a_failing_responder_answers_500_and_fails_the_test() -> None:
    def broken(request: FakeRequest) -> FakeReply:
        raise KeyError("oops")

    fake = FakeLLMServer(broken).start()
    response = httpx.post(f"{fake.openai_base_url}/chat/completions", json=OPENAI_BODY)
    assert response.status_code == 500 and "KeyError" in response.text
    with pytest.raises(AssertionError, match="responder raised"):
        fake.stop()


def test_answers_while_the_test_blocks_on_a_subprocess(fake: FakeLLMServer) -> None:
    script = (
        "import httpx, sys; "
        f"r = httpx.post('{fake.openai_base_url}/chat/completions', json={OPENAI_BODY!r}); "
        "print(r.json()['choices'][0]['message']['content'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "done: hi"


async def test_async_context_manager() -> None:
    async with FakeLLMServer() as fake, httpx.AsyncClient() as client:
        reply = await client.post(f"{fake.anthropic_base_url}/v1/messages", json=ANTHROPIC_BODY)
        assert reply.json()["content"] == [{"type": "text", "text": "done: hi"}]


def test_runs_as_a_process() -> None:
    command = [sys.executable, "-W", "error", "-m", "boocode.testing.fake_llm", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            reply = httpx.post(f"{base_url}/chat/completions", json=OPENAI_BODY, timeout=30).json()
            assert reply["choices"][0]["message"]["content"] == "done: hi"
        finally:
            process.terminate()


def test_reset_forgets_requests_restores_the_default_and_reports_responder_errors() -> None:
    def broken(request: FakeRequest) -> FakeReply:
        raise KeyError("oops")

    with FakeLLMServer(broken) as fake:
        httpx.post(f"{fake.openai_base_url}/chat/completions", json=OPENAI_BODY)
        with pytest.raises(AssertionError, match="KeyError"):
            fake.reset()
        assert fake.requests == [] and fake.responder is default_responder
        reply = httpx.post(f"{fake.openai_base_url}/chat/completions", json=OPENAI_BODY).json()
        assert reply["choices"][0]["message"]["content"] == "done: hi"


def test_stopping_wakes_delayed_answers() -> None:
    fake = FakeLLMServer(lambda r: FakeReply(text="late", delay=120)).start()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fake.openai_base_url}/chat/completions", json=OPENAI_BODY, timeout=0.2)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 10
