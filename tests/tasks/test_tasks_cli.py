"""`boocode tasks` against real processes: a `boocode agent` whose fake model spawns a subagent is killed
(its task reads and is recorded as interrupted, and re-runs), or its task is cancelled from another
process."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from task_helpers import first_user_text, task_ids, tool_results

from boocode.testing.cli import boocode, json_out, spawn
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest, FakeToolCall

ALLOW = ("--allow", "spawn_subagent", "--allow", "subagent_result")


class HeldChild:
    """A parent that spawns "held child" and waits for its result; the child's reply is held (60 s) while
    `hold` is set, else it answers "child done". `arrived` is set when the child's request comes in."""

    def __init__(self) -> None:
        self.hold = True
        self.arrived = threading.Event()

    def __call__(self, request: FakeRequest) -> FakeReply:
        if first_user_text(request) == "held child":
            self.arrived.set()
            return FakeReply(text="late", delay=60) if self.hold else FakeReply(text="child done")
        results = tool_results(request)
        if not results:
            return FakeReply(tool_calls=[FakeToolCall("spawn_subagent", {"prompt": "held child"})])
        if len(results) == 1:
            task_id = task_ids(results[0])[0]
            return FakeReply(
                tool_calls=[FakeToolCall("subagent_result", {"id": task_id, "wait_seconds": 100})]
            )
        return FakeReply(text=results[-1])


@pytest.fixture
def held(server: FakeLLMServer, env: dict[str, str]) -> HeldChild:
    server.responder = responder = HeldChild()
    return responder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def test_a_killed_process_leaves_its_task_interrupted_and_it_can_be_rerun(
    env: dict[str, str], project: Path, held: HeldChild
) -> None:
    proc = spawn(env, project, "agent", "PARENT", *ALLOW)
    try:
        assert held.arrived.wait(60)
    finally:
        proc.kill()
        proc.communicate()
    [task] = json_out(boocode(env, project, "tasks", "--all", "--json"))
    assert task["status"] == "interrupted"  # its process is gone: no need to wait for the lease to expire
    assert (task["kind"], task["label"], task["depth"]) == ("agent", "held child", 1)

    held.hold = False
    rerun = boocode(env, project, "tasks", "rerun", task["id"])
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == "child done"

    tasks = json_out(boocode(env, project, "tasks", "--all", "--json"))
    assert [(t["status"], t["rerun_of"]) for t in tasks] == [("completed", task["id"]), ("interrupted", None)]
    shown = json_out(boocode(env, project, "tasks", "show", task["id"], "--json"))
    assert shown["status"] == "interrupted"  # recorded as such when the re-run's runtime opened
    assert shown["error"] == "interrupted: the process running it ended before it finished"


def test_cancel_a_task_another_process_runs(env: dict[str, str], project: Path, held: HeldChild) -> None:
    env = {**env, "BOOCODE_RUN_LEASE_SECONDS": "0.6"}
    proc = spawn(env, project, "agent", "PARENT", *ALLOW, "--json")
    try:
        assert held.arrived.wait(60)
        listed = boocode(env, project, "tasks").stdout
        [task_id] = task_ids(listed)
        assert "running" in listed and "held child" in listed
        shown = boocode(env, project, "tasks", "show", task_id).stdout
        assert f"task {task_id}  agent  running  held child" in shown
        assert "prompt: held child" in shown and "parent session: ses_" in shown

        cancelled = boocode(env, project, "tasks", "cancel", task_id)
        assert cancelled.returncode == 0, cancelled.stderr
        assert f"task {task_id} cancelled" in cancelled.stderr
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    answer = json.loads(out)["output"]
    assert f"{task_id} [held child] cancelled: cancelled from another process" in answer

    [row] = json_out(boocode(env, project, "tasks", "--all", "--json"))
    assert (row["id"], row["status"]) == (task_id, "cancelled")
    again = boocode(env, project, "tasks", "cancel", task_id)
    assert again.returncode == 1 and "is not running (it is cancelled)" in again.stderr
