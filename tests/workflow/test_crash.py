"""Crash safety: a real `boocode run` of a 30-agent workflow is killed with SIGKILL at 20 random moments and
resumed each time. Moments are defined by progress, not time: the k-th request reaching the fake server (the
kill happens while that request is in flight) or the n-th progress line on stderr. Kills come in chains
(run, kill, resume, kill, ... resume to the end), so processes that are themselves resuming get killed too.

After every kill the database says which calls had completed; the next process must not send any of them
to the provider again (with no retries, each call a process runs live is one request), no call may get a
second journal row, and every chain must end with exactly the result of an uninterrupted run."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path

from resume_helpers import Replies, read_run_id, write
from sqlalchemy import func, or_, select

from boocode.store import schema as t
from boocode.store.store import opened_store
from boocode.testing.cli import boocode, json_out, spawn
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest

CHAINS, KILLS_PER_CHAIN = 5, 4
AGENTS = 30
SCRIPT = """
phase('Scan')
const scans = Array.from({length: 10}, (_, i) => () => agent(`scan part ${i}`, {label: `scan ${i}`}))
const parts = await parallel(scans)
phase('Check')
const checked = await pipeline(
  parts.slice(0, 6),
  (found) => agent(`check: ${found}`),
  (verdict, found, i) => agent(`grade ${i}: ${verdict}`),
)
phase('Finish')
const same = await parallel([0, 1, 2].map(() => () => agent('repeat me')))
const pair = await workflow('pair', {topic: parts[9]})
const more = []
for (let i = 0; i < 2; i++) more.push(await agent(`follow up ${i} on ${pair[i]}`))
const summary = await agent(`summarise ${checked.length} checks, ${same.length} repeats: ${more.join(' | ')}`)
return {parts, checked, same, pair, more, summary}
"""
PAIR = "return await parallel(['left', 'right'].map((side) => () => agent(`pair ${args.topic} ${side}`)))"


class SlowReplies(Replies):
    """Replies after a short pause, so a kill finds several agents in flight."""

    def __call__(self, request: FakeRequest) -> FakeReply:
        reply = super().__call__(request)
        return FakeReply(text=reply.text, delay=0.02)


async def _journal(db_url: str, run_id: str) -> tuple[Counter[str], int]:
    """Completed calls per prompt in the run and its nested runs, and how many journal rows they have."""
    agents, runs = t.run_agents.c, t.runs.c
    tree = select(runs.id).where(or_(runs.id == run_id, runs.parent_run_id == run_id))
    async with opened_store(db_url) as store, store.engine.connect() as conn:
        done = await conn.execute(
            select(agents.prompt).where(agents.run_id.in_(tree), agents.status == "completed")
        )
        completed = Counter(done.scalars())
        rows = (await conn.execute(select(func.count()).where(agents.run_id.in_(tree)))).scalar_one()
    return completed, rows


def _kill_at_random_moment(
    proc: subprocess.Popen[str], replies: Replies, rng: random.Random, completed: int
) -> None:
    """SIGKILL `proc` when its k-th request arrives, or after its n-th progress line."""
    assert proc.stderr is not None
    live = (
        AGENTS - completed
    )  # each is requested by this process; each completed one is served from the journal
    if live and rng.random() < 0.5:
        left = rng.randint(1, live)

        def kill_on_arrival(prompt: str) -> None:
            nonlocal left
            left -= 1
            if left == 0:
                os.kill(proc.pid, signal.SIGKILL)

        replies.on_request = kill_on_arrival
    else:
        # lines that come before the run can end: its start, one per served agent, two per live agent
        for _ in range(rng.randint(1, 1 + completed + 2 * live)):
            assert proc.stderr.readline(), "the process ended before the chosen moment"
        proc.kill()
    proc.communicate(timeout=120)
    replies.on_request = None
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_at_20_random_moments_loses_no_completed_agent(
    env: dict[str, str], tmp_path: Path, server: FakeLLMServer
) -> None:
    project = tmp_path / "project"
    write(project, "crash", SCRIPT)
    write(project, "pair", PAIR)
    env = {**env, "BOOCODE_MAX_CONCURRENT_AGENTS": "4", "BOOCODE_PREFIX_STAGGER_MS": "0"}
    server.responder = replies = SlowReplies()
    db_url = env["BOOCODE_DB_URL"]

    uninterrupted = json_out(boocode(env, project, "run", "crash", "--json"))
    assert uninterrupted["status"] == "completed"
    calls = replies.snapshot()  # requests per prompt of a whole run = calls per prompt
    assert sum(calls.values()) == AGENTS and calls["repeat me"] == 3

    rng = random.Random(20261128)
    for _ in range(CHAINS):
        proc = spawn(env, project, "run", "crash", "--json")
        run_id = read_run_id(proc)
        completed: Counter[str] = Counter()
        before = replies.snapshot()
        for _ in range(KILLS_PER_CHAIN):
            _kill_at_random_moment(proc, replies, rng, sum(completed.values()))
            _assert_none_sent_again(replies.since(before), calls, completed)
            completed, rows = asyncio.run(_journal(db_url, run_id))
            assert rows <= AGENTS  # a call that runs again keeps its one row
            before = replies.snapshot()
            proc = spawn(env, project, "resume", run_id, "--json")
        out, err = proc.communicate(timeout=120)
        _assert_none_sent_again(replies.since(before), calls, completed)
        result = json.loads(out) if out else {"stderr": err}
        assert result["run_id"] == run_id and result["status"] == "completed", result
        assert result["result"] == uninterrupted["result"]
        assert asyncio.run(_journal(db_url, run_id)) == (calls, AGENTS)


def _assert_none_sent_again(sent: Counter[str], calls: Counter[str], completed: Counter[str]) -> None:
    """Nothing that had completed at the last kill was requested since. (A request the killed process sent
    just before it died may still reach the server late, but only for a call that had not completed.)"""
    again = {prompt: n for prompt, n in sent.items() if completed[prompt] == calls[prompt]}
    assert not again, f"requested again after they had completed: {again}"
