"""`boocode run`, `workflows` and `runs` end to end: a real subprocess, a real database, and a fake server
whose reply is a pure function of the prompt ("done: " + prompt; a minimal instance for a schema)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from boocode.testing.cli import boocode
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest, FakeToolCall, default_responder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".boocode" / "workflows").mkdir(parents=True)
    return root


def write(project: Path, name: str, body: str, meta: str | None = None) -> Path:
    path = project / ".boocode" / "workflows" / f"{name}.js"
    path.write_text((meta or f"export const meta = {{name: '{name}', description: 'test {name}'}}\n") + body)
    return path


def run_json(env: dict[str, str], project: Path, *args: str) -> dict[str, object]:
    done = boocode(env, project, "run", *args, "--json")
    assert done.stdout, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


def test_agent_result_is_printed(env: dict[str, str], project: Path) -> None:
    write(project, "hello", "const r = await agent('say hi', {label: 'greeter'})\nreturn r")
    done = boocode(env, project, "run", "hello")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done: say hi\n"
    assert "greeter: started" in done.stderr and "greeter: completed" in done.stderr


def test_parallel_pipeline_and_json_output(env: dict[str, str], project: Path) -> None:
    write(
        project,
        "fan",
        """
phase('Scan')
const found = await parallel(args.map((x) => () => agent('look at ' + x)))
const piped = await pipeline(['a', 'b'], (item) => agent('one ' + item), (prev, item, i) => prev + ' #' + i)
const broken = await parallel([() => { throw new Error('boom') }, () => agent('fine')])
log('found', found.length)
return {found, piped, broken}
""",
    )
    out = run_json(env, project, "fan", "--args", '["x", "y", "z"]')
    assert out["status"] == "completed"
    assert out["result"] == {
        "found": ["done: look at x", "done: look at y", "done: look at z"],
        "piped": ["done: one a #0", "done: one b #1"],
        "broken": [None, "done: fine"],
    }
    assert out["failures"] == [{"label": "parallel[0]", "error": "Error: boom"}] or "boom" in json.dumps(
        out["failures"]
    )
    usage = out["usage"]
    assert isinstance(usage, dict) and usage["agent_count"] == 6 and usage["output_tokens"] > 0


def test_schema_agent_returns_the_object(env: dict[str, str], project: Path) -> None:
    write(
        project,
        "schema",
        "const n = {type: 'integer', minimum: 3}\n"
        "return await agent('count', {schema: {type: 'object', properties: {n}, required: ['n']}})",
    )
    assert run_json(env, project, "schema")["result"] == {"n": 3}


def test_invalid_script_exits_2_without_any_request(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    write(project, "bad", "const x: number = 1\nreturn await agent('never')")
    done = boocode(env, project, "run", "bad")
    assert done.returncode == 2
    assert "bad.js:2" in done.stderr
    assert server.requests == []
    assert "no runs yet" in boocode(env, project, "runs").stderr


def test_runtime_error_fails_the_run_with_file_and_line(env: dict[str, str], project: Path) -> None:
    path = write(project, "throws", "await agent('first')\nthrow new Error('broken on purpose')")
    done = boocode(env, project, "run", str(path))
    assert done.returncode == 1
    assert "broken on purpose" in done.stderr and "throws.js:3" in done.stderr
    listed = boocode(env, project, "runs")
    run_id = listed.stdout.split()[0]
    shown = boocode(env, project, "runs", "show", run_id, "--json")
    data = json.loads(shown.stdout)
    assert data["status"] == "failed" and data["agents"][0]["status"] == "completed"
    [phase] = data["phases"]
    assert (phase["phase"], phase["agents"], phase["finished"]) == (None, 1, 1)
    assert phase["output_tokens"] == data["agents"][0]["output_tokens"] > 0
    text = boocode(env, project, "runs", "show", run_id).stdout
    assert "phase (none): 1/1 agents done" in text


def test_nested_workflow_shares_the_run_and_cannot_nest_again(env: dict[str, str], project: Path) -> None:
    write(project, "child", "return await agent('child got ' + args.x)")
    write(project, "grandchild", "return await workflow('child', {x: 1})")
    write(
        project,
        "parent",
        """
const a = await workflow('child', {x: 42})
let nested = 'allowed'
try { await workflow('grandchild') } catch (e) { nested = String(e.message) }
return {a, nested}
""",
    )
    out = run_json(env, project, "parent")
    result = out["result"]
    assert isinstance(result, dict)
    assert result["a"] == "done: child got 42"
    assert "cannot be nested" in result["nested"]
    assert isinstance(out["usage"], dict) and out["usage"]["agent_count"] == 1


def test_budget_stops_new_agents(env: dict[str, str], project: Path) -> None:
    write(
        project,
        "spend",
        """
const out = []
while (budget.total && budget.remaining() > 0) {
  try { out.push(await agent('step ' + out.length)) } catch (e) { return {stopped: e.message, n: out.length} }
}
return {n: out.length, spent: budget.spent()}
""",
    )
    out = run_json(env, project, "spend", "--budget", "40")
    result = out["result"]
    assert isinstance(result, dict) and result["n"] >= 1
    usage = out["usage"]
    assert isinstance(usage, dict) and usage["output_tokens"] <= 40


def test_workflows_lists_valid_and_reports_invalid(env: dict[str, str], project: Path) -> None:
    write(project, "good", "return 1")
    (project / ".boocode" / "workflows" / "broken.js").write_text("const meta = 1")
    done = boocode(env, project, "workflows")
    assert done.returncode == 0
    assert "good" in done.stdout and "test good" in done.stdout
    assert "INVALID" in done.stdout and "broken.js" in done.stdout


def test_agent_type_gives_system_prompt_tools_and_errors(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    agents = project / ".boocode" / "agents"
    agents.mkdir()
    (agents / "reviewer.md").write_text(
        "---\nname: reviewer\ndescription: Reviews\ntools: Read, Grep\n---\nYou are a careful reviewer.\n"
    )
    write(
        project,
        "typed",
        """
const a = await agent('check this', {agentType: 'reviewer'})
let unknown = null
try { await agent('x', {agentType: 'nobody'}) } catch (e) { unknown = e.message }
return {a, unknown}
""",
    )
    out = run_json(env, project, "typed")
    result = out["result"]
    assert isinstance(result, dict) and result["a"] == "done: check this"
    assert "unknown agentType 'nobody'" in result["unknown"]
    [request] = server.requests
    assert "You are a careful reviewer." in request.system
    assert request.tools == ["read_file", "grep"]


def test_worktree_isolation_keeps_changes_apart(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "--allow-empty", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=project, check=True)

    def responder(request: FakeRequest) -> FakeReply:
        wrote = any(m.get("role") == "tool" for m in request.messages)
        if "write" in request.last_user_text and not wrote:
            return FakeReply(tool_calls=[FakeToolCall("write_file", {"path": "new.txt", "content": "hi"})])
        return FakeReply(text="done: " + request.last_user_text)

    server.responder = responder
    try:
        write(
            project,
            "iso",
            "return await parallel([() => agent('write a file', {isolation: 'worktree'}),"
            " () => agent('just look', {isolation: 'worktree'})])",
        )
        for args in (
            ["init", "-q"],
            ["add", "-A"],
            ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "--allow-empty", "-qm", "x"],
        ):
            subprocess.run(["git", *args], cwd=project, check=True)
        done = boocode(env, project, "run", "iso", "--json")
    finally:
        server.responder = default_responder
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == ["done: write a file", "done: just look"], done.stdout
    assert not (project / "new.txt").exists()
    [kept_line] = [line for line in done.stderr.splitlines() if "worktree kept for review" in line]
    kept = Path(kept_line.split("review: ")[1].split(" (")[0])
    assert (kept / "new.txt").read_text() == "hi"
    assert not (kept.parent / "agent-1").exists()  # unchanged: removed
    assert "You are working in an isolated git worktree" in server.requests[0].system


def test_an_agents_warning_is_kept_in_the_run_log(env: dict[str, str], project: Path) -> None:
    write(project, "effortful", "return await agent('think hard', {label: 'thinker', effort: 'high'})")
    out = run_json(env, project, "effortful")
    assert (out["status"], out["result"]) == ("completed", "done: think hard")
    shown = json.loads(boocode(env, project, "runs", "show", str(out["run_id"]), "--json").stdout)
    [line] = shown["logs"]
    assert line.startswith("[thinker] effort 'high' ignored")
