"""1000 agents through `parallel()` at concurrency 16 against a fake server with 100 ms latency.

Reports wall time against the ideal ceil(N/16) x latency, next to a plain asyncio + `openai` SDK loop with
the same concurrency in the same run (the reference) and a bare `aiohttp` loop reading raw bytes (the fake
server's own floor), with each one's CPU time per agent, plus peak memory and sandbox creation time.
Each loop runs `--repeat` times, interleaved; the figures are medians, with the range of the ratio. The fake
server runs in its own process (on uvloop when it is installed, as with the dev extra) so its work does
not share this process's GIL, and, on Linux with two CPUs or more, on a CPU of its own (the last one; the
loops get the others), as a provider's server would: it then takes no CPU from the client and the
scheduler does not shuffle the two (`--no-pin` measures without).

`--api anthropic` runs the same on Anthropic's wire format (the messages API), with the `anthropic` SDK as
the reference.

    .venv/bin/python bench/workflow_fanout.py [--agents 1000] [--latency 0.1] [--concurrency 16] [--repeat 3]
        [--api openai|anthropic] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import anthropic
import openai

from boocode.agent.loop import AgentRuntime
from boocode.config import load_settings
from boocode.llm.anthropic_provider import AnthropicProvider
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.provider import Provider
from boocode.llm.retry import RetryPolicy
from boocode.store.store import open_store
from boocode.workflow.manager import WorkflowRunner
from boocode.workflow.sandbox import Sandbox
from boocode.workflow.script import load_script

SERVER = """
import asyncio, sys
from boocode.testing.fake_llm import FakeLLMServer, FakeReply
try:
    from uvloop import new_event_loop  # a lighter server loop: less of the server's own time in every figure
except ImportError:
    new_event_loop = asyncio.new_event_loop
latency = float(sys.argv[1])
reply = lambda r: FakeReply(text="done: " + r.last_user_text, delay=latency)
with FakeLLMServer(reply, loop_factory=new_event_loop) as s:
    print(s.url, flush=True)
    sys.stdin.read()
"""

SCRIPT = """export const meta = {name: 'fanout', description: 'bench'}
const tasks = Array.from({length: args.n}, (_, i) => () => agent('task ' + i, {label: 't' + i}))
const results = await parallel(tasks)
return results.filter(Boolean).length
"""


def _request(api: str, i: int) -> tuple[str, dict[str, object]]:
    """The path and body of request `i` in the wire format of `api`."""
    body: dict[str, object] = {
        "model": "m",
        "messages": [{"role": "user", "content": f"task {i}"}],
        "stream": True,
    }
    if api == "anthropic":
        return "/v1/messages", {**body, "max_tokens": 100}
    return "/v1/chat/completions", body


async def bare_http(url: str, api: str, n: int, concurrency: int) -> Clock:
    """The fake server's floor: the same streamed requests from the lightest client, reading raw bytes."""
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> None:
            async with gate:
                path, body = _request(api, i)
                async with session.post(f"{url}{path}", json=body) as response:
                    async for _ in response.content.iter_any():
                        pass

        with Clock() as clock:
            await asyncio.gather(*(one(i) for i in range(n)))
    return clock


async def sdk_reference(url: str, api: str, n: int, concurrency: int) -> Clock:
    """The reference: the provider's official SDK in a plain asyncio loop."""
    gate = asyncio.Semaphore(concurrency)
    if api == "anthropic":
        claude = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)

        async def one(i: int) -> None:
            async with gate:
                stream = await claude.messages.create(
                    model="m",
                    max_tokens=100,
                    messages=[{"role": "user", "content": f"task {i}"}],
                    stream=True,
                )
                async for _ in stream:
                    pass

        close = claude.close
    else:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)

        async def one(i: int) -> None:
            async with gate:
                stream = await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"task {i}"}], stream=True
                )
                async for _ in stream:
                    pass

        close = client.close

    with Clock() as clock:
        await asyncio.gather(*(one(i) for i in range(n)))
    await close()
    return clock


def pin(server_pid: int) -> str:
    """Put the server's threads on the last CPU and this process's on the others; say what was done."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return "server and loops share the CPUs"
    server_cpu, client_cpus = {cpus[-1]}, set(cpus[:-1])
    for pid, allowed in ((server_pid, server_cpu), (os.getpid(), client_cpus)):
        for thread in os.listdir(f"/proc/{pid}/task"):  # threads made later inherit their creator's set
            os.sched_setaffinity(int(thread), allowed)
    return f"server on CPU {cpus[-1]}, loops on CPU {','.join(map(str, sorted(client_cpus)))}"


def settle_heap() -> None:
    """Collect and freeze what earlier loops left, so no loop pays for collecting another's objects."""
    gc.collect()
    gc.freeze()


class Clock:
    """Wall time and this process's CPU time (all its threads) spent inside the block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


async def workflow_run(url: str, api: str, n: int, concurrency: int, tmp: Path) -> Clock:
    store = await open_store(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    settings = dataclasses.replace(
        load_settings(env={"BOOCODE_HOME": str(tmp)}), max_concurrent_agents=concurrency
    )
    provider: Provider = (
        AnthropicProvider(url, "k", "fake-model")
        if api == "anthropic"
        else OpenAIProvider(f"{url}/v1", "k", "fake-model")
    )
    runtime = AgentRuntime(
        settings, store, provider, tmp, await store.ensure_project(tmp), retry=RetryPolicy(0)
    )
    script = load_script(SCRIPT, "fanout.js")
    with Clock() as clock:
        result = await WorkflowRunner(runtime).run(script, args={"n": n})
    assert result.status == "completed" and result.result == n, (result.status, result.error, result.result)
    await provider.aclose()
    await store.aclose()
    return clock


async def sandbox_creation() -> float:
    script = load_script("export const meta = {name: 'x', description: 'x'}\nreturn 1", "x.js")

    async def host(op: str, args: object) -> None:
        return None

    await Sandbox().run(script, host=host, budget_total=None, budget_spent=lambda: 0)  # first in process
    start = time.perf_counter()
    for _ in range(20):
        await Sandbox().run(script, host=host, budget_total=None, budget_spent=lambda: 0)
    return (time.perf_counter() - start) / 20


async def main(n: int, latency: float, concurrency: int, repeat: int, pinned: bool, api: str) -> None:
    server = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
        [sys.executable, "-c", SERVER, str(latency)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    placement = pin(server.pid) if pinned else "server and loops share the CPUs (--no-pin)"
    rows: dict[str, list[Clock]] = {"asyncio + aiohttp": [], "asyncio + SDK": [], "boocode workflow": []}
    try:
        for _ in range(repeat):  # interleaved, so a slow moment of the machine touches every row alike
            settle_heap()
            rows["asyncio + aiohttp"].append(await bare_http(url, api, n, concurrency))
            settle_heap()
            rows["asyncio + SDK"].append(await sdk_reference(url, api, n, concurrency))
            settle_heap()
            with tempfile.TemporaryDirectory() as tmp:
                rows["boocode workflow"].append(await workflow_run(url, api, n, concurrency, Path(tmp)))
        per_run = await sandbox_creation()
    finally:
        server.communicate(timeout=30)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ideal = math.ceil(n / concurrency) * latency
    reference = statistics.median(c.wall for c in rows["asyncio + SDK"])
    print(
        f"{n} agents, {api} wire format, concurrency {concurrency}, latency {latency * 1000:.0f} ms, "
        f"ideal {ideal:.2f} s; "
        f"median of {repeat} runs (range); {placement}"
    )
    for name, clocks in rows.items():
        walls = [c.wall for c in clocks]
        wall = statistics.median(walls)
        cpu = statistics.median(c.cpu for c in clocks)
        print(
            f"{name:18}: {wall:6.2f} s  ratio to ideal {wall / ideal:.3f} "
            f"({min(walls) / ideal:.3f}-{max(walls) / ideal:.3f})  "
            f"x{wall / reference:.3f} the SDK loop  CPU {cpu / n * 1000:.2f} ms/agent"
        )
    print(f"peak RSS {peak_mb:.0f} MB; sandbox run of `return 1`: {per_run * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each loop; medians are reported")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not give the server a CPU of its own"
    )
    parser.add_argument(
        "--api", choices=["openai", "anthropic"], default="openai", help="the wire format (and SDK) to use"
    )
    ns = parser.parse_args()
    asyncio.run(main(ns.agents, ns.latency, ns.concurrency, ns.repeat, ns.pin, ns.api))
