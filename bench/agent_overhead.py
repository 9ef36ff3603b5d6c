"""Per-agent overhead of boocode's agent loop against an instant fake server.

Baseline: a bare `openai` SDK streaming call to the same server in the same run. The agent path adds
session/chat/message/inference rows, the system prompt, tool specs and validation. Reported: mean
wall time per agent for each, their ratio, and the overhead in milliseconds.

    .venv/bin/python bench/agent_overhead.py [--agents 200] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import openai

from boocode.agent.loop import AgentRuntime, AgentSpec, run_agent
from boocode.config import load_settings
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.retry import RetryPolicy
from boocode.store.store import open_store
from boocode.testing.fake_llm import FakeLLMServer


async def timed(n: int, one: Callable[[int], Awaitable[object]]) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        await one(i)
        times.append(time.perf_counter() - start)
    return times


async def bench(agents: int, db: str) -> None:
    with FakeLLMServer() as fake, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = (
            f"sqlite+aiosqlite:///{root / 'bench.db'}"
            if db == "sqlite"
            else f"postgresql+asyncpg://127.0.0.1:5432/test?search_path=bench_{secrets.token_hex(4)}"
        )
        store = await open_store(url)
        client = openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key="k", max_retries=0)

        async def bare(i: int) -> str:
            stream = await client.chat.completions.create(
                model="fake-model",
                messages=[{"role": "user", "content": f"task {i}"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
        settings = dataclasses.replace(load_settings(env={"BOOCODE_HOME": tmp}), db_url=url)
        project_id = await store.ensure_project(root)
        runtime = AgentRuntime(settings, store, provider, root, project_id, retry=RetryPolicy(0))

        async def agent(i: int, tools: list[str] | None) -> object:
            result = await run_agent(AgentSpec(f"task {i}", tools=tools), runtime)
            assert result.status == "completed", result.error
            return result.output

        await timed(10, bare)  # warm up both paths
        await timed(10, lambda i: agent(i, []))
        rows = []
        for label, fn in (
            ("bare SDK call", bare),
            ("agent, no tools", lambda i: agent(i, [])),
            ("agent, 5 default tools", lambda i: agent(i, None)),
        ):
            times = await timed(agents, fn)
            rows.append((label, statistics.mean(times), statistics.median(times)))
        base = rows[0][1]
        print(f"{agents} sequential calls each, instant fake server, store: {db}")
        print(f"{'path':<24} {'mean ms':>8} {'median ms':>10} {'ratio':>6} {'overhead ms':>12}")
        for label, mean, median in rows:
            overhead = (mean - base) * 1000
            print(f"{label:<24} {mean * 1000:8.2f} {median * 1000:10.2f} {mean / base:6.2f} {overhead:12.2f}")
        await client.close()
        await provider.aclose()
        async with store.engine.begin() as conn:
            if db == "postgresql":
                await conn.exec_driver_sql(f"DROP SCHEMA {url.rsplit('=', 1)[1]} CASCADE")
        await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(bench(args.agents, args.db))


if __name__ == "__main__":
    main()
