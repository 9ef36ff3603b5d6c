"""Provider for OpenAI and every server speaking its chat-completions API (vLLM, llama.cpp, Ollama, ...)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from boocode.llm import payload
from boocode.llm.provider import Capabilities
from boocode.llm.retry import transport_error
from boocode.llm.sse_http import StreamingClient, server_events, status_error, transport_errors
from boocode.llm.types import ModelRequest, ReplyProgress, StopReason, StreamEvent

DEFAULT_BASE_URL = "https://api.openai.com/v1"

_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
}


class OpenAIProvider:
    """Streams chat completions over HTTP (`sse_http`: aiohttp, no SDK), one attempt per call.

    `timeout` bounds connecting and each wait for the next chunk. `keep_alive=False` opens a connection per
    request (for servers that hold a thread per open connection). `extra_body` is merged into every
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
        keep_alive: bool = True,
    ) -> None:
        self.name = name
        self.default_model = default_model
        self.capabilities = capabilities
        self._extra_body = extra_body
        self._key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        self._http = StreamingClient(self.base_url, headers, keep_alive=keep_alive)

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
        with transport_errors(reply.where):
            async with await self._http.post(url, body, timeout) as response:
                if response.status >= 400:
                    raise await status_error(response, reply.where, self._key)
                async for chunk in server_events(response, reply.where):
                    if "error" in chunk:
                        error = chunk["error"]
                        message = error.get("message") if isinstance(error, dict) else error
                        raise transport_error(reply.where, f"the server failed while answering: {message}")
                    for event in _read_chunk(chunk, reply):
                        yield event
        if reply.stop_reason == "end" and reply.has_tool_calls:
            reply.stop_reason = "tool_calls"
        yield reply.finish()

    async def aclose(self) -> None:
        await self._http.aclose()


def _read_chunk(chunk: dict[str, Any], reply: payload.ReplyAssembler) -> list[StreamEvent]:
    """Feed one chunk to `reply`; return the deltas to pass on."""
    reply.model = chunk.get("model") or reply.model
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        reply.usage = payload.openai_usage(usage)
    events: list[StreamEvent] = []
    progress = chunk.get("prompt_progress")  # llama.cpp, asked with `return_progress`
    if isinstance(progress, dict):
        done, total = _count(progress.get("processed")), _count(progress.get("total"))
        events.append(ReplyProgress("prompt", done, total))
    for choice in (chunk.get("choices") or [])[:1]:
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append(reply.reasoning(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.append(reply.text(content))
        calls = delta.get("tool_calls") or ()
        for call in calls:
            function = call.get("function") or {}
            reply.tool_call(
                call.get("index", 0),
                call_id=call.get("id"),
                name=function.get("name"),
                arguments=function.get("arguments") or "",
            )
        if calls:
            events.append(ReplyProgress("output"))
        finish = choice.get("finish_reason")
        if finish is not None:
            reply.stop_reason = _STOP_REASONS.get(finish, "other")
    return events


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
