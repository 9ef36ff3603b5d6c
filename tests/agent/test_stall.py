"""StallWatch: an attempt without progress for `limit` seconds ends quietly; progress or a queue keeps it."""

from __future__ import annotations

import asyncio

import pytest

from boocode.agent.stall import Progress, StallWatch

LIMIT = 0.1


async def _ticking(progress: Progress, seconds: float, every: float) -> str:
    """Work that shows progress every `every` seconds for `seconds` in all."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await asyncio.sleep(every)
        progress.tick()
    return "done"


async def test_work_without_progress_is_cancelled_and_the_block_ends_quietly() -> None:
    progress = Progress()
    reached = []
    async with StallWatch(progress, LIMIT) as watch:
        await asyncio.Event().wait()  # never progresses
        reached.append("after the wait")
    assert watch.stalled
    assert reached == []
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_work_that_keeps_progressing_outlives_the_limit() -> None:
    progress = Progress()
    async with StallWatch(progress, LIMIT) as watch:
        result = await _ticking(progress, seconds=4 * LIMIT, every=LIMIT / 4)
    assert result == "done"
    assert not watch.stalled


async def test_time_queued_for_the_provider_is_not_a_stall() -> None:
    progress = Progress()
    gate = asyncio.Semaphore(0)
    loop = asyncio.get_running_loop()
    loop.call_later(3 * LIMIT, gate.release)
    async with StallWatch(progress, LIMIT) as watch, progress.queue(gate, None):
        pass
    assert not watch.stalled


async def test_the_work_runs_in_the_callers_task() -> None:
    outer = asyncio.current_task()
    async with StallWatch(Progress(), LIMIT):
        assert asyncio.current_task() is outer


async def test_a_cancellation_from_outside_propagates() -> None:
    async def attempt() -> StallWatch:
        async with StallWatch(Progress(), 60) as watch:
            await asyncio.Event().wait()
        return watch

    task = asyncio.create_task(attempt())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_from_outside_during_a_stall_still_propagates() -> None:
    watches: list[StallWatch] = []

    async def attempt() -> None:
        async with StallWatch(Progress(), LIMIT) as watch:
            watches.append(watch)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                asyncio.current_task().cancel()  # type: ignore[union-attr]  # someone else asks too
                raise

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(attempt())
    assert watches[0].stalled


async def test_a_finished_block_leaves_no_timer_behind() -> None:
    progress = Progress()
    async with StallWatch(progress, LIMIT) as watch:
        pass
    await asyncio.sleep(2 * LIMIT)  # the timer would have fired by now
    assert not watch.stalled
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
