"""Durable runs: `boocode resume` (content and prefix modes, edited scripts, new args, nested workflows),
`boocode stop` from another process, refusal while a run is owned, and the same from Python; what a resumed
run counts (attempts per call, usage over all attempts). The fake server counts requests per prompt, so
"served from the journal" means "never sent again"."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from resume_helpers import Replies, read_run_id, write
from sqlalchemy import update

from boocode.api import resume_workflow, run_workflow, stop_workflow
from boocode.config import Settings, load_settings
from boocode.errors import InputError
from boocode.store import schema as t
from boocode.store.runs import RunRecords
from boocode.store.store import opened_store, utcnow
from boocode.testing.cli import boocode, json_out, spawn
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest, FakeUsage
from boocode.workflow.events import RunEvent

ABCD = "const out = []\nfor (const p of ['A', 'B', 'C', 'D']) out.push(await agent(p))\nreturn out"
DONE = ["done: A", "done: B", "done: C", "done: D"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".boocode" / "workflows").mkdir(parents=True)
    return root


@pytest.fixture
def replies(server: FakeLLMServer, env: dict[str, str]) -> Replies:
    """The fake server's responder for this test (after `env` has reset the server)."""
    server.responder = counting = Replies()
    return counting


@pytest.fixture
def settings(tmp_path: Path, db_url: str, server: FakeLLMServer, replies: Replies) -> Settings:
    """Settings for runs in this process against the fake server."""
    env = {
        "BOOCODE_HOME": str(tmp_path / "home"),
        "BOOCODE_DB_URL": db_url,
        "BOOCODE_PROVIDER": "openai",
        "BOOCODE_BASE_URL": server.openai_base_url,
        "BOOCODE_MODEL": "fake-model",
        "OPENAI_API_KEY": "sk-test",
        "BOOCODE_MAX_RETRIES": "0",
    }
    return load_settings(env=env)


class Metered(Replies):
    """Replies reporting a fixed usage for each prompt."""

    def __init__(self, usage: dict[str, FakeUsage]) -> None:
        super().__init__()
        self.usage = usage

    def __call__(self, request: FakeRequest) -> FakeReply:
        return dataclasses.replace(super().__call__(request), usage=self.usage[request.last_user_text])


def script(body: str, name: str = "test") -> str:
    return f"export const meta = {{name: '{name}', description: 'test {name}'}}\n{body}"


async def agent_rows(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    async with opened_store(settings.db_url) as store:
        return [dict(a) for a in await RunRecords(store).agents(run_id)]


@pytest.mark.parametrize(("mode", "rerun"), [("content", {"B"}), ("prefix", {"B", "C", "D"})])
def test_after_b_failed_resume_reruns_b_or_b_c_d(
    env: dict[str, str], project: Path, replies: Replies, mode: str, rerun: set[str]
) -> None:
    write(project, "abcd", ABCD)
    replies.failing = {"B"}
    first = json_out(boocode(env, project, "run", "abcd", "--json"))
    assert first["result"] == ["done: A", None, "done: C", "done: D"]
    assert [f["label"] for f in first["failures"]] == ["B"]

    replies.failing.clear()
    before = replies.snapshot()
    done = boocode(env, project, "resume", first["run_id"], "--mode", mode, "--json")
    out = json_out(done)
    assert (out["run_id"], out["status"], out["result"], out["failures"]) == (
        first["run_id"],
        "completed",
        DONE,
        [],
    )
    assert set(replies.since(before)) == rerun and sum(replies.since(before).values()) == len(rerun)
    assert out["usage"]["agent_count"] == 4  # the run's, over both attempts
    assert out["usage"]["cached_agents"] == 4 - len(rerun)
    for label in "ABCD":
        shown = "completed (" if label in rerun else "cached (result from the journal)"
        assert f"boocode: {label}: {shown}" in done.stderr

    shown = json_out(boocode(env, project, "runs", "show", first["run_id"], "--json"))
    assert shown["status"] == "completed" and shown["resume_count"] == 1
    agents = {a["label"]: a for a in shown["agents"]}
    assert len(shown["agents"]) == 4  # one journal row per call, however often it ran
    for label, agent in agents.items():
        assert agent["status"] == "completed"
        assert agent["cached"] is (label not in rerun)
        assert agent["attempts"] == (2 if label in rerun else 1)
    text = boocode(env, project, "runs", "show", first["run_id"]).stdout
    assert "A  completed (cached)" in text and "B  completed  " in text


def test_edited_script_reruns_only_the_changed_call(
    env: dict[str, str], project: Path, replies: Replies
) -> None:
    body = "return await parallel(['one', 'two', 'three', 'four'].map((p) => () => agent(p)))"
    path = write(project, "fan", body)
    first = json_out(boocode(env, project, "run", "fan", "--json"))
    run_id = first["run_id"]
    edited = write(project, "fan-edited", body.replace("'two'", "'TWO'"))

    before = replies.snapshot()
    out = json_out(boocode(env, project, "resume", run_id, "--script", str(edited), "--json"))
    assert out["result"] == ["done: one", "done: TWO", "done: three", "done: four"]
    assert replies.since(before) == {"TWO": 1}

    # the edited script is now the run's own: resuming again runs it, all from the journal
    path.unlink()
    before = replies.snapshot()
    again = json_out(boocode(env, project, "resume", run_id, "--json"))
    assert again["result"] == out["result"] and replies.since(before) == {}
    shown = json_out(boocode(env, project, "runs", "show", run_id, "--json"))
    assert shown["name"] == "fan-edited"
    # the old call stays in the journal, after the calls of the latest attempt
    assert [a["label"] for a in shown["agents"]] == ["one", "TWO", "three", "four", "two"]


async def test_identical_calls_stay_distinct_by_occurrence(
    settings: Settings, project: Path, replies: Replies
) -> None:
    calls = 0

    def fail_the_second(prompt: str) -> None:
        nonlocal calls
        calls += 1
        replies.failing = {"same"} if calls == 2 else set()

    replies.on_request = fail_the_second
    body = "const xs = []\nfor (let i = 0; i < 3; i++) xs.push(await agent('same'))\nreturn xs"
    first = await run_workflow(script=script(body), settings=settings, project=project)
    assert first.result == ["done: same", None, "done: same"]

    replies.on_request = None
    replies.failing = set()
    before = replies.snapshot()
    second = await resume_workflow(first.run_id, settings=settings)
    assert second.result == ["done: same"] * 3
    assert replies.since(before) == {"same": 1}
    rows = sorted(await agent_rows(settings, first.run_id), key=lambda a: a["occurrence"])
    assert [(a["occurrence"], a["attempts"], a["cached"]) for a in rows] == [
        (0, 1, True),
        (1, 2, False),
        (2, 1, True),
    ]
    assert len({a["key"] for a in rows}) == 1


async def test_nested_workflows_resume_in_their_own_runs(
    settings: Settings, project: Path, replies: Replies
) -> None:
    write(
        project, "child", "return await parallel(['a', 'b'].map((s) => () => agent(`child ${args.x} ${s}`)))"
    )
    body = "const one = await workflow('child', {x: 1})\nreturn {one, two: await workflow('child', {x: 2})}"
    replies.failing = {"child 2 b"}
    first = await run_workflow(script=script(body), settings=settings, project=project)
    assert first.result == {"one": ["done: child 1 a", "done: child 1 b"], "two": ["done: child 2 a", None]}

    replies.failing = set()
    before = replies.snapshot()
    events: list[RunEvent] = []
    second = await resume_workflow(first.run_id, settings=settings, on_event=events.append)
    assert second.result == {
        "one": ["done: child 1 a", "done: child 1 b"],
        "two": ["done: child 2 a", "done: child 2 b"],
    }
    assert replies.since(before) == {"child 2 b": 1}
    cached = [e.data["label"] for e in events if e.kind == "agent_finished" and e.data.get("cached")]
    assert sorted(cached) == ["child 1 a", "child 1 b", "child 2 a"]
    async with opened_store(settings.db_url) as store, store.engine.connect() as conn:
        children = (
            await conn.execute(t.runs.select().where(t.runs.c.parent_run_id == first.run_id))
        ).mappings()
        statuses = sorted((c["call_occurrence"], c["status"]) for c in children)
    assert statuses == [(0, "completed"), (0, "completed")]  # two calls with different args, reused


def test_resume_with_new_args(env: dict[str, str], project: Path, replies: Replies) -> None:
    write(project, "look", "return await parallel(args.map((x) => () => agent('look at ' + x)))")
    first = json_out(boocode(env, project, "run", "look", "--args", '["a", "b"]', "--json"))
    before = replies.snapshot()
    out = json_out(boocode(env, project, "resume", first["run_id"], "--args", '["a", "c"]', "--json"))
    assert out["result"] == ["done: look at a", "done: look at c"]
    assert replies.since(before) == {"look at c": 1}
    shown = json_out(boocode(env, project, "runs", "show", first["run_id"], "--json"))
    assert shown["args"] == ["a", "c"]


def test_stop_from_a_second_process(env: dict[str, str], project: Path, replies: Replies) -> None:
    env = {**env, "BOOCODE_RUN_LEASE_SECONDS": "3"}
    write(
        project,
        "slow",
        "const fast = await agent('fast')\n"
        "return [fast, ...await parallel([1, 2].map((i) => () => agent('slow ' + i)))]",
    )
    replies.held = {"slow 1", "slow 2"}
    owner = spawn(env, project, "run", "slow", "--json")
    run_id = read_run_id(owner)
    assert replies.arrived("slow 1").wait(60) and replies.arrived("slow 2").wait(60)

    stopped = boocode(env, project, "stop", run_id)
    assert stopped.returncode == 0 and f"run {run_id} stopped" in stopped.stderr, stopped.stderr
    out, err = owner.communicate(timeout=60)
    assert owner.returncode == 130, err
    result = json.loads(out)
    assert (result["status"], result["failures"]) == ("stopped", [])
    shown = json_out(boocode(env, project, "runs", "show", run_id, "--json"))
    assert shown["status"] == "stopped"
    assert {a["label"]: a["status"] for a in shown["agents"]} == {
        "fast": "completed",
        "slow 1": "interrupted",
        "slow 2": "interrupted",
    }
    again = boocode(env, project, "stop", run_id)
    assert again.returncode == 1 and "not running" in again.stderr

    replies.held = set()
    before = replies.snapshot()
    resumed = json_out(boocode(env, project, "resume", run_id, "--json"))
    assert resumed["result"] == ["done: fast", "done: slow 1", "done: slow 2"]
    assert replies.since(before) == {"slow 1": 1, "slow 2": 1}


def test_an_agent_interrupted_while_queued_did_not_attempt(
    env: dict[str, str], project: Path, replies: Replies
) -> None:
    env = {**env, "BOOCODE_RUN_LEASE_SECONDS": "3", "BOOCODE_MAX_CONCURRENT_AGENTS": "1"}
    write(project, "queue", "return await parallel(['one', 'two'].map((p) => () => agent(p)))")
    replies.held = {"one", "two"}  # whichever starts holds the only slot: the other stays queued
    started = threading.Event()
    replies.on_request = lambda prompt: started.set()
    owner = spawn(env, project, "run", "queue", "--json")
    run_id = read_run_id(owner)
    assert started.wait(60)
    assert boocode(env, project, "stop", run_id).returncode == 0
    owner.communicate(timeout=60)
    [ran] = replies.counts
    [queued] = {"one", "two"} - {ran}
    shown = json_out(boocode(env, project, "runs", "show", run_id, "--json"))
    assert {a["label"]: (a["status"], a["attempts"]) for a in shown["agents"]} == {
        ran: ("interrupted", 1),
        queued: ("interrupted", 0),
    }

    replies.held = set()
    assert json_out(boocode(env, project, "resume", run_id, "--json"))["status"] == "completed"
    shown = json_out(boocode(env, project, "runs", "show", run_id, "--json"))
    assert {a["label"]: (a["status"], a["attempts"]) for a in shown["agents"]} == {
        ran: ("completed", 2),
        queued: ("completed", 1),
    }
    lines = boocode(env, project, "runs", "show", run_id).stdout.splitlines()
    assert [line for line in lines if "attempts" in line] == [
        line for line in lines if f" {ran}  completed  " in line
    ]


def test_a_resumed_run_totals_the_usage_of_every_attempt(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    server.responder = replies = Metered(
        {
            "A": FakeUsage(input=1000, output=100, cached=600),
            "B": FakeUsage(input=2000, output=200, cached=0),
            "C": FakeUsage(input=4000, output=400, cached=3000),
        }
    )
    write(project, "abc", "return [await agent('A'), await agent('B'), await agent('C')]")
    replies.held = {"C"}
    owner = spawn(env, project, "run", "abc", "--json")
    run_id = read_run_id(owner)
    assert replies.arrived("C").wait(60)
    owner.kill()  # SIGKILL after A and B completed, while C runs
    owner.communicate(timeout=60)

    replies.held = set()
    before = replies.snapshot()
    out = json_out(boocode(env, project, "resume", run_id, "--json"))
    assert out["result"] == ["done: A", "done: B", "done: C"]
    assert replies.since(before) == {"C": 1} and replies.counts == {"A": 1, "B": 1, "C": 2}
    # A and B spent their tokens in the killed attempt, C in the resumed one (its killed request: none)
    assert out["usage"] == {
        "agent_count": 3,
        "input_tokens": 7000,
        "output_tokens": 700,
        "cache_read_tokens": 3600,
        "tool_uses": 0,
        "cached_agents": 2,
        "duration_ms": out["usage"]["duration_ms"],
    }
    shown = json_out(boocode(env, project, "runs", "show", run_id, "--json"))
    for name in ("input_tokens", "output_tokens", "cache_read_tokens"):
        assert sum(a[name] for a in shown["agents"]) == out["usage"][name]


async def test_stop_and_resume_from_python(settings: Settings, project: Path, replies: Replies) -> None:
    settings = dataclasses.replace(settings, run_lease_seconds=0.6)
    replies.held = {"second"}
    body = "return [await agent('first'), await agent('second')]"
    running = asyncio.create_task(run_workflow(script=script(body), settings=settings, project=project))
    assert await asyncio.to_thread(replies.arrived("second").wait, 60)
    async with opened_store(settings.db_url) as store:
        [listed] = await RunRecords(store).list_runs()
    assert await stop_workflow(listed["id"], settings=settings) == "stopped"
    stopped = await running
    assert (stopped.run_id, stopped.status, stopped.failures) == (listed["id"], "stopped", [])
    assert [a["status"] for a in await agent_rows(settings, stopped.run_id)] == ["completed", "interrupted"]

    replies.held = set()
    before = replies.snapshot()
    resumed = await resume_workflow(stopped.run_id, settings=settings)
    assert resumed.result == ["done: first", "done: second"]
    assert replies.since(before) == {"second": 1}


def test_resume_is_refused_while_the_owner_lives(
    env: dict[str, str], project: Path, replies: Replies
) -> None:
    write(project, "held", "return [await agent('quick'), await agent('slow')]")
    replies.held = {"slow"}
    owner = spawn(env, project, "run", "held", "--json")
    run_id = read_run_id(owner)
    assert replies.arrived("slow").wait(60)

    refused = boocode(env, project, "resume", run_id)
    assert refused.returncode == 1 and "still running in another process" in refused.stderr
    owner.kill()  # SIGKILL: the owner dies holding its lease
    owner.communicate(timeout=60)

    replies.held = set()
    before = replies.snapshot()
    out = json_out(boocode(env, project, "resume", run_id, "--json"))  # a dead local owner need not expire
    assert out["result"] == ["done: quick", "done: slow"]
    assert replies.since(before) == {"slow": 1}


async def test_an_orphaned_run_shows_interrupted_once_its_lease_expired(
    env: dict[str, str], project: Path, replies: Replies
) -> None:
    write(project, "two", "return [await agent('first'), await agent('second')]")
    first = json_out(boocode(env, project, "run", "two", "--json"))
    run_id = first["run_id"]
    # as a process on another machine leaves a run it died in: running, its lease over, an agent unfinished
    async with opened_store(env["BOOCODE_DB_URL"]) as store, store.writing() as conn:
        expired = utcnow() - timedelta(seconds=1)
        owner = "elsewhere:1:42:abc"
        await conn.execute(
            update(t.runs)
            .where(t.runs.c.id == run_id)
            .values(status="running", owner=owner, lease_expires_at=expired)
        )
        await conn.execute(
            update(t.run_agents)
            .where(t.run_agents.c.run_id == run_id, t.run_agents.c.label == "second")
            .values(status="running", result=None)
        )

    listed = boocode(env, project, "runs").stdout
    assert f"{run_id}" in listed and "interrupted" in listed and "resumable" in listed
    shown = json_out(boocode(env, project, "runs", "show", run_id, "--json"))
    assert shown["status"] == "interrupted"
    assert [a["status"] for a in shown["agents"]] == ["completed", "interrupted"]

    before = replies.snapshot()
    out = json_out(boocode(env, project, "resume", run_id, "--json"))
    assert out["result"] == ["done: first", "done: second"]
    assert replies.since(before) == {"second": 1}


async def test_unknown_run_and_bad_input_change_nothing(
    env: dict[str, str], project: Path, settings: Settings
) -> None:
    for command in ("resume", "stop"):
        done = boocode(env, project, command, "wf_00000000-000")
        assert done.returncode == 2, done.stderr
    assert "nothing to resume" in boocode(env, project, "resume", "wf_00000000-000").stderr
    with pytest.raises(InputError, match="nothing to resume"):
        await resume_workflow("wf_00000000-000", settings=settings)

    write(project, "hello", "return await agent('hi')")
    run_id = json_out(boocode(env, project, "run", "hello", "--json"))["run_id"]
    (project / "broken.js").write_text(
        "export const meta = {name: 'b', description: 'b'}\nconst x: number = 1"
    )
    for args, message in (
        (["--args", "{nope"], "--args: not valid JSON"),
        (["--script", "broken.js"], "broken.js:2"),
        (["--script", "missing.js"], "cannot read workflow script"),
        (["--mode", "sideways"], "Invalid value for '--mode'"),
    ):
        done = boocode(env, project, "resume", run_id, *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    shown = json_out(boocode(env, project, "runs", "show", run_id, "--json"))
    assert (shown["status"], shown["resume_count"]) == ("completed", 0)
    done = boocode(env, project, "stop", run_id)
    assert done.returncode == 1 and "not running (it is completed)" in done.stderr
