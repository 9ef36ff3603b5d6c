"""End to end: the real default model, fetched once per machine, served by the real llama.cpp server,
asked over real HTTP. Sampling is pinned (temperature 0, fixed seed) and time-outs are generous: this VM
sometimes stalls a single request for a minute or two."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import jsonschema
import pytest

from boocode.config import Settings
from boocode.llm.local.models import DEFAULT_MODEL
from boocode.llm.local.provider import LocalProvider
from boocode.llm.local.server import LocalServer, get_local_server
from boocode.llm.types import Message, ModelRequest, ReplyProgress, TextDelta, TextPart

pytestmark = pytest.mark.local_llm

TIMEOUT = 180.0
PINNED = {"temperature": 0, "seed": 42}


async def chat(server: LocalServer, body: dict[str, Any]) -> dict[str, Any]:
    assert server.base_url is not None
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.post(f"{server.base_url}/chat/completions", json={**PINNED, **body})
    response.raise_for_status()
    reply: dict[str, Any] = response.json()
    return reply


async def stream_chat(server: LocalServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The parsed `data:` chunks of a streamed chat completion."""
    assert server.base_url is not None
    body = {**PINNED, **body, "stream": True, "stream_options": {"include_usage": True}}
    async with (
        httpx.AsyncClient(timeout=TIMEOUT) as client,
        client.stream("POST", f"{server.base_url}/chat/completions", json=body) as response,
    ):
        response.raise_for_status()
        lines = [line[5:].strip() async for line in response.aiter_lines() if line.startswith("data:")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def test_pong(local_server: LocalServer) -> None:
    reply = await chat(local_server, {"messages": user("Reply with exactly one word: PONG")})
    assert reply["choices"][0]["message"]["content"].strip().strip(".!").upper() == "PONG"
    assert reply["model"] == DEFAULT_MODEL


async def test_json_schema_output_is_valid(local_server: LocalServer) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
        "additionalProperties": False,
    }
    reply = await chat(
        local_server,
        {
            "messages": user("Name the capital of Japan and its country."),
            "response_format": {"type": "json_schema", "json_schema": {"name": "capital", "schema": schema}},
            "max_tokens": 100,
        },
    )
    answer = json.loads(reply["choices"][0]["message"]["content"])
    jsonschema.validate(answer, schema)
    assert "tokyo" in answer["city"].lower()


async def test_streamed_usage_reports_prompt_cache_hits(local_server: LocalServer) -> None:
    rules = " ".join(f"Rule {i}: keep answers short." for i in range(30))
    system = {"role": "system", "content": f"You are terse. {rules}"}
    usages = []
    for question in ("Say 1.", "Say 2."):
        chunks = await stream_chat(local_server, {"messages": [system, *user(question)], "max_tokens": 5})
        final = chunks[-1]
        assert final["choices"] == [] and final["timings"]["cache_n"] >= 0
        usages.append(final["usage"])
    first, second = usages
    assert first["prompt_tokens"] == second["prompt_tokens"] > 200
    assert second["prompt_tokens_details"]["cached_tokens"] > 200  # the shared prefix was not recomputed
    assert second["prompt_tokens_details"]["cached_tokens"] < second["prompt_tokens"]
    assert 0 < second["completion_tokens"] <= 5


async def test_a_long_prompt_streams_its_reading_progress(
    local_settings: Settings, local_server: LocalServer
) -> None:
    provider = LocalProvider(local_settings)
    text = " ".join(f"Item {i} is on shelf {i % 7}." for i in range(160))  # about 1500 tokens
    request = ModelRequest(
        DEFAULT_MODEL,
        [Message("user", [TextPart(f"{text}\nWhere is item 5?")])],
        max_output_tokens=8,
        **PINNED,
    )
    try:
        events = [e async for e in provider.stream(request, timeout=TIMEOUT)]
    finally:
        await provider.aclose()
    progress = [e for e in events if isinstance(e, ReplyProgress)]
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert len(progress) >= 2 and all(events.index(p) < first_text for p in progress)  # 512-token batches
    assert all(p.stage == "prompt" and p.total and p.total > 1000 for p in progress)
    assert [p.done for p in progress] == sorted(p.done or 0 for p in progress)


async def test_concurrent_requests_all_get_answers(local_server: LocalServer) -> None:
    numbers = range(1, local_server.slots + 1)
    question = "What is {0}+{0}? Answer with the number only."
    asks = [{"messages": user(question.format(n)), "max_tokens": 8} for n in numbers]
    replies = await asyncio.gather(*(chat(local_server, ask) for ask in asks))
    assert [r["choices"][0]["message"]["content"].strip() for r in replies] == [str(2 * n) for n in numbers]


async def test_the_shared_server_is_reused_from_any_event_loop(
    local_settings: Settings, local_server: LocalServer
) -> None:
    assert await get_local_server(local_settings) is local_server
    assert local_server.base_url is not None
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        models = (await client.get(f"{local_server.base_url}/models")).json()
    assert [m["id"] for m in models["data"]] == [DEFAULT_MODEL]
