"""The `workflow` tool driven by real agent loops: a chat agent's fake model writes a script and launches
it; the run goes on in the background; the agent is notified in Claude Code's `<task-notification>` shape;
bad input launches nothing; agents inside a workflow cannot launch workflows; a run resumes by id."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from task_helpers import OpenTasks, first_user_text, tool_results, user_texts

from boocode.agent.loop import AgentSpec, run_agent
from boocode.store import schema as t
from boocode.store.runs import RunRecords
from boocode.store.store import Store
from boocode.testing.fake_llm import FakeError, FakeLLMServer, FakeReply, FakeRequest, FakeToolCall
from boocode.tools.registry import ORCHESTRATION_TOOLS

PAIR = """export const meta = {name: 'pair', description: 'Two agents'}
const r = await parallel(args.map((a) => () => agent('wf ' + a, {label: a})))
return {r}
"""


def launched(result: str) -> dict[str, Any]:
    """The JSON the tool answered (its first paragraph)."""
    out: dict[str, Any] = json.loads(result.split("\n\n")[0])
    return out


def launcher(request: dict[str, Any], then: str = "hold") -> Any:
    """A parent that launches a workflow, then waits for it (`hold`: without collecting it, so the
    notification comes as a note; `subagent_result`: collecting it), then answers with what it saw."""

    def respond(r: FakeRequest) -> FakeReply | None:
        if first_user_text(r) != "PARENT":
            return None
        results = tool_results(r)
        if not results:
            return FakeReply(tool_calls=[FakeToolCall("workflow", request)])
        if len(results) == 1 and "error" not in launched(results[0]):
            task_id = launched(results[0])["taskId"]
            return FakeReply(tool_calls=[FakeToolCall(then, {"id": task_id})])
        return FakeReply(text=json.dumps({"results": results, "notes": user_texts(r)[1:]}))

    return respond


async def count(store: Store, table: Any) -> int:
    async with store.reading() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_launch_run_in_background_and_notify(
    open_tasks: OpenTasks, fake: FakeLLMServer, project: Path
) -> None:
    parent = launcher({"script": PAIR, "args": ["x", "y"]})

    def responder(r: FakeRequest) -> FakeReply:
        prompt = first_user_text(r)
        if prompt.startswith("wf "):
            assert "read_file" in r.tools and not ORCHESTRATION_TOOLS & set(r.tools)
            if prompt == "wf y":
                return FakeReply(error=FakeError(400, "y is broken"))
            return FakeReply(text="done: " + prompt)
        reply = parent(r)
        assert reply is not None
        return reply

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        seen = json.loads(result.output)
        out = launched(seen["results"][0])
        assert out["status"] == "async_launched" and "error" not in out
        assert re.fullmatch(r"wf_[0-9a-f]{8}-[0-9a-f]{3}", out["runId"])
        assert (out["workflowName"], out["summary"], out["taskType"]) == (
            "pair",
            "Two agents",
            "local_workflow",
        )
        script_path = Path(out["scriptPath"])
        assert script_path.name == f"pair-{out['runId']}.js" and script_path.read_text() == PAIR
        assert "call subagent_result" in seen["results"][0]  # tells the model how to wait

        [note] = seen["notes"]
        assert note.startswith("<task-notification>") and note.endswith("</task-notification>")
        assert f"<task-id>{out['taskId']}</task-id>" in note and f"<run-id>{out['runId']}</run-id>" in note
        assert "<status>completed</status>" in note
        assert '<summary>Dynamic workflow "Two agents" completed</summary>' in note
        assert '<result>{"r": ["done: wf x", null]}</result>' in note
        assert re.search(r"<failures>\[y\] failed: [^<]*y is broken[^<]*</failures>", note)
        usage = re.search(
            r"<usage><agent_count>(\d+)</agent_count><subagent_tokens>(\d+)</subagent_tokens>", note
        )
        assert usage is not None and usage.group(1) == "2" and int(usage.group(2)) > 0

        run = await RunRecords(runtime.store).get_run(out["runId"])
        assert run is not None and run["status"] == "completed" and run["script"] == PAIR
        assert run["script_path"] == str(script_path)
        async with runtime.store.reading() as conn:
            task = (await conn.execute(select(t.tasks))).mappings().one()
        assert (task["id"], task["kind"], task["status"], task["run_id"]) == (
            out["taskId"],
            "workflow",
            "completed",
            out["runId"],
        )
        assert task["result"] == {"r": ["done: wf x", None]} and task["notified_at"] is not None
        assert task["usage"]["agent_count"] == 2


BAD: list[tuple[dict[str, Any], str]] = [
    ({}, "give the workflow as script (its text), name (a saved workflow) or scriptPath"),
    ({"script": "export const meta = {name: 'x'}\nreturn 1"}, "meta.description must be a non-empty string"),
    ({"script": "export const meta = {name: 'x', description: 'd'}\nreturn ((("}, "<script>:2"),
    ({"script": "export const meta = {name: 'x', description: 'd'}\nreturn Date.now()"}, "Date.now()"),
    ({"name": "no-such-flow"}, "unknown workflow 'no-such-flow'"),
    ({"name": "flows/x.js"}, "give the file 'flows/x.js' as scriptPath"),
    ({"scriptPath": "../outside.js"}, "is outside the project"),
    ({"scriptPath": "missing.js"}, "workflow script not found: missing.js"),
    ({"script": PAIR, "resumeFromRunId": "run-1"}, "resumeFromRunId must be a run id"),
    ({"resumeFromRunId": "wf_00000000-000"}, "nothing to resume: there is no run 'wf_00000000-000'"),
]


async def test_bad_input_answers_an_error_and_runs_nothing(
    open_tasks: OpenTasks, fake: FakeLLMServer, project: Path
) -> None:
    (project.parent / "outside.js").write_text(PAIR)

    def responder(r: FakeRequest) -> FakeReply:
        results = tool_results(r)
        if not results:
            return FakeReply(tool_calls=[FakeToolCall("workflow", given) for given, _ in BAD])
        return FakeReply(text=json.dumps(results))

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        result = await run_agent(AgentSpec("PARENT"), runtime)
        outs = [launched(r) for r in json.loads(result.output)]
        for out, (given, error) in zip(outs, BAD, strict=True):
            assert out["status"] == "async_launched" and "taskId" not in out and "runId" not in out, given
            assert error in out["error"], (given, out["error"])
        assert await count(runtime.store, t.runs) == 0
        assert await count(runtime.store, t.tasks) == 0


async def test_the_depth_limit_refuses_a_workflow_too(open_tasks: OpenTasks, fake: FakeLLMServer) -> None:
    fake.responder = lambda r: (
        FakeReply(text=tool_results(r)[0])
        if tool_results(r)
        else FakeReply(tool_calls=[FakeToolCall("workflow", {"script": PAIR, "args": []})])
    )
    async with open_tasks(subagent_depth=0) as (runtime, _):
        out = launched((await run_agent(AgentSpec("PARENT"), runtime)).output)
        assert (out["status"], out["workflowName"], out["summary"]) == (
            "async_launched",
            "pair",
            "Two agents",
        )
        assert "nesting depth limit reached" in out["error"]
        assert await count(runtime.store, t.runs) == 0


async def test_a_long_result_is_cut_with_a_pointer_to_the_whole(
    open_tasks: OpenTasks, fake: FakeLLMServer
) -> None:
    script = (
        "export const meta = {name: 'long', description: 'A long result'}\nreturn '<' + 'x'.repeat(4999)\n"
    )
    parent = launcher({"script": script}, then="subagent_result")
    fake.responder = lambda r: parent(r) or FakeReply(text="unused")
    async with open_tasks() as (runtime, _):
        seen = json.loads((await run_agent(AgentSpec("PARENT"), runtime)).output)
        notification = seen["results"][1]  # subagent_result gives the notification (the run may end first)
        output = re.search(r"<output-file>(.*)</output-file>", notification)
        assert output is not None
        cut = (
            f"<result>&lt;{'x' * 3999}\n... (truncated 1000 chars, full result in {output.group(1)})</result>"
        )
        assert cut in notification
        assert json.loads(Path(output.group(1)).read_text()) == {"result": "<" + "x" * 4999}


async def test_agents_inside_a_workflow_cannot_launch_workflows(
    open_tasks: OpenTasks, fake: FakeLLMServer
) -> None:
    script = "export const meta = {name: 'inner', description: 'Tries to nest'}\nreturn await agent('nest')\n"
    parent = launcher({"script": script}, then="subagent_result")

    def responder(r: FakeRequest) -> FakeReply:
        if first_user_text(r) == "nest":
            assert not ORCHESTRATION_TOOLS & set(r.tools)
            if not tool_results(r):
                return FakeReply(tool_calls=[FakeToolCall("workflow", {"script": PAIR, "args": ["z"]})])
            return FakeReply(text=tool_results(r)[0])
        reply = parent(r)
        assert reply is not None
        return reply

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        seen = json.loads((await run_agent(AgentSpec("PARENT"), runtime)).output)
        notification = seen["results"][1]
        assert "<status>completed</status>" in notification
        offered = re.search(r"unknown tool 'workflow'; the tools offered are: ([^<]*)</result>", notification)
        assert offered is not None and "read_file" in offered.group(1)
        assert not ORCHESTRATION_TOOLS & set(offered.group(1).split(", "))
        assert fake.count("wf z") == 0
        assert await count(runtime.store, t.runs) == 1


async def test_resume_from_run_id_reruns_only_what_did_not_complete(
    open_tasks: OpenTasks, fake: FakeLLMServer
) -> None:
    failing = {"wf y"}
    first = launcher({"script": PAIR, "args": ["x", "y"]}, then="subagent_result")
    holder: dict[str, Any] = {}

    def responder(r: FakeRequest) -> FakeReply:
        prompt = first_user_text(r)
        if prompt.startswith("wf "):
            if prompt in failing:
                return FakeReply(error=FakeError(400, "broken"))
            return FakeReply(text="done: " + prompt)
        reply = (holder["second"] if prompt == "PARENT" and "second" in holder else first)(r)
        assert reply is not None
        return reply

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        seen = json.loads((await run_agent(AgentSpec("PARENT"), runtime)).output)
        run_id = launched(seen["results"][0])["runId"]
        assert '<result>{"r": ["done: wf x", null]}</result>' in seen["results"][1]

        failing.clear()
        holder["second"] = launcher({"resumeFromRunId": run_id, "args": ["x", "y"]}, then="subagent_result")
        seen = json.loads((await run_agent(AgentSpec("PARENT"), runtime)).output)
        out = launched(seen["results"][0])
        assert (out["runId"], out["workflowName"]) == (run_id, "pair")
        assert Path(out["scriptPath"]).read_text() == PAIR  # the stored script ran again
        assert '<result>{"r": ["done: wf x", "done: wf y"]}</result>' in seen["results"][1]
        assert "<failures>" not in seen["results"][1]
        assert (fake.count("wf x"), fake.count("wf y")) == (1, 2)  # x came from the journal
        run = await RunRecords(runtime.store).get_run(run_id)
        assert run is not None and (run["status"], run["resume_count"]) == ("completed", 1)


@pytest.mark.parametrize("how", ["parent finishes", "cancel_subagent"])
async def test_a_workflow_task_ends_with_its_parent_or_when_cancelled(
    open_tasks: OpenTasks, fake: FakeLLMServer, how: str
) -> None:
    script = "export const meta = {name: 'slow', description: 'Holds'}\nreturn await agent('held')\n"

    def responder(r: FakeRequest) -> FakeReply:
        results = tool_results(r)
        if first_user_text(r) == "held":  # opens the gate the parent waits at, then hangs
            if not results:
                return FakeReply(tool_calls=[FakeToolCall("open_gate", {"id": "running"})])
            return FakeReply(text="late", delay=60)
        if not results:
            return FakeReply(tool_calls=[FakeToolCall("workflow", {"script": script})])
        if len(results) == 1:
            return FakeReply(tool_calls=[FakeToolCall("gate", {"id": "running"})])
        if how == "cancel_subagent" and len(results) == 2:
            return FakeReply(
                tool_calls=[FakeToolCall("cancel_subagent", {"id": launched(results[0])["taskId"]})]
            )
        return FakeReply(text=json.dumps(results))

    fake.responder = responder
    async with open_tasks() as (runtime, _):
        results = json.loads((await run_agent(AgentSpec("PARENT"), runtime)).output)
        run_id = launched(results[0])["runId"]
        run = await RunRecords(runtime.store).get_run(run_id)
        assert run is not None and run["status"] == "stopped"  # resumable with resumeFromRunId
        [agent] = await RunRecords(runtime.store).agents(run_id)
        assert agent["status"] == "interrupted"
        async with runtime.store.reading() as conn:
            task = (await conn.execute(select(t.tasks))).mappings().one()
        reason = "cancelled by its parent agent" if how == "cancel_subagent" else "its parent agent finished"
        assert task["status"] == "cancelled" and reason in task["error"]
        if how == "cancel_subagent":
            assert results[2].startswith(f"{task['id']} [slow] cancelled: run {run_id}")
