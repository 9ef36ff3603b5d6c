"""Stall detection for one attempt of an agent: no progress for `limit` seconds cancels the attempt.

The attempt runs in the caller's own task under `StallWatch`, watched by one timer that is re-armed only
when it fires: progress itself costs a clock read (`Progress.tick`), not a timer, and an attempt costs no
extra task or wake-up (at 1000 agents these showed in the time between one agent's end and the next
one's request).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType


class Progress:
    """When the agent last made progress; time spent queued for the provider does not count as a stall."""

    def __init__(self) -> None:
        self.last = asyncio.get_running_loop().time()
        self.queued = False

    def tick(self) -> None:
        self.last = asyncio.get_running_loop().time()

    @contextlib.asynccontextmanager
    async def queue(
        self, gate: asyncio.Semaphore | None, ready: Callable[[], Awaitable[object]] | None
    ) -> AsyncIterator[None]:
        """Wait for the provider to be ready (a local model starting) and for one of its slots (when it
        has a limit); neither wait counts as a stall."""
        self.queued = True
        try:
            if ready is not None:
                await ready()
            async with gate if gate is not None else contextlib.nullcontext():
                self.queued = False
                self.tick()
                yield
        finally:
            self.queued = False


class StallWatch:
    """`async with StallWatch(progress, limit) as watch:` cancels the block once `progress` has not moved
    for `limit` seconds; the cancellation ends the block quietly and `watch.stalled` is True.

    A cancellation from outside still propagates (the same bookkeeping as `asyncio.timeout`).
    """

    def __init__(self, progress: Progress, limit: float) -> None:
        self.progress = progress
        self.limit = limit
        self.stalled = False
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._cancelling = 0

    async def __aenter__(self) -> StallWatch:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("StallWatch needs a running task")
        self._task = task
        self._cancelling = task.cancelling()
        self._arm()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.stalled and self._task is not None:
            # Ours to swallow only when nobody else asked to cancel the task meanwhile.
            return self._task.uncancel() <= self._cancelling and kind is asyncio.CancelledError
        return False

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._handle = loop.call_at(self.progress.last + self.limit, self._check)

    def _check(self) -> None:
        self._handle = None
        if self.progress.queued:  # waiting for the provider is not a stall
            self.progress.tick()
        if asyncio.get_running_loop().time() < self.progress.last + self.limit:
            self._arm()
            return
        self.stalled = True
        assert self._task is not None
        self._task.cancel()
