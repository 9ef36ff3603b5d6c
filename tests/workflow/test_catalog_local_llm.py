"""The built-in review-code workflow on the embedded local model, in its cheapest configuration: a one-file
diff, one verifier per finding, at most two findings verified, and only the tools it uses offered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from catalog_helpers import git_init

pytestmark = pytest.mark.local_llm

KEYS = {"file", "line", "severity", "category", "issue", "suggestion", "status", "votes"}


def test_review_code_completes_on_the_local_model(boocode_env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text("def average(values):\n    return sum(values) / len(values)\n")
    git_init(project)
    (project / "calc.py").write_text(
        "def average(values):\n    total = 0\n    for i in range(1, len(values)):\n"
        "        total += values[i]\n    return total / len(values)\n"
    )
    env = {
        **boocode_env,
        "BOOCODE_DENY_TOOLS": "list_files,grep,write_file,edit_file,repo_areas,search_docs,read_doc",
        "BOOCODE_REQUEST_TIMEOUT": "300",
        "BOOCODE_MAX_TURNS": "10",  # a small model may repeat one tool call: bound what that costs
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "boocode",
            "run",
            "review-code",
            "--json",
            "--no-live",
            "--args",
            '{"verifiers": 1, "maxFindings": 2}',
        ],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "completed"
    report = out["result"]["report"]
    assert report["status"] in ("complete", "partial", "error")
    assert set(report["scope"]["files"]) <= {"calc.py"}
    for finding in report["findings"] + report["unverified"] + report["refuted"]:
        assert set(finding) >= KEYS and finding["file"] == "calc.py" and finding["line"] >= 1
    assert report["stats"]["verified"] <= 2
    assert out["result"]["markdown"].startswith("# Code review: the uncommitted changes\n")
    assert out["usage"]["agent_count"] >= 1
