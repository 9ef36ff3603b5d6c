"""Background subagents driven by real agent loops: the fake model of each agent calls spawn_subagent,
subagent_status, subagent_result and cancel_subagent; every task is checked in the store."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select
from task_helpers import Arrivals, OpenTasks, first_user_text, task_ids, tool_results, user_texts

from boocode.agent.loop import AgentRuntime, AgentSpec, run_agent
from boocode.store import schema as t
from boocode.store.store import Store
from boocode.tasks.records import TaskRecords
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest, FakeToolCall


def call(name: str, **arguments: Any) -> FakeToolCall:
    return FakeToolCall(name, arguments)


def answer(results: list[str]) -> FakeReply:
    return FakeReply(text=json.dumps(results))


async def task_rows(store: Store) -> list[dict[str, Any]]:
    async with store.reading() as conn:
        rows = await conn.execute(select(t.tasks).order_by(t.tasks.c.created_at, t.tasks.c.id))
        return [dict(r) for r in rows.mappings()]


async def session(runtime: AgentRuntime, session_id: str) -> dict[str, Any]:
    row = await runtime.store.get_session(session_id)
    assert row is not None
    return dict(row)


async def test_spawn_several_poll_and_collect(open_tasks: OpenTasks, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        if first_user_text(r) != "PARENT":
            return FakeReply(text="done: " + first_user_text(r))
        results = tool_results(r)
        ids = task_ids(*results[:3])
        if not results:
            return FakeReply(
                tool_calls=[
                    call("spawn_subagent", prompt=f"child {n}", label=n) for n in ("one", "two", "three")
                ]
            )
        if len(results) == 3:
            return FakeReply(tool_calls=[call("subagent_status", id="all")])
        if len(results) == 4:
            return FakeReply(tool_calls=[call("subagent_result", id=i, wait_seconds=30) for i in ids])
        return answer(results)

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        assert result.status == "completed", result.error
        outputs = json.loads(result.output)
        spawned, status, collected = outputs[:3], outputs[3], outputs[4:]
        assert all("started in the background" in s for s in spawned)
        ids = task_ids(*spawned)
        assert len(set(ids)) == 3
        assert all(i in status for i in ids) and "[two]" in status
        assert collected == ["done: child one", "done: child two", "done: child three"]

        rows = await task_rows(runtime.store)
        assert {r["id"] for r in rows} == set(ids)
        for row in rows:
            assert (row["kind"], row["status"], row["depth"]) == ("agent", "completed", 1)
            assert row["parent_session_id"] == result.session_id
            assert row["result"] == "done: " + row["prompt"]
            assert row["turns"] == 1 and row["usage"]["output_tokens"] > 0
            assert row["notified_at"] is not None  # collected: the parent knows
            child = await session(runtime, row["session_id"])
            assert (child["parent_session_id"], child["status"]) == (result.session_id, "completed")


async def test_still_running_then_cancelled(open_tasks: OpenTasks, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        if first_user_text(r) == "slow child":
            return FakeReply(text="too late", delay=60)
        results = tool_results(r)
        if not results:
            return FakeReply(tool_calls=[call("spawn_subagent", prompt="slow child")])
        task_id = task_ids(results[0])[0]
        steps = [
            call("subagent_result", id=task_id, wait_seconds=0.05),
            call("subagent_status", id="task_0000000000"),
            call("cancel_subagent", id=task_id),
            call("subagent_status", id=task_id),
        ]
        if len(results) <= len(steps):
            return FakeReply(tool_calls=[steps[len(results) - 1]])
        return answer(results)

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        _, waited, unknown, cancelled, status = json.loads(result.output)
        [row] = await task_rows(runtime.store)
        assert f"{row['id']} is still running after waiting 0.05 s" in waited
        assert f"no task 'task_0000000000' among the ones you started (yours: {row['id']})" in unknown
        assert (
            f"{row['id']} [slow child] cancelled" in cancelled
            and "cancelled by its parent agent" in cancelled
        )
        assert "cancelled" in status
        assert (row["status"], row["error"]) == ("cancelled", "cancelled by its parent agent")
        assert row["notified_at"] is not None and row["finished_at"] is not None
        child = await session(runtime, row["session_id"])
        assert child["status"] == "cancelled"
        [call_row] = await runtime.store.inference_calls(row["session_id"])
        assert call_row["status"] == "cancelled"
        assert not any("<task-notification>" in u for r in fake.requests for u in user_texts(r))


async def test_depth_limit(open_tasks: OpenTasks, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        results = tool_results(r)
        prompt = first_user_text(r)
        if prompt == "PARENT" and not results:
            return FakeReply(tool_calls=[call("spawn_subagent", prompt="child that spawns")])
        if prompt == "PARENT" and len(results) == 1:
            task_id = task_ids(results[0])[0]
            return FakeReply(tool_calls=[call("subagent_result", id=task_id)])
        if prompt == "child that spawns" and not results:
            return FakeReply(tool_calls=[call("spawn_subagent", prompt="grandchild")])
        return FakeReply(text=results[-1])

    fake.responder = responder
    async with open_tasks(subagent_depth=1) as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        assert "nesting depth limit reached (this agent is at depth 1, the limit is 1" in result.output
        assert "BOOCODE_SUBAGENT_DEPTH" in result.output
        [row] = await task_rows(runtime.store)
        assert row["prompt"] == "child that spawns" and row["status"] == "completed"
        assert fake.count("grandchild") == 0


async def test_per_parent_limit_counts_calls_made_together(
    open_tasks: OpenTasks, fake: FakeLLMServer
) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        if first_user_text(r) != "PARENT":
            return FakeReply(text="late", delay=60)
        results = tool_results(r)
        if not results:
            return FakeReply(tool_calls=[call("spawn_subagent", prompt=f"held {i}") for i in range(3)])
        return answer(results)

    fake.responder = responder
    async with open_tasks(subagents_per_parent=2) as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        outcomes = json.loads(result.output)
        refused = [o for o in outcomes if "cannot start" in o]
        assert len(refused) == 1
        assert "2 of yours are still running (limit 2: BOOCODE_SUBAGENTS_PER_PARENT)" in refused[0]
        rows = await task_rows(runtime.store)
        assert len(rows) == 2
        # The parent finished: the tasks it left running (not detached) were cancelled with it.
        assert {(r["status"], r["error"]) for r in rows} == {
            ("cancelled", "cancelled: its parent agent finished")
        }


async def test_total_limit_per_top_level_agent(open_tasks: OpenTasks, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        if first_user_text(r) != "PARENT":
            return FakeReply(text="done")
        results = tool_results(r)
        if len(results) < 3:
            return FakeReply(tool_calls=[call("spawn_subagent", prompt=f"child {len(results)}")])
        return answer(results)

    fake.responder = responder
    async with open_tasks(subagents_total=2) as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        first, second, third = json.loads(result.output)
        assert "started in the background" in first and "started in the background" in second
        assert "2 were started under this top-level agent (limit 2: BOOCODE_SUBAGENTS_TOTAL)" in third
        assert len(await task_rows(runtime.store)) == 2


async def test_cancelling_an_agent_cancels_its_subagents_down_the_tree(
    open_tasks: OpenTasks, fake: FakeLLMServer
) -> None:
    arrived = Arrivals()

    def responder(r: FakeRequest) -> FakeReply:
        prompt, results = first_user_text(r), tool_results(r)
        arrived(prompt).set()
        if prompt == "grandchild":
            return FakeReply(text="never", delay=60)
        if not results:
            below = {"PARENT": "child", "child": "grandchild"}[prompt]
            return FakeReply(tool_calls=[call("spawn_subagent", prompt=below)])
        task_id = task_ids(results[0])[0]
        return FakeReply(tool_calls=[call("subagent_result", id=task_id, wait_seconds=100)])

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        parent = asyncio.create_task(run_agent(AgentSpec("PARENT"), runtime))
        assert await asyncio.to_thread(arrived("grandchild").wait, 30)
        parent.cancel()
        with pytest.raises(asyncio.CancelledError):
            await parent
        child, grandchild = await task_rows(runtime.store)
        assert (child["prompt"], grandchild["prompt"]) == ("child", "grandchild")
        assert grandchild["parent_session_id"] == child["session_id"]
        assert (child["depth"], grandchild["depth"]) == (1, 2)
        for row in (child, grandchild):
            assert (row["status"], row["error"]) == ("cancelled", "cancelled: its parent agent finished")
            assert (await session(runtime, row["session_id"]))["status"] == "cancelled"
        [held] = await runtime.store.inference_calls(grandchild["session_id"])
        assert held["status"] == "cancelled"
        sessions = await runtime.store.list_sessions()
        assert {s["status"] for s in sessions} == {"cancelled"} and len(sessions) == 3


async def test_only_detached_tasks_outlive_their_parent(
    open_tasks: OpenTasks, fake: FakeLLMServer, store: Store
) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        if first_user_text(r) != "PARENT":
            return FakeReply(text="late", delay=60)
        if not tool_results(r):
            return FakeReply(
                tool_calls=[
                    call("spawn_subagent", prompt="attached", label="attached"),
                    call("spawn_subagent", prompt="detached", label="detached", detached=True),
                ]
            )
        return FakeReply(text="finished")

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        assert result.output == "finished"
        rows = {r["label"]: r for r in await task_rows(store)}
        assert rows["attached"]["status"] == "cancelled"
        assert (rows["detached"]["status"], rows["detached"]["detached"]) == ("running", True)
        detached_id = rows["detached"]["id"]
    # Closing the runtime interrupts what still runs: recorded, never lost, and it can be re-run.
    row = await TaskRecords(store).get(detached_id)
    assert row is not None and row["status"] == "interrupted"
    assert row["error"] == "interrupted: the runtime closed before it finished"


async def test_an_ended_subagent_is_noted_once_in_the_next_turn(
    open_tasks: OpenTasks, fake: FakeLLMServer
) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        results = tool_results(r)
        if first_user_text(r) != "PARENT":  # the child cannot end before the parent opens its gate
            return (
                FakeReply(text="the answer is 42")
                if results
                else FakeReply(tool_calls=[call("gate", id="g")])
            )
        if not results:
            return FakeReply(tool_calls=[call("spawn_subagent", prompt="quick child", label="quick")])
        if len(results) == 1:
            task_id = task_ids(results[0])[0]
            return FakeReply(tool_calls=[call("open_gate", id="g"), call("hold", id=task_id)])
        if len(results) == 3:
            return FakeReply(tool_calls=[call("list_files")])
        return FakeReply(text="ok")

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        assert result.output == "ok"
        [row] = await task_rows(runtime.store)
        parents = [r for r in fake.requests if first_user_text(r) == "PARENT"]
        notes = [[u for u in user_texts(r) if "<task-notification>" in u] for r in parents]
        # Not before it ended; from the turn after `hold`, exactly one note in the conversation.
        assert [len(n) for n in notes] == [0, 0, 1, 1]
        note = notes[2][0]
        assert f"<task-id>{row['id']}</task-id>" in note and "<status>completed</status>" in note
        assert '<summary>Subagent "quick" completed</summary>' in note
        assert "<result>the answer is 42</result>" in note
        assert row["notified_at"] is not None
        transcript = await runtime.store.transcript(result.session_id)
        assert transcript is not None
        stored = [m for m in transcript.chats[0][1] if "<task-notification>" in m.text]
        assert len(stored) == 1 and stored[0].role == "user"


async def test_a_collected_result_is_not_noted_again(open_tasks: OpenTasks, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        results = tool_results(r)
        if first_user_text(r) != "PARENT":  # the child cannot end before the parent opens its gate
            return FakeReply(text="child result") if results else FakeReply(tool_calls=[call("gate", id="g")])
        if not results:
            return FakeReply(tool_calls=[call("spawn_subagent", prompt="quick child")])
        if len(results) == 1:
            task_id = task_ids(results[0])[0]
            return FakeReply(tool_calls=[call("open_gate", id="g"), call("subagent_result", id=task_id)])
        if len(results) == 3:
            return FakeReply(tool_calls=[call("list_files")])
        return answer(results)

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        assert json.loads(result.output)[2] == "child result"
        assert not any("<task-notification>" in u for r in fake.requests for u in user_texts(r))
        [row] = await task_rows(runtime.store)
        assert row["notified_at"] is not None


async def test_claiming_a_note_twice_gives_it_once(open_tasks: OpenTasks, fake: FakeLLMServer) -> None:
    def responder(r: FakeRequest) -> FakeReply:
        if first_user_text(r) != "PARENT":
            return FakeReply(text="x")
        if not tool_results(r):
            return FakeReply(tool_calls=[call("spawn_subagent", prompt="child", detached=True)])
        return FakeReply(text="done")

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        await run_agent(AgentSpec("PARENT"), runtime)
        [row] = await task_rows(runtime.store)
        records = TaskRecords(runtime.store)
        first, second = await asyncio.gather(
            records.claim_notes([row["id"]]), records.claim_notes([row["id"]])
        )
        assert sorted([first, second], key=len) == [set(), {row["id"]}]


async def test_a_subagent_with_an_agent_type_and_a_schema(
    open_tasks: OpenTasks, fake: FakeLLMServer, project: Any
) -> None:
    agents = project / ".boocode" / "agents"
    agents.mkdir(parents=True)
    (agents / "counter.md").write_text("---\nname: counter\ntools: Read\n---\nYou count things.\n")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    def responder(r: FakeRequest) -> FakeReply:
        if first_user_text(r) == "count":
            assert r.tools == ["read_file"] and "You count things." in r.system
            return FakeReply(text=json.dumps({"n": 3}))
        results = tool_results(r)
        if not results:
            return FakeReply(
                tool_calls=[
                    call("spawn_subagent", prompt="count", agent_type="counter", schema=schema),
                    call("spawn_subagent", prompt="x", agent_type="nobody"),
                    call("spawn_subagent", prompt="x", schema={"type": "object", "required": ["a"], **NO_A}),
                ]
            )
        if len(results) == 3:
            return FakeReply(tool_calls=[call("subagent_result", id=task_ids(results[0])[0])])
        return answer(results)

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        _, unknown, contradictory, collected = json.loads(result.output)
        assert "unknown agentType 'nobody'" in unknown
        assert "contradictory" in contradictory
        assert json.loads(collected) == {"n": 3}
        [row] = await task_rows(runtime.store)
        assert (row["agent_type"], row["json_schema"], row["result"]) == ("counter", schema, {"n": 3})


NO_A = {"properties": {}, "additionalProperties": False}
