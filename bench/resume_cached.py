"""A fully cached resume of a 1000-agent run: every `agent()` call is served from the journal.

Runs a 1000-agent `parallel()` fan-out once against a fake server (in its own process), then resumes it in
content mode and in prefix mode. Reports the engine time of each resume (`WorkflowRunner.resume`: claim,
journal load, script re-execution, cached answers, finish; no process start-up) and checks that no request
reached the server. Goal: under 1 s. Measured (2 shared cores): SQLite 0.07-0.08 s, PostgreSQL 0.16-0.19 s.

    .venv/bin/python bench/resume_cached.py [--agents 1000] [--db sqlite|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from boocode.agent.loop import AgentRuntime
from boocode.config import load_settings
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.retry import RetryPolicy
from boocode.store.store import open_store
from boocode.workflow.manager import WorkflowRunner
from boocode.workflow.script import load_script

SERVER = """
import sys
from boocode.testing.fake_llm import FakeLLMServer, default_responder
count = 0
def responder(request):
    global count
    count += 1
    return default_responder(request)
with FakeLLMServer(responder) as s:
    print(s.openai_base_url, flush=True)
    for line in sys.stdin:
        print(count, flush=True)
"""

SCRIPT = """export const meta = {name: 'fanout', description: 'bench'}
phase('Fan out')
const tasks = Array.from({length: args.n}, (_, i) => () => agent('task ' + i, {label: 't' + i}))
const results = await parallel(tasks)
return results.filter(Boolean).length
"""


def requests_so_far(server: subprocess.Popen[str]) -> int:
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write("\n")
    server.stdin.flush()
    return int(server.stdout.readline())


async def main(n: int, db: str, server: subprocess.Popen[str], base_url: str, tmp: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}" if db == "sqlite" else db
    store = await open_store(url)
    settings = dataclasses.replace(load_settings(env={"BOOCODE_HOME": str(tmp)}), db_url=url)
    provider = OpenAIProvider(base_url, "k", "fake-model")
    runtime = AgentRuntime(
        settings, store, provider, tmp, await store.ensure_project(tmp), retry=RetryPolicy(0)
    )
    script = load_script(SCRIPT, "fanout.js")
    start = time.perf_counter()
    first = await WorkflowRunner(runtime).run(script, args={"n": n})
    live = time.perf_counter() - start
    assert first.status == "completed" and first.result == n, (first.status, first.error)
    sent = requests_so_far(server)
    print(f"{n}-agent run, live: {live:.2f} s ({sent} requests)")
    for mode in ("content", "prefix"):
        start = time.perf_counter()
        again = await WorkflowRunner(runtime).resume(first.run_id, mode=mode)
        elapsed = time.perf_counter() - start
        assert again.status == "completed" and again.result == n, (again.status, again.error)
        assert again.usage["cached_agents"] == n and requests_so_far(server) == sent
        print(f"fully cached resume ({mode:7}): {elapsed:.3f} s engine time, 0 requests")
    await provider.aclose()
    await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a PostgreSQL URL")
    ns = parser.parse_args()
    fake = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert fake.stdout is not None
    try:
        with tempfile.TemporaryDirectory() as directory:
            asyncio.run(main(ns.agents, ns.db, fake, fake.stdout.readline().strip(), Path(directory)))
    finally:
        fake.terminate()
        fake.wait()
