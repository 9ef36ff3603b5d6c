"""The JSON API against a real database (SQLite and PostgreSQL) and the fake LLM server: every endpoint,
with bad ids and bad bodies."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import COLD, NO_CACHE, WARM, Gate, run_to_end, write_workflow

from boocode.store.runs import RunRecords
from boocode.store.store import opened_store
from boocode.store.trace import TraceReader
from boocode.tasks.records import TaskRecords

# A 1x1 PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def start(client: TestClient, **body: Any) -> str:
    response = client.post("/api/runs", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "running"
    run_id: str = response.json()["run_id"]
    return run_id


def shape(input_total: int, read: int, write: int) -> dict[str, Any]:
    """The API's cache shape of calls summing to these (all reporting)."""
    return {
        "input_tokens": input_total,
        "cache_read": read,
        "cache_write": write,
        "uncached": input_total - read - write,
    }


def test_info_and_openapi_spec_cover_every_endpoint(client: TestClient) -> None:
    info = client.get("/api/info").json()
    assert info["token_required"] is False and info["database"] in ("sqlite", "postgresql")
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/info",
        "/api/workflows",
        "/api/workflows/{name}",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/agents",
        "/api/runs/{run_id}/events",
        "/api/runs/{run_id}/stop",
        "/api/runs/{run_id}/resume",
        "/api/events",
        "/api/agents/{agent_id}",
        "/api/sessions/{session_id}",
        "/api/sessions/{session_id}/transcript",
        "/api/parts/{part_id}/image",
        "/api/inference-calls",
        "/api/tasks",
        "/api/tasks/{task_id}",
    }
    assert "CacheShapeOut" in spec["components"]["schemas"]


def test_workflows_list_and_show(client: TestClient) -> None:
    listed = {w["name"]: w for w in client.get("/api/workflows").json()}
    assert listed["fan"]["source"] == "project" and listed["fan"]["error"] is None
    assert "deep-research" in listed  # the built-in catalog
    shown = client.get("/api/workflows/fan").json()
    assert "phase('Scan')" in shown["script"]
    missing = client.get("/api/workflows/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_a_run_started_through_the_api_runs_to_its_end_with_usage_and_cache(client: TestClient) -> None:
    run_id = start(client, workflow="fan", args=["a", "nocache b"])
    kinds = [e.data["kind"] for e in run_to_end(client, run_id)]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("agent_finished") == 3

    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "completed"
    assert run["result"]["total"] == "done: tool: sum up"
    assert run["logs"] == ["found 2"]
    assert (run["agents_total"], run["agents_done"], run["agents_failed"]) == (3, 3, 0)
    # look a: COLD; look nocache b: NO_CACHE (no cache figures); summer: COLD (tool call) then WARM.
    assert run["usage"]["input_tokens"] == 2 * COLD.input + NO_CACHE.input + WARM.input
    assert run["usage"]["output_tokens"] == 2 * COLD.output + NO_CACHE.output + WARM.output
    cache = run["usage"]["cache"]
    assert cache | shape(3200, 800, 1600) == cache  # the calls that reported cache figures
    assert (cache["calls"], cache["reported_calls"], cache["unreported_input"]) == (4, 3, 500)
    assert cache["label"] == "25%*"  # 800 / 3200, partial: one call did not report

    phases = {p["phase"]: p for p in run["phases"]}
    assert phases["Scan"]["agents"] == 2 and phases["Scan"]["finished"] == 2
    assert phases["Scan"]["usage"]["cache"]["label"] == "0%*"
    assert phases["Sum"]["usage"]["cache"] | shape(2200, 800, 800) == phases["Sum"]["usage"]["cache"]

    agents = {a["label"]: a for a in client.get(f"/api/runs/{run_id}/agents").json()}
    assert agents["look nocache b"]["usage"]["cache"]["label"] == "n/a"
    assert agents["look nocache b"]["usage"]["cache"]["read_share"] is None
    summer = agents["summer"]
    assert summer["status"] == "completed" and summer["tool_calls"] == 1 and summer["model"] == "fake-model"
    assert summer["usage"]["cache"]["label"] == "36%"  # (0 + 800) / (1000 + 1200), a sum, not a mean

    listed = next(r for r in client.get("/api/runs").json() if r["id"] == run_id)
    assert listed["usage"] == run["usage"]
    assert (listed["agents_done"], listed["agents_total"]) == (3, 3)


async def test_badge_numbers_equal_the_stored_usage(client: TestClient, settings: Any) -> None:
    run_id = start(client, workflow="fan", args=["x"])
    run_to_end(client, run_id)
    calls = client.get("/api/inference-calls", params={"run_id": run_id}).json()
    async with opened_store(settings.db_url) as store:
        stored = {c["id"]: c for c in await TraceReader(store).calls(run_id=run_id)}
    assert len(calls) == len(stored) == 3
    for call in calls:
        row = stored[call["id"]]
        for key in ("input_total", "cache_read", "cache_write", "output"):
            assert call[key] == row[key]
        assert call["cache"]["cache_read"] == row["cache_read"]
        assert call["cache"]["uncached"] == row["input_total"] - row["cache_read"] - row["cache_write"]


def test_start_with_script_text_args_and_budget(client: TestClient) -> None:
    script = "export const meta = {name: 'inline', description: 'inline'}\nreturn await agent('hi ' + args.n)"
    run_id = start(client, script=script, args={"n": 7}, budget=10_000)
    run_to_end(client, run_id)
    run = client.get(f"/api/runs/{run_id}").json()
    assert (run["name"], run["status"], run["result"]) == ("inline", "completed", "done: hi 7")
    assert run["args"] == {"n": 7} and run["budget_total"] == 10_000


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 422, "exactly one"),
        ({"workflow": "fan", "script": "x"}, 422, "exactly one"),
        ({"workflow": "fan", "surprise": 1}, 422, "surprise"),
        ({"workflow": "fan", "budget": 0}, 422, "budget"),
        ({"workflow": ""}, 422, "workflow"),
        ({"workflow": "nope"}, 400, "unknown workflow 'nope'"),
        ({"workflow": "../../etc/passwd.js"}, 400, "workflow name"),
        ({"script": "return 1"}, 400, "export const meta"),
        ({"script": "this is not a workflow"}, 400, "syntax error"),
    ],
)
def test_bad_start_bodies_are_refused(
    client: TestClient, body: dict[str, Any], status: int, message: str
) -> None:
    response = client.post("/api/runs", json=body)
    assert response.status_code == status, response.text
    assert message in str(response.json()["detail"])


def test_a_body_that_is_not_json_is_refused(client: TestClient) -> None:
    response = client.post("/api/runs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert client.get("/api/runs").json() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/runs/wf_nope"),
        ("GET", "/api/runs/wf_nope/agents"),
        ("GET", "/api/runs/wf_nope/events"),
        ("POST", "/api/runs/wf_nope/stop"),
        ("POST", "/api/runs/wf_nope/resume"),
        ("GET", "/api/agents/agt_nope"),
        ("GET", "/api/sessions/ses_nope"),
        ("GET", "/api/sessions/ses_nope/transcript"),
        ("GET", "/api/parts/prt_nope/image"),
        ("GET", "/api/inference-calls?run_id=wf_nope"),
        ("GET", "/api/inference-calls?agent_id=agt_nope"),
        ("GET", "/api/inference-calls?session_id=ses_nope"),
        ("GET", "/api/tasks/task_nope"),
        ("GET", "/api/tasks?session_id=ses_nope"),
    ],
)
def test_unknown_ids_are_404(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404, response.text
    assert "nope" in response.json()["detail"]


def test_bad_query_values_are_422(client: TestClient) -> None:
    assert client.get("/api/runs", params={"limit": 0}).status_code == 422
    assert client.get("/api/inference-calls", params={"limit": "many"}).status_code == 422
    assert client.get("/api/events", params={"after": -1}).status_code == 422


def test_agent_transcript_calls_and_image(client: TestClient, project: Path) -> None:
    (project / "pixel.png").write_bytes(PIXEL)
    write_workflow(project, "pic", "return await agent('tool: look at the picture', {images: ['pixel.png']})")
    run_id = start(client, workflow="pic")
    run_to_end(client, run_id)
    [agent] = client.get(f"/api/runs/{run_id}/agents").json()
    assert client.get(f"/api/agents/{agent['id']}").json() == agent

    session = client.get(f"/api/sessions/{agent['session_id']}").json()
    assert session["status"] == "completed" and session["tool_calls"] == 1
    transcript = client.get(f"/api/sessions/{agent['session_id']}/transcript").json()
    [chat] = transcript["chats"]
    assert chat["system_prompt"]
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    prompt, call, result, answer = chat["messages"]
    assert [p["kind"] for p in prompt["parts"]] == ["text", "image"]
    assert prompt["parts"][0]["text"] == "tool: look at the picture"
    image = client.get(prompt["parts"][1]["image_url"])
    assert (
        image.status_code == 200 and image.content == PIXEL and image.headers["content-type"] == "image/png"
    )
    [tool_call] = call["parts"]
    assert (tool_call["kind"], tool_call["tool_name"], tool_call["data"]) == (
        "tool_call",
        "read_file",
        {"path": "notes.txt"},
    )
    [tool_result] = result["parts"]
    assert tool_result["tool_call_id"] == "call_notes" and "remember the milk" in tool_result["text"]
    assert answer["parts"][0]["text"] == "done: tool: look at the picture"

    by_agent = client.get("/api/inference-calls", params={"agent_id": agent["id"]}).json()
    by_session = client.get("/api/inference-calls", params={"session_id": agent["session_id"]}).json()
    by_run = client.get("/api/inference-calls", params={"run_id": run_id}).json()
    assert by_agent == by_session == by_run and len(by_run) == 2
    assert [c["cache"]["label"] for c in by_run] == ["0%", "67%"]  # 0/1000, 800/1200
    assert all(c["agent_id"] == agent["id"] and c["label"] == agent["label"] for c in by_run)
    assert client.get("/api/inference-calls", params={"run_id": run_id, "limit": 1}).json() == by_run[:1]


def test_stop_then_resume(client: TestClient, gate: Gate) -> None:
    run_id = start(client, workflow="fan", args=["hold this"])
    stopped = client.post(f"/api/runs/{run_id}/stop")
    assert stopped.status_code == 200 and stopped.json() == {"run_id": run_id, "status": "stopped"}
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "stopped"
    assert {a["status"] for a in client.get(f"/api/runs/{run_id}/agents").json()} <= {"interrupted"}

    again = client.post(f"/api/runs/{run_id}/stop")
    assert again.status_code == 409 and "not running" in again.json()["detail"]

    gate.release()
    resumed = client.post(f"/api/runs/{run_id}/resume", json={"mode": "content"})
    assert resumed.status_code == 202 and resumed.json()["run_id"] == run_id
    run_to_end(client, run_id, after=run["last_event_id"])
    run = client.get(f"/api/runs/{run_id}").json()
    assert (run["status"], run["resume_count"]) == ("completed", 1)
    assert run["result"]["found"] == ["done: look at hold this"]


def test_resume_of_a_running_run_is_409_and_bad_resume_bodies_422(client: TestClient) -> None:
    run_id = start(client, workflow="fan", args=["hold on"])
    busy = client.post(f"/api/runs/{run_id}/resume")
    assert busy.status_code == 409 and "still running" in busy.json()["detail"]
    assert client.post(f"/api/runs/{run_id}/resume", json={"mode": "sideways"}).status_code == 422
    assert client.post(f"/api/runs/{run_id}/resume", json={"extra": 1}).status_code == 422
    assert client.post(f"/api/runs/{run_id}/stop").json()["status"] == "stopped"


def test_event_replay_after_an_id(client: TestClient) -> None:
    run_id = start(client, workflow="fan", args=["a"])
    events = run_to_end(client, run_id)
    ids = [e.id for e in events]
    assert ids == sorted(ids) and all(e.data["id"] == e.id for e in events)
    middle = ids[len(ids) // 2]
    assert [e.id for e in run_to_end(client, run_id, after=middle)] == [i for i in ids if i > middle]
    header = client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(middle)})
    assert f"id: {middle}\n" not in header.text and f"id: {ids[-1]}\n" in header.text
    bad = client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "soon"})
    assert bad.status_code == 400


async def test_background_tasks_of_an_agent(client: TestClient, settings: Any) -> None:
    run_id = start(client, workflow="fan", args=["a"])
    run_to_end(client, run_id)
    agents = {a["label"]: a for a in client.get(f"/api/runs/{run_id}/agents").json()}
    parent, child = agents["summer"], agents["look a"]
    async with opened_store(settings.db_url) as store:
        project_id = (await RunRecords(store).get_run(run_id) or {})["project_id"]
        await TaskRecords(store).create(
            id="task_0123456789",
            project_id=project_id,
            kind="agent",
            parent_session_id=parent["session_id"],
            depth=1,
            prompt="look at a",
            label="helper",
            session_id=child["session_id"],
            status="completed",
            result="done",
        )
    [task] = client.get("/api/tasks", params={"session_id": parent["session_id"]}).json()
    assert (task["id"], task["label"], task["status"], task["session_id"]) == (
        "task_0123456789",
        "helper",
        "completed",
        child["session_id"],
    )
    assert task["usage"] == child["usage"]
    assert client.get("/api/tasks/task_0123456789").json() == task
    assert client.get("/api/tasks", params={"session_id": child["session_id"]}).json() == []
    assert [t["id"] for t in client.get("/api/tasks").json()] == ["task_0123456789"]


def test_declared_phases_and_a_nested_run_group(client: TestClient, project: Path) -> None:
    meta = "{name: 'outer', description: 'outer', phases: [{title: 'Plan'}, {title: 'Later'}]}"
    body = "phase('Plan')\nawait agent('plan it')\nreturn await workflow('fan', ['n'])"
    (project / ".boocode" / "workflows" / "outer.js").write_text(f"export const meta = {meta}\n{body}")
    run_id = start(client, workflow="outer")
    run_to_end(client, run_id)
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "completed" and len(run["nested_runs"]) == 1
    assert [(p["phase"], p["agents"]) for p in run["phases"]] == [("Plan", 1), ("Later", 0), ("▸ fan", 2)]
    assert run["phases"][1]["usage"]["cache"]["label"] == "n/a"
    nested = run["phases"][2]["usage"]["cache"]
    assert nested["cache_read"] == WARM.cached and nested["input_tokens"] == 2 * COLD.input + WARM.input
    assert run["agents_total"] == 3 and run["usage"]["calls"] == 4
    assert len(client.get(f"/api/runs/{run_id}/agents").json()) == 3


def test_a_nul_character_in_an_id_or_filter_is_a_validation_error(client: TestClient) -> None:
    # Found by schemathesis on PostgreSQL, which refuses NUL in text parameters (it was a 500).
    for url in ("/api/inference-calls?agent_id=a%00b", "/api/runs/wf_%00x", "/api/sessions/s%00"):
        response = client.get(url)
        assert response.status_code == 422, url
        assert response.json()["detail"][0]["msg"] == "NUL character in the request"
