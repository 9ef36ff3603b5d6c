"""Prefix stagger: when several requests sharing a prompt prefix (same model, system prompt and tools) start
together, the first goes alone and the rest wait, bounded, until it has begun streaming, so the provider's
prompt cache holds the shared prefix when they are sent."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from boocode.llm.types import ModelRequest


def prefix_key(request: ModelRequest) -> str:
    """What makes two requests share a cacheable prefix."""
    tools = [(t.name, t.description, t.parameters) for t in request.tools]
    material = json.dumps([request.model, request.system, tools, request.json_schema], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


class PrefixStagger:
    """Per-prefix gates: a cold prefix lets one request through and holds the others until that one
    streams (or ends), at most `max_wait` seconds; a warm prefix lets everything through."""

    def __init__(self, max_wait: float, warm_for: float = 300.0) -> None:
        self.max_wait = max_wait
        self.warm_for = warm_for  # providers keep a cached prefix about 5 minutes
        self._leaders: dict[str, asyncio.Event] = {}
        self._warmed: dict[str, float] = {}

    def _is_warm(self, key: str) -> bool:
        warmed = self._warmed.get(key)
        return warmed is not None and asyncio.get_running_loop().time() - warmed < self.warm_for

    @asynccontextmanager
    async def turn(self, request: ModelRequest) -> AsyncIterator[asyncio.Event | None]:
        """Wait for the prefix to be warm if another request is warming it; yields the event to set on
        the first streamed token when this request is the one warming it (None otherwise)."""
        key = prefix_key(request)
        if self.max_wait <= 0 or self._is_warm(key):
            yield None
            return
        leader = self._leaders.get(key)
        if leader is not None:
            # `asyncio.timeout`, not `wait_for`: on Python 3.11 the latter can swallow a cancellation that
            # arrives as the wait ends (bpo-42130), and a cancelled agent would then send its request.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.max_wait):
                    await leader.wait()
            yield None
            return
        started = self._leaders[key] = asyncio.Event()
        try:
            yield started
        finally:
            started.set()
            if self._leaders.get(key) is started:
                del self._leaders[key]
            self._warmed[key] = asyncio.get_running_loop().time()
