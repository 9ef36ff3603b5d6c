"""A fake LLM server speaking the real OpenAI and Anthropic wire formats, for deterministic tests.

`FakeLLMServer` serves `POST /v1/chat/completions`, `GET /v1/models` and `POST /v1/messages` (streaming
SSE and plain JSON) on 127.0.0.1 from a background thread with its own event loop, so a test may block
(on a subprocess, say) while the server answers. What it answers comes from a responder: a function from
the parsed `FakeRequest` to a `FakeReply`. Every request is recorded.

Run `python -m boocode.testing.fake_llm --port 0` to serve the default responder from a process; the first
stdout line is the OpenAI base URL (`http://127.0.0.1:PORT/v1`; Anthropic clients use it without `/v1`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, ClassVar, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Json = dict[str, Any]
Api = Literal["openai", "anthropic"]
Stop = Literal["end", "tool_calls", "max_tokens"]
Chunk = Json | str


# --- What a test sees and says --------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeRequest:
    """One request as the server parsed it. `messages` and `body` are the wire JSON as sent."""

    api: Api
    model: str
    system: str
    messages: list[Json]
    last_user_text: str
    tools: list[str]
    json_schema: Json | None
    has_images: bool
    stream: bool
    headers: dict[str, str]
    body: Json
    peer: str = ""  # the client's address and port: requests on one kept-alive connection share it


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call to answer with; `arguments` given as text are sent as they are (even if not JSON)."""

    name: str
    arguments: Json | str = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True)
class FakeUsage:
    """Token counts to report. `input` includes `cached` and `cache_write`; None fields are not reported."""

    input: int
    output: int
    cached: int | None = None
    cache_write: int | None = None
    reasoning: int | None = None


@dataclass(frozen=True)
class FakeError:
    """An HTTP error answer; `body` defaults to the API's own error shape carrying `message`."""

    status: int
    message: str = "fake error"
    retry_after: str | None = None
    body: Any = None


@dataclass(frozen=True)
class FakeReply:
    """What the server answers.

    - `text`, `reasoning`, `tool_calls`: the reply; `stop` defaults to "tool_calls" when there are calls.
    - `usage`: counts to report (None: estimated from the sizes); `report_usage=False` reports none.
    - `error`: answer with an HTTP error instead.
    - `delay`: seconds to wait before answering.
    - `hold`: wait before answering until this event is set (or the server stops), so a test decides when.
    - `cut_after`: drop the connection after this many stream events, with no finish.
    - `gap`: seconds between stream events (a slow server: a long prompt read, slow generation).
    - `chunks`: stream exactly these events instead (a dict is one SSE event, a str is sent as it is);
      plain (non-streaming) requests ignore it.
    """

    text: str = ""
    reasoning: str = ""
    tool_calls: Sequence[FakeToolCall] = ()
    stop: Stop | None = None
    usage: FakeUsage | None = None
    report_usage: bool = True
    error: FakeError | None = None
    delay: float = 0.0
    hold: threading.Event | None = None
    cut_after: int | None = None
    gap: float = 0.0
    chunks: Sequence[Chunk] | None = None


Responder = Callable[[FakeRequest], FakeReply]


def default_responder(request: FakeRequest) -> FakeReply:
    """Answer "done: <last user text>", or a minimal valid instance when a JSON schema is asked for."""
    if request.json_schema is not None:
        return FakeReply(text=json.dumps(minimal_instance(request.json_schema)))
    return FakeReply(text="done: " + request.last_user_text)


def minimal_instance(schema: Mapping[str, Any]) -> Any:
    """A small instance valid against a `$ref`-free JSON schema (required properties only, minimal sizes)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return minimal_instance(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else None
    if kind is None and ("properties" in schema or "required" in schema):
        kind = "object"
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    return builder(schema) if builder else None


def _minimal_object(schema: Mapping[str, Any]) -> Json:
    properties = schema.get("properties", {})
    return {name: minimal_instance(properties.get(name, {})) for name in schema.get("required", [])}


def _minimal_array(schema: Mapping[str, Any]) -> list[Any]:
    items = schema.get("items")
    return [minimal_instance(items if isinstance(items, Mapping) else {})] * schema.get("minItems", 0)


def _minimal_number(schema: Mapping[str, Any]) -> float:
    value = 0.0
    if "minimum" in schema:
        value = schema["minimum"]
    elif "exclusiveMinimum" in schema:
        value = schema["exclusiveMinimum"] + 1
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        value = schema["exclusiveMaximum"] - 1
    return value


_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "object": _minimal_object,
    "array": _minimal_array,
    "string": lambda s: "x" * s.get("minLength", 0),
    "number": _minimal_number,
    "integer": lambda s: math.ceil(_minimal_number(s)),
    "boolean": lambda s: False,
    "null": lambda s: None,
}


# --- Parsing requests -----------------------------------------------------------------------------------


def _parse(api: Api, body: Json, headers: Mapping[str, str], peer: str = "") -> FakeRequest:
    messages: list[Json] = list(body.get("messages") or [])
    if api == "openai":
        system = "\n".join(
            _text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
        )
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        format_ = body.get("response_format") or {}
        schema = (
            (format_.get("json_schema") or {}).get("schema") if format_.get("type") == "json_schema" else None
        )
    else:
        system = _text(body.get("system"))
        tools = [t["name"] for t in body.get("tools") or []]
        format_ = (body.get("output_config") or {}).get("format") or {}
        schema = format_.get("schema") if format_.get("type") == "json_schema" else None
    user_texts = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    return FakeRequest(
        api=api,
        model=str(body.get("model", "")),
        system=system,
        messages=messages,
        last_user_text=next((t for t in reversed(user_texts) if t), ""),
        tools=tools,
        json_schema=schema,
        has_images=_has_image(messages),
        stream=bool(body.get("stream")),
        headers=dict(headers),
        body=body,
        peer=peer,
    )


def _text(content: object) -> str:
    """The text of a string or of a list of content parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _has_image(value: object) -> bool:
    if isinstance(value, dict):
        return value.get("type") in ("image", "image_url") or any(_has_image(v) for v in value.values())
    return isinstance(value, list) and any(_has_image(v) for v in value)


def _request_problem(api: Api, body: object) -> str | None:
    """What a real server would reject about the request shape, or None."""
    if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
        return "the body must be a JSON object with `model` and `messages`"
    if api == "anthropic" and not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    return None


# --- Rendering replies ----------------------------------------------------------------------------------


def _pieces(text: str) -> list[str]:
    """Text split the way a model streams it: one word (with its leading space) at a time."""
    return re.findall(r"\s*\S+|\s+$", text)


def _arguments(call: FakeToolCall) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)


def _argument_pieces(call: FakeToolCall) -> tuple[str, str]:
    """The arguments text in two pieces, so clients must join streamed fragments."""
    text = _arguments(call)
    return text[: len(text) // 2], text[len(text) // 2 :]


def _call_id(call: FakeToolCall, index: int, prefix: str) -> str:
    return call.call_id or f"{prefix}_{index}"


def _stop(reply: FakeReply) -> Stop:
    return reply.stop or ("tool_calls" if reply.tool_calls else "end")


def _usage(request: FakeRequest, reply: FakeReply) -> FakeUsage | None:
    if not reply.report_usage:
        return None
    if reply.usage is not None:
        return reply.usage
    prompt = json.dumps([request.system, request.messages, request.body.get("tools")])
    answer = reply.reasoning + reply.text + "".join(c.name + _arguments(c) for c in reply.tool_calls)
    return FakeUsage(input=len(prompt) // 4 + 1, output=len(answer) // 4 + 1)


def _drop_none(values: Json) -> Json:
    return {k: v for k, v in values.items() if v is not None}


class _OpenAIWire:
    """Chat-completions shapes."""

    STOPS: ClassVar[dict[Stop, str]] = {"end": "stop", "tool_calls": "tool_calls", "max_tokens": "length"}

    @classmethod
    def usage(cls, usage: FakeUsage | None) -> Json | None:
        if usage is None:
            return None
        wire: Json = {
            "prompt_tokens": usage.input,
            "completion_tokens": usage.output,
            "total_tokens": usage.input + usage.output,
        }
        prompt = _drop_none({"cached_tokens": usage.cached, "cache_write_tokens": usage.cache_write})
        if prompt:
            wire["prompt_tokens_details"] = prompt
        if usage.reasoning is not None:
            wire["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning}
        return wire

    @classmethod
    def message(cls, request: FakeRequest, reply: FakeReply, reply_id: str) -> Json:
        message: Json = {"role": "assistant", "content": reply.text or None}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": _call_id(c, i, "call"),
                    "type": "function",
                    "function": {"name": c.name, "arguments": _arguments(c)},
                }
                for i, c in enumerate(reply.tool_calls)
            ]
        return _drop_none(
            {
                "id": reply_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.model,
                "choices": [{"index": 0, "message": message, "finish_reason": cls.STOPS[_stop(reply)]}],
                "usage": cls.usage(_usage(request, reply)),
            }
        )

    @classmethod
    def events(cls, request: FakeRequest, reply: FakeReply, reply_id: str) -> list[Chunk]:
        head = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": request.model,
        }

        def chunk(delta: Json, finish: str | None = None) -> Json:
            return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        events: list[Chunk] = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"reasoning_content": p}) for p in _pieces(reply.reasoning)]
        events += [chunk({"content": p}) for p in _pieces(reply.text)]
        for i, call in enumerate(reply.tool_calls):
            start = {"index": i, "id": _call_id(call, i, "call"), "type": "function"}
            events.append(
                chunk({"tool_calls": [{**start, "function": {"name": call.name, "arguments": ""}}]})
            )
            for piece in _argument_pieces(call):
                events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
        events.append(chunk({}, cls.STOPS[_stop(reply)]))
        usage = cls.usage(_usage(request, reply))
        if usage is not None and (request.body.get("stream_options") or {}).get("include_usage"):
            events.append({**head, "choices": [], "usage": usage})
        events.append("data: [DONE]\n\n")
        return events

    @staticmethod
    def error(error: FakeError) -> Json:
        server_side = error.status >= 500
        kind = (
            "rate_limit_exceeded"
            if error.status == 429
            else "server_error"
            if server_side
            else "invalid_request_error"
        )
        return {"error": {"message": error.message, "type": kind, "param": None, "code": None}}

    @staticmethod
    def sse(chunk: Chunk) -> str:
        return chunk if isinstance(chunk, str) else f"data: {json.dumps(chunk)}\n\n"


class _AnthropicWire:
    """Messages-API shapes."""

    STOPS: ClassVar[dict[Stop, str]] = {
        "end": "end_turn",
        "tool_calls": "tool_use",
        "max_tokens": "max_tokens",
    }
    ERROR_TYPES: ClassVar[dict[int, str]] = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }

    @staticmethod
    def start_usage(usage: FakeUsage | None) -> Json:
        if usage is None:
            return {}
        uncached = usage.input - (usage.cached or 0) - (usage.cache_write or 0)
        return _drop_none(
            {
                "input_tokens": uncached,
                "output_tokens": 1,
                "cache_read_input_tokens": usage.cached,
                "cache_creation_input_tokens": usage.cache_write,
            }
        )

    @staticmethod
    def final_usage(usage: FakeUsage | None) -> Json:
        if usage is None:
            return {}
        final: Json = {"output_tokens": usage.output}
        if usage.reasoning is not None:
            final["output_tokens_details"] = {"thinking_tokens": usage.reasoning}
        return final

    @staticmethod
    def blocks(reply: FakeReply) -> list[tuple[Json, list[Json]]]:
        """Each content block as (its start shape, its deltas)."""
        blocks: list[tuple[Json, list[Json]]] = []
        if reply.reasoning:
            thinking = [{"type": "thinking_delta", "thinking": p} for p in _pieces(reply.reasoning)]
            thinking.append({"type": "signature_delta", "signature": "fake-signature"})
            blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, thinking))
        if reply.text:
            text = [{"type": "text_delta", "text": p} for p in _pieces(reply.text)]
            blocks.append(({"type": "text", "text": ""}, text))
        for i, call in enumerate(reply.tool_calls):
            start = {"type": "tool_use", "id": _call_id(call, i, "toolu"), "name": call.name, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _argument_pieces(call)]
            blocks.append((start, deltas))
        return blocks

    @classmethod
    def message(cls, request: FakeRequest, reply: FakeReply, reply_id: str) -> Json:
        content: list[Json] = []
        if reply.reasoning:
            content.append({"type": "thinking", "thinking": reply.reasoning, "signature": "fake-signature"})
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content += [
            {"type": "tool_use", "id": _call_id(c, i, "toolu"), "name": c.name, "input": c.arguments}
            for i, c in enumerate(reply.tool_calls)
        ]
        usage = _usage(request, reply)
        return {
            **cls.skeleton(request, reply_id, usage),
            "content": content,
            "stop_reason": cls.STOPS[_stop(reply)],
            "usage": {**cls.start_usage(usage), **cls.final_usage(usage)},
        }

    @staticmethod
    def skeleton(request: FakeRequest, reply_id: str, usage: FakeUsage | None) -> Json:
        return {
            "id": reply_id,
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _AnthropicWire.start_usage(usage),
        }

    @classmethod
    def events(cls, request: FakeRequest, reply: FakeReply, reply_id: str) -> list[Chunk]:
        usage = _usage(request, reply)
        events: list[Chunk] = [{"type": "message_start", "message": cls.skeleton(request, reply_id, usage)}]
        for index, (start, deltas) in enumerate(cls.blocks(reply)):
            events.append({"type": "content_block_start", "index": index, "content_block": start})
            events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
            events.append({"type": "content_block_stop", "index": index})
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": cls.STOPS[_stop(reply)], "stop_sequence": None},
                "usage": cls.final_usage(usage),
            }
        )
        events.append({"type": "message_stop"})
        return events

    @classmethod
    def error(cls, error: FakeError) -> Json:
        kind = cls.ERROR_TYPES.get(
            error.status, "api_error" if error.status >= 500 else "invalid_request_error"
        )
        return {"type": "error", "error": {"type": kind, "message": error.message}}

    @staticmethod
    def sse(chunk: Chunk) -> str:
        return chunk if isinstance(chunk, str) else f"event: {chunk['type']}\ndata: {json.dumps(chunk)}\n\n"


_WIRES: dict[Api, type[_OpenAIWire] | type[_AnthropicWire]] = {
    "openai": _OpenAIWire,
    "anthropic": _AnthropicWire,
}


# --- The server -----------------------------------------------------------------------------------------


class _CutStream(Exception):
    """Raised inside a streaming body to drop the connection mid-reply."""


class _HideCutStreams(logging.Filter):
    """Keeps uvicorn from logging the deliberate connection drops as application errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, _CutStream):
                return False
            group = error.exceptions if isinstance(error, BaseExceptionGroup) else ()
            error = group[0] if len(group) == 1 else None
        return True


_HIDE_CUT_STREAMS = _HideCutStreams()


class FakeLLMServer:
    """An in-process OpenAI + Anthropic server on 127.0.0.1 with an ephemeral port.

    Use it as a context manager (`with` or `async with`), or call `start()`/`stop()`; one server may serve
    many tests with `reset()` between them. `responder` may be replaced at any time. Exceptions raised by
    the responder answer HTTP 500 and are raised again by `stop()`/`reset()`, so a broken test responder
    cannot pass unnoticed. `loop_factory` makes the server's event loop (a faster one, such as uvloop's, keeps
    the server's own overhead small in benchmarks).
    """

    def __init__(
        self,
        responder: Responder = default_responder,
        *,
        port: int = 0,
        models: Sequence[str] = ("fake-model",),
        loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
    ) -> None:
        self.responder = responder
        self._loop_factory = loop_factory
        self.models = list(models)
        self._requested_port = port
        self._requests: list[FakeRequest] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self.port = 0

    # URLs

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # Recorded requests

    @property
    def requests(self) -> list[FakeRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def count(self, prompt: str) -> int:
        """How many requests had `prompt` in their last user text."""
        return sum(prompt in r.last_user_text for r in self.requests)

    def reset(self) -> None:
        """Make a running server as good as new for the next test: default responder, no recorded requests.

        Raises `AssertionError` if the responder raised since the last reset.
        """
        self.responder = default_responder
        with self._lock:
            self._requests.clear()
        self._raise_responder_errors()

    def _raise_responder_errors(self) -> None:
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise AssertionError(f"the fake LLM responder raised {errors[0]!r}") from errors[0]

    # Life cycle

    def start(self) -> FakeLLMServer:
        """Bind the port and serve from a background thread; requests queue until the loop accepts them."""
        sock = self._bind()
        config = uvicorn.Config(
            self._app(), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._stopping = asyncio.Event()
        self._loop = self._loop_factory()
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (waking any delayed answer) and join the thread; re-raise a responder error."""
        if self._thread is None or self._server is None or self._loop is None or self._stopping is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        self._thread.join()
        self._thread = None
        self._raise_responder_errors()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop_quietly_if(exc is not None)

    async def __aenter__(self) -> FakeLLMServer:
        return self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self._stop_quietly_if, exc is not None)

    def _stop_quietly_if(self, failing: bool) -> None:
        """Stop; when the block already failed, its exception matters more than a responder error."""
        try:
            self.stop()
        except AssertionError:
            if not failing:
                raise

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", self._requested_port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(_HIDE_CUT_STREAMS)
        return sock

    def _run(self, sock: socket.socket) -> None:
        assert self._loop is not None and self._server is not None
        try:
            self._loop.run_until_complete(self._server.serve(sockets=[sock]))
        finally:
            self._loop.close()
            sock.close()

    # HTTP

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/models", self._list_models, methods=["GET"]),
                Route("/health", self._health, methods=["GET"]),
            ]
        )

    async def _chat_completions(self, request: Request) -> Response:
        return await self._answer("openai", request)

    async def _messages(self, request: Request) -> Response:
        return await self._answer("anthropic", request)

    async def _list_models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "boocode-fake"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _answer(self, api: Api, http: Request) -> Response:
        wire = _WIRES[api]
        try:
            body = await http.json()
        except ValueError:
            body = None
        problem = _request_problem(api, body)
        if problem is not None:
            return JSONResponse(wire.error(FakeError(400, problem)), status_code=400)
        peer = f"{http.client.host}:{http.client.port}" if http.client else ""
        request = _parse(api, body, http.headers, peer)
        with self._lock:
            self._requests.append(request)
        try:
            reply = self.responder(request)
        except Exception as exc:
            with self._lock:
                self._errors.append(exc)
            return JSONResponse(wire.error(FakeError(500, f"fake responder raised {exc!r}")), status_code=500)
        await self._pause(reply.delay)
        if reply.hold is not None:
            await self._hold(reply.hold)
        if reply.error is not None:
            return _error_response(wire, reply.error)
        reply_id = f"fake-{next(self._ids)}"
        if not request.stream:
            return JSONResponse(wire.message(request, reply, reply_id))
        chunks = reply.chunks if reply.chunks is not None else wire.events(request, reply, reply_id)
        events = _sse(wire, chunks, reply.cut_after, partial(self._pause, reply.gap))
        return StreamingResponse(events, media_type="text/event-stream")

    async def _hold(self, gate: threading.Event) -> None:
        """Wait until `gate` is set or the server is stopping (checked off the loop, 20 times a second)."""
        while not gate.is_set() and not (self._stopping is not None and self._stopping.is_set()):
            await asyncio.to_thread(gate.wait, 0.05)

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if the server is stopping."""
        if seconds > 0 and self._stopping is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)


def _error_response(wire: type[_OpenAIWire] | type[_AnthropicWire], error: FakeError) -> Response:
    headers = {"retry-after": error.retry_after} if error.retry_after is not None else None
    body = error.body if error.body is not None else wire.error(error)
    if isinstance(body, str):
        return Response(body, status_code=error.status, headers=headers, media_type="text/plain")
    return JSONResponse(body, status_code=error.status, headers=headers)


async def _sse(
    wire: type[_OpenAIWire] | type[_AnthropicWire],
    chunks: Iterable[Chunk],
    cut_after: int | None,
    pause: Callable[[], Awaitable[None]],
) -> AsyncIterator[str]:
    for sent, chunk in enumerate(chunks):
        if sent == cut_after:
            raise _CutStream
        if sent:
            await pause()
        yield wire.sse(chunk)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the default responder until killed; print the OpenAI base URL first."""
    parser = argparse.ArgumentParser(prog="python -m boocode.testing.fake_llm", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    args = parser.parse_args(argv)
    server = FakeLLMServer(port=args.port).start()
    print(server.openai_base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
