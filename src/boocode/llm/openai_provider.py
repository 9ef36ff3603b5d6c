"""Provider for OpenAI and every server speaking its chat-completions API (vLLM, llama.cpp, Ollama, ...)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from boocode.errors import ProviderError
from boocode.llm import payload
from boocode.llm.provider import Capabilities
from boocode.llm.retry import http_error, transport_error
from boocode.llm.types import ModelRequest, StopReason, StreamEvent

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# As many connections as a fan-out may hold open at once (the engine caps agents at 256 per run).
_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=256)

_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
}


class OpenAIProvider:
    """Streams chat completions over HTTP with `httpx`, one attempt per call.

    The request body is built in wire shape by `payload` and the server-sent events are read here, so the
    official SDK would only add work: it re-validates the body and builds a model object per chunk, which
    cost twice the CPU per request of this path in a 1000-agent fan-out (see bench/workflow_fanout.py).

    `timeout` bounds connecting and each wait for the next chunk. `extra_body` is merged into every
    request (server-specific options). Reasoning text arrives as `reasoning_content` (llama.cpp,
    DeepSeek) or `reasoning` (vLLM) deltas.
    """

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        default_model: str,
        *,
        name: str = "openai",
        capabilities: Capabilities = Capabilities(),  # noqa: B008 (frozen, so sharing it is safe)
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.default_model = default_model
        self.capabilities = capabilities
        self._extra_body = extra_body
        self._key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        self._client = httpx.AsyncClient(headers=headers, limits=_LIMITS)

    async def stream(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 (the Provider protocol hands it on)
    ) -> AsyncIterator[StreamEvent]:
        """Send `request` and yield its text/reasoning deltas, then one `ResponseDone`."""
        reply = payload.ReplyAssembler.start(
            request, self.name, self.base_url, self.default_model, self.capabilities
        )
        body = payload.openai_body(request, reply.model, self.capabilities)
        body.update(stream=True, stream_options={"include_usage": True}, **(self._extra_body or {}))
        url = f"{self.base_url}/chat/completions"
        try:
            async with self._client.stream("POST", url, json=body, timeout=timeout) as response:
                if response.status_code >= 400:
                    raise _status_error(response, await response.aread(), reply.where, self._key)
                async for chunk in _server_events(response, reply.where):
                    for event in _read_chunk(chunk, reply):
                        yield event
        except httpx.TimeoutException:
            raise transport_error(reply.where, "timed out") from None
        except httpx.TransportError as exc:
            raise transport_error(reply.where, f"connection error ({exc or type(exc).__name__})") from None
        if reply.stop_reason == "end" and reply.has_tool_calls:
            reply.stop_reason = "tool_calls"
        yield reply.finish()

    async def aclose(self) -> None:
        await self._client.aclose()


async def _server_events(response: httpx.Response, where: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream, up to `[DONE]`; an error event raises."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, comments, `event:` and `id:` fields
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise transport_error(where, f"the server sent a malformed event: {data[:200]}") from None
        if isinstance(chunk, dict) and "error" in chunk:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise transport_error(where, f"the server failed while answering: {message}")
        if isinstance(chunk, dict):
            yield chunk


def _status_error(response: httpx.Response, raw: bytes, where: str, key: str) -> ProviderError:
    try:
        body: object = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    headers: Mapping[str, str] = response.headers
    return http_error(where, response.status_code, body, headers, secret=key)


def _read_chunk(chunk: dict[str, Any], reply: payload.ReplyAssembler) -> list[StreamEvent]:
    """Feed one chunk to `reply`; return the deltas to pass on."""
    reply.model = chunk.get("model") or reply.model
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        reply.usage = payload.openai_usage(usage)
    events: list[StreamEvent] = []
    for choice in (chunk.get("choices") or [])[:1]:
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append(reply.reasoning(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.append(reply.text(content))
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            reply.tool_call(
                call.get("index", 0),
                call_id=call.get("id"),
                name=function.get("name"),
                arguments=function.get("arguments") or "",
            )
        finish = choice.get("finish_reason")
        if finish is not None:
            reply.stop_reason = _STOP_REASONS.get(finish, "other")
    return events
