"""The sandbox bridge: isolate creation, host-call throughput through `parallel()`, event-loop stalls,
cancellation, and script loading.

Reference numbers from the design notes (measured before boocode existed): 200 host calls of 50 ms in
0.055 s, 1000 in 0.073 s, no loop stall over ~6 ms, 50/50 in-flight calls cancelled in < 1 ms.

    .venv/bin/python bench/sandbox_bridge.py
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from py_mini_racer import MiniRacer

from boocode.workflow.sandbox import Sandbox
from boocode.workflow.script import init_v8, load_script

META = "export const meta = {name: 'b', description: 'b'}\n"


async def agent_host(op: str, args: Any) -> Any:
    if op == "agent":
        await asyncio.sleep(0.05)
        return "done: " + args["prompt"]
    return None


async def stall_monitor(stop: asyncio.Event, gaps: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last - 0.001)
        last = now


async def fan_out(sandbox: Sandbox, n: int) -> None:
    body = f"return (await parallel(Array.from({{length: {n}}}, (_, i) => () => agent('' + i)))).length"
    script = load_script(META + body, "fan.js")
    stop, gaps = asyncio.Event(), []
    monitor = asyncio.create_task(stall_monitor(stop, gaps))
    start = time.perf_counter()
    result = await sandbox.run(script, host=agent_host, budget_total=None, budget_spent=lambda: 0)
    elapsed = time.perf_counter() - start
    stop.set()
    await monitor
    assert result == n
    stall = max(gaps) * 1000
    print(f"{n} host calls of 50 ms via parallel(): {elapsed:.3f} s, max event-loop stall {stall:.1f} ms")


async def cancellation(sandbox: Sandbox) -> None:
    started = cancelled = 0
    all_started = asyncio.Event()

    async def slow(op: str, args: Any) -> Any:
        nonlocal started, cancelled
        started += 1
        if started == 50:
            all_started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled += 1
            raise

    script = load_script(
        META + "await parallel(Array.from({length: 50}, (_, i) => () => agent('p' + i)))", "c.js"
    )
    task = asyncio.create_task(sandbox.run(script, host=slow, budget_total=None, budget_spent=lambda: 0))
    await all_started.wait()
    start = time.perf_counter()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print(
        f"cancel with 50 in flight: {cancelled}/50 cancelled in {(time.perf_counter() - start) * 1000:.2f} ms"
    )


async def main() -> None:
    start = time.perf_counter()
    load_script(META, "first.js")
    first = (time.perf_counter() - start) * 1000
    print(f"load_script, first in process (parser context + acorn): {first:.1f} ms")
    start = time.perf_counter()
    for i in range(100):
        load_script(META + f"return {i}", "x.js")
    print(f"load_script, warm: {(time.perf_counter() - start) * 10:.2f} ms")
    init_v8()
    for i in range(3):
        start = time.perf_counter()
        MiniRacer().close()
        print(f"bare isolate #{i + 1}: {(time.perf_counter() - start) * 1000:.1f} ms")
    sandbox = Sandbox()
    trivial = load_script(META + "return 1", "t.js")
    for i in range(3):
        start = time.perf_counter()
        await sandbox.run(trivial, host=agent_host, budget_total=None, budget_spent=lambda: 0)
        print(f"full run of `return 1` #{i + 1}: {(time.perf_counter() - start) * 1000:.1f} ms")
    for n in (200, 1000):
        await fan_out(sandbox, n)
    await cancellation(sandbox)


if __name__ == "__main__":
    asyncio.run(main())
