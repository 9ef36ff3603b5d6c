"""Streamed JSON requests over HTTP with `aiohttp`: the transport both providers share.

A provider builds its request body in wire shape (`payload`) and reads the server-sent events itself, so an
official SDK would only add work: it re-validates the body and builds a model object per event, which cost
twice the CPU per request of this path in a 1000-agent fan-out (see bench/workflow_fanout.py: the `openai`
SDK loop against the same server). `aiohttp` rather than `httpx`: 1000 streamed requests at concurrency 16
against a local server took 1.4-1.6 s of client time with `aiohttp` and 5.7-5.9 s with `httpx` (whose
connection pool rescans every connection on each request), on the same machine in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from boocode.errors import ProviderError
from boocode.llm.retry import http_error, transport_error

# As many connections as a fan-out may hold open at once (the engine caps agents at 256 per run).
_MAX_CONNECTIONS = 1000
# An idle connection is dropped before common servers drop it (llama.cpp's and uvicorn's 5 s): one reused
# just as the server closes it fails at once ("Server disconnected", seen with aiohttp's default of 15 s).
_KEEPALIVE_SECONDS = 4.0


class StreamingClient:
    """A connection pool that POSTs JSON and hands back the streaming response.

    `keep_alive=False` opens a connection per request (for servers that hold a thread per open connection).
    """

    def __init__(self, base_url: str, headers: Mapping[str, str], *, keep_alive: bool = True) -> None:
        self._headers = dict(headers)
        self._keep_alive = keep_alive
        self._proxy = proxy_for(base_url)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The pool, made on first use inside the running loop (aiohttp binds it to its loop); a provider
        used again from another loop (a second `asyncio.run`) gets a new one."""
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

    async def post(
        self,
        url: str,
        body: dict[str, Any],
        timeout: float,  # noqa: ASYNC109 (a bound on each wait, not a deadline for the call)
    ) -> aiohttp.ClientResponse:
        """POST `body`; `timeout` bounds connecting and each wait for more of the answer.

        Sent again once, on a new connection, when a kept-alive one turns out closed before any answer: a
        server may close an idle connection just as a request goes out on it (seen with the embedded
        llama.cpp server: an agent's next request failed in 4 ms with "Server disconnected"). Nothing was
        answered, so sending again is safe."""
        limits = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        try:
            return await self._client().post(url, json=body, timeout=limits, proxy=self._proxy)
        except aiohttp.ServerDisconnectedError:
            return await self._client().post(url, json=body, timeout=limits, proxy=self._proxy)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@contextlib.contextmanager
def transport_errors(where: str) -> Iterator[None]:
    """Turn aiohttp's time-outs and connection failures inside the block into retryable `ProviderError`s."""
    try:
        yield
    except TimeoutError:  # aiohttp's time-outs are TimeoutErrors too
        raise transport_error(where, "timed out") from None
    except aiohttp.ClientError as exc:
        raise transport_error(where, f"connection error ({exc or type(exc).__name__})") from None


def proxy_for(base_url: str) -> str | None:
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


async def server_events(response: aiohttp.ClientResponse, where: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream (the `data:` fields), up to OpenAI's `[DONE]`.

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
            event = json.loads(data)
        except ValueError:
            raise transport_error(where, f"the server sent a malformed event: {data[:200]}") from None
        if isinstance(event, dict):
            yield event


async def status_error(response: aiohttp.ClientResponse, where: str, secret: str) -> ProviderError:
    """The error for a response with an HTTP error status (its body read, JSON when it parses)."""
    raw = await response.read()
    try:
        body: object = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return http_error(where, response.status, body, response.headers, secret=secret)
