"""One model turn: send the request (retrying what may succeed), record every attempt, persist the reply
as it streams in, in batches rather than per token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from boocode.agent.runaway import RepetitionGuard
from boocode.agent.stagger import PrefixStagger
from boocode.errors import ProviderError
from boocode.llm.provider import Provider
from boocode.llm.retry import RetryPolicy, retry_after_of
from boocode.llm.types import (
    Message,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    ReasoningPart,
    ReplyProgress,
    ResponseDone,
    TextDelta,
    TextPart,
)
from boocode.store.store import Store

# How often streamed text is written to the store while a reply is arriving.
FLUSH_SECONDS = 0.5


@dataclass
class TurnContext:
    """Where a turn's rows go, and what it may take."""

    store: Store
    session_id: str
    chat_id: str
    turn: int
    message_seq: int
    timeout: float
    retry: RetryPolicy
    on_progress: Callable[[], None] | None = None  # any sign of the reply coming: text, reasoning, progress
    finalize: Callable[[ModelResponse], ModelResponse] | None = None
    stagger: PrefixStagger | None = None
    runaway_chars: int = 0  # a reply repeating one unit this long is stopped (`RepetitionGuard`); 0: never


class _StreamWriter:
    """Keeps the assistant message being streamed up to date in the store, at most every FLUSH_SECONDS."""

    def __init__(self, ctx: TurnContext, warming: asyncio.Event | None = None) -> None:
        self.ctx = ctx
        self.warming = warming  # set on the first token: requests sharing this prefix may go
        self.message_id: str | None = None
        self.text = ""
        self.reasoning = ""
        self.flushed_at = 0.0

    def _parts(self) -> list[ReasoningPart | TextPart]:
        parts: list[ReasoningPart | TextPart] = [ReasoningPart(self.reasoning)] if self.reasoning else []
        return [*parts, TextPart(self.text)]

    async def add(self, text: str = "", reasoning: str = "") -> None:
        if self.warming is not None:
            self.warming.set()
        self.text += text
        self.reasoning += reasoning
        now = time.monotonic()
        if now - self.flushed_at < FLUSH_SECONDS:
            return  # a reply that completes sooner is written once, when it ends
        if self.message_id is None:
            self.message_id = await self.ctx.store.add_message(
                self.ctx.chat_id, self.ctx.message_seq, Message("assistant", list(self._parts()))
            )
        else:
            await self.ctx.store.replace_parts(self.message_id, self._parts())
        self.flushed_at = now

    def reset(self) -> None:
        """Start a new attempt: nothing streamed yet, the first batch due FLUSH_SECONDS from now."""
        self.text = self.reasoning = ""
        self.flushed_at = time.monotonic()

    async def finish(self, message: Message) -> None:
        if self.message_id is None:
            await self.ctx.store.add_message(self.ctx.chat_id, self.ctx.message_seq, message)
        else:
            await self.ctx.store.replace_parts(self.message_id, message.parts)

    async def discard(self) -> None:
        if self.message_id is not None:
            await self.ctx.store.delete_message(self.message_id)
            self.message_id = None


async def run_turn(provider: Provider, request: ModelRequest, ctx: TurnContext) -> ModelResponse:
    """Get one complete reply, retrying retryable failures; the reply is persisted as message
    `ctx.message_seq`. Raises the last `ProviderError` when no attempt succeeds."""
    if ctx.stagger is None:
        return await _attempts(provider, request, ctx, None)
    async with ctx.stagger.turn(request) as warming:
        return await _attempts(provider, request, ctx, warming)


async def _attempts(
    provider: Provider, request: ModelRequest, ctx: TurnContext, warming: asyncio.Event | None
) -> ModelResponse:
    writer = _StreamWriter(ctx, warming)
    attempt = 0
    while True:
        writer.reset()
        try:
            response = await _attempt(provider, request, ctx, writer, attempt + 1)
        except ProviderError as exc:
            if not ctx.retry.should_retry(exc, attempt):
                await asyncio.shield(writer.discard())
                raise
            await asyncio.sleep(ctx.retry.delay(attempt, retry_after_of(exc)))
            attempt += 1
            continue
        except BaseException:
            await asyncio.shield(writer.discard())
            raise
        if ctx.finalize is not None:
            response = ctx.finalize(response)
        await writer.finish(response.message)
        return response


async def _attempt(
    provider: Provider, request: ModelRequest, ctx: TurnContext, writer: _StreamWriter, attempt: int
) -> ModelResponse:
    call_id = await ctx.store.start_inference(
        session_id=ctx.session_id,
        chat_id=ctx.chat_id,
        turn=ctx.turn,
        attempt=attempt,
        provider=provider.name,
        model=request.model,
    )
    started = time.monotonic()
    first_token: float | None = None
    text_guard, reasoning_guard = RepetitionGuard(ctx.runaway_chars), RepetitionGuard(ctx.runaway_chars)

    def elapsed_ms(since: float) -> float:
        return (since - started) * 1000

    try:
        async for event in provider.stream(request, timeout=ctx.timeout):
            if isinstance(event, ResponseDone):
                response = event.response
                break
            if ctx.on_progress:
                ctx.on_progress()
            if isinstance(event, ReplyProgress) and event.stage == "prompt":
                continue  # the prompt is being read: no token yet
            if first_token is None:
                first_token = time.monotonic()
            if isinstance(event, TextDelta):
                await writer.add(text=event.text)
                text_guard.feed(event.text)  # raises RunawayReply: leaving the loop closes the stream
            elif isinstance(event, ReasoningDelta):
                await writer.add(reasoning=event.text)
                reasoning_guard.feed(event.text)
        else:
            raise ProviderError(f"{provider.name}: the reply ended without completing", retryable=True)
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"
        error = str(exc) or type(exc).__name__
        await asyncio.shield(
            ctx.store.finish_inference(
                call_id,
                status=status,
                latency_ms=elapsed_ms(time.monotonic()),
                ttft_ms=elapsed_ms(first_token) if first_token else None,
                error=None if status == "cancelled" else error,
            )
        )
        raise
    now = time.monotonic()
    await ctx.store.finish_inference(
        call_id,
        status="ok",
        latency_ms=elapsed_ms(now),
        ttft_ms=elapsed_ms(first_token or now),
        usage=response.usage,
        stop_reason=response.stop_reason,
        model=response.model or request.model,
    )
    return response
