"""The built-in workflows on the embedded local model, each in its cheapest configuration (one small file or
document, one verifier or vote, at most two findings or one claim checked): each completes and returns a
well-formed report. What the model finds is measured in bench/quality, not here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from catalog_helpers import git_init

pytestmark = pytest.mark.local_llm

KEYS = {"file", "line", "severity", "category", "issue", "suggestion", "status", "votes"}
# One backend is enough for the two added here: the store is tested on both elsewhere, the model is slow.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def run_on_local_model(env: dict[str, str], project: Path, name: str, args: Any) -> dict[str, Any]:
    """`boocode run NAME --json` on the local model; the JSON it printed, after checking it completed."""
    env = {
        **env,
        "BOOCODE_REQUEST_TIMEOUT": "300",
        "BOOCODE_MAX_TURNS": "10",  # a small model may repeat one tool call: bound what that costs
        "BOOCODE_MAX_OUTPUT_TOKENS": "1024",  # and may repeat itself in one reply until the cap
    }
    command = [
        sys.executable,
        "-m",
        "boocode",
        "run",
        name,
        "--json",
        "--no-live",
        "--args",
        json.dumps(args),
    ]
    done = subprocess.run(command, env=env, cwd=project, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert out["status"] == "completed" and out["usage"]["agent_count"] >= 1
    assert out["result"]["report"]["status"] in ("complete", "partial", "error")
    return out


def check_findings(report: dict[str, Any], files: set[str]) -> None:
    for finding in report["findings"] + report["unverified"] + report["refuted"]:
        assert set(finding) >= KEYS and finding["file"] in files and finding["line"] >= 1


def test_review_code_completes_on_the_local_model(boocode_env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text("def average(values):\n    return sum(values) / len(values)\n")
    git_init(project)
    (project / "calc.py").write_text(
        "def average(values):\n    total = 0\n    for i in range(1, len(values)):\n"
        "        total += values[i]\n    return total / len(values)\n"
    )
    out = run_on_local_model(boocode_env, project, "review-code", {"verifiers": 1, "maxFindings": 2})
    report = out["result"]["report"]
    assert set(report["scope"]["files"]) <= {"calc.py"}
    check_findings(report, {"calc.py"})
    assert report["stats"]["verified"] <= 2
    assert out["result"]["markdown"].startswith("# Code review: the uncommitted changes\n")


@SQLITE_ONLY
def test_find_issues_completes_on_the_local_model(boocode_env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "files.py").write_text(
        "def first_line(path):\n    handle = open(path)\n    return handle.readline()\n"
    )
    git_init(project)
    args = {"concerns": ["bugs"], "rounds": 1, "verifiers": 1, "maxFindings": 2}
    out = run_on_local_model(boocode_env, project, "find-issues", args)
    report = out["result"]["report"]
    assert all(area["name"] == "app" for area in report["audit"]["areas"])
    check_findings(report, {"app/files.py"})
    assert out["result"]["markdown"].startswith("#")


@SQLITE_ONLY
def test_deep_research_completes_on_the_local_model(boocode_env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "ks4.md").write_text("# KS-4\n\nThe KS-4 sensor has a battery life of 18 months.\n")
    args = {
        "question": "How long does the KS-4 battery last?",
        "sources": "docs",
        "web": False,
        "angles": 1,
        "maxSources": 1,
        "claimsPerSource": 1,
        "maxClaims": 1,
        "votes": 1,
    }
    out = run_on_local_model(boocode_env, project, "deep-research", args)
    report = out["result"]["report"]
    assert report["question"] == args["question"] and report["answer"].strip()
    assert report["confidence"] in ("low", "medium", "high")
    for evidence in report["evidence"]:
        assert evidence["source"] == "docs/ks4.md" and evidence["status"] in ("confirmed", "unverified")
        assert set(evidence["votes"]) == {"supported", "refuted", "abstain"}
    assert out["result"]["markdown"].startswith("# How long does the KS-4 battery last?")
