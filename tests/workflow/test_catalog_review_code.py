"""The built-in `review-code` workflow end to end: `boocode run review-code --json` against the fake server,
with the real git_diff tool and scripted finders and verifiers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from catalog_helpers import as_json, boocode, finding, git_init, prompt_of, run_json, tool_output

from boocode.testing.fake_llm import FakeError, FakeLLMServer, FakeReply, FakeRequest, FakeToolCall

# A substring of each verifier's angle, in the workflow's order.
ANGLES = ("look at what the code does", "what would make the code correct", "think of an input")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository whose uncommitted change edits line 3 of a.py and adds b.py (untracked)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "a.py").write_text(
        "def total(items):\n    s = 0\n    for x in items:\n        s += x\n    return s\n"
    )
    git_init(root)
    (root / "a.py").write_text(
        "def total(items):\n    s = 0\n    for x in items[1:]:\n        s += x\n    return s\n"
    )
    (root / "b.py").write_text("import sys\nimport os\nos.system('ls ' + sys.argv[1])\n")
    return root


def angle(prompt: str) -> int:
    return next(i for i, text in enumerate(ANGLES) if text in prompt)


def diff_scope(request: FakeRequest) -> FakeReply | None:
    """The scope agent: call git_changes, then return what it listed (it is already the schema's shape)."""
    if not prompt_of(request).startswith("Call the git_changes tool"):
        return None
    listed = tool_output(request)
    return (
        FakeReply(tool_calls=[FakeToolCall("git_changes", {})]) if listed is None else FakeReply(text=listed)
    )


def reviewer(request: FakeRequest) -> FakeReply:
    prompt = prompt_of(request)
    scoped = diff_scope(request)
    if scoped is not None:
        return scoped
    if prompt.startswith("Review the change to a.py"):
        return as_json(
            {
                "findings": [
                    finding("a.py", 3, "bug", "the slice skips the first item", "high"),
                    finding("./a.py", 4, "bug", "the first item is never added", "medium"),
                    finding("a.py", 40, "bug", "far away from the change", "high"),
                ]
            }
        )
    if prompt.startswith("Review the change to b.py"):
        return as_json(
            {
                "findings": [
                    finding("src/b.py", 1, "other", "sys is imported for argv only", "low"),
                    finding("b.py", 2, "security", "shell injection through os.system", "medium"),
                ]
            }
        )
    if prompt.startswith("Check whether this reported problem is real"):
        k = angle(prompt)
        if "File: a.py, line 3" in prompt:
            verdict = ["real", "real", "cannot-tell"][k]
        elif "File: b.py, line 2" in prompt:
            verdict = ["not-real", "not-real", "real"][k]
        else:  # b.py line 1: the first verifier fails, the others disagree
            if k == 0:
                return FakeReply(error=FakeError(500, "verifier crashed"))
            verdict = ["", "real", "not-real"][k]
        return as_json({"verdict": verdict, "reason": f"verifier {k + 1}"})
    raise AssertionError(f"unexpected prompt: {prompt[:80]}")


def test_review_of_uncommitted_changes_merges_votes_and_ranks(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    server.responder = reviewer
    out = run_json(env, project, "review-code")
    assert out["status"] == "completed"
    report = out["result"]["report"]
    assert report["scope"]["target"] == "uncommitted"
    assert report["scope"]["files"] == ["a.py", "b.py"]  # b.py is untracked: new files are reviewed too
    tool_results = [tool_output(r) for r in server.requests if tool_output(r)]
    assert '{"path": "b.py", "hunks": [{"start": 1, "end": 3}]}' in tool_results[0]
    # Each agent is offered only its role's tools (the packaged agent types), not every tool.
    offered = {prompt_of(r).split(" ")[0]: r.tools for r in server.requests}
    assert offered == {
        "Call": ["git_changes"],
        "Review": ["read_file", "git_diff", "grep"],
        "Check": ["read_file", "git_diff", "grep"],
    }
    finder = next(r for r in server.requests if prompt_of(r).startswith("Review the change to a.py"))
    assert "You review code for real defects." in finder.system

    [confirmed] = report["findings"]
    assert (confirmed["file"], confirmed["line"], confirmed["severity"]) == ("a.py", 3, "high")
    assert confirmed["reports"] == 2 and confirmed["lines"] == [3, 4]  # the duplicate at line 4 was merged
    assert confirmed["votes"] == {"real": 2, "notReal": 0, "abstain": 1}
    [refuted] = report["refuted"]
    assert (refuted["file"], refuted["line"], refuted["votes"]) == (
        "b.py",
        2,
        {"real": 1, "notReal": 2, "abstain": 0},
    )
    [unverified] = report["unverified"]  # a failed verifier abstains: 1 real, 1 not real is a tie
    assert (unverified["file"], unverified["line"]) == (
        "b.py",
        1,
    )  # the finder's "src/b.py" is the unit's file
    assert unverified["votes"] == {"real": 1, "notReal": 1, "abstain": 1}
    assert unverified["status"] == "unverified"

    assert report["stats"]["outside"] == 1 and report["stats"]["candidates"] == 3
    assert report["status"] == "partial"
    assert report["failures"] == [{"stage": "verify", "item": "b.py:1 verifier 1", "error": "no result"}]
    assert [f["label"] for f in out["failures"]] == ["verify b.py:1 #1"]
    assert sum(prompt_of(r).startswith("Check whether") for r in server.requests) == 9  # 3 findings x 3

    markdown = out["result"]["markdown"]
    assert markdown.startswith("# Code review: the uncommitted changes\n")
    assert "## Findings (1 confirmed)" in markdown and "`a.py:3`" in markdown
    assert "## Unverified (1)" in markdown and "## Refuted (1)" in markdown
    assert "1 finding(s) outside the reviewed lines or files were left out." in markdown
    assert "## Failures (1)" in markdown


def test_paths_concerns_and_the_verification_cap(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    def responder(request: FakeRequest) -> FakeReply:
        prompt = prompt_of(request)
        if prompt.startswith("Review the file a.py") and "logic bugs" in prompt:
            return as_json({"findings": [finding("a.py", 3, "bug", "skips the first item", "high")]})
        if prompt.startswith("Review the file b.py") and "security holes" in prompt:
            return as_json({"findings": [finding("b.py", 3, "security", "shell injection", "medium")]})
        if prompt.startswith("Review the file"):
            return as_json({"findings": []})
        assert prompt.startswith("Check whether") and "File: a.py, line 3" in prompt, prompt
        return as_json({"verdict": "real", "reason": "it is"})

    server.responder = responder
    args = {"paths": ["a.py", "./b.py"], "concerns": ["bugs", "security"], "maxFindings": 1, "verifiers": 1}
    report = run_json(env, project, "review-code", args)["result"]["report"]
    assert report["scope"]["target"] == "paths" and report["scope"]["units"] == ["a.py", "b.py"]
    assert (
        sum(prompt_of(r).startswith("Review the file") for r in server.requests) == 4
    )  # 2 files x 2 concerns
    assert not any("git_diff" in prompt_of(r) for r in server.requests)
    [confirmed] = report["findings"]
    assert confirmed["file"] == "a.py" and confirmed["votes"] == {"real": 1, "notReal": 0, "abstain": 0}
    [capped] = report["unverified"]
    assert (capped["file"], capped["status"], capped["votes"]) == ("b.py", "not verified (cap)", None)
    assert report["caps"] == [
        {
            "what": "findings verified",
            "kept": 1,
            "dropped": 1,
            "reason": "maxFindings is 1; the lower-ranked rest are listed as not verified",
        }
    ]
    assert report["status"] == "complete" and report["failures"] == []


def test_base_branch_is_passed_to_the_git_tools(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    calls: list[Any] = []

    def responder(request: FakeRequest) -> FakeReply:
        prompt = prompt_of(request)
        if prompt.startswith("Call the git_changes tool"):
            if tool_output(request) is None:
                calls.append(prompt)
                return FakeReply(tool_calls=[FakeToolCall("git_changes", {"base": "HEAD"})])
            return FakeReply(text=str(tool_output(request)))
        assert (
            'git_diff with {"path": "a.py", "base": "HEAD"}' in prompt
            or '{"path": "b.py", "base": "HEAD"}' in prompt
        )
        return as_json({"findings": []})

    server.responder = responder
    report = run_json(env, project, "review-code", "HEAD")["result"]["report"]
    assert calls == [
        'Call the git_changes tool with {"base": "HEAD"}. '
        "Return the changed files and their changed line ranges exactly as it lists them."
    ]
    assert report["scope"]["base"] == "HEAD" and report["findings"] == []


def test_a_failed_scope_and_an_exhausted_budget_still_give_a_report(
    env: dict[str, str], project: Path
) -> None:
    out = run_json(env, project, "review-code", None, "--budget", "1")
    report = out["result"]["report"]
    assert report["status"] == "error"
    assert report["error"] == "could not list the changed files (see failures)"
    assert report["failures"][0]["stage"] == "scope"
    assert out["failures"] and out["failures"][0]["label"] == "scope: changed files"
    assert "**Error:** could not list the changed files" in out["result"]["markdown"]


def test_a_project_workflow_of_the_same_name_overrides_the_built_in(
    env: dict[str, str], project: Path
) -> None:
    workflows = project / ".boocode" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "mine.js").write_text(
        "export const meta = {name: 'review-code', description: 'my own review'}\nreturn 'mine'\n"
    )
    listed = boocode(env, project, "workflows").stdout.splitlines()
    mine = next(line for line in listed if line.startswith("review-code") and "my own review" in line)
    builtin = next(line for line in listed if line.startswith("review-code") and "built-in" in line)
    assert "(shadowed)" in builtin and "(shadowed)" not in mine
    for name in ("deep-research", "find-issues"):
        assert any(line.startswith(name) and "built-in" in line for line in listed)
    assert run_json(env, project, "review-code")["result"] == "mine"
    shown = boocode(env, project, "workflows", "show", "find-issues").stdout
    assert "when to use:" in shown and "phase: Scope" in shown and "phase: Verify" in shown
