"""Provider for OpenAI and every server speaking its chat-completions API (vLLM, llama.cpp, Ollama, ...)."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from boocode.errors import ProviderError
from boocode.llm import payload
from boocode.llm.provider import Capabilities
from boocode.llm.retry import http_error, transport_error
from boocode.llm.types import ModelRequest, ReplyProgress, StopReason, StreamEvent

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# As many connections as a fan-out may hold open at once (the engine caps agents at 256 per run).
_MAX_CONNECTIONS = 1000
# An idle connection is dropped before common servers drop it (llama.cpp's and uvicorn's 5 s): one reused
# just as the server closes it fails at once ("Server disconnected", seen with aiohttp's default of 15 s).
_KEEPALIVE_SECONDS = 4.0

_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
}


class OpenAIProvider:
    """Streams chat completions over HTTP with `aiohttp`, one attempt per call.

    The request body is built in wire shape by `payload` and the server-sent events are read here, so the
    official SDK would only add work: it re-validates the body and builds a model object per chunk, which
    cost twice the CPU per request of this path in a 1000-agent fan-out (see bench/workflow_fanout.py).
    `aiohttp` rather than `httpx`: 1000 streamed requests at concurrency 16 against a local server took
    1.4-1.6 s of client time with `aiohttp` and 5.7-5.9 s with `httpx` (whose connection pool rescans
    every connection on each request), on the same machine in the same run.

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
        self._headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._proxy = _proxy_for(self.base_url)
        self._keep_alive = keep_alive

    def _client(self) -> aiohttp.ClientSession:
        """The connection pool, made on first use inside the running loop (aiohttp binds it to its loop);
        a provider used again from another loop (a second `asyncio.run`) gets a new one."""
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._session_loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=_MAX_CONNECTIONS,
                limit_per_host=0,
                keepalive_timeout=_KEEPALIVE_SECONDS if self._keep_alive else None,
                force_close=not self._keep_alive,
            )
            session = aiohttp.ClientSession(headers=self._headers, connector=connector)
            self._session, self._session_loop = session, loop
        return session

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
        limits = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        try:
            async with await self._send(url, body, limits) as response:
                if response.status >= 400:
                    raise _status_error(response, await response.read(), reply.where, self._key)
                async for chunk in _server_events(response, reply.where):
                    for event in _read_chunk(chunk, reply):
                        yield event
        except TimeoutError:  # aiohttp's time-outs are TimeoutErrors too
            raise transport_error(reply.where, "timed out") from None
        except aiohttp.ClientError as exc:
            raise transport_error(reply.where, f"connection error ({exc or type(exc).__name__})") from None
        if reply.stop_reason == "end" and reply.has_tool_calls:
            reply.stop_reason = "tool_calls"
        yield reply.finish()

    async def _send(
        self, url: str, body: dict[str, Any], limits: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        """POST `body`; sent again once, on a new connection, when a kept-alive one turns out closed before
        any answer: a server may close an idle connection just as a request goes out on it (seen with the
        embedded llama.cpp server: an agent's next request failed in 4 ms with "Server disconnected").
        Nothing was answered, so sending again is safe."""
        try:
            return await self._client().post(url, json=body, timeout=limits, proxy=self._proxy)
        except aiohttp.ServerDisconnectedError:
            return await self._client().post(url, json=body, timeout=limits, proxy=self._proxy)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _proxy_for(base_url: str) -> str | None:
    """The proxy from HTTP_PROXY/HTTPS_PROXY/NO_PROXY for `base_url`, as curl and the SDKs would use it.

    Looked up once: aiohttp's `trust_env` reads the environment and `.netrc` on every request, through a
    worker thread (measured: a tenth of a 1000-agent fan-out's time)."""
    parts = urlsplit(base_url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The body's lines, however long (aiohttp's own line reader refuses lines over 128 KiB, and one event
    can carry a whole tool call's arguments)."""
    pending = b""
    async for data in response.content.iter_any():
        pending += data
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")


async def _server_events(response: aiohttp.ClientResponse, where: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream, up to `[DONE]`; an error event raises.

    The stream is read to its end after `[DONE]` (servers end it right there): a response closed before its
    last bytes are read takes its connection with it, and a new connection per request costs more than the
    request (measured: 1000 requests, 1000 connects and closes)."""
    done = False
    async for line in _lines(response):
        if done or not line.startswith("data:"):
            continue  # blank separators, comments, `event:` and `id:` fields
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            continue
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


def _status_error(response: aiohttp.ClientResponse, raw: bytes, where: str, key: str) -> ProviderError:
    try:
        body: object = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    headers: Mapping[str, str] = response.headers
    return http_error(where, response.status, body, headers, secret=key)


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
